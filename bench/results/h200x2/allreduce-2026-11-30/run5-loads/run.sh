#!/usr/bin/env bash
# Issue 13 on 2 x H200, run 5: test_comm (every case) with the coherent loads after the PDL wait (load_vec in
# common.cuh, which ld_plain now uses; the weight loads sit after the wait in SASS); then memcheck
# of the quick cases with the time left (this session's device time was mostly issue 9's).
set -u
export PATH=/usr/local/cuda/bin:$PATH NCCL_NVLS_ENABLE=0
S=build-stage/c6
T0=$(date +%s); left() { local l=$(( 250 - ($(date +%s) - T0) )); [ $l -lt 5 ] && l=5; [ $l -gt $1 ] && l=$1; echo $l; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $R/; cp bench/results/h200x2/allreduce-2026-11-30/run5-loads/run.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
KILN_TEST_COMM_TIMEOUT=150 timeout $(left 200) $S/test_comm --gtest_output=json:$R/comm.json > $R/comm.log 2>&1; echo "test_comm rc $? after $(( $(date +%s) - T0 )) s"
grep -E "^\[  (PASSED|FAILED|SKIPPED) |^\[       OK|^\[  FAILED" $R/comm.log | head -20; grep -B2 -A8 "Failure" $R/comm.log | head -30
KILN_TEST_COMM_REPLAYS=50 KILN_TEST_COMM_TIMEOUT=60 timeout $(left 80) compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 99 $S/test_comm --gtest_filter='*OneRankLate*:*TokensBeyond*:*PlansDescribe*:*CudaGraph*:*HiddenSizesOffTheGrid*' > $R/comm-memcheck.log 2>&1; echo "comm memcheck rc $? after $(( $(date +%s) - T0 )) s"
grep -E "^\[  (PASSED|FAILED) |^\[       OK|ERROR SUMMARY" $R/comm-memcheck.log
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
