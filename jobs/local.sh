#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Runs a sweep on this machine: installs what is missing, builds in Release,
# fetches MNIST into data/mnist, runs CONFIG (default configs/demo.ini) with
# mpirun on all cores and prints the report. Results go to
# results/<config name>.h5 in the repository; an existing file there is kept
# unless FORCE=1. The sweep runs in the repository, so a relative dir in
# CONFIG's [data] section is taken from there.
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
config=$(realpath "${1:-$top/configs/demo.ini}")
cd "$top"

jobs/install_deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build build-release -j "$(nproc)" >/dev/null
jobs/fetch_mnist.sh data/mnist

# One worker per core plus rank 0, which only coordinates and sleeps while
# it waits, so the job oversubscribes by one rank.
ranks=$(( $(nproc) + 1 ))
name=$(basename "$config" .ini)
mkdir -p results
output=results/$name.h5
force=()
if [ "${FORCE:-0}" = 1 ]; then
	force=(--force)
elif [ -e "$output" ]; then
	echo "local.sh: $output exists and is kept; its report follows." \
	     "Run with FORCE=1 to replace it, or move it away." >&2
	build-release/fasweep report "$output"
	exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
	export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi

mpirun --oversubscribe -n "$ranks" build-release/fasweep run "$config" \
	-o "$output" "${force[@]}"
build-release/fasweep report "$output"
