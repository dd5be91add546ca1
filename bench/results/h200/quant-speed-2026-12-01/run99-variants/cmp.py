import re,sys
def load(f):
    rows={}
    for line in open(f):
        m=re.match(r'(\S+)\s+h=\s*(\d+) threads=\s*(\d+) rows=(\d) wau=(\d) st=(\d) regs=\s*(\d+)\s+([\d.]+) us\s+([\d.]+) GB/s\s+([\d.]+) %\s+hash=(\S+) h2=(\S+) h3=(\S+)\s+T1 ([\d.]+) T32 ([\d.]+) T1sw ([\d.]+) T32sw ([\d.]+)\s+gen ([\d.]+) us ([\d.]+) %',line)
        if m: rows[(m.group(1),int(m.group(2)))]=m.groups()
    return rows
d=sys.argv[1]; a_,b_=sys.argv[2],sys.argv[3]
for dt in ['bf16','fp16']:
    a=load(f'{d}/h_{a_}_{dt}.txt'); b=load(f'{d}/h_{b_}_{dt}.txt')
    print(f'== {dt}: {b_} / {a_}   (regs, us ratio, %ceil, T1, T32, h2 same, vs generic)')
    for k in a:
        x=a[k]; y=b[k]
        print(f'{k[0]:34s} h={k[1]:5d} regs {x[6]:>3s}->{y[6]:>3s}  {float(y[7])/float(x[7]):.3f}  {x[9]:>6s}->{y[9]:>6s}%  T1 {x[13]}->{y[13]}  T32 {x[14]}->{y[14]}  h2 {"same" if x[11]==y[11] else "DIFF"} h {"same" if x[10]==y[10] else "diff"}  vs gen {float(y[17])/float(y[7]):.3f}')
