#!/usr/bin/env python3
"""Run 126: one line per ncu log (run in this folder): time, DRAM % of peak (elapsed), issue slots busy,
warps active, registers and the occupancy limits (CTAs an SM), the largest stall reasons per issued
instruction, DRAM bytes read and written, and the schedule."""
import glob, re
KEYS = [("us", "gpu__time_duration.sum"), ("dram%", "dram__throughput.avg.pct_of_peak_sustained_elapsed"),
        ("issue%", "sm__inst_issued.avg.pct_of_peak_sustained_active"),
        ("warps%", "sm__warps_active.avg.pct_of_peak_sustained_active"), ("regs", "launch__registers_per_thread"),
        ("ctas:reg", "launch__occupancy_limit_registers"), ("ctas:smem", "launch__occupancy_limit_shared_mem"),
        ("ctas:warps", "launch__occupancy_limit_warps"),
        ("long_sb", "smsp__average_warps_issue_stalled_long_scoreboard_per_issue_active.ratio"),
        ("barrier", "smsp__average_warps_issue_stalled_barrier_per_issue_active.ratio"),
        ("short_sb", "smsp__average_warps_issue_stalled_short_scoreboard_per_issue_active.ratio"),
        ("read", "dram__bytes_read.sum"), ("written", "dram__bytes_write.sum")]
print(f"{'launch':<52}" + " ".join(f"{k:>10}" for k, _ in KEYS) + "  schedule (hidden, threads, vec, rows, cluster, wau, stage), fixed")
for f in sorted(glob.glob("ncu_*.log")):
    t = open(f).read()
    vals = []
    for _, k in KEYS:
        m = re.search(re.escape(k) + r"\s+(\S+)\s+([\d.,]+)", t)
        vals.append(f"{m.group(2).replace(',', '')} {m.group(1)}" if m and k.startswith("dram__bytes") else
                    (m.group(2).replace(',', '') if m else "-"))
    s = re.search(r"specialised<Schedule<([^>]*)>, \d+, \w+, (\d)>", t)
    print(f"{f[4:-4]:<52}" + " ".join(f"{v:>10}" for v in vals) + f"  <{s.group(1)}> F={s.group(2)}" if s else "")
