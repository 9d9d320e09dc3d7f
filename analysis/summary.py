#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Recompute the t-test table of a fasweep results file with scipy.stats,
check it against the file's /tables/stats and print it as Markdown or CSV.
With --table diagnostics, print instead the mean over done seeds of the
final alignment_angle, feedback_cosine, feedback_concordance and
saturation_fraction per hidden size and mode, after the same checks.

The definitions are those of docs/FORMAT.md: for each hidden size and each
mode other than the baseline, the pairs are the seeds where both trials are
done, and the row contains the paired t-test, Welch's t-test on the same
pairs, the 95% confidence interval of the mean paired difference, Cohen's d
and Holm's correction across all rows. Reading and checking the file's
layout is left to results_file.py. Plots are left to plot_curves.py.

Exit status: 0 when every field agrees with the file, 1 on an error or a
disagreement (each one is printed), 2 on bad usage, 3 when the sweep has
not finished (the table is then printed from the trials done so far and
not checked). --table diagnostics on a file without those curves, which
older fasweep versions did not record, is an error.

Usage: summary.py FILE [--format markdown|csv] [--tol 1e-9]
                  [--table stats|diagnostics]
"""
import argparse
import csv
import math
import signal
import sys
import warnings

import numpy as np
from scipy import special, stats

from results_file import STATS_DOUBLE_FIELDS, ResultsError, load, text

EXIT_OK, EXIT_ERROR, EXIT_UNFINISHED = 0, 1, 3

CSV_COLUMNS = (["hidden", "mode", "baseline", "n_pairs", "n_dropped",
                "dropped_seeds"] + STATS_DOUBLE_FIELDS)

# Markdown columns: heading and how to format the row's value.
MARKDOWN_COLUMNS = [
    ("hidden", lambda r: str(r["hidden"])),
    ("mode", lambda r: r["mode"]),
    ("n pairs", lambda r: str(r["n_pairs"])),
    ("dropped seeds", lambda r: format_dropped(r["dropped_seeds"])),
    ("mean", lambda r: f"{r['mean']:.4f}"),
    ("baseline mean", lambda r: f"{r['mean_baseline']:.4f}"),
    ("diff", lambda r: f"{r['mean_diff']:+.4f}"),
    ("95% CI of diff",
     lambda r: f"[{r['ci95_low']:+.4f}, {r['ci95_high']:+.4f}]"),
    ("t paired", lambda r: f"{r['t_paired']:.3f}"),
    ("p paired", lambda r: f"{r['p_paired']:.3g}"),
    ("t Welch", lambda r: f"{r['t_welch']:.3f}"),
    ("p Welch", lambda r: f"{r['p_welch']:.3g}"),
    ("Cohen's d", lambda r: f"{r['cohen_d']:.2f}"),
    ("Holm p", lambda r: f"{r['p_holm']:.3g}"),
]


# Curves of the diagnostics table: name and Markdown format of the mean.
DIAGNOSTIC_COLUMNS = [("alignment_angle", ".2f"), ("feedback_cosine", ".4f"),
                      ("feedback_concordance", ".4f"),
                      ("saturation_fraction", ".4f")]
DIAGNOSTIC_CSV_COLUMNS = (["hidden", "mode", "n_done"]
                          + [name for name, _ in DIAGNOSTIC_COLUMNS])


def t_quantile_975(df):
    """Return the 0.975 quantile of Student's t with df degrees of freedom.

    It solves P(|T| > q) = I_{df / (df + q^2)}(df / 2, 1 / 2) = 0.05 with
    the inverse regularized incomplete beta function, because
    scipy.stats.t.ppf of scipy 1.10.1 is off by 8.3e-9 at df = 39: it gives
    2.0226909117 where mpmath 1.2.1 at 30 digits gives 2.0226909200."""
    b = special.betaincinv(df / 2.0, 0.5, 0.05)
    return math.sqrt(df * (1.0 / b - 1.0))


def welch_df(x, y):
    """Return the Welch-Satterthwaite degrees of freedom of two samples of
    equal size n >= 2. Like scipy, return 1 where the formula gives NaN,
    which happens when both variances are 0."""
    n = len(x)
    vx = np.var(x, ddof=1) / n
    vy = np.var(y, ddof=1) / n
    df = (vx + vy) ** 2 / (vx ** 2 / (n - 1) + vy ** 2 / (n - 1))
    return 1.0 if math.isnan(df) else float(df)


def compare_pairs(x, y):
    """Return the double fields of one stats row, except p_holm, for the
    mode's final accuracies x and the baseline's y (float64, paired)."""
    n = len(x)
    row = dict.fromkeys(STATS_DOUBLE_FIELDS, math.nan)
    if n >= 1:
        row["mean"] = float(np.mean(x))
        row["mean_baseline"] = float(np.mean(y))
        row["mean_diff"] = row["mean"] - row["mean_baseline"]
    if n < 2:
        return row

    row["sd"] = float(np.std(x, ddof=1))
    row["sd_baseline"] = float(np.std(y, ddof=1))

    paired = stats.ttest_rel(x, y)
    row["t_paired"] = float(paired.statistic)
    row["p_paired"] = float(paired.pvalue)

    welch = stats.ttest_ind(x, y, equal_var=False)
    row["t_welch"] = float(welch.statistic)
    row["p_welch"] = float(welch.pvalue)
    row["df_welch"] = welch_df(x, y)

    half = t_quantile_975(n - 1) * np.std(x - y, ddof=1) / math.sqrt(n)
    row["ci95_low"] = float(row["mean_diff"] - half)
    row["ci95_high"] = float(row["mean_diff"] + half)

    pooled = np.sqrt((np.float64(row["sd"]) ** 2
                      + np.float64(row["sd_baseline"]) ** 2) / 2)
    row["cohen_d"] = float(np.float64(row["mean_diff"]) / pooled)
    return row


def holm(p_values):
    """Return Holm's step-down adjustment of p_values. NaN entries stay NaN
    and do not count in m. Ties keep row order."""
    order = sorted((i for i, p in enumerate(p_values) if not math.isnan(p)),
                   key=lambda i: (p_values[i], i))
    m = len(order)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (m - j) * p_values[i]))
        adjusted[i] = running
    return adjusted


def recompute_table(results):
    """Return the expected /tables/stats rows as dicts, in file order, each
    with the seeds dropped from its pairs."""
    done = results.status == "done"
    b = results.modes.index(results.baseline)
    rows = []
    for h, hidden in enumerate(results.hidden):
        for m, mode in enumerate(results.modes):
            if m == b:
                continue
            both = done[m, h] & done[b, h]
            x = results.final_accuracy[m, h, both]
            y = results.final_accuracy[b, h, both]
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore", RuntimeWarning)
                row = compare_pairs(x, y)
            row.update(mode=mode, hidden=hidden, baseline=results.baseline,
                       n_pairs=int(np.count_nonzero(both)),
                       dropped_seeds=[seed for seed, ok
                                      in zip(results.seeds, both) if not ok])
            rows.append(row)

    adjusted = holm([row["p_paired"] for row in rows])
    for row, p_holm in zip(rows, adjusted):
        row["p_holm"] = p_holm
    return rows


def final_values(curve, train_loss):
    """Return the value of curve (seeds x epochs) at each seed's last
    epoch, the last one where train_loss (seeds x epochs) is finite, since
    a trial's own epochs may be fewer than the file's."""
    values = []
    for s in range(curve.shape[0]):
        finite = np.flatnonzero(np.isfinite(train_loss[s]))
        if finite.size > 0:
            values.append(float(curve[s, finite[-1]]))
    return np.array(values, dtype=np.float64)


def diagnostics_table(results):
    """Return one row per (hidden size, mode) in file order with the
    number of done seeds and, per curve of DIAGNOSTIC_COLUMNS, the mean of
    its last-epoch values over those seeds. A mean is NaN when no seed is
    done or a done seed has NaN there, as the angles and the cosine of
    shallow do."""
    done = results.status == "done"
    rows = []
    for h, hidden in enumerate(results.hidden):
        for m, mode in enumerate(results.modes):
            train_loss = results.curves["train_loss"][m, h, done[m, h]]
            row = dict(hidden=hidden, mode=mode,
                       n_done=int(np.count_nonzero(done[m, h])))
            for name, _ in DIAGNOSTIC_COLUMNS:
                curve = results.curves[name][m, h, done[m, h]]
                values = final_values(curve, train_loss)
                row[name] = (float(np.mean(values)) if values.size > 0
                             else math.nan)
            rows.append(row)
    return rows


def missing_diagnostics(results):
    """Return the curves of DIAGNOSTIC_COLUMNS that the file lacks."""
    return [name for name, _ in DIAGNOSTIC_COLUMNS
            if name not in results.curves]


def agree(stored, computed, tol):
    """Return whether two doubles agree within tol, absolute, or relative to
    the computed value when its magnitude is above 1. NaN only matches NaN
    and an infinity only itself."""
    if math.isnan(stored) or math.isnan(computed):
        return math.isnan(stored) and math.isnan(computed)
    if math.isinf(stored) or math.isinf(computed):
        return stored == computed
    return abs(stored - computed) <= tol * max(1.0, abs(computed))


def row_disagreements(k, stored, want, tol):
    """Return one message per field of stored row k that differs from the
    recomputed row want."""
    where = f"/tables/stats row {k} (hidden {want['hidden']}, {want['mode']})"
    found = []
    keys = [("mode", text(stored["mode"])), ("hidden", int(stored["hidden"])),
            ("baseline", text(stored["baseline"])),
            ("n_pairs", int(stored["n_pairs"]))]
    for name, value in keys:
        if value != want[name]:
            found.append(f"{where}: {name} is {value!r}, recomputed "
                         f"{want[name]!r}")
    for name in STATS_DOUBLE_FIELDS:
        value = float(stored[name])
        if not agree(value, want[name], tol):
            found.append(f"{where}: {name} is {value!r}, recomputed "
                         f"{want[name]!r} (difference "
                         f"{abs(value - want[name]):.3g}, --tol {tol:g})")
    return found


def disagreements(results, rows, tol):
    """Return one message per field where the file's stats table differs
    from the recomputed rows."""
    stored = results.stats
    found = []
    if len(stored) != len(rows):
        found.append(f"/tables/stats has {len(stored)} rows, recomputed "
                     f"{len(rows)} (one per hidden size and mode other than "
                     f"the baseline {results.baseline})")
    for k, (got, want) in enumerate(zip(stored, rows)):
        found.extend(row_disagreements(k, got, want, tol))
    return found


def format_dropped(seeds):
    if not seeds:
        return "0"
    return f"{len(seeds)} ({', '.join(str(s) for s in seeds)})"


def print_markdown(rows, out):
    out.write("| " + " | ".join(name for name, _ in MARKDOWN_COLUMNS)
              + " |\n")
    out.write("|" + "|".join("---" for _ in MARKDOWN_COLUMNS) + "|\n")
    for row in rows:
        out.write("| " + " | ".join(cell(row) for _, cell in MARKDOWN_COLUMNS)
                  + " |\n")


def print_csv(rows, out):
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for row in rows:
        values = dict(row, n_dropped=len(row["dropped_seeds"]),
                      dropped_seeds=" ".join(str(s)
                                             for s in row["dropped_seeds"]))
        writer.writerow([repr(values[name])
                         if isinstance(values[name], float) else values[name]
                         for name in CSV_COLUMNS])


def print_table(results, rows, form):
    if form == "csv":
        print_csv(rows, sys.stdout)
        return
    print(f"Final test accuracy of each mode against the baseline "
          f"{results.baseline}, paired over seeds where both trials are "
          f"done ({results.path}):\n")
    print_markdown(rows, sys.stdout)


def format_mean(value, spec):
    return "NaN" if math.isnan(value) else format(value, spec)


def print_diagnostics(results, form):
    """Print the diagnostics table of results as CSV or Markdown."""
    rows = diagnostics_table(results)
    if form == "csv":
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(DIAGNOSTIC_CSV_COLUMNS)
        for row in rows:
            writer.writerow([repr(row[name]) if isinstance(row[name], float)
                             else row[name]
                             for name in DIAGNOSTIC_CSV_COLUMNS])
        return

    print(f"Mean over done seeds of each trial's value at its last epoch "
          f"({results.path}). NaN where no seed is done or a done seed has "
          f"NaN, as the angles and the cosine of shallow have:\n")
    headings = ["hidden", "mode", "n done"] + [
        name for name, _ in DIAGNOSTIC_COLUMNS]
    print("| " + " | ".join(headings) + " |")
    print("|" + "|".join("---" for _ in headings) + "|")
    for row in rows:
        cells = [str(row["hidden"]), row["mode"], str(row["n_done"])] + [
            format_mean(row[name], spec) for name, spec in DIAGNOSTIC_COLUMNS]
        print("| " + " | ".join(cells) + " |")


def print_chosen(results, rows, args):
    """Print the table that --table chose."""
    if args.table == "diagnostics":
        print_diagnostics(results, args.format)
    else:
        print_table(results, rows, args.format)


def unfinished_message(results, n_rows):
    """Return why the stats table cannot be checked yet, or None when the
    sweep has finished. n_rows is the number of rows the finished table
    has, 0 when the baseline is the only mode."""
    n_pending = results.count_status("pending")
    if len(results.stats) > 0 or (n_pending == 0 and n_rows == 0):
        return None
    if n_pending > 0:
        state = (f"{n_pending} of {results.status.size} trials are still "
                 f"pending")
    else:
        state = "every trial is stored but the final pass did not run"
    return (f"{results.path}: the sweep is still running or stopped: "
            f"{state}, and /tables/stats has no rows yet. The table is "
            f"computed from the trials done so far, not checked and not "
            f"final. Complete the sweep (fasweep run CONFIG -o FILE "
            f"--resume), then run summary.py again.")


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Recompute the t-test table of a fasweep results file "
        "from its trials table with scipy.stats, check every field against "
        "the file's /tables/stats and print the table.")
    parser.add_argument("file", metavar="FILE", help="fasweep results file")
    parser.add_argument("--format", choices=["markdown", "csv"],
                        default="markdown",
                        help="output format of the table (default markdown)")
    parser.add_argument("--tol", type=float, default=1e-9,
                        help="largest accepted difference between a stored "
                        "and a recomputed value: absolute, relative for "
                        "magnitudes above 1 (default 1e-9)")
    parser.add_argument("--table", choices=["stats", "diagnostics"],
                        default="stats",
                        help="table to print after the checks: the t-tests "
                        "(stats, default) or the mean final alignment_angle, "
                        "feedback_cosine, feedback_concordance and "
                        "saturation_fraction per hidden size and mode over "
                        "done seeds (diagnostics)")
    return parser.parse_args(argv)


def main(argv=None):
    # Output piped into head ends quietly, as for other command-line tools.
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    args = parse_args(argv)
    try:
        results = load(args.file)
    except ResultsError as err:
        print(f"summary.py: error: {err}", file=sys.stderr)
        return EXIT_ERROR
    missing = missing_diagnostics(results)
    if args.table == "diagnostics" and missing:
        print(f"summary.py: error: {args.file} lacks the curves "
              f"{', '.join(missing)} that --table diagnostics needs. Older "
              f"fasweep versions did not record them, so only --table stats "
              f"works on this file", file=sys.stderr)
        return EXIT_ERROR
    rows = recompute_table(results)

    # a table without rows belongs to a sweep that has not finished,
    # unless the baseline is the only mode
    message = unfinished_message(results, len(rows))
    if message is not None:
        print(f"summary.py: {message}", file=sys.stderr)
        print_chosen(results, rows, args)
        return EXIT_UNFINISHED

    n_pending = results.count_status("pending")
    if n_pending > 0:
        print(f"summary.py: error: {args.file}: /tables/stats has "
              f"{len(results.stats)} rows although {n_pending} trials are "
              f"pending, so the file is inconsistent", file=sys.stderr)
        return EXIT_ERROR

    found = disagreements(results, rows, args.tol)
    for line in found:
        print(f"summary.py: error: {args.file}: {line}", file=sys.stderr)
    if found:
        print(f"summary.py: {len(found)} disagreements between the file "
              f"and scipy.stats, so no table is printed", file=sys.stderr)
        return EXIT_ERROR

    print_chosen(results, rows, args)
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
