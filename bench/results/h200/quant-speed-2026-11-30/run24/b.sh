#!/usr/bin/env bash
# Issue 9, run 24: speed in one run, alone on the GPU: kiln-bench (bf16, T = 1, 32, 1024, 16384,
# 65536) of the seven quantisers on v14 (615a9a8, the previous main) and v16 (this build), and of
# the three rms_norm.cuh group kernels on v15 (v16 without the paired columns); ncu instruction
# counts at h = 4096, T = 16384; compare_torch --quick of v16 in the time left.
set -u
S=build-stage/v16
export PATH=/usr/local/cuda/bin:$PATH PYTHONDONTWRITEBYTECODE=1
T0=$(date +%s); left() { local l=$(( 575 - ($(date +%s) - T0) )); [ $l -lt 5 ] && l=5; [ $l -gt $1 ] && l=$1; echo $l; }
R=$OUT/r; mkdir -p $R; cp $S/commit.txt $S/b.sh $R/; { nvidia-smi --query-gpu=name,driver_version --format=csv,noheader; date -u; } > $R/device.txt
K=per_token_fp8,rms_norm_per_token_fp8,fused_add_rms_norm_per_token_fp8,per_token_group_fp8,rms_norm_group_fp8,fused_add_rms_norm_group_fp8,silu_mul_group_fp8
KG=per_token_group_fp8,rms_norm_group_fp8,fused_add_rms_norm_group_fp8
TOK=1,32,1024,16384,65536
for k in ${K//,/ }; do
  builds="v14 v16"; case ",$KG," in *",$k,"*) builds="v14 v15 v16";; esac
  for b in $builds; do
    timeout $(left 40) build-stage/$b/kiln-bench --kernel $k --tokens $TOK --out-dir $R/bench-$b > $R/bench_${b}_$k.log 2>&1; echo "kiln-bench $b $k rc $? at $(( $(date +%s) - T0 )) s"
  done
done
for b in v14 v15 v16; do echo "== $b"; grep -hE "^== Summary|reach >=|launch-bound|slower than its generic" $R/bench-$b/summary_*.txt; done
echo "bench done after $(( $(date +%s) - T0 )) s"
for k in rms_norm_group_fp8 per_token_group_fp8 rms_norm_per_token_fp8; do
  for b in v14 v15 v16; do
    timeout $(left 25) ncu --metrics smsp__inst_executed.sum,gpu__time_duration.sum,dram__throughput.avg.pct_of_peak_sustained_elapsed,launch__registers_per_thread,launch__block_size -k regex:specialised -c 1 build-stage/$b/kiln-bench --kernel $k --hidden 4096 --tokens 16384 --launches 1 --replays 1 --min-replays 1 --warmup-ms 0 > $R/ncu_${b}_$k.log 2>&1
    echo "ncu $b $k: $(grep -E 'inst_executed|time_duration|dram__throughput|registers|block_size' $R/ncu_${b}_$k.log | awk '{print $1"="$NF}' | tr '\n' ' ')"
  done
done
for k in ${K//,/ }; do
  PYTHONPATH=$PWD/python timeout $(left 25) python3 bench/compare_torch.py --lib $S/libkiln.so --kernel $k --quick --time-limit 15 --out $R/torch > $R/torch_$k.log 2>&1; echo "compare_torch $k rc $?"
done
grep -hE "geomean|minimum|min " $R/torch/*summary*.txt | head -40
echo "all done after $(( $(date +%s) - T0 )) s"
tar -C $OUT -czf $OUT/r.tgz r && rm -rf $R
