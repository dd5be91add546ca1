#!/usr/bin/env bash
# Issue 9 session 6, run 38: v21 = every tensor load a coherent ld.global after the PDL wait
# (templates/common.cuh load_vec; run 37 found the norm kernels' weight loads hoisted above
# griddepcontrol.wait by ptxas). The SASS of v20 and v21: functions with a global load before
# their first wait (ACQBULK). Every test_gpu test of every one-GPU kernel, one process per
# kernel; test_device_math; memcheck of every kernel (the four norm quantisers with their group
# and null tests too).
set -u
S=build-stage/v21
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s)
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c38.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
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
for b in v20 v21; do cuobjdump -sass build-stage/$b/libkiln.so > $R/sass_$b.txt 2>&1; echo "== $b: $(python3 $R/sass_scan.py $R/sass_$b.txt)"; done | tee $R/sass_scan.txt
rm -f $R/sass_v2*.txt
K4="rms_norm_per_token_fp8 fused_add_rms_norm_per_token_fp8 rms_norm_group_fp8 fused_add_rms_norm_group_fp8"
KO="per_token_fp8 per_token_group_fp8 silu_mul_group_fp8 rms_norm rms_norm_fp8 fused_add_rms_norm fused_add_rms_norm_fp8 silu_mul_fp8"
timeout 90 $S/test_device_math > $R/device_math.log 2>&1; echo "test_device_math rc $?" > $R/device_math.rc
for k in $K4 $KO; do
  ( KILN_TEST_KERNELS=$k timeout 320 $S/test_gpu --gtest_output=json:$R/gpu_$k.json > $R/gpu_$k.log 2>&1; echo "test_gpu $k rc $? at $(( $(date +%s) - T0 )) s" > $R/gpu_$k.rc ) &
done
for k in $K4; do
  ( KILN_TEST_KERNELS=$k timeout 320 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*GroupQuantisers*:*Null*:*InOut*:*EveryConfigSet*:*Programmatic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(( $(date +%s) - T0 )) s" > $R/memcheck_$k.rc ) &
done
for k in $KO; do
  ( KILN_TEST_KERNELS=$k timeout 320 compute-sanitizer --tool memcheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*:*Programmatic*:*Generic*' > $R/memcheck_$k.log 2>&1; echo "memcheck $k rc $? at $(( $(date +%s) - T0 )) s" > $R/memcheck_$k.rc ) &
done
wait
echo "tests done after $(( $(date +%s) - T0 )) s"
cat $R/*.rc; tail -n 3 $R/device_math.log; grep -hE "^\[ *(FAILED|SKIPPED) |^\[  PASSED" $R/gpu_*.log | sort | uniq -c | head -30; grep -B2 -A12 "Failure" $R/gpu_*.log $R/device_math.log | head -40
grep -E "ERROR SUMMARY|^\[  (PASSED|FAILED) " $R/memcheck_*.log | head -40
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
