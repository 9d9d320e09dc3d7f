#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs configs/tiny.ini once on 1 MPI rank and checks the results file end
to end. It checks the layout with test_layout.check_layout, the provenance
attributes and the curves. It recomputes the stats table from the file's
trials table with scipy.stats and compares it and the t-test table of
`fasweep report` with the file. Rank independence is left to test_mpi_ranks.py and the statistics on
generated data to test_stats_scipy.py.

Usage: test_sweep.py SCRATCH_DIR
"""
import math
import os
import re
import shutil
import socket
import sys
import warnings

import h5py
import numpy as np

from fwtest import FASWEEP, TINY_INI, fresh_dir, mpirun, run, tiny_mnist
from test_stats_scipy import accurate_t975, holm, reference
from test_layout import (CURVES, STATS_DOUBLE_FIELDS, Checker, check_layout,
                         text, trial_keys, utc_now)

# The grid of configs/tiny.ini. A change there needs the same change here.
MODES = ["bp", "fa", "onehot"]
HIDDEN = [8, 16]
SEEDS = [1, 2, 3]
EPOCHS = 3
LEARNING_RATE = [0.05, 0.02]  # zipped to HIDDEN
BASELINE = "bp"

# Stats fields agree to this, absolute, relative for magnitudes above 1.
TOL = 1e-10

# Curves that do not depend on the feedback before training starts.
EPOCH0_PAIRED = ["train_loss", "test_loss", "test_accuracy"]

# bp uses W2[0:H, :] as B, so r = 1 and the angle is 0 up to float32
# rounding of the stored values.
BP_CORRELATION_TOL = 1e-6
BP_ANGLE_TOL = 1e-3  # degrees

# The t-test table of `fasweep report`: column name, printf conversion.
REPORT_COLUMNS = [
    ("mean", ".4f"),
    ("mean_baseline", ".4f"),
    ("mean_diff", "+.4f"),
    ("ci95_low", "+.4f"),
    ("ci95_high", "+.4f"),
    ("t_paired", ".3f"),
    ("p_paired", ".3g"),
    ("t_welch", ".3f"),
    ("p_welch", ".3g"),
    ("cohen_d", ".2f"),
    ("p_holm", ".3g"),
]
NUMBER = r"([-+]?(?:nan|inf|[0-9.]+(?:e[-+]?[0-9]+)?))"
REPORT_ROW = re.compile(
    r"^\s*(\d+)\s+(\S+)\s+(\d+)\s+" + r"\s+".join([NUMBER] * 3)
    + r"\s+\[\s*" + NUMBER + r",\s*" + NUMBER + r"\]\s+"
    + r"\s+".join([NUMBER] * 6) + r"\s*$")


def sweep(ck, work, data):
    """Run the tiny sweep on 1 rank. Return the file, its expected command
    line and the UTC window of the run."""
    path = os.path.join(work, "tiny.h5")
    args = ["run", TINY_INI, "-o", path, "--data", data, "--quiet"]
    start = utc_now()
    proc = mpirun(1, args)
    end = utc_now()
    ck.check("sweep on 1 rank exits 0", proc.returncode == 0,
             f"exit {proc.returncode}: {proc.stderr.strip()}")
    return path, " ".join([FASWEEP] + args), (start, end)


def fasweep_version(ck):
    proc = run([FASWEEP, "--version"])
    words = proc.stdout.split()
    ok = proc.returncode == 0 and len(words) == 2 and words[0] == "fasweep"
    ck.check("fasweep --version prints the version", ok, repr(proc.stdout))
    return words[1] if ok else None


def layout_expect(command_line, window, version):
    """Return check_layout's description of the tiny sweep's file: exact
    root attributes, created_utc within the run (check_layout also checks
    its format) and every trial done on rank 0 of this host."""
    with open(TINY_INI, encoding="utf-8") as f:
        config = f.read()
    host = socket.gethostname()
    attrs = {"config": config, "mpi_ranks": 1, "command_line": command_line,
             "hostname": host}
    if version is not None:
        attrs["fasweep_version"] = version
    n_trials = len(MODES) * len(HIDDEN) * len(SEEDS)
    done = {"status": "done", "rank": 0, "host": host, "message": ""}
    return {
        "modes": MODES,
        "hidden": HIDDEN,
        "seeds": SEEDS,
        "max_epochs": EPOCHS,
        "zipped": {"learning_rate": ("hidden", LEARNING_RATE)},
        "attrs": attrs,
        "created_between": window,
        "pending": [],
        "rows": {trial: done for trial in range(n_trials)},
    }


def check_trials_done(ck, f):
    rows = f["tables/trials"][()]
    curves = {name: f[name][()] for name in CURVES}
    for trial, row in enumerate(rows):
        m, h, s = trial_keys({"hidden": HIDDEN, "seeds": SEEDS}, trial)
        label = f"trial {trial} ({MODES[m]}, {HIDDEN[h]}, {SEEDS[s]})"
        ck.equal(f"{label} status", text(row["status"]), "done")
        wall = float(row["wall_seconds"])
        ck.check(f"{label} wall_seconds positive",
                 math.isfinite(wall) and wall > 0.0, repr(wall))
        for name in CURVES:
            values = curves[name][m, h, s]
            ck.check(f"{label} {name} finite at every epoch",
                     bool(np.all(np.isfinite(values))), repr(values))

        last = curves["test_accuracy"][m, h, s, EPOCHS]
        final = row["final_test_accuracy"]
        ck.check(f"{label} final_test_accuracy is test_accuracy at epoch "
                 f"{EPOCHS} bit for bit",
                 np.float32(final).tobytes() == np.float32(last).tobytes(),
                 f"{final!r} vs {last!r}")


def check_epoch0_paired(ck, f):
    """Every mode of one (hidden, seed) starts from the same weights and
    images, so the state before training is the same in every mode."""
    for name in EPOCH0_PAIRED:
        data = f[name][()]
        for h, hidden in enumerate(HIDDEN):
            for s, seed in enumerate(SEEDS):
                values = data[:, h, s, 0]
                same = all(v.tobytes() == values[0].tobytes()
                           for v in values)
                ck.check(f"{name} epoch 0 same in every mode at hidden "
                         f"{hidden}, seed {seed}", same,
                         dict(zip(MODES, values.tolist())))


def check_feedback(ck, f):
    correlation = f["feedback_correlation"][()]
    angle = f["alignment_angle"][()]
    bp, fa = MODES.index("bp"), MODES.index("fa")
    for h, hidden in enumerate(HIDDEN):
        # W2 and R are drawn independently, so r over n = 10 H entries has
        # a standard deviation of about 1 / sqrt(n - 1). Allow 4 of them.
        fa_limit = 4.0 / math.sqrt(10 * hidden - 1)
        for s, seed in enumerate(SEEDS):
            where = f"hidden {hidden}, seed {seed}"
            r = correlation[bp, h, s]
            ck.check(f"bp feedback_correlation is 1 at {where}",
                     bool(np.all(np.abs(r - 1.0) <= BP_CORRELATION_TOL)),
                     repr(r))
            a = angle[bp, h, s]
            ck.check(f"bp alignment_angle is 0 at {where}",
                     bool(np.all(np.abs(a) <= BP_ANGLE_TOL)), repr(a))
            r0 = float(correlation[fa, h, s, 0])
            ck.check(f"fa feedback_correlation at epoch 0 small at {where}",
                     abs(r0) <= fa_limit, f"|{r0}| > {fa_limit:.3f}")


def check_t975(ck):
    """Check the reference quantile accurate_t975 against the closed form
    for df = 2, where the quantile of p is a sqrt(2 / (1 - a^2)) with
    a = 2 p - 1."""
    a = 2 * 0.975 - 1
    want = a * math.sqrt(2.0 / (1.0 - a * a))
    got = accurate_t975(2)
    ck.check("accurate t quantile at df 2", abs(got - want) <= 1e-14 * want,
             f"{got!r} vs {want!r}")


def reference_stats(trials):
    """Return the expected /tables/stats rows from a trials table: per
    hidden size, per mode other than the baseline, the seeds where both
    trials are done."""
    accuracy = {}  # (mode, hidden, seed) -> final accuracy of a done trial
    for row in trials:
        if text(row["status"]) == "done":
            key = (text(row["mode"]), int(row["hidden"]), int(row["seed"]))
            accuracy[key] = float(row["final_test_accuracy"])

    rows = []
    for hidden in HIDDEN:
        for mode in MODES:
            if mode == BASELINE:
                continue
            seeds = [s for s in SEEDS if (mode, hidden, s) in accuracy
                     and (BASELINE, hidden, s) in accuracy]
            x = np.array([accuracy[(mode, hidden, s)] for s in seeds])
            y = np.array([accuracy[(BASELINE, hidden, s)] for s in seeds])
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                row, _ = reference(x, y)
            row.update(mode=mode, hidden=hidden, baseline=BASELINE)
            rows.append(row)

    for row, p_holm in zip(rows, holm([r["p_paired"] for r in rows])):
        row["p_holm"] = p_holm
    return rows


def agree(got, want):
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    if math.isinf(got) or math.isinf(want):
        return got == want
    return abs(got - want) <= TOL * max(1.0, abs(want))


def compare_stats(got_rows, want_rows):
    """Compare a /tables/stats array with reference rows. Return a list of
    (check name, ok, detail): the row count, then every field of every
    row."""
    results = [("stats row count", len(got_rows) == len(want_rows),
                f"{len(got_rows)} rows, expected {len(want_rows)}")]
    for r, (got, want) in enumerate(zip(got_rows, want_rows)):
        keys = [("mode", text(got["mode"])), ("hidden", int(got["hidden"])),
                ("baseline", text(got["baseline"])),
                ("n_pairs", int(got["n_pairs"]))]
        for name, value in keys:
            results.append((f"stats row {r} {name}", value == want[name],
                            f"{value!r}, expected {want[name]!r}"))
        for name in STATS_DOUBLE_FIELDS:
            value = float(got[name])
            results.append((f"stats row {r} {name}",
                            agree(value, want[name]),
                            f"{value!r}, expected {want[name]!r} "
                            f"(tolerance {TOL})"))
    return results


def check_stats(ck, path):
    with h5py.File(path, "r") as f:
        trials = f["tables/trials"][()]
        got = f["tables/stats"][()]
    want = reference_stats(trials)
    for name, ok, detail in compare_stats(got, want):
        ck.check(name, ok, detail)
    return want


def doctor(path, copy, edit):
    """Copy the results file and apply edit to the copy's stats rows."""
    shutil.copyfile(path, copy)
    with h5py.File(copy, "r+") as f:
        rows = f["tables/stats"][()]
        edit(rows)
        f["tables/stats"][...] = rows


def nudge_p_paired(rows):
    rows["p_paired"][1] += 1e-8


def swap_rows(rows):
    rows[[0, 1]] = rows[[1, 0]]


# Edits of a copy of the file, and the checks of compare_stats that must
# then fail: exactly these (True) or at least these (False).
DOCTORED = [
    ("p_paired of row 1 moved by 1e-8", nudge_p_paired,
     ["stats row 1 p_paired"], True),
    ("rows 0 and 1 swapped", swap_rows,
     ["stats row 0 mode", "stats row 1 mode"], False),
]


def check_doctored(ck, path, work, want):
    """compare_stats must report the edited values of a doctored copy."""
    for k, (label, edit, expected, exact) in enumerate(DOCTORED):
        copy = os.path.join(work, f"doctored{k}.h5")
        doctor(path, copy, edit)
        with h5py.File(copy, "r") as f:
            got = f["tables/stats"][()]
        failed = [name for name, ok, _ in compare_stats(got, want) if not ok]
        if exact:
            ok = failed == expected
        else:
            ok = all(name in failed for name in expected)
        ck.check(f"stats comparison detects {label}", ok,
                 f"failed checks {failed}, expected {expected}")


def printed_agrees(printed, value, conversion):
    """Whether printed is value rounded as the printf conversion does."""
    if math.isnan(value) or math.isnan(printed):
        return math.isnan(value) and math.isnan(printed)
    if math.isinf(value) or math.isinf(printed):
        return printed == value
    if conversion.endswith("f"):
        half_unit = 0.5 * 10.0 ** -int(conversion[-2])
    elif value == 0.0:
        return printed == 0.0
    else:
        digits = int(conversion[-2])
        exponent = math.floor(math.log10(abs(value)))
        half_unit = 0.5 * 10.0 ** (exponent - digits + 1)
    return abs(printed - value) <= half_unit * (1.0 + 1e-9)


def report_rows(stdout):
    """Return the parsed rows of the t-test table in report output."""
    lines = stdout.split("\n")
    starts = [i for i, line in enumerate(lines)
              if line.startswith("t-tests")]
    if not starts:
        return None
    rows = []
    for line in lines[starts[0] + 2:]:
        match = REPORT_ROW.match(line)
        if match is None:
            break
        rows.append(match.groups())
    return rows


def check_report(ck, path, want):
    proc = run([FASWEEP, "report", path])
    ck.check("report exits 0", proc.returncode == 0, proc.stderr.strip())
    rows = report_rows(proc.stdout)
    ck.check("report prints the t-test table", rows is not None,
             proc.stdout)
    if rows is None:
        return
    ck.equal("report t-test rows", len(rows), len(want))

    for r, (fields, row) in enumerate(zip(rows, want)):
        ck.equal(f"report row {r} keys",
                 (int(fields[0]), fields[1], int(fields[2])),
                 (row["hidden"], row["mode"], row["n_pairs"]))
        for (name, conversion), printed in zip(REPORT_COLUMNS, fields[3:]):
            ck.check(f"report row {r} {name} at %{conversion}",
                     printed_agrees(float(printed), row[name], conversion),
                     f"printed {printed}, stats table {row[name]!r}")


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} SCRATCH_DIR", file=sys.stderr)
        return 2
    work = fresh_dir(sys.argv[1])
    data = tiny_mnist(work)
    ck = Checker()

    path, command_line, window = sweep(ck, work, data)
    version = fasweep_version(ck)
    if not os.path.exists(path):
        ck.check("sweep wrote the results file", False, path)
    else:
        check_layout(path, layout_expect(command_line, window, version), ck)
        with h5py.File(path, "r") as f:
            check_trials_done(ck, f)
            check_epoch0_paired(ck, f)
            check_feedback(ck, f)
        check_t975(ck)
        want = check_stats(ck, path)
        check_doctored(ck, path, work, want)
        check_report(ck, path, want)

    print(f"{ck.passed} passed, {ck.failed} failed")
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
