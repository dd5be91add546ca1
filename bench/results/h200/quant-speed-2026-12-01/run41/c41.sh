#!/usr/bin/env bash
# Issue 9 session 7, run 41 (v22: scale_ub read through load_float, as every other tensor).
# 1. The SASS of the library: kernels with a global load before their first PDL wait.
# 2. test_gpu of all twelve one-GPU kernels, one process per kernel; test_device_math;
#    memcheck of the three kernels whose code changed (the per-token kinds, scale_ub).
# 3. kiln-bench at T <= 32 without and with --static-weight, alternating (A B B A).
# 4. compare_torch of one kernel over the full grid, to learn how many shapes a run can time.
set -u
S=build-stage/v22
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c41.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
cat > $R/sass_scan.py <<'PY'
import re, sys
# Per kernel function: global loads (LDG) placed before its first griddepcontrol.wait (ACQBULK).
text = open(sys.argv[1]).read()
funcs = re.split(r"\n\s*Function : ", text)[1:]
waits = flagged = 0
names = []
for f in funcs:
    name = f.split("\n", 1)[0].strip()
    body = [l for l in f.split("\n") if re.search(r"/\*[0-9a-f]{4,}\*/", l)]
    first = next((i for i, l in enumerate(body) if "ACQBULK" in l), None)
    if first is None:
        continue
    waits += 1
    early = [l for l in body[:first] if re.search(r"\bLDG\b", l)]
    if early:
        flagged += 1
        names.append(f"{name}: {len(early)} LDG before the wait, e.g. {early[0].split(';')[0].strip()}")
print(f"{len(funcs)} functions, {waits} with a PDL wait, {flagged} of them with a global load before it")
for n in names[:12]:
    print("  " + n)
PY
cuobjdump -sass $S/libkiln.so > $R/sass.txt 2>&1; python3 $R/sass_scan.py $R/sass.txt > $R/sass_scan.txt; rm -f $R/sass.txt; cat $R/sass_scan.txt
KP="per_token_fp8 rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8"
KALL="rms_norm_per_token_fp8 rms_norm_group_fp8 fused_add_rms_norm_per_token_fp8 fused_add_rms_norm_group_fp8 per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 rms_norm rms_norm_fp8 fused_add_rms_norm fused_add_rms_norm_fp8 silu_mul_fp8"
timeout 90 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
for k in $KALL; do
  ( KILN_TEST_KERNELS=$k timeout 330 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(at)" > $R/gpu_$k.rc ) &
done
for k in $KP; do
  ( KILN_TEST_KERNELS=$k timeout 330 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*:*Programmatic*:*Generic*:*Null*:*InOut*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(at)" > $R/memcheck_$k.rc ) &
done
wait
echo "tests done after $(at)"; cat $R/*.rc
mkdir -p $R/bench
i=0
for v in plain static static plain; do
  i=$((i+1)); f=""; [ $v = static ] && f=--static-weight
  timeout 60 $S/kiln-bench --kernel all --tokens 1,2,4,8,16,32 $f --max-seconds 0.3 --csv $R/bench/${v}_$i.csv > $R/bench/log_${v}_$i.txt 2>&1 || echo "kiln-bench $v rc $?"
done
echo "bench done after $(at)"
left=$(( 560 - ($(date +%s) - T0) )); [ $left -lt 10 ] && left=10
timeout $left python3 bench/compare_torch.py --lib $S/libkiln.so --kernel rms_norm_group_fp8 --out $R/torch --time-limit $((left - 15)) > $R/torch.log 2>&1; echo "compare_torch rc $? after $(at)"
tail -5 $R/torch.log
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
