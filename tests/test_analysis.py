#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs configs/tiny.ini and a grid of all eight modes with early
checkpoints once each on 1 MPI rank, then checks the analysis scripts on
their results files and on doctored copies of them.

analysis/plot_curves.py must write valid PNGs: the curves and the
diagnostics figure per hidden size, the early alignment figure per hidden
size when the file has /early, and the final accuracy figure. On a copy
with a diverged and a failed trial it must warn and average over fewer
seeds. analysis/summary.py must print the t-test table and the diagnostics
table as Markdown and CSV, reject a copy whose p value was moved by 1e-6
and a file that is not a fasweep file, and flag an unfinished sweep. A
copy without the eight diagnostic curves, as older fasweep versions
wrote, must still load and plot. The statistics themselves are checked
against scipy in test_sweep.py.

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
DIAGNOSTIC_CURVES = ["feedback_cosine", "feedback_norm_ratio",
                     "delta_norm_ratio", "alignment_angle_mean",
                     "update_angle", "feedback_concordance",
                     "saturation_fraction", "sigmoid_slope"]
ALL_CURVES = CURVES + DIAGNOSTIC_CURVES
STATS_DOUBLE_FIELDS = ["mean", "sd", "mean_baseline", "sd_baseline",
                       "mean_diff", "ci95_low", "ci95_high", "t_paired",
                       "p_paired", "t_welch", "df_welch", "p_welch",
                       "cohen_d", "p_holm"]

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_WIDTH = (600, 1600)  # pixels, inclusive
PNG_HEIGHT = (400, 1200)
PNG_MAX_BYTES = 300_000

# The grid of all eight modes on the axes above, with the data directory
# given by --data.
ALL_MODES = ["bp", "fa", "onehot", "shallow", "sparse", "sign", "frsf", "kp"]
EARLY_CHECKPOINTS = 3
EARLY_FRACTION = [0.25, 0.5, 0.75]  # k / (N + 1), exact in binary
ALL_MODES_INI = f"""\
; configs/tiny.ini with every feedback rule and checkpoints in epoch 1
[data]
split = pooled
n_train = 600
n_test = 300
n_probe = 100

[network]
learning_rate = 0.05, 0.02
batch_size = 50
epochs = 3

[feedback]
fa_scale = log_epoch
feedback_k = 3

[sweep]
modes = {", ".join(ALL_MODES)}
hidden = {", ".join(str(h) for h in HIDDEN)}
seeds = {", ".join(str(s) for s in SEEDS)}
zip = hidden, learning_rate

[output]
early_checkpoints = {EARLY_CHECKPOINTS}
"""

# Curves that are NaN for shallow, whose B is 0, and one that is not.
SHALLOW_NAN = ["feedback_cosine", "alignment_angle_mean", "update_angle"]
SHALLOW_FINITE = "feedback_norm_ratio"

# Panel order of the figures of plot_curves.py
DIAGNOSTIC_PANELS = DIAGNOSTIC_CURVES
EARLY_PANELS = ["alignment_angle", "feedback_cosine", "test_accuracy",
                "update_angle"]


def expected_pngs(diagnostics=True, early=False):
    """Return the PNGs that plot_curves.py writes, in the order it prints
    them."""
    names = []
    for h in HIDDEN:
        names.append(f"curves_hidden_{h}.png")
        if diagnostics:
            names.append(f"diagnostics_hidden_{h}.png")
        if early:
            names.append(f"early_hidden_{h}.png")
    return names + ["final_accuracy.png"]


EXPECTED_PNGS = expected_pngs()

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


def check_pngs(ck, label, out, expected=EXPECTED_PNGS):
    """Check that out contains exactly the expected PNGs, each of a sensible
    size."""
    names = sorted(n for n in os.listdir(out) if n.endswith(".png"))
    ck.check(f"{label}: the PNGs per hidden size and final_accuracy.png",
             names == sorted(expected),
             f"{names}, expected {sorted(expected)}")
    for name in expected:
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


def plot(ck, label, path, out, band=None, expected=EXPECTED_PNGS):
    """Run plot_curves.py and check its exit status, its output list and
    the PNGs. Return its stderr."""
    args = [path, "-o", out] + (["--band", band] if band else [])
    proc = python(PLOT_CURVES, args)
    ck.check(f"{label}: plot_curves exits 0", proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    printed = proc.stdout.split()
    paths = [os.path.join(out, name) for name in expected]
    ck.check(f"{label}: plot_curves prints the paths written",
             printed == paths, f"{printed}, expected {paths}")
    check_pngs(ck, label, out, expected)
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
    for name in ALL_CURVES:
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


def check_unfinished_diagnostics(ck, path):
    """The diagnostics table of an unfinished sweep averages the done
    seeds and exits 3 like the t-test table."""
    proc = python(SUMMARY, [path, "--table", "diagnostics", "--format",
                            "csv"])
    ck.check("diagnostics of an unfinished sweep exits 3",
             proc.returncode == 3, f"exit {proc.returncode}")
    rows = [r for r in csv_rows(proc.stdout)
            if (r["hidden"], r["mode"]) == ("16", "fa")]
    n_done = rows[0]["n_done"] if rows else None
    ck.check("diagnostics n_done of the pending fa trial at hidden 16",
             n_done == "2", f"{n_done!r}, expected '2'")
    with h5py.File(path, "r") as f:
        cosine = f["feedback_cosine"][1, 1, 1:, -1].astype(np.float64)
    got = float(rows[0]["feedback_cosine"]) if rows else None
    want = float(np.mean(cosine))
    ck.check("diagnostics average the done seeds of fa at hidden 16",
             got is not None and math.isclose(got, want, rel_tol=1e-12),
             f"{got!r}, expected {want!r}")


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

    check_unfinished_diagnostics(ck, copy)

    stderr = plot(ck, "unfinished", copy, os.path.join(work, "plots_pending"))
    ck.check("plot_curves warns of the pending fa trial at hidden 16",
             "fa, hidden 16: of 3 seeds, 1 pending" in stderr,
             stderr.strip())


def load_checked(ck, label, path):
    """Load path with results_file.py, or record a failed check and return
    None."""
    import results_file

    try:
        return results_file.load(path)
    except results_file.ResultsError as err:
        ck.check(f"{label}: results_file loads the file", False, str(err))
        return None


def check_tiny_layout(ck, path):
    """The file of configs/tiny.ini has every curve and no /early, and the
    loader gives the same."""
    results = load_checked(ck, "tiny", path)
    if results is None:
        return
    ck.check("tiny: every curve loads",
             sorted(results.curves) == sorted(ALL_CURVES),
             f"{sorted(results.curves)}, expected {sorted(ALL_CURVES)}")
    ck.check("tiny: no early checkpoints without the key",
             results.early is None, repr(results.early))
    ck.check("tiny: units of update_angle",
             results.units.get("update_angle") == "degrees",
             repr(results.units.get("update_angle")))


def check_diagnostics_table(ck, path):
    """summary.py --table diagnostics gives, per (hidden, mode), the mean
    of the last epoch over the done seeds of the file's curves."""
    proc = python(SUMMARY, [path, "--table", "diagnostics", "--format",
                            "csv"])
    ck.check("diagnostics CSV exits 0", proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    rows = csv_rows(proc.stdout)
    keys = [(int(r["hidden"]), r["mode"]) for r in rows]
    want_keys = [(h, m) for h in HIDDEN for m in MODES]
    ck.check("diagnostics CSV rows are the (hidden, mode) pairs",
             keys == want_keys, f"{keys}, expected {want_keys}")
    with h5py.File(path, "r") as f:
        for row in rows:
            key = (int(row["hidden"]), row["mode"])
            m, h = MODES.index(key[1]), HIDDEN.index(key[0])
            for name in ["alignment_angle", "feedback_cosine",
                         "feedback_concordance", "saturation_fraction"]:
                want = np.mean(f[name][m, h, :, -1].astype(np.float64))
                got = float(row[name])
                ck.check(f"diagnostics {name} of {key}",
                         math.isclose(got, want, rel_tol=1e-12,
                                      abs_tol=1e-12),
                         f"{got!r}, expected mean of the last epoch "
                         f"{want!r}")


def shorten_fa_trial(f):
    """Make fa, hidden 8, seed 1 end one epoch early, as a zipped epochs
    setting would: every curve is NaN at the last epoch."""
    for name in ALL_CURVES:
        values = f[name][1, 0, 0, :]
        values[-1] = np.nan
        f[name][1, 0, 0, :] = values


def check_diagnostics_own_epoch(ck, path, work):
    """A done trial with fewer epochs contributes its own last epoch."""
    copy = doctored_copy(path, os.path.join(work, "short_trial.h5"),
                         shorten_fa_trial)
    proc = python(SUMMARY, [copy, "--table", "diagnostics", "--format",
                            "csv"])
    ck.check("diagnostics CSV of a shorter trial exits 0",
             proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    rows = [r for r in csv_rows(proc.stdout)
            if (r["hidden"], r["mode"]) == ("8", "fa")]
    with h5py.File(path, "r") as f:
        angle = f["alignment_angle"][1, 0].astype(np.float64)
    want = (angle[0, -2] + angle[1, -1] + angle[2, -1]) / 3
    got = float(rows[0]["alignment_angle"]) if rows else None
    ck.check("diagnostics use the shorter trial's last epoch",
             got is not None and math.isclose(got, want, rel_tol=1e-12),
             f"{got!r}, expected {want!r}")


def check_diagnostics_markdown(ck, path):
    proc = python(SUMMARY, [path, "--table", "diagnostics"])
    ck.check("diagnostics Markdown exits 0", proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    rows = markdown_rows(proc.stdout)
    keys = [(int(row[0]), row[1]) for row in rows if len(row) > 2]
    want_keys = [(h, m) for h in HIDDEN for m in MODES]
    ck.check("diagnostics Markdown rows are the (hidden, mode) pairs",
             keys == want_keys, f"{keys}, expected {want_keys}")
    ck.check("diagnostics Markdown gives 3 done seeds per row",
             [row[2] for row in rows] == ["3"] * len(want_keys),
             [row[2] for row in rows])


def remove_diagnostics(f):
    for name in DIAGNOSTIC_CURVES:
        del f[name]


def check_old_file(ck, path, work):
    """A file without the diagnostic curves, as older fasweep versions
    wrote, loads, plots and summarizes, without diagnostics."""
    copy = doctored_copy(path, os.path.join(work, "old_style.h5"),
                         remove_diagnostics)
    results = load_checked(ck, "old file", copy)
    if results is not None:
        ck.check("old file: only the five old curves load",
                 sorted(results.curves) == sorted(CURVES),
                 f"{sorted(results.curves)}, expected {sorted(CURVES)}")

    stderr = plot(ck, "old file", copy, os.path.join(work, "plots_old"),
                  expected=expected_pngs(diagnostics=False))
    ck.check("old file: plot_curves notes the missing diagnostics",
             "note" in stderr and "diagnostic curves" in stderr,
             stderr.strip())
    ck.check("old file: plot_curves gives no warning",
             "warning" not in stderr, stderr.strip())

    proc = python(SUMMARY, [copy])
    ck.check("old file: summary exits 0", proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    check_markdown(ck, "old file", proc.stdout, [3] * 4, ["0"] * 4)

    proc = python(SUMMARY, [copy, "--table", "diagnostics"])
    lines = proc.stderr.strip().splitlines()
    ck.check("old file: summary --table diagnostics exits 1",
             proc.returncode == 1, f"exit {proc.returncode}")
    ck.check("old file: summary names the missing curves in one line",
             len(lines) == 1 and "feedback_cosine" in lines[0]
             and copy in lines[0], proc.stderr.strip())
    ck.check("old file: summary prints no table for the diagnostics",
             proc.stdout == "", proc.stdout)


def sweep_all_modes(ck, work, data):
    config = os.path.join(work, "all_modes.ini")
    with open(config, "w", encoding="ascii") as f:
        f.write(ALL_MODES_INI)
    path = os.path.join(work, "all_modes.h5")
    proc = mpirun(1, ["run", config, "-o", path, "--data", data, "--quiet"])
    ck.check("all-modes sweep on 1 rank exits 0", proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    return path


def check_all_modes_load(ck, results):
    ck.check("all modes: the mode axis", results.modes == ALL_MODES,
             f"{results.modes}, expected {ALL_MODES}")
    ck.check("all modes: every curve loads",
             sorted(results.curves) == sorted(ALL_CURVES),
             sorted(results.curves))
    early = results.early
    ck.check("all modes: /early loads", early is not None, "None")
    if early is None:
        return
    ck.check("all modes: epoch_fraction is k / (N + 1)",
             early.fraction.tolist() == EARLY_FRACTION,
             f"{early.fraction.tolist()}, expected {EARLY_FRACTION}")
    ck.check("all modes: every early curve loads",
             sorted(early.curves) == sorted(ALL_CURVES), sorted(early.curves))
    shape = (len(ALL_MODES), len(HIDDEN), len(SEEDS), EARLY_CHECKPOINTS)
    for name, values in early.curves.items():
        ck.check(f"all modes: shape of /early/{name}", values.shape == shape,
                 f"{values.shape}, expected {shape}")
    ck.check("all modes: units of /early/alignment_angle",
             early.units.get("alignment_angle") == "degrees",
             repr(early.units.get("alignment_angle")))


def check_shallow_nan(ck, results):
    """The file gives shallow NaN angles and cosine at every point, which
    the figures rely on below."""
    s = ALL_MODES.index("shallow")
    for name in SHALLOW_NAN + [SHALLOW_FINITE]:
        if name not in results.curves:
            ck.check(f"all modes: the file has {name}", False,
                     sorted(results.curves))
            continue
        values = results.curves[name][s]
        if name == SHALLOW_FINITE:
            ck.check(f"all modes: shallow's {name} is finite",
                     bool(np.all(np.isfinite(values))), values[0, 0])
        else:
            ck.check(f"all modes: shallow's {name} is NaN",
                     bool(np.all(np.isnan(values))), values[0, 0])


def line_modes(ax):
    """Return the mode of each line in ax, from labels like "fa (n=3)"."""
    return [line.get_label().split(" ")[0] for line in ax.get_lines()
            if not line.get_label().startswith("_")]


def check_mode_colours(ck):
    """The eight modes get eight different colours."""
    from matplotlib.colors import to_rgba

    import plot_curves

    colours = [to_rgba(plot_curves.mode_colour(ALL_MODES, mode))
               for mode in ALL_MODES]
    ck.check("eight modes have eight different colours",
             len(set(colours)) == len(ALL_MODES), colours)


def check_diagnostics_figure(ck, results):
    """One panel per diagnostic curve, shallow absent where it is NaN,
    one colour per mode, and a legend of all eight modes."""
    from matplotlib.colors import to_rgba

    import plot_curves

    fig, labels = plot_curves.diagnostics_figure(results, 0, "ci95")
    want = [f"{mode} (n=3)" for mode in ALL_MODES]
    ck.check("diagnostics legend lists the eight modes", labels == want,
             f"{labels}, expected {want}")
    titles = [ax.get_title() for ax in fig.axes]
    ck.check("diagnostics panels in order", titles == DIAGNOSTIC_PANELS,
             f"{titles}, expected {DIAGNOSTIC_PANELS}")

    panels = dict(zip(titles, fig.axes))
    for name in SHALLOW_NAN:
        modes = line_modes(panels[name]) if name in panels else None
        ck.check(f"diagnostics {name} panel has no shallow line",
                 modes == [m for m in ALL_MODES if m != "shallow"],
                 f"{modes}")
    ax = panels.get(SHALLOW_FINITE)
    modes = line_modes(ax) if ax is not None else None
    ck.check(f"diagnostics {SHALLOW_FINITE} panel has every mode",
             modes == ALL_MODES, f"{modes}")
    lines = ax.get_lines() if ax is not None else []
    colours = {to_rgba(line.get_color()) for line in lines}
    ck.check(f"diagnostics {SHALLOW_FINITE} lines have 8 colours",
             len(colours) == len(ALL_MODES), colours)
    plot_curves.plt.close(fig)


def early_series(path, name, m, h):
    """Return epoch 0, the checkpoints and epochs 1.. of curve name for
    (mode m, hidden h), read with h5py: seeds x points."""
    with h5py.File(path, "r") as f:
        root = f[name][m, h].astype(np.float64)
        early = f[f"early/{name}"][m, h].astype(np.float64)
    return np.concatenate([root[:, :1], early, root[:, 1:]], axis=1)


def check_early_figure(ck, results, path):
    """The early figure's lines run through epoch 0, the checkpoints and
    the later epochs, with the mean over seeds at each point."""
    import plot_curves

    fig, labels = plot_curves.early_figure(results, 1, "ci95")
    titles = [ax.get_title() for ax in fig.axes]
    ck.check("early panels in order", titles == EARLY_PANELS,
             f"{titles}, expected {EARLY_PANELS}")
    want_x = [0.0] + EARLY_FRACTION + [1.0, 2.0, 3.0]
    m = ALL_MODES.index("fa")
    for ax, name in zip(fig.axes, EARLY_PANELS):
        lines = [line for line in ax.get_lines()
                 if line.get_label().startswith("fa ")]
        x = list(lines[0].get_xdata()) if lines else None
        ck.check(f"early {name}: x runs through the checkpoints",
                 x == want_x, f"{x}, expected {want_x}")
        want = early_series(path, name, m, 1).mean(axis=0)
        y = lines[0].get_ydata() if lines else None
        ck.check(f"early {name}: fa's mean over seeds at hidden 16",
                 y is not None and np.allclose(y, want, rtol=1e-12,
                                               atol=1e-12),
                 f"{y}, expected {want}")

    shallow = line_modes(fig.axes[0])
    ck.check("early alignment_angle panel has no shallow line",
             "shallow" not in shallow, shallow)
    want = [f"{mode} (n=3)" for mode in ALL_MODES]
    ck.check("early legend lists the eight modes", labels == want,
             f"{labels}, expected {want}")
    plot_curves.plt.close(fig)


def check_all_modes_summary(ck, path):
    """summary.py prints a row for each of the seven modes against bp and
    a diagnostics row for each of the eight, shallow's angle as NaN."""
    proc = python(SUMMARY, [path])
    ck.check("all modes: summary exits 0", proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    keys = [(int(row[0]), row[1]) for row in markdown_rows(proc.stdout)]
    want = [(h, m) for h in HIDDEN for m in ALL_MODES if m != "bp"]
    ck.check("all modes: a t-test row per mode other than bp",
             keys == want, f"{keys}, expected {want}")

    proc = python(SUMMARY, [path, "--table", "diagnostics"])
    ck.check("all modes: summary --table diagnostics exits 0",
             proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    rows = markdown_rows(proc.stdout)
    keys = [(int(row[0]), row[1]) for row in rows]
    want = [(h, m) for h in HIDDEN for m in ALL_MODES]
    ck.check("all modes: a diagnostics row per mode", keys == want,
             f"{keys}, expected {want}")
    shallow = [row for row in rows if row[1] == "shallow"]
    ck.check("all modes: shallow's final alignment angle is NaN",
             bool(shallow) and all(row[3] == "NaN" for row in shallow),
             shallow)
    ck.check("all modes: shallow's final concordance is 0",
             bool(shallow) and all(row[5] == "0.0000" for row in shallow),
             shallow)


def drop_early_scale(f):
    del f["early/epoch_fraction"]


def shorten_early_curve(f):
    values = f["early/train_loss"][()]
    del f["early/train_loss"]
    f["early/train_loss"] = values[..., :-1]


def check_broken_early(ck, path, work):
    """A damaged /early fails to load with one line naming the object."""
    cases = [("without /early/epoch_fraction", drop_early_scale,
              "/early/epoch_fraction"),
             ("with a short /early/train_loss", shorten_early_curve,
              "/early/train_loss")]
    for k, (label, edit, words) in enumerate(cases):
        copy = doctored_copy(path, os.path.join(work, f"early_{k}.h5"), edit)
        proc = python(PLOT_CURVES, [copy, "-o",
                                    os.path.join(work, "unused")])
        lines = proc.stderr.strip().splitlines()
        ck.check(f"plot_curves exits 1 on a file {label}",
                 proc.returncode == 1, f"exit {proc.returncode}")
        ck.check(f"plot_curves names {words} in one line",
                 len(lines) == 1 and words in lines[0], proc.stderr.strip())


def check_all_modes(ck, work, data):
    """The grid of all eight modes with early checkpoints."""
    path = sweep_all_modes(ck, work, data)
    if not os.path.exists(path):
        ck.check("all-modes sweep wrote the results file", False, path)
        return
    plot(ck, "all modes", path, os.path.join(work, "plots_all_modes"),
         expected=expected_pngs(early=True))
    check_all_modes_summary(ck, path)
    check_broken_early(ck, path, work)

    results = load_checked(ck, "all modes", path)
    if results is None:
        return
    check_all_modes_load(ck, results)
    check_shallow_nan(ck, results)
    check_mode_colours(ck)
    check_diagnostics_figure(ck, results)
    if results.early is not None:
        check_early_figure(ck, results, path)


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
    check_tiny_layout(ck, path)
    check_diagnostics_table(ck, path)
    check_diagnostics_markdown(ck, path)
    check_diagnostics_own_epoch(ck, path, work)
    check_old_file(ck, path, work)
    check_all_modes(ck, work, data)
    ck.finish()


if __name__ == "__main__":
    main()
