#!/usr/bin/env python3
"""Run 127: row-major against column-major scales, one ncu launch each (run in this folder)."""
import glob, re
KEYS = [("us", "gpu__time_duration.sum"), ("dram%", "dram__throughput.avg.pct_of_peak_sustained_elapsed"),
        ("dram wr", "dram__bytes_write.sum"), ("st sectors", "l1tex__t_sectors_pipe_lsu_mem_global_op_st.sum"),
        ("L2 wr req", "lts__t_requests_op_write.sum"), ("warp inst", "smsp__inst_executed.sum"),
        ("regs", "launch__registers_per_thread"), ("warps%", "sm__warps_active.avg.pct_of_peak_sustained_active"),
        ("lg_thr", "smsp__average_warps_issue_stalled_lg_throttle_per_issue_active.ratio")]
print(f"{'launch':<44}" + "".join(f"{k:>14}" for k, _ in KEYS))
for f in sorted(glob.glob("ncu_*.log")):
    t = open(f).read()
    row = []
    for _, k in KEYS:
        m = re.search(re.escape(k) + r"\s+(\S+)\s+([\d.,]+)", t)
        row.append((m.group(2) + (" " + m.group(1)[0] if "bytes" in k else "")) if m else "-")
    print(f"{f[4:-4]:<44}" + "".join(f"{v:>14}" for v in row))
