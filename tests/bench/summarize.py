#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Summarize the rounds of tests/bench/run.sh into the side-by-side table.

Reads fasweep.tsv (bench_trainer), torch.tsv (peer_torch.py) and peak.tsv
(bench_trainer --peak-only) from the output directory, one row per run.
Prints, per hidden size, the median seconds of each side over the rounds
and the ratio fasweep / torch of the medians, with the range of the
per-round ratios. Then prints fasweep's rate against the best peak of the
rounds and checks the speed targets. Writes the same numbers to
summary.tsv. Running the rounds is left to run.sh.
"""

import csv
import math
import os
import statistics
import sys

# Speed targets: the largest fasweep / torch ratio of a training epoch per
# hidden size, and the smallest fraction of the FMA peak for H >= 100.
RATIO_TARGETS = {20: 0.55, 1000: 0.90}
PEAK_FRACTION_TARGET = 0.80
PEAK_TARGET_MIN_HIDDEN = 100

# A process that got less of a core than this while training shared it
# with others, and its wall-clock time measures the load more than the code.
BUSY_SHARE = 0.9


def read_tsv(path):
    """Return the rows of a tab-separated file with a header line."""
    if not os.path.exists(path):
        sys.exit(f"summarize: {path} not found; run tests/bench/run.sh")
    with open(path, newline="") as f:
        return list(csv.DictReader(f, delimiter="\t"))


def runs_by_hidden(rows):
    """Return {H: [row, ...]} in the order of the runs."""
    runs = {}
    for row in rows:
        runs.setdefault(int(row["H"]), []).append(row)
    return runs


def times(rows, column):
    """Return a column as floats. The train_eval columns sum training and
    evaluation of the same run."""
    if column == "train_eval_s":
        return [float(r["train_s"]) + float(r["eval_s"]) for r in rows]
    if column == "train_eval_cpu_s":
        return [float(r["train_cpu_s"]) + float(r["eval_cpu_s"])
                for r in rows]
    return [float(r[column]) for r in rows]


def side_by_side(fasweep, torch, column):
    """Return (fasweep median, torch median, ratio of the medians, lowest
    and highest per-round ratio) of a time column."""
    f, t = times(fasweep, column), times(torch, column)
    rounds = [a / b for a, b in zip(f, t)]
    f_med, t_med = statistics.median(f), statistics.median(t)
    return f_med, t_med, f_med / t_med, min(rounds), max(rounds)


def core_share(runs):
    """Return the median over all runs of training CPU time / wall-clock
    time: the share of a core that the process got."""
    return statistics.median(float(r["train_cpu_s"]) / float(r["train_s"])
                             for rows in runs.values() for r in rows)


def best_peak(rows, method):
    """Return the best rate of a peak method over the rounds."""
    rates = [float(r["gflops"]) for r in rows if r["method"] == method]
    return max(rates) if rates else math.nan


def print_table(title, lines):
    print(title)
    print(f"{'':>6} {'wall-clock':^34}   {'CPU time':^34}")
    print(f"{'H':>6} {'fasweep s':>9} {'torch s':>8} {'ratio':>6} "
          f"{'range':>11}   {'fasweep s':>9} {'torch s':>8} {'ratio':>6} "
          f"{'range':>11}")
    for h, wall, cpu in lines:
        cells = []
        for f, t, ratio, low, high in (wall, cpu):
            cells.append(f"{f:>9.4f} {t:>8.4f} {ratio:>6.2f} "
                         f"{low:>5.2f}-{high:<5.2f}")
        print(f"{h:>6} {cells[0]}   {cells[1]}")
    print()


def check_targets(results, fma_peak):
    """Print each target with the measured values, and return how many
    are met and how many were measured."""
    met = measured = 0
    print("targets:")
    for h, limit in RATIO_TARGETS.items():
        if h not in results:
            continue
        wall, cpu = results[h]["train_wall"][2], results[h]["train_cpu"][2]
        ok = max(wall, cpu) <= limit
        met, measured = met + ok, measured + 1
        print(f"  fasweep / torch <= {limit} at H = {h}: wall-clock "
              f"{wall:.2f}, CPU time {cpu:.2f}: "
              f"{'met' if ok else 'not met'}")
    for h, r in sorted(results.items()):
        if h < PEAK_TARGET_MIN_HIDDEN:
            continue
        fraction = r["gflops"] / fma_peak
        ok = fraction >= PEAK_FRACTION_TARGET
        met, measured = met + ok, measured + 1
        print(f"  >= {PEAK_FRACTION_TARGET:.0%} of the FMA peak at H = {h}: "
              f"{fraction:.0%}: {'met' if ok else 'not met'}")
    return met, measured


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: summarize.py OUTPUT_DIR")
    out = sys.argv[1]
    fasweep = runs_by_hidden(read_tsv(os.path.join(out, "fasweep.tsv")))
    torch = runs_by_hidden(read_tsv(os.path.join(out, "torch.tsv")))
    peaks = read_tsv(os.path.join(out, "peak.tsv"))
    fma_peak = best_peak(peaks, "fma")
    sgemm_peak = next((best_peak(peaks, r["method"]) for r in peaks
                       if r["method"].startswith("sgemm")), math.nan)

    results, train_lines, total_lines = {}, [], []
    for h in sorted(fasweep):
        if h not in torch:
            continue
        f, t = fasweep[h], torch[h]
        r = {key: side_by_side(f, t, column) for key, column in (
            ("train_wall", "train_s"), ("train_cpu", "train_cpu_s"),
            ("total_wall", "train_eval_s"), ("total_cpu", "train_eval_cpu_s"))}
        r["gflops"] = float(f[0]["train_flop"]) / r["train_cpu"][0] / 1e9
        r["rounds"] = min(len(f), len(t))
        results[h] = r
        train_lines.append((h, r["train_wall"], r["train_cpu"]))
        total_lines.append((h, r["total_wall"], r["total_cpu"]))
    if not results:
        sys.exit(f"summarize: no hidden size has runs of both sides in {out}")

    n_rounds = min(r["rounds"] for r in results.values())
    print(f"medians of {n_rounds} rounds; ratio = fasweep / torch of the "
          "medians, range = lowest-highest ratio within a round")
    print(f"single-core float32 peak, best of the rounds: {fma_peak:.1f} "
          f"GFLOP/s (FMA loop), {sgemm_peak:.1f} GFLOP/s (OpenBLAS sgemm)")
    shares = core_share(fasweep), core_share(torch)
    print(f"share of a core while training (CPU / wall-clock time, median): "
          f"fasweep {shares[0]:.0%}, torch {shares[1]:.0%}")
    if min(shares) < BUSY_SHARE:
        print("the machine was busy, so the CPU-time columns are the "
              "better comparison")
    print()
    print_table("training epoch (50,000 images):", train_lines)
    print_table("training epoch + evaluation (20,000 test, 1,000 probe "
                "images):", total_lines)

    print("fasweep's training epoch, GFLOP per CPU second:")
    print(f"{'H':>6} {'GFLOP/s':>8} {'% FMA peak':>11} {'% sgemm':>8}")
    for h, r in results.items():
        print(f"{h:>6} {r['gflops']:>8.1f} "
              f"{100 * r['gflops'] / fma_peak:>11.1f} "
              f"{100 * r['gflops'] / sgemm_peak:>8.1f}")
    print()
    met, measured = check_targets(results, fma_peak)
    print(f"{met} of {measured} targets met")

    with open(os.path.join(out, "summary.tsv"), "w") as f:
        f.write("H\trounds\tpart\tclock\tfasweep_s\ttorch_s\tratio\t"
                "ratio_low\tratio_high\tfasweep_train_cpu_gflops\t"
                "fma_peak_gflops\tsgemm_peak_gflops\n")
        for h, r in results.items():
            for key in ("train_wall", "train_cpu", "total_wall", "total_cpu"):
                part, clock = key.split("_")
                values = "\t".join(f"{x:.6g}" for x in r[key])
                f.write(f"{h}\t{r['rounds']}\t{part}\t{clock}\t{values}\t"
                        f"{r['gflops']:.3f}\t{fma_peak:.3f}\t"
                        f"{sgemm_peak:.3f}\n")


if __name__ == "__main__":
    main()
