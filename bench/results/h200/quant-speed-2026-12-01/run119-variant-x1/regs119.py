# Registers (and stack) of each specialised kernel in two libraries' cuobjdump --dump-resource-usage.
import re, subprocess, sys
def regs(path):
    d, fn = {}, None
    for line in open(path):
        m = re.search(r'Function (\S+):', line)
        if m:
            fn = m.group(1); continue
        m = re.search(r'REG:(\d+) STACK:(\d+)', line)
        if m and fn:
            d[fn] = (int(m.group(1)), int(m.group(2))); fn = None
    return d
a, b = regs(sys.argv[1]), regs(sys.argv[2])
pat = sys.argv[3] if len(sys.argv) > 3 else ''
names = sorted(f for f in set(a) & set(b) if pat in f)
dem = subprocess.run(['c++filt'], input='\n'.join(names), capture_output=True, text=True).stdout.splitlines()
for f, n in zip(names, dem):
    if a[f] != b[f]:
        print(a[f], '->', b[f], n[:150])
