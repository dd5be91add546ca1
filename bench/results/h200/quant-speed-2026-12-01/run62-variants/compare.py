import re,sys,glob,os
d=sys.argv[1]; variants=sys.argv[2].split(',')
def parse(f):
    r={}
    for l in open(f):
        m=re.match(r'(\S+)\s+h=\s*(\d+) threads=\s*(\d+) rows=(\d) wau=(\d) regs=\s*(\d+)\s+([\d.]+) us.*hash=(\w+)\s+T1 ([\d.]+) T32 ([\d.]+)',l)
        if m: r[(m.group(1),int(m.group(2)))]=dict(regs=int(m.group(6)),us=float(m.group(7)),hash=m.group(8),t1=float(m.group(9)),t32=float(m.group(10)))
    return r
data={}
for v in variants:
    runs=[parse(f) for f in sorted(glob.glob(f'{d}/exp{v}*.log')) if re.match(rf'exp{v}\d?\.log',os.path.basename(f))]
    data[v]=runs
keys=list(data[variants[0]][0].keys())
print('%-34s %5s '%('kernel','h')+' '.join('%16s'%v for v in variants)+'   (us at T=65536 mean of runs: ratio to A [regs])')
for k in keys:
    base=sum(r[k]['us'] for r in data['A'])/len(data['A'])
    cells=[]
    for v in variants:
        us=sum(r[k]['us'] for r in data[v])/len(data[v])
        h=set(r[k]['hash'] for r in data[v])
        cells.append('%7.3f [%2d]%s'%(us/base, data[v][0][k]['regs'], '' if h==set(x[k]['hash'] for x in data['A']) else '!'))
    print('%-34s %5d '%k+' '.join('%16s'%c for c in cells)+'  A=%.1f'%base)
