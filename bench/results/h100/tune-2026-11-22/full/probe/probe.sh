#!/usr/bin/env bash
# Why does kiln-bench time the hand-chosen silu h=5120 instance at T=2..8 ~13 % slower than kiln-tune?
set -u
out=$1
mkdir -p /tmp/p
B=.devrun/bench/hand/kiln-bench
run() { name=$1; shift; $B --kernel silu_mul_fp8 --dtype bf16 --hidden 5120 "$@" --out-dir /tmp/p/$name >/tmp/p/$name.log 2>&1;
        echo "== $name $*"; awk -F, 'NR>1 {printf "T=%s kiln %s (min %s) generic %s\n", $11, $19, $20, $21}' /tmp/p/$name/*.csv; }
run grid --tokens 1,2,3,4,8,16
run only8 --tokens 8
run only8b --tokens 16,8
run seed --tokens 1,2,4,8,16 --seed 7
run rotate --tokens 1,2,4,8,16 --rotate
run launches1 --tokens 2,8,16 --launches 1
tar -C /tmp -czf "$out/probe.tgz" p
