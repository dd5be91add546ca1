#!/usr/bin/env bash
# Issue 13 on 2 x H200, run 3: the one-shot push spread over the grid (smoke_spread, built from the template at commit.txt) against the template before it (smoke_v0): correctness with the harness's CPU check, memcheck, then latency of both in this run.
set -u
export PATH=/usr/local/cuda/bin:$PATH NCCL_NVLS_ENABLE=0
S=build-stage/c3
T0=$(date +%s); left() { local l=$(( 215 - ($(date +%s) - T0) )); [ $l -lt 5 ] && l=5; [ $l -gt $1 ] && l=$1; echo $l; }
{ nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; cat $S/commit.txt; } > $OUT/device.txt
timeout $(left 60) $S/smoke_spread --quick --no-timing > $OUT/spread-check.log 2>&1; echo "spread check rc $?"; grep -E "FAIL|PASSED|FAILED|after 1000" $OUT/spread-check.log | head -8
timeout $(left 40) $S/smoke_v0 --timing-only > $OUT/v0-timing.log 2>&1; echo "v0 timing rc $?"
timeout $(left 40) $S/smoke_spread --timing-only > $OUT/spread-timing.log 2>&1; echo "spread timing rc $?"
grep -h -A30 "per-call latency" $OUT/v0-timing.log $OUT/spread-timing.log | grep -E "per-call|H=|^one-shot|^fp8 one-shot|^ncclAllReduce \+"
timeout $(left 120) compute-sanitizer --tool memcheck --report-api-errors no --error-exitcode 99 $S/smoke_spread --quick --no-timing > $OUT/spread-memcheck.log 2>&1; echo "spread memcheck rc $?"; grep -E "ERROR SUMMARY|PASSED|FAILED" $OUT/spread-memcheck.log | tail -3
