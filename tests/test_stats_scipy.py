#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
# Checks stats_compare and stats_holm (through the stats_check binary named
# by $STATS_CHECK) against scipy.stats 1.10 and NumPy 1.24 on generated data
# sets, including ties, constant differences, constant groups and n = 0, 1, 2.
# The formats of stats_check's input and output are documented in
# tests/stats_check.c. Usage: test_stats_scipy.py SCRATCH_DIR

import math
import os
import subprocess
import sys
import warnings

import numpy as np
from scipy import special, stats
from scipy.stats import _stats_py

FIELDS = ["n_pairs", "mean", "sd", "mean_baseline", "sd_baseline",
          "mean_diff", "ci95_low", "ci95_high", "t_paired", "p_paired",
          "t_welch", "df_welch", "p_welch", "cohen_d", "p_holm"]

# Absolute tolerance, relative for magnitudes above 1.
TOL = 1e-10

# Fields whose C code repeats the arithmetic of NumPy and scipy operation by
# operation, so they must agree bit for bit. p_holm is checked against a
# Holm correction of stats_check's own p_paired, so it is exact too.
EXACT = {"n_pairs", "mean", "sd", "mean_baseline", "sd_baseline",
         "mean_diff", "t_paired", "t_welch", "df_welch", "p_holm"}

# scipy 1.10.1 computes t.ppf with cdflib's stdtrit, which is off by 4.1e-9
# relative at df = 39 (2.0226909117 where mpmath gives 2.0226909200). So the
# CI is compared at TOL with an accurate quantile, and with scipy.stats.t.ppf
# only at this relative tolerance.
SCIPY_PPF_RTOL = 1e-8


def accurate_t975(df):
    """Return the 0.975 quantile of Student's t through the incomplete beta
    function: P(|T| > q) = I_{df / (df + q^2)}(df / 2, 1 / 2) = 0.05."""
    b = special.betaincinv(df / 2.0, 0.5, 0.05)
    return math.sqrt(df * (1.0 / b - 1.0))


def accuracies(rng, n, center=0.9, spread=0.02):
    return rng.normal(center, spread, n)


def make_datasets(rng):
    """Return a list of (label, x, y) float64 data sets."""
    sets = []

    # random normal accuracies, independent and correlated pairs
    for n in range(2, 41):
        for k in range(3):
            sets.append((f"normal n={n} #{k}", accuracies(rng, n),
                         accuracies(rng, n, 0.89)))
        x = accuracies(rng, n)
        sets.append((f"correlated n={n}", x, x - rng.normal(0.005, 0.002, n)))
        sets.append((f"unit normal n={n}", rng.normal(0.0, 1.0, n),
                     rng.normal(0.3, 2.0, n)))

    # test accuracies as stored, 4 decimals in 0.85-0.95
    for n in range(2, 41, 2):
        sets.append((f"4 decimals n={n}",
                     np.round(rng.uniform(0.85, 0.95, n), 4),
                     np.round(rng.uniform(0.85, 0.95, n), 4)))

    # ties inside and across groups
    levels = np.array([0.9, 0.9125, 0.925, 0.93])
    for n in (2, 3, 5, 8, 13, 30):
        for k in range(3):
            sets.append((f"ties n={n} #{k}", rng.choice(levels, n),
                         rng.choice(levels, n)))
    sets.append(("ties one value apart", np.array([0.9, 0.9, 0.9, 0.91]),
                 np.array([0.9, 0.9, 0.91, 0.91])))

    # all differences equal: exactly in binary, and as 4-decimal numbers,
    # which differ in the last bits so that the variance is rounding noise
    for n in (2, 3, 7, 8, 9, 20, 40):
        x = 1.0 + rng.integers(0, 64, n) / 64.0
        sets.append((f"equal diff +0.25 exact n={n}", x, x - 0.25))
        sets.append((f"equal diff -0.5 exact n={n}", x, x + 0.5))
        x = np.round(rng.uniform(0.85, 0.95, n), 4)
        sets.append((f"equal diff 0.01 binary n={n}", x, x - 0.01))
        sets.append((f"equal diff 0.01 decimal n={n}", x,
                     np.round(x - 0.01, 4)))
        sets.append((f"zero diff n={n}", x, x.copy()))

    # constant groups: both equal, both different, one of them
    for n in (2, 3, 10, 40):
        sets.append((f"both constant equal n={n}", np.full(n, 0.9),
                     np.full(n, 0.9)))
        sets.append((f"both constant x>y n={n}", np.full(n, 0.93),
                     np.full(n, 0.9)))
        sets.append((f"both constant x<y n={n}", np.full(n, 0.9),
                     np.full(n, 0.93)))
        sets.append((f"x constant n={n}", np.full(n, 0.9),
                     accuracies(rng, n)))
        sets.append((f"y constant n={n}", accuracies(rng, n),
                     np.full(n, 0.9)))

    # the smallest sizes
    for k in range(5):
        sets.append((f"n=2 #{k}", accuracies(rng, 2), accuracies(rng, 2)))
        sets.append((f"n=1 #{k}", accuracies(rng, 1), accuracies(rng, 1)))
    sets.append(("n=1 equal", np.array([0.9]), np.array([0.9])))
    sets.append(("n=0 #0", np.empty(0), np.empty(0)))
    sets.append(("n=0 #1", np.empty(0), np.empty(0)))

    # sizes around NumPy's pairwise blocks of 8 and 128, and large magnitudes
    for n in (127, 128, 129, 136, 255, 257, 1000, 4099):
        sets.append((f"pairwise n={n}", accuracies(rng, n),
                     accuracies(rng, n, 0.899)))
    sets.append(("magnitude 1e6", 1e6 + rng.normal(0, 1, 12),
                 1e6 + rng.normal(0.5, 1, 12)))
    sets.append(("magnitude 1e-6", 1e-6 * rng.normal(1, 0.1, 12),
                 1e-6 * rng.normal(1, 0.1, 12)))
    return sets


def format_input(sets):
    blocks = []
    for _, x, y in sets:
        if len(x) == 0:
            blocks.append("-\n")
        else:
            blocks.append("".join(f"{a!r} {b!r}\n"
                                  for a, b in zip(x.tolist(), y.tolist())))
    return "\n".join(blocks)


def nan_fields(ref, names):
    for name in names:
        ref[name] = math.nan


def reference(x, y):
    """Return the expected fields except p_holm, from NumPy and scipy."""
    n = len(x)
    ref = {"n_pairs": n}
    ref["mean"] = float(np.mean(x)) if n >= 1 else math.nan
    ref["mean_baseline"] = float(np.mean(y)) if n >= 1 else math.nan
    ref["sd"] = float(np.std(x, ddof=1)) if n >= 2 else math.nan
    ref["sd_baseline"] = float(np.std(y, ddof=1)) if n >= 2 else math.nan
    ref["mean_diff"] = ref["mean"] - ref["mean_baseline"]
    if n < 2:
        nan_fields(ref, ["ci95_low", "ci95_high", "t_paired", "p_paired",
                         "t_welch", "df_welch", "p_welch", "cohen_d"])
        return ref, None

    paired = stats.ttest_rel(x, y)
    ref["t_paired"] = float(paired.statistic)
    ref["p_paired"] = float(paired.pvalue)

    welch = stats.ttest_ind(x, y, equal_var=False)
    ref["t_welch"] = float(welch.statistic)
    ref["p_welch"] = float(welch.pvalue)
    v1 = _stats_py._var(x, ddof=1)
    v2 = _stats_py._var(y, ddof=1)
    df, _ = _stats_py._unequal_var_ttest_denom(v1, n, v2, n)
    ref["df_welch"] = float(df)

    sd_diff = np.std(x - y, ddof=1)
    half = accurate_t975(n - 1) * sd_diff / np.sqrt(n)
    ref["ci95_low"] = float(ref["mean_diff"] - half)
    ref["ci95_high"] = float(ref["mean_diff"] + half)
    half_scipy = float(stats.t.ppf(0.975, n - 1) * sd_diff / np.sqrt(n))

    sd, sd_b = np.float64(ref["sd"]), np.float64(ref["sd_baseline"])
    ref["cohen_d"] = float(np.float64(ref["mean_diff"]) /
                           np.sqrt((sd**2 + sd_b**2) / 2))
    return ref, half_scipy


def holm(p):
    """Return Holm's step-down adjusted p values. NaN entries stay NaN and
    are not counted in m."""
    order = sorted((i for i, v in enumerate(p) if not math.isnan(v)),
                   key=lambda i: (p[i], i))
    m = len(order)
    adjusted = [math.nan] * len(p)
    running = 0.0
    for j, i in enumerate(order):
        running = max(running, min(1.0, (m - j) * p[i]))
        adjusted[i] = running
    return adjusted


def agree(got, want, exact):
    if math.isnan(got) or math.isnan(want):
        return math.isnan(got) and math.isnan(want)
    if math.isinf(got) or math.isinf(want) or exact:
        return got == want
    return abs(got - want) <= TOL * max(1.0, abs(got), abs(want))


def run_stats_check(exe, text):
    proc = subprocess.run([exe], input=text, capture_output=True, text=True,
                          check=False)
    if proc.returncode != 0:
        sys.exit(f"{exe} exited with status {proc.returncode}: "
                 f"{proc.stderr.strip()}")
    return [[float(v) for v in line.split()]
            for line in proc.stdout.splitlines()]


class Tally:
    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, message):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print("FAIL", message)


def check_rows(tally, sets, rows):
    refs = []
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        for _, x, y in sets:
            refs.append(reference(x, y))
    holm_want = holm([row[FIELDS.index("p_paired")] for row in rows])

    for (label, _, _), row, (ref, half_scipy), p_holm in zip(sets, rows, refs,
                                                            holm_want):
        ref["p_holm"] = p_holm
        for name, got in zip(FIELDS, row):
            exact = name in EXACT
            tally.check(agree(got, ref[name], exact),
                        f"{label}: {name} = {got!r}, expected {ref[name]!r}"
                        f" ({'bit for bit' if exact else f'tol {TOL}'})")

        # the CI against scipy.stats.t.ppf itself, at cdflib's accuracy
        if half_scipy is not None and math.isfinite(half_scipy):
            half = row[FIELDS.index("ci95_high")] - ref["mean_diff"]
            tol = TOL + SCIPY_PPF_RTOL * abs(half_scipy)
            tally.check(abs(half - half_scipy) <= tol,
                        f"{label}: CI half width {half!r}, scipy.stats.t.ppf "
                        f"gives {half_scipy!r} (tol {tol:.3g})")


def check_rejects_bad_line(tally, exe):
    proc = subprocess.run([exe], input="0.9 0.8\n0.9 x\n",
                          capture_output=True, text=True, check=False)
    tally.check(proc.returncode == 1 and "line 2" in proc.stderr,
                f"malformed line: exit status {proc.returncode}, stderr "
                f"{proc.stderr.strip()!r}, expected 1 naming line 2")


def main():
    scratch = sys.argv[1] if len(sys.argv) > 1 else "."
    os.makedirs(scratch, exist_ok=True)
    exe = os.environ.get("STATS_CHECK")
    if not exe:
        sys.exit("STATS_CHECK is not set: point it at the stats_check binary")

    sets = make_datasets(np.random.default_rng(20240611))
    text = format_input(sets)
    input_path = os.path.join(scratch, "stats_check_input.txt")
    with open(input_path, "w", encoding="ascii") as f:
        f.write(text)

    tally = Tally()
    rows = run_stats_check(exe, text)
    tally.check(len(rows) == len(sets),
                f"stats_check printed {len(rows)} rows for {len(sets)} "
                f"data sets (input in {input_path})")
    tally.check(all(len(row) == len(FIELDS) for row in rows),
                f"stats_check rows must have {len(FIELDS)} fields")
    if tally.failed == 0:
        check_rows(tally, sets, rows)
    check_rejects_bad_line(tally, exe)

    print(f"{tally.passed} passed, {tally.failed} failed")
    return 1 if tally.failed else 0


if __name__ == "__main__":
    sys.exit(main())
