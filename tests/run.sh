#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs what is missing, builds with tests in build-test/ and runs every
# test with ctest. Then builds the tests again with AddressSanitizer and
# UBSan in build-asan/ and runs most of them there (SANITIZE_EXCLUDE below),
# and fuzzes the INI and IDX parsers for FUZZ_SECONDS seconds each (default
# 30, tests/fuzz/run.sh). Extra arguments go to both ctest runs (e.g.
# -R test_grid).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
jobs/install_deps.sh
cmake -S . -B build-test -DCMAKE_BUILD_TYPE=RelWithDebInfo -DBUILD_TESTING=ON >/dev/null
cmake --build build-test -j "$(nproc)"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ctest --test-dir build-test --output-on-failure -j 2 "$@"

# The same tests with the sanitizers. Their reports go to files, so that a
# report from a process that a test expects to fail (exit code 1 on a bad
# config) still fails the run. The build uses clang because GCC 12's UBSan,
# next to its ASan, ignores log_path and writes to stderr, where the Python
# tests capture it unseen. Leak detection is off: Open MPI's MPI_Init leaks,
# with stacks too short to suppress.
#
# SANITIZE_EXCLUDE is a ctest -E regex of tests left out here to keep the run
# short. Set it empty to run every test. By default it leaves out the four
# tests that took 30 s to 120 s each in the normal build on two busy cores.
# They are test_resume (about 20 interrupted sweeps), test_bad_input
# (hundreds of fasweep runs on bad input), test_slurm (a SLURM cluster) and
# test_analysis (the Python scripts in analysis/).
echo "== tests built with AddressSanitizer and UBSan (build-asan/) =="
reports=$top/build-asan/sanitizer-reports
exclude=${SANITIZE_EXCLUDE-^test_(resume|bad_input|slurm|analysis)$}
filter=()
[ -z "$exclude" ] || filter=(-E "$exclude")

# CC is read on the first configure only, so a cache made with another
# compiler is removed.
if [ -f build-asan/CMakeCache.txt ] &&
	! grep -q '^CMAKE_C_COMPILER:[A-Z]*=.*clang' build-asan/CMakeCache.txt; then
	rm -rf build-asan
fi
CC=clang cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo \
	-DBUILD_TESTING=ON -DFASWEEP_SANITIZE=ON >/dev/null
cmake --build build-asan -j "$(nproc)"
rm -rf "$reports"
mkdir -p "$reports"
status=0
ASAN_OPTIONS=detect_leaks=0:log_path=$reports/asan \
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ctest --test-dir build-asan --output-on-failure -j 2 "${filter[@]}" "$@" ||
	status=$?
if [ -n "$(ls -A "$reports")" ]; then
	cat "$reports"/* >&2
	echo "sanitizer reports above, also in $reports/" >&2
	status=1
fi
[ "$status" -eq 0 ] || exit "$status"

echo "== fuzzing (build-fuzz/) =="
FUZZ_SECONDS=${FUZZ_SECONDS:-30} tests/fuzz/run.sh
