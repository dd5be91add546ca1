#!/usr/bin/env bash
# Issue 9 session 6, run 37: v20 = b938baf. First: every test_gpu test of every one-GPU kernel,
# now launching every instance directly under every option set and behind a slow predecessor
# that triggers its dependents at once (77db870, b5ec521, fb70b21), one process per kernel;
# memcheck of the four norm quantisers. Then, alone on the GPU: why kiln-bench's median replay
# is up to 11 % slower than its fastest for rms_norm_group_fp8 -- SM/memory clocks, power and
# throttle reasons sampled every 20 ms by nvidia-smi while kiln-bench runs at default settings,
# with one launch per graph (no PDL edge between kernels), and with 5 replays.
set -u
S=build-stage/v20
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); left() { local l=$(( 560 - ($(date +%s) - T0) )); [ $l -lt 5 ] && l=5; [ $l -gt $1 ] && l=$1; echo $l; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c.sh $R/; { nvidia-smi --query-gpu=name,driver_version,power.limit,clocks.max.sm,clocks.max.mem --format=csv; date -u; } > $R/device.txt
K4="rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 rms_norm_group_fp8 fused_add_rms_norm_group_fp8"
KO="per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 rms_norm rms_norm_fp8 fused_add_rms_norm fused_add_rms_norm_fp8 silu_mul_fp8"
timeout 90 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
for k in $K4 $KO; do
  ( KILN_TEST_KERNELS=$k timeout 300 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(( $(date +%s) - T0 )) s" > $R/gpu_$k.rc ) &
done
for k in $K4; do
  ( KILN_TEST_KERNELS=$k timeout 300 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisers*:*Null*:*InOut*:*EveryConfigSet*:*Programmatic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(( $(date +%s) - T0 )) s" > $R/memcheck_$k.rc ) &
done
wait
echo "tests done after $(( $(date +%s) - T0 )) s"
cat $R/*.rc; tail -n 3 $R/device_math.log; grep -hE "^\[ *(FAILED|SKIPPED) |^\[  PASSED" $R/gpu_*.log | sort | uniq -c | head -30; grep -B2 -A12 "Failure" $R/gpu_*.log $R/device_math.log | head -40
grep -E "ERROR SUMMARY|^\[  (PASSED|FAILED) " $R/memcheck_*.log | head -20
# Clocks: sample through every bench below; each phase logs its start and end time.
nvidia-smi --query-gpu=timestamp,clocks.sm,clocks.mem,power.draw,temperature.gpu,clocks_event_reasons.active --format=csv -lms 20 > $R/smi.csv 2>&1 &
SMI=$!
sleep 1
phase() { local name=$1; shift; echo "$name start $(date -u +%T.%N)" >> $R/phases.txt; timeout $(left 60) "$@" > $R/$name.log 2>&1; echo "$name rc $? end $(date -u +%T.%N)" >> $R/phases.txt; }
H="--hidden 8192 --tokens 16384,65536"
phase group_default $S/kiln-bench --kernel rms_norm_group_fp8 $H --csv $R/group_default.csv
phase group_launch1 $S/kiln-bench --kernel rms_norm_group_fp8 $H --launches 1 --replays 400 --csv $R/group_launch1.csv
phase group_replays5 $S/kiln-bench --kernel rms_norm_group_fp8 $H --replays 5 --csv $R/group_replays5.csv
phase group_default2 $S/kiln-bench --kernel rms_norm_group_fp8 $H --csv $R/group_default2.csv
phase fgroup_default $S/kiln-bench --kernel fused_add_rms_norm_group_fp8 $H --csv $R/fgroup_default.csv
phase ptok_default $S/kiln-bench --kernel rms_norm_per_token_fp8 $H --csv $R/ptok_default.csv
phase group_long $S/kiln-bench --kernel rms_norm_group_fp8 --hidden 8192 --tokens 65536 --replays 1000 --max-seconds 5 --csv $R/group_long.csv
kill $SMI
cat $R/phases.txt
for f in $R/*.csv; do [ $f = $R/smi.csv ] && continue; echo "== $(basename $f)"; python3 -c "
import csv,sys
for r in csv.DictReader(open('$f')):
    print(r['hidden'], r['tokens'], 'launches', r['launches_per_graph'], 'replays', r['kiln_replays'], 'med', r['kiln_us'], 'min', r['kiln_us_min'], 'pct', r['kiln_pct_ceiling'], 'gen', r['generic_us'], r['generic_us_min'])
"; done
python3 - <<PY
import csv
rows=list(csv.reader(open('$R/smi.csv')))[1:]
from collections import Counter
sm=[int(r[1].split()[0]) for r in rows if len(r)>5 and r[1].strip()[0].isdigit()]
print('samples', len(sm), 'sm MHz min/max', min(sm), max(sm)); print(Counter(r[5].strip() for r in rows if len(r)>5).most_common(8))
PY
echo "all done after $(( $(date +%s) - T0 )) s"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
