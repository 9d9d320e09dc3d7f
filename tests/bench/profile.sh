#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Profiles bench_trainer's training epochs with perf and prints where their
# time goes (perf_split.py): OpenBLAS's kernels, packing and per-call code,
# the sigmoid, batch loading and the rest. Builds like run.sh, in
# build-bench/. perf samples the cpu-clock software event, because virtual
# machines often expose no hardware counters, and unwinds with DWARF,
# because neither the Release build nor OpenBLAS keeps frame pointers.
#
# Environment: H (default 20), EPOCHS (default 5), MODE (default bp), DATA
# (default data/mnist if it contains MNIST, else synthetic images), OUT
# (default build-bench/profile-H).
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
h=${H:-20}
epochs=${EPOCHS:-5}
mode=${MODE:-bp}
out=${OUT:-build-bench/profile-$h}
bench=build-bench/tests/bench/bench_trainer

data_args=()
data=${DATA:-data/mnist}
if [ -e "$data/train-images-idx3-ubyte" ] ||
	[ -e "$data/train-images-idx3-ubyte.gz" ]; then
	data_args=(--data "$data")
fi
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1

cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
	>/dev/null
cmake --build build-bench --target bench_trainer -j 2 >/dev/null

mkdir -p "$out"
perf record -q -e cpu-clock -F 4000 --call-graph dwarf,16384 \
	-o "$out/perf.data" -- "$bench" --hidden "$h" --mode "$mode" \
	--epochs "$epochs" --no-peak --no-eval "${data_args[@]}"
perf script -i "$out/perf.data" -F comm,tid,time,event,ip,sym,dso \
	>"$out/perf.txt" 2>/dev/null
echo
/usr/bin/python3 tests/bench/perf_split.py "$out/perf.txt"
