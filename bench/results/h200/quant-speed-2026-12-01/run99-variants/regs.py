import re,sys
def parse(f):
    out={}; cur=None
    for line in open(f):
        m=re.search(r"Compiling entry function '(\S+)'",line)
        if m: cur=m.group(1); continue
        m=re.search(r"Used (\d+) registers",line)
        if m and cur:
            out[cur]=int(m.group(1)); cur=None
    return out
kinds=['norm','norm_fp8','add_norm','add_norm_fp8','quant','norm_quant','add_norm_quant','group_quant','norm_group_quant','add_norm_group_quant']
for dt in ['bf16','fp16']:
    a=parse(f'B_{dt}.ptxas'); b=parse(f'W_{dt}.ptxas')
    for n in sorted(a):
        if 'specialised' not in n: continue
        k=re.search(r'KindE(\d+)E',n); sch=re.search(r'ScheduleILi(\d+)ELi(\d+)ELi(\d+)ELi(\d+)ELi(\d+)ELi(\d+)ELi(\d+)E',n)
        fx='fixed' if re.search(r'Lb1EEEv',n) else 'rt'
        if a[n]!=b.get(n): print(dt,kinds[int(k.group(1))],'h=%s t=%s v=%s r=%s c=%s wau=%s st=%s'%sch.groups(),fx,a[n],'->',b.get(n))
