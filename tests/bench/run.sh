#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Compares the single-core speed of fasweep's training epoch with the same
# epoch in PyTorch. Builds bench_trainer in Release in build-bench/, checks
# that its loops give trainer_run's curves and that peer_torch.py's
# gradients match autograd, then runs ROUNDS rounds. Each round measures the
# float32 peak and runs one fasweep and one PyTorch process per hidden size,
# alternating which goes first, so that load from other processes hits both
# sides alike. summarize.py prints the medians and the ratios. Both sides
# run on one thread.
#
# Environment:
#   ROUNDS   rounds (default 5)
#   HIDDEN   hidden sizes (default "20 100 500 1000")
#   MODE     bp, fa or onehot (default bp)
#   EPOCHS   timed epochs per process, median taken (default 1)
#   DATA     MNIST directory (default data/mnist if it contains MNIST, else
#            synthetic images); DATA=synthetic forces synthetic images
#   OUT      output directory (default build-bench/bench-DATE-TIME)
#   PYTHON   Python with PyTorch (default /usr/bin/python3; install
#            Debian's python3-torch with tests/bench/install_peer.sh)
# Profile one epoch with tests/bench/profile.sh.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
cd "$top"
rounds=${ROUNDS:-5}
hidden=${HIDDEN:-20 100 500 1000}
mode=${MODE:-bp}
epochs=${EPOCHS:-1}
python=${PYTHON:-/usr/bin/python3}
out=${OUT:-build-bench/bench-$(date +%Y%m%d-%H%M%S)}
bench=build-bench/tests/bench/bench_trainer

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

# One thread on both sides: OpenBLAS (fasweep and Debian's PyTorch both use
# it) and PyTorch's OpenMP pool.
export OPENBLAS_NUM_THREADS=1 OMP_NUM_THREADS=1 MKL_NUM_THREADS=1

echo "== building bench_trainer (Release, build-bench/) =="
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF \
	>/dev/null
cmake --build build-bench --target bench_trainer -j 2 >/dev/null

echo "== checks =="
"$bench" --verify --mode "$mode" "${data_args[@]}"
"$python" tests/bench/peer_torch.py --check "${data_args[@]}"

mkdir -p "$out"
rm -f "$out/fasweep.tsv" "$out/torch.tsv" "$out/peak.tsv"

run_fasweep() {
	"$bench" --hidden "$1" --mode "$mode" --epochs "$epochs" --no-peak \
		--tsv "$out/fasweep.tsv" "${data_args[@]}" >/dev/null
}

run_torch() {
	"$python" tests/bench/peer_torch.py --hidden "$1" --mode "$mode" \
		--epochs "$epochs" --tsv "$out/torch.tsv" "${data_args[@]}" \
		>/dev/null
}

# Prints the training CPU seconds of the last row of a TSV file.
last_train_cpu() {
	tail -n 1 "$1" | cut -f 8
}

echo "== $rounds rounds: H = $hidden, mode $mode," \
	"${data_args[1]:-synthetic images}, output in $out/ =="
for round in $(seq 1 "$rounds"); do
	"$bench" --peak-only --tsv "$out/peak.tsv" >/dev/null
	for h in $hidden; do
		if [ $((round % 2)) -eq 1 ]; then
			run_fasweep "$h"
			run_torch "$h"
		else
			run_torch "$h"
			run_fasweep "$h"
		fi
		echo "round $round, H = $h: training CPU s fasweep" \
			"$(last_train_cpu "$out/fasweep.tsv"), torch" \
			"$(last_train_cpu "$out/torch.tsv")"
	done
done

echo "== summary (also in $out/summary.tsv) =="
"$python" tests/bench/summarize.py "$out"
