#!/usr/bin/env bash
# Issue 9 session 16, run 117 (re-read): test_device_math with the Product test taking its scales on
# the device through kiln's own group_scale and token_scale.
set -u
S=build-stage/b117
R=$OUT/r; mkdir -p $R; cp $S/c117.sh $S/commit.txt $R/
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
timeout 120 $S/test_device_math --gtest_output=json:$R/device_math.json > $R/device_math.log 2>&1; echo "test_device_math rc $?"
grep -E "^\[  (PASSED|FAILED|SKIPPED)|^Product|  OK|FAILED  \]|Failure|first:|Which is" $R/device_math.log
tar -C $OUT -czf $OUT/r.tgz r
