import re,sys
d=sys.argv[1]; vs=sys.argv[2:]
rows={}
for v in vs:
    for l in open(f'{d}/exp{v}.log'):
        m=re.match(r'(\S+)\s+h=\s*(\d+) threads=\s*(\d+) rows=(\d) regs=\s*(\d+)\s+([\d.]+) us\s+([\d.]+) GB/s\s+([\d.]+) %\s+hash=(\S+)\s+T1 (\S+) T32 (\S+) T1sw (\S+) T32sw (\S+)',l)
        if not m: continue
        k=(m[1],int(m[2]),int(m[3])); rows.setdefault(k,{})[v]=(int(m[5]),float(m[8]),m[9],float(m[10]),float(m[11]),float(m[12]),float(m[13]))
a,b,c=vs
print('%-24s %5s %5s | %s regs pct %s pct %s regs pct | T1 T32 T1sw T32sw (%s/%s) | hash'%('kind','h','thr',a,c,b,a,b))
for k,dd in rows.items():
    x,y,z=dd[a],dd[b],dd[c]
    print('%-24s %5d %5d | %3d %5.1f %5.1f  %3d %5.1f | %.2f/%.2f %.2f/%.2f %.2f/%.2f %.2f/%.2f | %s'%(k+(x[0],x[1],z[1],y[0],y[1],x[3],y[3],x[4],y[4],x[5],y[5],x[6],y[6],'same' if x[2]==y[2] else 'DIFF')))
