#!/usr/bin/env bash
# Issue 9 session 13, run 97.
# 1. racecheck (*EveryConfigSet*) of fused_add_rms_norm_group_fp8 and fused_add_rms_norm on run 95's
#    library (new5): their staged small-bucket instances are new (run 95 racechecked the other two).
# 2. The harness (run 97's exp.cu: the generic kernel timed beside each case) at the DRAM buckets of
#    the four add kinds and the two norm quantisers, T = 65536, five template variants, bf16 then
#    fp16, one process each in turn: B = main's templates; A0 = the row loads and stores through
#    asm helpers with main's instructions; CS = rows loaded and stored .cs (evict first); PF = row
#    loads and copies with an L2 256-byte prefetch; NA = L1::no_allocate + 256-byte prefetch on row
#    loads, .cs stores.
set -u
S=build-stage/b95
export PATH=/usr/local/cuda/bin:$PATH
T0=$(date +%s); at() { echo "$(( $(date +%s) - T0 )) s"; }
R=$OUT/r; mkdir -p $R; cp build-stage/b97/c97.sh build-stage/b97/commit.txt $R/
tar -C $S -xJf $S/bins.txz; tar -C build-stage/b97 -xJf build-stage/b97/bins.txz
{ nvidia-smi --query-gpu=name,driver_version,power.limit --format=csv,noheader; date -u; } > $R/device.txt
for k in fused_add_rms_norm_group_fp8 fused_add_rms_norm; do
  ( KILN_TEST_KERNELS=$k timeout 300 compute-sanitizer --tool racecheck --error-exitcode 99 $S/test_gpu --gtest_filter='*EveryConfigSet*' > $R/racecheck_$k.log 2>&1; echo "racecheck $k rc $? at $(at)" > $R/racecheck_$k.rc ) &
done
wait
cat $R/*.rc; for f in $R/racecheck_*.log; do echo "$(basename $f): $(grep -E 'RACECHECK SUMMARY' $f | tail -1)"; done
tar -C $OUT -czf $OUT/r.tgz r
for d in bf16 fp16; do
  for v in B A0 CS PF NA; do
    left=$(( 500 - ($(date +%s) - T0) )); [ $left -lt 20 ] && { echo "stopping before $v $d at $(at)"; break 2; }
    timeout $left build-stage/b97/${v}_$d $v > $R/h_${v}_$d.txt 2>&1; echo "harness $v $d rc $? at $(at)"
  done
  tar -C $OUT -czf $OUT/r.tgz r
done
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
