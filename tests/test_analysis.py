#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs configs/tiny.ini once on 1 MPI rank, then checks the analysis
scripts on its results file and on doctored copies of it.

analysis/plot_curves.py must write one valid PNG per hidden size and the
final accuracy figure, and on a copy with a diverged and a failed trial it
must warn and average over fewer seeds. analysis/summary.py must print the
t-test table as Markdown and CSV, reject a copy whose p value was moved by
1e-6 and a file that is not a fasweep file, and flag an unfinished sweep.
The statistics themselves are checked against scipy in test_sweep.py.

Usage: test_analysis.py SCRATCH_DIR
"""
import csv
import io
import math
import os
import shutil
import struct
import sys

import h5py
import numpy as np

from fwtest import (SOURCE_DIR, TINY_INI, Tally, fresh_dir, mpirun, run,
                    tiny_mnist)

ANALYSIS = os.path.join(SOURCE_DIR, "analysis")
PLOT_CURVES = os.path.join(ANALYSIS, "plot_curves.py")
SUMMARY = os.path.join(ANALYSIS, "summary.py")

# The grid of configs/tiny.ini. A change there needs the same change here.
MODES = ["bp", "fa", "onehot"]
HIDDEN = [8, 16]
SEEDS = [1, 2, 3]

# (hidden, mode) of each stats row, in file order
STATS_KEYS = [(8, "fa"), (8, "onehot"), (16, "fa"), (16, "onehot")]
CURVES = ["train_loss", "test_loss", "test_accuracy", "feedback_correlation",
          "alignment_angle"]
STATS_DOUBLE_FIELDS = ["mean", "sd", "mean_baseline", "sd_baseline",
                       "mean_diff", "ci95_low", "ci95_high", "t_paired",
                       "p_paired", "t_welch", "df_welch", "p_welch",
                       "cohen_d", "p_holm"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_WIDTH = (600, 1600)  # pixels, inclusive
PNG_HEIGHT = (400, 1200)
PNG_MAX_BYTES = 300_000
EXPECTED_PNGS = [f"curves_hidden_{h}.png" for h in HIDDEN] + [
    "final_accuracy.png"]

# The doctored trials: (mode, hidden, seed) index and the first NaN epoch.
DIVERGED = (1, 0, 1, 2)  # fa, hidden 8, seed 2, diverged in epoch 2
FAILED = (2, 1, 2, 0)    # onehot, hidden 16, seed 3, failed
PENDING = (1, 1, 0, 0)   # fa, hidden 16, seed 1, never arrived


def python(script, args):
    return run([sys.executable, script] + args)


def sweep(ck, work, data):
    path = os.path.join(work, "tiny.h5")
    proc = mpirun(1, ["run", TINY_INI, "-o", path, "--data", data,
                      "--quiet"])
    ck.check("sweep on 1 rank exits 0", proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    return path


def png_size(path):
    """Return (width, height) of a PNG file, or None when it is not one:
    the signature, the IHDR chunk first and the IEND chunk last."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != PNG_SIGNATURE or data[12:16] != b"IHDR":
        return None
    if data[-8:-4] != b"IEND":
        return None
    return struct.unpack(">II", data[16:24])


def check_pngs(ck, label, out):
    """Check that out contains exactly the expected PNGs, each of a sensible
    size."""
    names = sorted(n for n in os.listdir(out) if n.endswith(".png"))
    ck.check(f"{label}: one PNG per hidden size and final_accuracy.png",
             names == sorted(EXPECTED_PNGS),
             f"{names}, expected {sorted(EXPECTED_PNGS)}")
    for name in EXPECTED_PNGS:
        path = os.path.join(out, name)
        if not os.path.exists(path):
            continue
        size = png_size(path)
        ck.check(f"{label}: {name} is a PNG", size is not None, path)
        if size is None:
            continue
        width, height = size
        ck.check(f"{label}: {name} width", PNG_WIDTH[0] <= width
                 <= PNG_WIDTH[1], f"{width} px, expected {PNG_WIDTH}")
        ck.check(f"{label}: {name} height", PNG_HEIGHT[0] <= height
                 <= PNG_HEIGHT[1], f"{height} px, expected {PNG_HEIGHT}")
        n_bytes = os.path.getsize(path)
        ck.check(f"{label}: {name} small enough to commit",
                 n_bytes <= PNG_MAX_BYTES,
                 f"{n_bytes} bytes, limit {PNG_MAX_BYTES}")


def plot(ck, label, path, out, band=None):
    """Run plot_curves.py and check its exit status, its output list and
    the PNGs. Return its stderr."""
    args = [path, "-o", out] + (["--band", band] if band else [])
    proc = python(PLOT_CURVES, args)
    ck.check(f"{label}: plot_curves exits 0", proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    printed = proc.stdout.split()
    expected = [os.path.join(out, name) for name in EXPECTED_PNGS]
    ck.check(f"{label}: plot_curves prints the paths written",
             printed == expected, f"{printed}, expected {expected}")
    check_pngs(ck, label, out)
    return proc.stderr


def check_plots(ck, path, work):
    ci_dir = os.path.join(work, "plots_ci95")
    stderr = plot(ck, "ci95", path, ci_dir)
    ck.check("ci95: no warning when every trial is done",
             "warning" not in stderr, stderr.strip())

    sd_dir = os.path.join(work, "plots_sd")
    plot(ck, "sd", path, sd_dir, band="sd")
    for name in EXPECTED_PNGS:
        a, b = os.path.join(ci_dir, name), os.path.join(sd_dir, name)
        if os.path.exists(a) and os.path.exists(b):
            with open(a, "rb") as fa, open(b, "rb") as fb:
                ck.check(f"--band sd changes {name}",
                         fa.read() != fb.read(), f"{a} and {b} are equal")


def check_band_captions(ck, path):
    """The title of each figure names the band it shows."""
    import plot_curves
    import results_file

    results = results_file.load(path)
    for band, words in [("ci95", "95% CI"), ("sd", "standard deviation")]:
        fig, _ = plot_curves.curves_figure(results, 0, band)
        title = " ".join(t.get_text() for t in fig.texts)  # suptitle
        ck.check(f"curves figure title names the {band} band",
                 words in title, repr(title))
        plot_curves.plt.close(fig)

        fig, _ = plot_curves.final_accuracy_figure(results, band)
        title = fig.axes[0].get_title()
        ck.check(f"final accuracy title names the {band} band",
                 words in title, repr(title))
        plot_curves.plt.close(fig)


def check_band_widths(ck):
    """mean_and_band on a table of seeds x epochs with NaN: n counts the
    finite values, sd is the sample standard deviation, ci95 is Student's
    t quantile times the standard error, and n < 2 gives no band."""
    from scipy import stats

    import plot_curves

    nan = math.nan
    values = np.array([[0.1, 0.2, nan, nan],
                       [0.3, nan, nan, 0.7],
                       [0.5, 0.4, nan, nan]])  # seeds x epochs
    n = [3, 2, 0, 1]
    mean = [0.3, 0.3, nan, 0.7]
    sd = [0.2, math.sqrt(0.02), nan, nan]
    ci = [stats.t.ppf(0.975, 2) * 0.2 / math.sqrt(3),
          stats.t.ppf(0.975, 1) * math.sqrt(0.02) / math.sqrt(2), nan, nan]
    for band, half_want in [("sd", sd), ("ci95", ci)]:
        got_mean, got_half, got_n = plot_curves.mean_and_band(values, band)
        ck.check(f"mean_and_band {band}: n per epoch",
                 list(got_n) == n, f"{list(got_n)}, expected {n}")
        ck.check(f"mean_and_band {band}: mean per epoch",
                 np.allclose(got_mean, mean, rtol=0, atol=1e-12,
                             equal_nan=True), f"{got_mean}, expected {mean}")
        ck.check(f"mean_and_band {band}: half width per epoch",
                 np.allclose(got_half, half_want, rtol=1e-12, atol=0,
                             equal_nan=True),
                 f"{got_half}, expected {half_want}")


def markdown_rows(stdout):
    """Return the cells of the Markdown table's rows below its header."""
    lines = [line for line in stdout.splitlines() if line.startswith("|")]
    return [[cell.strip() for cell in line.strip("|").split("|")]
            for line in lines[2:]]


def check_markdown(ck, label, stdout, n_pairs, dropped):
    rows = markdown_rows(stdout)
    keys = [(int(row[0]), row[1]) for row in rows if len(row) > 2]
    ck.check(f"{label}: Markdown rows are the (hidden, mode) pairs",
             keys == STATS_KEYS, f"{keys}, expected {STATS_KEYS}")
    for row, key, n, d in zip(rows, STATS_KEYS, n_pairs, dropped):
        ck.check(f"{label}: Markdown n pairs of {key}", row[2] == str(n),
                 f"{row[2]!r}, expected {n}")
        ck.check(f"{label}: Markdown dropped seeds of {key}", row[3] == d,
                 f"{row[3]!r}, expected {d!r}")


def csv_rows(stdout):
    return list(csv.DictReader(io.StringIO(stdout)))


def check_csv_values(ck, rows, stats):
    """The CSV of a finished sweep repeats the file's stats table."""
    for row, want in zip(rows, stats):
        key = (row.get("hidden"), row.get("mode"))
        for name in STATS_DOUBLE_FIELDS:
            got, expected = float(row[name]), float(want[name])
            same = (math.isnan(got) and math.isnan(expected)) or \
                abs(got - expected) <= 1e-12 * max(1.0, abs(expected))
            ck.check(f"CSV {name} of {key} is the file's value", same,
                     f"{got!r}, file {expected!r}")


def check_summary(ck, path):
    proc = python(SUMMARY, [path])
    ck.check("summary exits 0 on the finished sweep", proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    check_markdown(ck, "finished", proc.stdout, [3] * 4, ["0"] * 4)

    proc = python(SUMMARY, [path, "--format", "csv"])
    ck.check("summary --format csv exits 0", proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    rows = csv_rows(proc.stdout)
    keys = [(int(r["hidden"]), r["mode"]) for r in rows]
    ck.check("CSV rows are the (hidden, mode) pairs", keys == STATS_KEYS,
             f"{keys}, expected {STATS_KEYS}")
    ck.check("CSV n_pairs all 3",
             [r["n_pairs"] for r in rows] == ["3"] * 4,
             [r["n_pairs"] for r in rows])
    with h5py.File(path, "r") as f:
        check_csv_values(ck, rows, f["tables/stats"][()])


def doctored_copy(path, copy, edit):
    shutil.copyfile(path, copy)
    with h5py.File(copy, "r+") as f:
        edit(f)
    return copy


def nudge_p_paired(f):
    rows = f["tables/stats"][()]
    rows["p_paired"][1] += 1e-6
    f["tables/stats"][...] = rows


def check_doctored_p(ck, path, work):
    copy = doctored_copy(path, os.path.join(work, "doctored_p.h5"),
                         nudge_p_paired)
    proc = python(SUMMARY, [copy])
    errors = [line for line in proc.stderr.splitlines() if "error" in line]
    ck.check("summary exits 1 on a p value moved by 1e-6",
             proc.returncode == 1, f"exit {proc.returncode}")
    ck.check("summary reports exactly one disagreement", len(errors) == 1,
             proc.stderr.strip())
    ck.check("summary names the row and field of the disagreement",
             bool(errors) and "row 1" in errors[0]
             and "p_paired" in errors[0], proc.stderr.strip())
    ck.check("summary prints no table on a disagreement",
             "|" not in proc.stdout, proc.stdout)

    proc = python(SUMMARY, [copy, "--tol", "1e-5"])
    ck.check("summary --tol 1e-5 accepts the p value moved by 1e-6",
             proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")


def check_not_fasweep(ck, work):
    other = os.path.join(work, "other.h5")
    with h5py.File(other, "w") as f:
        f["x"] = np.arange(3)
    text_file = os.path.join(work, "notes.txt")
    with open(text_file, "w", encoding="ascii") as f:
        f.write("not HDF5\n")
    missing = os.path.join(work, "missing.h5")

    cases = [("HDF5 file without the fasweep layout", other,
              "not a fasweep results file"),
             ("text file", text_file, "not an HDF5 file"),
             ("missing file", missing, "no such file")]
    for label, path, words in cases:
        for script in [SUMMARY, PLOT_CURVES]:
            name = os.path.basename(script)
            args = [path] + (["-o", os.path.join(work, "unused")]
                             if script == PLOT_CURVES else [])
            proc = python(script, args)
            lines = proc.stderr.strip().splitlines()
            ck.check(f"{name} exits 1 on a {label}", proc.returncode == 1,
                     f"exit {proc.returncode}")
            ck.check(f"{name} prints one line naming the {label}",
                     len(lines) == 1 and path in lines[0]
                     and words in lines[0], proc.stderr.strip())


def check_locked(ck, path, work):
    """A file open for writing elsewhere is locked by HDF5 1.10, and the
    message names the variable that allows reading it anyway."""
    copy = doctored_copy(path, os.path.join(work, "locked.h5"),
                         lambda f: None)
    env = dict(os.environ)
    env.pop("HDF5_USE_FILE_LOCKING", None)
    with h5py.File(copy, "r+"):
        proc = run([sys.executable, SUMMARY, copy], env=env)
    ck.check("summary exits 1 on a file open for writing",
             proc.returncode == 1, f"exit {proc.returncode}")
    ck.check("summary names HDF5_USE_FILE_LOCKING on a locked file",
             "HDF5_USE_FILE_LOCKING=FALSE" in proc.stderr,
             proc.stderr.strip())


def set_trial_nan(f, trial, status, message):
    """Make trial (m, h, s, first NaN epoch) of f look diverged, failed or
    pending: NaN curves from that epoch on, the status, NaN final
    accuracy."""
    m, h, s, first = trial
    for name in CURVES:
        values = f[name][m, h, s, :]
        values[first:] = np.nan
        f[name][m, h, s, :] = values
    rows = f["tables/trials"][()]
    k = (m * len(HIDDEN) + h) * len(SEEDS) + s
    rows["status"][k] = status.encode()
    rows["message"][k] = message.encode()
    rows["final_test_accuracy"][k] = np.nan
    f["tables/trials"][...] = rows


def add_nan_trials(f):
    set_trial_nan(f, DIVERGED, "diverged",
                  "loss became nan in epoch 2, minibatch 1")
    set_trial_nan(f, FAILED, "failed", "out of memory")


def check_plot_nan(ck, path, work):
    copy = doctored_copy(path, os.path.join(work, "nan_trials.h5"),
                         add_nan_trials)
    stderr = plot(ck, "NaN trials", copy, os.path.join(work, "plots_nan"))
    warnings = [line for line in stderr.splitlines() if "warning" in line]
    ck.check("plot_curves warns once per (mode, hidden) with missing seeds",
             len(warnings) == 2, stderr.strip())
    ck.check("plot_curves warns of the diverged fa trial at hidden 8",
             any("fa, hidden 8" in w and "1 diverged" in w
                 for w in warnings), stderr.strip())
    ck.check("plot_curves warning gives the reduced n of fa at hidden 8",
             any("fa, hidden 8" in w and "fa (n=2-3)" in w
                 for w in warnings), stderr.strip())
    ck.check("plot_curves warns of the failed onehot trial at hidden 16",
             any("onehot, hidden 16" in w and "1 failed" in w
                 for w in warnings), stderr.strip())
    ck.check("plot_curves warning gives the reduced n of onehot at 16",
             any("onehot, hidden 16" in w and "onehot (n=2)" in w
                 for w in warnings), stderr.strip())
    check_nan_legends(ck, copy)


def check_nan_legends(ck, path):
    """The legends give the reduced n, and the fa line at hidden 8 averages
    the two seeds left after the divergence."""
    import plot_curves
    import results_file

    results = results_file.load(path)
    cases = [(0, ["bp (n=3)", "fa (n=2-3)", "onehot (n=3)"]),
             (1, ["bp (n=3)", "fa (n=3)", "onehot (n=2)"])]
    for h, want in cases:
        fig, labels = plot_curves.curves_figure(results, h, "ci95")
        ck.check(f"curves legend at hidden {HIDDEN[h]} gives n per mode",
                 labels == want, f"{labels}, expected {want}")
        if h == 0:
            check_fa_mean(ck, fig, results)
        plot_curves.plt.close(fig)

    fig, labels = plot_curves.final_accuracy_figure(results, "ci95")
    want = ["bp (n=3)", "fa (n=2-3)", "onehot (n=2-3)"]
    ck.check("final accuracy legend gives n per mode", labels == want,
             f"{labels}, expected {want}")
    plot_curves.plt.close(fig)


def check_fa_mean(ck, fig, results):
    """fa's test accuracy at hidden 8 from epoch 2 on is the mean of seeds
    1 and 3."""
    ax = fig.axes[1]  # test accuracy panel
    lines = [line for line in ax.get_lines()
             if line.get_label().startswith("fa ")]
    values = results.curves["test_accuracy"][1, 0].astype(np.float64)
    want = (values[0, 2:] + values[2, 2:]) / 2
    got = lines[0].get_ydata()[2:] if lines else None
    ck.check("fa test accuracy at hidden 8 averages the seeds left",
             got is not None and np.allclose(got, want, rtol=0, atol=1e-12),
             f"{got}, expected {want}")


def make_unfinished(f):
    set_trial_nan(f, PENDING, "pending", "")
    f["tables/stats"].resize((0,))


def check_unfinished(ck, path, work):
    copy = doctored_copy(path, os.path.join(work, "unfinished.h5"),
                         make_unfinished)
    proc = python(SUMMARY, [copy])
    ck.check("summary exits 3 on an unfinished sweep", proc.returncode == 3,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    ck.check("summary says how many trials are pending",
             "1 of 18 trials are still pending" in proc.stderr,
             proc.stderr.strip())
    check_markdown(ck, "unfinished", proc.stdout, [3, 3, 2, 3],
                   ["0", "0", "1 (1)", "0"])

    proc = python(SUMMARY, [copy, "--format", "csv"])
    rows = csv_rows(proc.stdout)
    dropped = [(r["n_dropped"], r["dropped_seeds"]) for r in rows]
    want = [("0", ""), ("0", ""), ("1", "1"), ("0", "")]
    ck.check("CSV of the unfinished sweep lists the dropped seed",
             dropped == want, f"{dropped}, expected {want}")

    stderr = plot(ck, "unfinished", copy, os.path.join(work, "plots_pending"))
    ck.check("plot_curves warns of the pending fa trial at hidden 16",
             "fa, hidden 16: of 3 seeds, 1 pending" in stderr,
             stderr.strip())


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} SCRATCH_DIR", file=sys.stderr)
        return 2
    work = fresh_dir(sys.argv[1])

    # matplotlib's cache goes to the scratch directory, for the scripts
    # started here and for the figures built in this process
    os.environ["MPLCONFIGDIR"] = os.path.join(work, "matplotlib")
    sys.path.insert(0, ANALYSIS)

    data = tiny_mnist(work)
    ck = Tally()
    path = sweep(ck, work, data)
    if not os.path.exists(path):
        ck.check("sweep wrote the results file", False, path)
        ck.finish()

    check_plots(ck, path, work)
    check_band_captions(ck, path)
    check_band_widths(ck)
    check_summary(ck, path)
    check_doctored_p(ck, path, work)
    check_not_fasweep(ck, work)
    check_locked(ck, path, work)
    check_plot_nan(ck, path, work)
    check_unfinished(ck, path, work)
    ck.finish()


if __name__ == "__main__":
    main()
