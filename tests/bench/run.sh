#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Compares the single-core speed of fasweep's training epoch with the same
# epoch in PyTorch and in NumPy, and with the epoch's five sgemm calls
# alone. Builds bench_trainer, bench_lockstep and bench_sgemm in Release in
# build-bench/, and checks that bench_trainer's loops give trainer_run's
# curves, that peer_torch.py's gradients match autograd and that
# peer_numpy.py's match central differences. Then it runs ROUNDS rounds.
# Each round measures the float32 peak and runs one process of each variant
# per hidden size. The variants are bench_trainer (one trial alone),
# bench_lockstep (bp, fa and onehot of one (H, seed) together, timed per
# trial) and bench_sgemm (the BLAS floor), each under every OpenBLAS core
# type of CORETYPES, then PyTorch and NumPy. The order rotates from round
# to round, so that load from other processes hits all sides alike.
# summarize.py prints the medians and the ratios. All sides run on one
# thread.
#
# Environment:
#   ROUNDS    rounds (default 5)
#   HIDDEN    hidden sizes (default "20 100 500 1000")
#   MODE      bp, fa or onehot for bench_trainer, PyTorch and NumPy
#             (default bp; bench_sgemm always times bp's products)
#   EPOCHS    timed epochs per process, median taken (default 1)
#   LOCKSTEP  1 to run bench_lockstep too (default), 0 to leave it out
#   SGEMM     1 to run bench_sgemm too (default), 0 to leave it out
#   NUMPY     1 to run peer_numpy.py too (default), 0 to leave it out
#   CORETYPES OpenBLAS core types for the fasweep side: "default" is the
#             one OpenBLAS picks, others set OPENBLAS_CORETYPE (default
#             "default"; "default Haswell" adds OpenBLAS's AVX2 kernels)
#   DATA      MNIST directory (default data/mnist if it contains MNIST,
#             else synthetic images); DATA=synthetic forces synthetic images
#   OUT       output directory (default build-bench/bench-DATE-TIME)
#   PYTHON    Python with PyTorch (default /usr/bin/python3; install
#             Debian's python3-torch with tests/bench/install_peer.sh)
# Profile one epoch with tests/bench/profile.sh.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
rounds=${ROUNDS:-5}
hidden=${HIDDEN:-20 100 500 1000}
mode=${MODE:-bp}
epochs=${EPOCHS:-1}
lockstep=${LOCKSTEP:-1}
sgemm=${SGEMM:-1}
numpy=${NUMPY:-1}
coretypes=${CORETYPES:-default}
python=${PYTHON:-/usr/bin/python3}
out=${OUT:-build-bench/bench-$(date +%Y%m%d-%H%M%S)}
bench=build-bench/tests/bench/bench_trainer
lockstep_bench=build-bench/tests/bench/bench_lockstep
sgemm_bench=build-bench/tests/bench/bench_sgemm

if ! "$python" -c 'import torch' 2>/dev/null; then
	echo "run.sh: $python cannot import torch; install Debian's" \
		"python3-torch with tests/bench/install_peer.sh" >&2
	exit 1
fi

# MNIST if present, else synthetic images (speed does not depend on them).
data_args=()
data=${DATA:-data/mnist}
if [ "$data" != synthetic ]; then
	if [ -e "$data/train-images-idx3-ubyte" ] ||
		[ -e "$data/train-images-idx3-ubyte.gz" ]; then
		data_args=(--data "$data")
	elif [ -n "${DATA:-}" ]; then
		echo "run.sh: no MNIST in $data; fetch it with" \
			"jobs/fetch_mnist.sh $data or set DATA=synthetic" >&2
		exit 1
	fi
fi

# One thread on every side: OpenBLAS (fasweep, Debian's PyTorch and NumPy
# all use it) and PyTorch's OpenMP pool.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

echo "== building bench_trainer, bench_lockstep and bench_sgemm" \
	"(Release, build-bench/) =="
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
	>/dev/null
cmake --build build-bench --target bench_trainer bench_lockstep \
	bench_sgemm -j 2 >/dev/null

echo "== checks =="
"$bench" --verify --mode "$mode" "${data_args[@]}"
"$python" tests/bench/peer_torch.py --check "${data_args[@]}"
[ "$numpy" = 0 ] ||
	"$python" tests/bench/peer_numpy.py --check "${data_args[@]}"

mkdir -p "$out"
rm -f "$out"/fasweep*.tsv "$out"/lockstep*.tsv "$out"/sgemm*.tsv \
	"$out/torch.tsv" "$out/numpy.tsv" "$out/peak.tsv"

# The variants, "IMPL:CORETYPE" for the C programs, then torch and numpy.
variants=()
for core in $coretypes; do
	variants+=("fasweep:$core")
	[ "$lockstep" = 0 ] || variants+=("lockstep:$core")
	[ "$sgemm" = 0 ] || variants+=("sgemm:$core")
done
variants+=(torch)
[ "$numpy" = 0 ] || variants+=(numpy)

# Prints the TSV file of a variant: fasweep.tsv, lockstep-Haswell.tsv, ...
tsv_of() {
	case $1 in
	torch | numpy) echo "$out/$1.tsv" ;;
	*:default) echo "$out/${1%%:*}.tsv" ;;
	*) echo "$out/${1%%:*}-${1#*:}.tsv" ;;
	esac
}

# Runs one variant for hidden size $2; "default" leaves the core type to
# OpenBLAS even when OPENBLAS_CORETYPE is set in the environment.
run_variant() {
	local impl=${1%%:*} core=${1#*:} tsv
	local blas_env=(env -u OPENBLAS_CORETYPE)

	tsv=$(tsv_of "$1")
	[ "$core" = default ] || blas_env=(env OPENBLAS_CORETYPE="$core")
	case $impl in
	torch | numpy)
		"$python" "tests/bench/peer_$impl.py" --hidden "$2" \
			--mode "$mode" --epochs "$epochs" --tsv "$tsv" \
			"${data_args[@]}" >/dev/null
		;;
	fasweep)
		"${blas_env[@]}" "$bench" --hidden "$2" --mode "$mode" \
			--epochs "$epochs" --no-peak --tsv "$tsv" \
			"${data_args[@]}" >/dev/null
		;;
	lockstep)
		"${blas_env[@]}" "$lockstep_bench" --hidden "$2" \
			--epochs "$epochs" --no-peak --tsv "$tsv" \
			"${data_args[@]}" >/dev/null
		;;
	sgemm)
		"${blas_env[@]}" "$sgemm_bench" --hidden "$2" \
			--epochs "$epochs" --tsv "$tsv" >/dev/null
		;;
	esac
}

# Prints the training CPU seconds of the last row of a TSV file.
last_train_cpu() {
	tail -n 1 "$1" | cut -f 8
}

n=${#variants[@]}
echo "== $rounds rounds: H = $hidden, mode $mode, variants" \
	"${variants[*]}, ${data_args[1]:-synthetic images}, output in $out/ =="
for round in $(seq 1 "$rounds"); do
	"$bench" --peak-only --tsv "$out/peak.tsv" >/dev/null
	for h in $hidden; do
		line="round $round, H = $h, training CPU s:"
		for i in $(seq 0 $((n - 1))); do
			run_variant "${variants[$(((i + round) % n))]}" "$h"
		done
		for v in "${variants[@]}"; do
			line+=" $v $(last_train_cpu "$(tsv_of "$v")")"
		done
		echo "$line"
	done
done

echo "== summary (also in $out/summary.tsv) =="
"$python" tests/bench/summarize.py "$out"
