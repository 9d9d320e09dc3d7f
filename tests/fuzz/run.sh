#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Builds the libFuzzer targets with clang in build-fuzz/ and runs each for
# FUZZ_SECONDS seconds (default 60) on a copy of its seed corpus in
# tests/fuzz/corpus/. Fails on any crash, leak, timeout, out-of-memory or
# sanitizer report, and prints the input that reproduces it. Installing
# clang is left to jobs/install_deps.sh.
#
# Usage: tests/fuzz/run.sh [--merge] [TARGET...]
#   TARGET   grid or idx; both by default
#   --merge  when a target passes, add the inputs it found that reach new
#            code to tests/fuzz/corpus/TARGET/; without it the corpus in the
#            repository is never changed
set -euo pipefail

top=$(cd "$(dirname "$0")/../.." && pwd)
build=$top/build-fuzz
seconds=${FUZZ_SECONDS:-60}
merge=0
targets=()

usage() {
	echo "usage: $0 [--merge] [grid|idx]..." >&2
	exit 2
}

for arg in "$@"; do
	case $arg in
	--merge) merge=1 ;;
	grid | idx) targets+=("$arg") ;;
	*) usage ;;
	esac
done
[ ${#targets[@]} -gt 0 ] || targets=(grid idx)

# libFuzzer reads -max_total_time=0 as "no limit", so 0 is rejected.
if ! [[ $seconds =~ ^[1-9][0-9]*$ ]]; then
	echo "FUZZ_SECONDS=$seconds is invalid; give a whole number of" \
		"seconds >= 1" >&2
	exit 2
fi
if ! command -v clang >/dev/null; then
	echo "clang not found; run jobs/install_deps.sh (Debian packages" \
		"clang and libclang-rt-dev)" >&2
	exit 1
fi

# CC is read on the first configure only, so a cache made with another
# compiler is removed. Debug keeps assert() on, and -O1 -g is what
# libFuzzer's documentation uses.
if [ -f "$build/CMakeCache.txt" ] &&
	! grep -q '^CMAKE_C_COMPILER:[A-Z]*=.*clang' "$build/CMakeCache.txt"; then
	rm -rf "$build"
fi
CC=clang cmake -S "$top" -B "$build" -DFASWEEP_FUZZ=ON -DBUILD_TESTING=OFF \
	-DCMAKE_BUILD_TYPE=Debug -DCMAKE_C_FLAGS_DEBUG="-g -O1" >/dev/null
cmake --build "$build" -j "$(nproc)" \
	--target "${targets[@]/#/fuzz_}" >/dev/null

# Leaks are reported (detect_leaks), and UBSan prints the stack of a report.
# Both are appended so that they override the caller's settings.
ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=1
UBSAN_OPTIONS=${UBSAN_OPTIONS:+$UBSAN_OPTIONS:}halt_on_error=1:print_stacktrace=1
export ASAN_OPTIONS UBSAN_OPTIONS

# Prints the report in a failed run's log: from the sanitizer's or
# libFuzzer's first error line on, 60 lines, which hold its stack.
print_report() {
	local pattern='ERROR|runtime error|requirement failed|ALARM'

	if grep -q -E "$pattern" "$1"; then
		awk -v pattern="$pattern" '$0 ~ pattern { p = 1 }
			p && n++ < 60' "$1"
	else
		tail -n 40 "$1"
	fi
}

status=0

for name in "${targets[@]}"; do
	exe=$build/tests/fuzz/fuzz_$name
	corpus=$build/corpus/$name
	artifacts=$build/artifacts/$name
	log=$build/fuzz_$name.log
	dict=$top/tests/fuzz/$name.dict
	args=(-max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048
		-max_len=4096 -print_final_stats=1 -artifact_prefix="$artifacts/")
	[ ! -f "$dict" ] || args+=(-dict="$dict")

	# A fresh copy, so that the inputs found here stay out of the repo.
	rm -rf "$corpus" "$artifacts"
	mkdir -p "$corpus" "$artifacts"
	cp -R "$top/tests/fuzz/corpus/$name/." "$corpus/"

	echo "fuzz_$name: fuzzing for $seconds s (log: $log)"
	if ! "$exe" "${args[@]}" "$corpus" >"$log" 2>&1; then
		print_report "$log" >&2
		echo "fuzz_$name FAILED; the input that reproduces it:" >&2
		find "$artifacts" -type f | sed 's/^/  /' >&2
		echo "rerun one with: $exe FILE" >&2
		status=1
		continue
	fi
	runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log")
	echo "fuzz_$name: passed, ${runs:-?} inputs run"

	if [ "$merge" -eq 1 ]; then
		"$exe" -merge=1 -max_len=4096 "$top/tests/fuzz/corpus/$name" \
			"$corpus" >>"$log" 2>&1
		added=$(sed -n 's/^MERGE-OUTER: \([0-9]*\) new files.*/\1/p' "$log")
		echo "fuzz_$name: added ${added:-?} inputs to" \
			"tests/fuzz/corpus/$name"
	fi
done
exit "$status"
