#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Summarize the rounds of tests/bench/run.sh into the side-by-side tables.

Reads one row per run from these files of the output directory:
- fasweep.tsv: bench_trainer, one trial alone;
- lockstep.tsv: bench_lockstep, the bp, fa and onehot trials of one
  (H, seed) together, times per trial;
- sgemm.tsv (optional): bench_sgemm, the epoch's five sgemm calls alone;
- the same three with a suffix such as fasweep-Haswell.tsv for runs under
  another OPENBLAS_CORETYPE;
- torch.tsv: peer_torch.py; numpy.tsv (optional): peer_numpy.py;
- peak.tsv: bench_trainer --peak-only.

Prints, per hidden size and fasweep variant, the median seconds of each
side over the rounds and the ratio fasweep / torch of the medians, with
the range of the per-round ratios. Then prints every side's median epoch
and rate against the best peak of the rounds, with the ratios to PyTorch
and NumPy, and checks the speed targets. Writes the comparison
with PyTorch to summary.tsv and the table of all sides to sides.tsv.
Running the rounds is left to run.sh.
"""

import csv
import glob
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


def variant_files(out):
    """Return [(variant, path)]: fasweep first, then lockstep, then the
    same under other OpenBLAS core types, for the files that exist."""
    found = []
    for impl in ("fasweep", "lockstep"):
        path = os.path.join(out, f"{impl}.tsv")
        if os.path.exists(path):
            found.append((impl, path))
    for impl in ("fasweep", "lockstep"):
        for path in sorted(glob.glob(os.path.join(out, f"{impl}-*.tsv"))):
            found.append((os.path.basename(path)[:-len(".tsv")], path))
    return found


def optional_files(out, impl):
    """Return [(name, path)] of impl.tsv and impl-CORETYPE.tsv, for the
    files that exist."""
    found = []
    path = os.path.join(out, f"{impl}.tsv")
    if os.path.exists(path):
        found.append((impl, path))
    for path in sorted(glob.glob(os.path.join(out, f"{impl}-*.tsv"))):
        found.append((os.path.basename(path)[:-len(".tsv")], path))
    return found


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


def compare_variant(runs, torch):
    """Return {H: result} of one variant against torch, for the hidden
    sizes both have. The total (training + evaluation) is NaN where the
    variant does not time the evaluation."""
    results = {}
    for h in sorted(runs):
        if h not in torch:
            continue
        f, t = runs[h], torch[h]
        r = {key: side_by_side(f, t, column) for key, column in (
            ("train_wall", "train_s"), ("train_cpu", "train_cpu_s"),
            ("total_wall", "train_eval_s"), ("total_cpu", "train_eval_cpu_s"))}
        r["gflops"] = float(f[0]["train_flop"]) / r["train_cpu"][0] / 1e9
        r["rounds"] = min(len(f), len(t))
        results[h] = r
    return results


def print_table(title, variants, part):
    """Print the wall-clock and CPU-time comparison of one part (train or
    total) for every variant and hidden size that has it."""
    print(title)
    print(f"{'':>6} {'':<16} {'wall-clock':^34}   {'CPU time':^34}")
    print(f"{'H':>6} {'fasweep variant':<16} {'fasweep s':>9} "
          f"{'torch s':>8} {'ratio':>6} {'range':>11}   {'fasweep s':>9} "
          f"{'torch s':>8} {'ratio':>6} {'range':>11}")
    hidden = sorted({h for results in variants.values() for h in results})
    for h in hidden:
        for name, results in variants.items():
            r = results.get(h)
            if r is None or math.isnan(r[f"{part}_cpu"][0]):
                continue
            cells = []
            for f, t, ratio, low, high in (r[f"{part}_wall"],
                                           r[f"{part}_cpu"]):
                cells.append(f"{f:>9.4f} {t:>8.4f} {ratio:>6.2f} "
                             f"{low:>5.2f}-{high:<5.2f}")
            print(f"{h:>6} {name:<16} {cells[0]}   {cells[1]}")
    print()


def check_targets(variants, fma_peak):
    """Print each target with the measured values of every variant, and
    return how many are met and how many were measured."""
    met = measured = 0
    print("targets:")
    for name, results in variants.items():
        for h, limit in RATIO_TARGETS.items():
            if h not in results:
                continue
            r = results[h]
            wall, cpu = r["train_wall"][2], r["train_cpu"][2]
            ok = max(wall, cpu) <= limit
            met, measured = met + ok, measured + 1
            print(f"  {name}: fasweep / torch <= {limit} at H = {h}: "
                  f"wall-clock {wall:.2f}, CPU time {cpu:.2f}: "
                  f"{'met' if ok else 'not met'}")
        for h, r in sorted(results.items()):
            if h < PEAK_TARGET_MIN_HIDDEN:
                continue
            fraction = r["gflops"] / fma_peak
            ok = fraction >= PEAK_FRACTION_TARGET
            met, measured = met + ok, measured + 1
            print(f"  {name}: >= {PEAK_FRACTION_TARGET:.0%} of the FMA "
                  f"peak at H = {h}: {fraction:.0%}: "
                  f"{'met' if ok else 'not met'}")
    return met, measured


def print_rates(variants, fma_peak, sgemm_peak):
    print("training epoch per trial, GFLOP per CPU second:")
    print(f"{'H':>6} {'fasweep variant':<16} {'GFLOP/s':>8} "
          f"{'% FMA peak':>11} {'% sgemm':>8}")
    hidden = sorted({h for results in variants.values() for h in results})
    for h in hidden:
        for name, results in variants.items():
            if h not in results:
                continue
            rate = results[h]["gflops"]
            print(f"{h:>6} {name:<16} {rate:>8.1f} "
                  f"{100 * rate / fma_peak:>11.1f} "
                  f"{100 * rate / sgemm_peak:>8.1f}")
    print()


def side_medians(rows):
    """Return the training epoch of one side at one hidden size: the wall
    and CPU medians, GFLOP per CPU second and the per-round CPU times."""
    cpu = times(rows, "train_cpu_s")
    cpu_median = statistics.median(cpu)
    return {"wall": statistics.median(times(rows, "train_s")),
            "cpu": cpu_median, "per_round": cpu,
            "gflops": float(rows[0]["train_flop"]) / cpu_median / 1e9}


def peer_ratio(side, peer):
    """Return (ratio of the CPU medians side / peer, lowest and highest
    per-round ratio), or None without the peer."""
    if peer is None:
        return None
    rounds = [a / b for a, b in zip(side["per_round"], peer["per_round"])]
    return side["cpu"] / peer["cpu"], min(rounds), max(rounds)


def all_sides(sides):
    """Return {H: {side: medians with the ratios to torch and numpy}} for
    every hidden size that torch has."""
    table = {}
    for h in sorted(sides["torch"]):
        row = {name: side_medians(runs[h])
               for name, runs in sides.items() if h in runs}
        for name, r in row.items():
            for peer in ("torch", "numpy"):
                r[peer] = (None if name == peer
                           else peer_ratio(r, row.get(peer)))
        table[h] = row
    return table


def ratio_text(ratio):
    """Return 'ratio (low-high)', or '-' for None."""
    if ratio is None:
        return "-"
    return f"{ratio[0]:.2f} ({ratio[1]:.2f}-{ratio[2]:.2f})"


def print_all_sides(table, fma_peak):
    print("training epoch of every side, medians: fasweep = bench_trainer "
          "(one trial alone),\nlockstep = bench_lockstep (per trial), "
          "sgemm = the five sgemm calls alone,\ntorch = PyTorch, numpy = "
          "NumPy + OpenBLAS; GFLOP per CPU second; / torch and\n/ numpy = "
          "this side / the peer in CPU time, lowest-highest per-round "
          "ratio\nin brackets:")
    print(f"{'H':>6} {'side':<16} {'wall s':>8} {'CPU s':>8} "
          f"{'GFLOP/s':>8} {'% FMA peak':>11}   {'/ torch':<18} / numpy")
    for h, row in table.items():
        for name, r in row.items():
            line = (f"{h:>6} {name:<16} {r['wall']:>8.4f} {r['cpu']:>8.4f} "
                    f"{r['gflops']:>8.1f} "
                    f"{100 * r['gflops'] / fma_peak:>11.1f}   "
                    f"{ratio_text(r['torch']):<18} "
                    f"{ratio_text(r['numpy'])}")
            print(line)
    print()


def print_context(table, variants, fma_peak):
    """Print, without targets, the ratios to NumPy and how close the five
    sgemms alone come to the FMA peak, the floor under every variant."""
    lines = []
    for h, row in table.items():
        for name, r in row.items():
            if name.startswith("sgemm"):
                lines.append(f"  {name}: the five sgemms alone reach "
                             f"{r['gflops'] / fma_peak:.0%} of the FMA "
                             f"peak at H = {h}")
            elif name in variants and r["numpy"] is not None:
                lines.append(f"  {name}: fasweep / numpy at H = {h}: "
                             f"CPU time {r['numpy'][0]:.2f}")
    if lines:
        print("context (no targets):")
        print("\n".join(lines))


def write_sides(path, table, fma_peak):
    with open(path, "w") as f:
        f.write("H\tside\trounds\ttrain_s\ttrain_cpu_s\ttrain_cpu_gflops\t"
                "pct_fma_peak\tratio_torch\tratio_torch_low\t"
                "ratio_torch_high\tratio_numpy\tratio_numpy_low\t"
                "ratio_numpy_high\n")
        for h, row in table.items():
            for name, r in row.items():
                ratios = [x for peer in ("torch", "numpy")
                          for x in (r[peer] or (math.nan,) * 3)]
                values = "\t".join(f"{x:.6g}" for x in (
                    r["wall"], r["cpu"], r["gflops"],
                    100 * r["gflops"] / fma_peak, *ratios))
                f.write(f"{h}\t{name}\t{len(r['per_round'])}\t{values}\n")


def write_summary(path, variants, fma_peak, sgemm_peak):
    with open(path, "w") as f:
        f.write("H\tvariant\trounds\tpart\tclock\tfasweep_s\ttorch_s\t"
                "ratio\tratio_low\tratio_high\tfasweep_train_cpu_gflops\t"
                "fma_peak_gflops\tsgemm_peak_gflops\n")
        for name, results in variants.items():
            for h, r in results.items():
                for key in ("train_wall", "train_cpu", "total_wall",
                            "total_cpu"):
                    part, clock = key.split("_")
                    values = "\t".join(f"{x:.6g}" for x in r[key])
                    f.write(f"{h}\t{name}\t{r['rounds']}\t{part}\t{clock}\t"
                            f"{values}\t{r['gflops']:.3f}\t{fma_peak:.3f}\t"
                            f"{sgemm_peak:.3f}\n")


def load_sides(out, runs, torch):
    """Return {side: {H: [row, ...]}} of every side in out: the fasweep
    variants, the sgemm floors, torch and numpy, in that order."""
    sides = dict(runs)
    sides.update((name, runs_by_hidden(read_tsv(path)))
                 for name, path in optional_files(out, "sgemm"))
    sides["torch"] = torch
    sides.update((name, runs_by_hidden(read_tsv(path)))
                 for name, path in optional_files(out, "numpy"))
    return sides


def print_header(variants, sides, fma_peak, sgemm_peak):
    """Print the rounds, the peak and how much of a core each side got."""
    n_rounds = min(r["rounds"] for v in variants.values() for r in v.values())
    print(f"medians of {n_rounds} rounds; ratio = fasweep / torch of the "
          "medians, range = lowest-highest ratio within a round; lockstep "
          "times are per trial (group / 3)")
    print(f"single-core float32 peak, best of the rounds: {fma_peak:.1f} "
          f"GFLOP/s (FMA loop), {sgemm_peak:.1f} GFLOP/s (OpenBLAS sgemm)")
    shares = {name: core_share(r) for name, r in sides.items()}
    print("share of a core while training (CPU / wall-clock time, median): "
          + ", ".join(f"{name} {s:.0%}" for name, s in shares.items()))
    if min(shares.values()) < BUSY_SHARE:
        print("the machine was busy, so the CPU-time columns are the "
              "better comparison")
    print()


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: summarize.py OUTPUT_DIR")
    out = sys.argv[1]
    torch = runs_by_hidden(read_tsv(os.path.join(out, "torch.tsv")))
    files = variant_files(out)
    if not files:
        sys.exit(f"summarize: no fasweep.tsv or lockstep.tsv in {out}; "
                 "run tests/bench/run.sh")
    runs = {name: runs_by_hidden(read_tsv(path)) for name, path in files}
    peaks = read_tsv(os.path.join(out, "peak.tsv"))
    fma_peak = best_peak(peaks, "fma")
    sgemm_peak = next((best_peak(peaks, r["method"]) for r in peaks
                       if r["method"].startswith("sgemm")), math.nan)

    variants = {name: compare_variant(r, torch) for name, r in runs.items()}
    variants = {name: v for name, v in variants.items() if v}
    if not variants:
        sys.exit(f"summarize: no hidden size has runs of both sides in {out}")
    sides = load_sides(out, runs, torch)
    table = all_sides(sides)

    print_header(variants, sides, fma_peak, sgemm_peak)
    print_table("training epoch (50,000 images):", variants, "train")
    print_table("training epoch + evaluation (20,000 test, 1,000 probe "
                "images; bench_lockstep does not time it):", variants,
                "total")
    print_rates(variants, fma_peak, sgemm_peak)
    print_all_sides(table, fma_peak)

    met, measured = check_targets(variants, fma_peak)
    print(f"{met} of {measured} targets met")
    print()
    print_context(table, variants, fma_peak)
    write_summary(os.path.join(out, "summary.tsv"), variants, fma_peak,
                  sgemm_peak)
    write_sides(os.path.join(out, "sides.tsv"), table, fma_peak)


if __name__ == "__main__":
    main()
