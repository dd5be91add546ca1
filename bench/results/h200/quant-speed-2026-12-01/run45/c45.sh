#!/usr/bin/env bash
# Issue 9/13 session 7, run 45: test_gpu's PDL late-writer test after its predecessor kernel
# moved into tests/gpu/late_writer.cuh (shared with test_comm), every kernel and instance.
set -u
S=build-stage/v25
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/c45.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
T0=$(date +%s)
timeout 200 $S/test_gpu --gtest_filter='*Programmatic*' > $R/gpu_programmatic.log 2>&1; echo "test_gpu Programmatic rc $? after $(( $(date +%s) - T0 )) s" | tee $R/gpu_programmatic.rc
tail -4 $R/gpu_programmatic.log
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
