import sys, re
# regs2.py FILE.ptxas: registers of each specialised kernel (kind, hidden, threads, wau, stage, fixed, dtype)
name = None
for line in open(sys.argv[1]):
    if "Compiling entry function" in line:
        m = re.search(r"ScheduleILi(\d+)ELi(\d+)ELi8ELi(\d)ELi(\d)ELi(\d)ELi(\d)EEELNS0_4KindE(\d)E", line)
        name = m and "K%s h%s t%s w%s s%s %s %s" % (m.group(7), m.group(1), m.group(2), m.group(5), m.group(6), "fixed" if re.search(r"Lb1EEEv", line) else "flags", "bf16" if "bfloat16" in line else "fp16")
    r = re.search(r"Used (\d+) registers", line)
    if r and name: print(name, r.group(1)); name = None
