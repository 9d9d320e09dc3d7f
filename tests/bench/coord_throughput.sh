#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Measures rank 0's cost per trial result: a sweep of 30,000 trials of 200
# epochs whose workers skip training (FASWEEP_SYNTHETIC_TRIALS=1), so rank
# 0 only receives, writes and commits results. Prints the results stored
# per second of wall time and per second of rank 0's CPU time.
#
# Usage: tests/bench/coord_throughput.sh [WORKERS...]   (default: 2 4)
# Needs a build in build-release/ (jobs/local.sh or cmake) and writes only
# under a temporary directory.
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
fasweep=${FASWEEP:-$top/build-release/fasweep}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

if [ "$(id -u)" -eq 0 ]; then
	export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

/usr/bin/python3 "$top/tests/make_tiny_mnist.py" "$work/mnist" >/dev/null
cat >"$work/synthetic.ini" <<INI
[data]
dir = $work/mnist
n_train = 100
n_test = 50
n_probe = 10

[network]
batch_size = 10
epochs = 200

[sweep]
modes = bp, fa, onehot
hidden = 10-19
seeds = 1-1000
INI

printf '%-8s %-8s %-10s %-14s %-12s\n' workers trials seconds "results/s" \
	"results/cpu-s"
for workers in "${@:-2 4}"; do
	rm -f "$work/out.h5"
	FASWEEP_SYNTHETIC_TRIALS=1 mpirun --oversubscribe -n $((workers + 1)) \
		"$fasweep" run "$work/synthetic.ini" -o "$work/out.h5" \
		2>"$work/log"

	# The loop: from the first trial handed out to the end of the sweep.
	/usr/bin/python3 - "$work/log" "$workers" <<'PY'
import re
import sys

text = open(sys.argv[1]).read()
clock = r"\[rank 0 +([0-9.]+)s\]"
start = float(re.search(clock + r" INFO  trial started", text).group(1))
end, n = re.search(clock + r" INFO  sweep finished: (\d+) trials", text).groups()
cpu = float(re.search(r"rank 0 .*resources: cpu ([0-9.]+) s", text).group(1))
seconds = float(end) - start
print(f"{sys.argv[2]:<8} {n:<8} {seconds:<10.2f} {int(n) / seconds:<14.0f} "
      f"{int(n) / cpu:<12.0f}")
PY
done
