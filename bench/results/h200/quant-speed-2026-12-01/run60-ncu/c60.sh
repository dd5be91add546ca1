#!/usr/bin/env bash
# Issue 9 session 10, run 60 (v29 = the library of 2c469c8): why the norm quantisers stop at
# 77-86 % of the copy ceiling at DRAM sizes where per_token_fp8 reaches 98 %. ncu of one launch
# at T = 32768 (clocks not locked), and the SASS of the instances that serve it.
set -u
S=build-stage/v29
export PATH=/usr/local/cuda/bin:$PATH
R=$OUT/r; mkdir -p $R; cp $S/commit.txt build-stage/v30/c60.sh $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
M='regex:smsp__average_warps_issue_stalled_.*_per_issue_active\.ratio$,smsp__inst_executed.sum,smsp__thread_inst_executed.sum,sm__inst_issued.avg.pct_of_peak_sustained_active,sm__warps_active.avg.pct_of_peak_sustained_active,dram__throughput.avg.pct_of_peak_sustained_elapsed,dram__bytes.sum,gpu__time_duration.sum,sm__cycles_elapsed.avg.per_second,launch__registers_per_thread,launch__occupancy_limit_registers,launch__occupancy_limit_warps,launch__occupancy_limit_blocks,sm__throughput.avg.pct_of_peak_sustained_elapsed,l1tex__t_bytes.sum,lts__t_bytes.sum'
run() {
  timeout 100 ncu --clock-control none --kernel-name regex:specialised -c 1 --metrics "$M" $S/kiln-bench --kernel $1 --hidden $2 --tokens $3 \
    --launches 1 --replays 1 --min-replays 1 --warmup-ms 0 > $R/ncu_$1_h$2_t$3.log 2>&1; echo "ncu $1 $2 $3 rc $?"
}
run per_token_fp8 5120 32768
run rms_norm_group_fp8 5120 32768
run rms_norm_group_fp8 4096 32768
run rms_norm_per_token_fp8 5120 32768
run per_token_group_fp8 5120 32768
run fused_add_rms_norm_group_fp8 5120 32768
cuobjdump -sass $S/libkiln.so > $R/all.sass 2>/dev/null; echo "sass rc $?"
python3 - "$R/all.sass" "$R" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
parts = re.split(r'\n(?=\s*Function : )', text)
want = [('ILi5120ELi128ELi8ELi1ELi1ELi1EEELNS0_4KindE8E13__nv_bfloat16', 'rms_norm_group_h5120_bs8192'),
        ('ILi4096ELi128ELi8ELi1ELi1ELi0EEELNS0_4KindE8E13__nv_bfloat16', 'rms_norm_group_h4096_bs1024'),
        ('ILi5120ELi64ELi8ELi1ELi1ELi0EEELNS0_4KindE4E13__nv_bfloat16', 'per_token_h5120_bs1024')]
for key, name in want:
    for p in parts:
        if key in p.split('\n', 1)[0]:
            open(f"{sys.argv[2]}/{name}.sass", 'w').write(p)
            print(name, sum(1 for l in p.split('\n') if re.match(r'\s+/\*[0-9a-f]{4}\*/', l)), 'instructions')
PY
rm -f $R/all.sass
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
