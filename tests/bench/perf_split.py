#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Split a perf profile of bench_trainer's training epochs by kind of work.

Reads the text of `perf script` for a `perf record --call-graph dwarf` of
bench_trainer and keeps the samples whose call stack passes through
train_epoch. It sums them by the function at the top of the stack, in
groups: OpenBLAS's compute kernels, its packing copies, its per-call driver
code, the sigmoid, batch loading, the other elementwise steps, the shuffle
and the Linux kernel. It also splits OpenBLAS's share by the net_* function
that called it. Recording and building are left to profile.sh.
"""

import collections
import re
import sys

# One stack frame of perf script: address, symbol+offset, (dso) or
# (inlined).
FRAME = re.compile(r"^\s*[0-9a-f]+ (\S+?)(?:\+0x[0-9a-f]+)? \((.*)\)$")

# (category, test on symbol and dso), first match wins.
CATEGORIES = (
    ("OpenBLAS sgemm compute kernels",
     lambda s, d: re.match(r"sgemm_(small_)?kernel", s) is not None),
    ("OpenBLAS sgemm packing copies",
     lambda s, d: re.match(r"sgemm_\w*copy", s) is not None),
    ("OpenBLAS per-call driver and interface", lambda s, d: "openblas" in d),
    ("sigmoid (expf and net_forward's loops)",
     lambda s, d: s == "net_forward" or "expf" in s),
    ("batch loading (net_batch_load)", lambda s, d: s == "net_batch_load"),
    ("output delta (net_output_delta)",
     lambda s, d: s == "net_output_delta"),
    ("hidden delta, elementwise part (net_hidden_delta)",
     lambda s, d: s == "net_hidden_delta"),
    ("shuffle (rng, shuffle_order)",
     lambda s, d: s.startswith("rng_") or s == "shuffle_order"),
    ("Linux kernel (page faults, scheduler)", lambda s, d: "kernel" in d),
)


def read_samples(lines):
    """Yield each sample's frames as (symbol, dso) pairs, top first."""
    frames = []
    for line in lines:
        if not line.strip():
            if frames:
                yield frames
            frames = []
            continue
        m = FRAME.match(line)
        if m:
            frames.append((m.group(1), m.group(2)))
    if frames:
        yield frames


def categorize(symbol, dso):
    """Return the category of a sample whose top frame is symbol in dso."""
    for name, test in CATEGORIES:
        if test(symbol, dso):
            return name
    return "other (epoch loop, libc)"


def blas_caller(frames):
    """Return the first net_* function below the top of the stack."""
    for symbol, _ in frames[1:]:
        if symbol.startswith("net_"):
            return symbol
    return "unknown"


def print_shares(title, counts, total, limit=None):
    print(title)
    for name, n in counts.most_common(limit):
        print(f"  {100 * n / total:5.1f}%  {name}")


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: perf_split.py PERF_SCRIPT_TEXT")
    with open(sys.argv[1]) as f:
        samples = list(read_samples(f))

    in_epoch = collections.Counter()
    top_symbols = collections.Counter()
    blas_callers = collections.Counter()
    for frames in samples:
        if not any(symbol == "train_epoch" for symbol, _ in frames):
            continue
        symbol, dso = frames[0]
        in_epoch[categorize(symbol, dso)] += 1
        top_symbols[symbol] += 1
        if "openblas" in dso:
            blas_callers[blas_caller(frames)] += 1

    n_epoch = sum(in_epoch.values())
    if n_epoch == 0:
        sys.exit("perf_split: no sample passes through train_epoch; was "
                 "the profile recorded with --call-graph dwarf?")
    print(f"{len(samples)} samples, {n_epoch} of them inside train_epoch "
          f"({100 * n_epoch / len(samples):.0f}%)")
    print_shares("shares of the epoch by kind of work:", in_epoch, n_epoch)
    print_shares("shares of the epoch in OpenBLAS, by calling function "
                 "(net_forward: x W1 and h W2; net_hidden_delta: d_out B^T; "
                 "net_update: h^T d_out and x^T d_hid):",
                 blas_callers, n_epoch)
    print_shares("top functions inside train_epoch:", top_symbols, n_epoch,
                 12)


if __name__ == "__main__":
    main()
