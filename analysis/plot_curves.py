#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plot the learning curves and the final test accuracy of a fasweep
results file as PNG figures.

Writes one figure per hidden size, curves_hidden_H.png, with four panels
(train loss, test accuracy, feedback correlation, alignment angle against
the epoch). Each has one line per mode, the mean over seeds, and a shaded
band. It then writes final_accuracy.png, the final test accuracy against
the hidden size with error bars. The band is the 95% confidence interval
of the mean from Student's t (default) or +-1 sample standard deviation.

Pending, diverged and failed trials have NaN where nothing was measured.
Each epoch's mean uses the seeds with a value at that epoch, the legend
gives that count n, and one warning line per (mode, hidden size) gives
the number of seeds that are not done. Reading the file is left to
results_file.py and the t-tests to summary.py.

Usage: plot_curves.py FILE -o DIR [--band ci95|sd]
"""
import argparse
import os
import sys

import matplotlib
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.ticker import MaxNLocator, NullLocator  # noqa: E402
from scipy import stats  # noqa: E402

from results_file import ResultsError, load  # noqa: E402

# 9 x 6 inches at 100 dots per inch: 900 x 600 pixels
FIGSIZE = (9.0, 6.0)  # inches
DPI = 100

# One colour per mode in every figure, from matplotlib's default cycle.
MODE_COLOURS = {"bp": "tab:blue", "fa": "tab:orange", "onehot": "tab:green"}
SPARE_COLOURS = ["tab:red", "tab:purple", "tab:brown", "tab:pink"]

# Curve dataset, panel title and y axis label (the unit) of each panel, in
# reading order. The per-image loss is 1/2 sum over the 10 outputs of
# (y_k - t_k)^2.
PANELS = [
    ("train_loss", "train loss", "\u00bd \u03a3 (y - t)\u00b2 per image"),
    ("test_accuracy", "test accuracy", "fraction correct"),
    ("feedback_correlation", "feedback correlation of W2 and B",
     "Pearson r"),
    ("alignment_angle", "alignment angle to the backprop delta", "{units}"),
]

BAND_TEXT = {
    "ci95": "band: 95% CI of the mean (Student's t)",
    "sd": "band: \u00b11 standard deviation across seeds",
}

# Sideways shift between the modes' points in the final accuracy figure,
# as a fraction of the x range (linear axis) or of a decade (log axis).
DODGE = 0.012


def mode_colour(modes, mode):
    if mode in MODE_COLOURS:
        return MODE_COLOURS[mode]
    others = [m for m in modes if m not in MODE_COLOURS]
    return SPARE_COLOURS[others.index(mode) % len(SPARE_COLOURS)]


def mean_and_band(values, band):
    """Return the mean, the band's half width and the count n of finite
    values along the first axis of values (seeds). Where n is 0 the mean is
    NaN, and where n < 2 the half width is NaN."""
    finite = np.isfinite(values)
    n = finite.sum(axis=0)
    filled = np.where(finite, values, 0.0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = filled.sum(axis=0) / n
        squares = np.where(finite, (filled - mean) ** 2, 0.0).sum(axis=0)
        sd = np.sqrt(squares / (n - 1))
    sd = np.where(n >= 2, sd, np.nan)
    mean = np.where(n >= 1, mean, np.nan)
    if band == "sd":
        return mean, sd, n
    q = stats.t.ppf(0.975, np.maximum(n - 1, 1))
    half = np.where(n >= 2, q * sd / np.sqrt(np.maximum(n, 1)), np.nan)
    return mean, half, n


def count_label(mode, counts):
    """Return the legend label of a line averaging counts[i] seeds at each
    point, for example "fa (n=30)" or "fa (n=28-30)"."""
    counts = [int(c) for c in counts if c > 0]
    low, high = min(counts), max(counts)
    if low == high:
        return f"{mode} (n={low})"
    return f"{mode} (n={low}-{high})"


def missing_seeds(results, m, h):
    """Return a warning about the seeds of (mode m, hidden h) that are not
    done, with the n of the lines drawn, or None when all are done."""
    status = list(results.status[m, h])
    parts = [f"{status.count(kind)} {kind}"
             for kind in ["pending", "diverged", "failed"]
             if status.count(kind) > 0]
    if not parts:
        return None

    # the n of the legend, which comes from the train loss panel
    counts = np.isfinite(results.curves["train_loss"][m, h]).sum(axis=0)
    if np.any(counts > 0):
        drawn = (f"the lines average the seeds with a value: "
                 f"{count_label(results.modes[m], counts)}")
    else:
        drawn = "no seed has a value, so no line is drawn"
    return (f"{results.modes[m]}, hidden {results.hidden[h]}: of "
            f"{len(status)} seeds, {', '.join(parts)}; {drawn}")


def plot_panel(ax, results, h, name, band):
    """Draw one curve of every mode at hidden index h into ax."""
    epochs = results.epochs
    for m, mode in enumerate(results.modes):
        mean, half, n = mean_and_band(results.curves[name][m, h], band)
        if not np.any(n > 0):
            continue
        colour = mode_colour(results.modes, mode)
        ax.plot(epochs, mean, color=colour, label=count_label(mode, n),
                lw=1.5)
        ax.fill_between(epochs, mean - half, mean + half, color=colour,
                        alpha=0.2, lw=0)


def curves_figure(results, h, band):
    """Return the figure of the four curves at hidden index h and its
    legend labels."""
    fig, axes = plt.subplots(2, 2, figsize=FIGSIZE, dpi=DPI, sharex=True)
    for ax, (name, title, ylabel) in zip(axes.flat, PANELS):
        plot_panel(ax, results, h, name, band)
        ax.set_title(title, fontsize=10)
        ax.set_ylabel(ylabel.format(units=results.units[name]))
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    for ax in axes[1]:
        ax.set_xlabel("epoch (0 = before training)")
    fig.suptitle(f"Hidden size {results.hidden[h]}: mean over seeds, "
                 f"{BAND_TEXT[band]}", fontsize=11)

    # the legend of the train loss panel, whose n every panel shares
    # unless a curve is NaN where the others have values
    handles, labels = axes.flat[0].get_legend_handles_labels()
    if handles:
        fig.legend(handles, labels, loc="lower center", ncol=len(handles),
                   fontsize=9, frameon=False)
    fig.tight_layout(rect=(0, 0.05, 1, 0.96))
    return fig, labels


def dodge(x, k, n_modes, log):
    """Shift the x positions of the k-th of n_modes modes sideways."""
    offset = (k - (n_modes - 1) / 2.0) * DODGE
    if log:
        return x * 10.0 ** offset
    span = (x.max() - x.min()) if len(x) > 1 else 1.0
    return x + offset * span


def final_accuracy_figure(results, band):
    """Return the figure of final test accuracy against hidden size, with
    one line of error bars per mode, and its legend labels."""
    hidden = np.array(results.hidden, dtype=np.float64)
    log = hidden.max() >= 10.0 * hidden.min()
    done = results.status == "done"
    fig, ax = plt.subplots(figsize=FIGSIZE, dpi=DPI)
    labels = []

    for m, mode in enumerate(results.modes):
        # one column per hidden size, NaN where the trial is not done
        values = np.where(done[m], results.final_accuracy[m], np.nan).T
        mean, half, n = mean_and_band(values, band)
        if not np.any(n > 0):
            continue
        labels.append(count_label(mode, n))
        ax.errorbar(dodge(hidden, m, len(results.modes), log), mean,
                    yerr=half, fmt="o-", capsize=4,
                    color=mode_colour(results.modes, mode),
                    label=labels[-1])

    if log:
        ax.set_xscale("log")
        ax.xaxis.set_minor_locator(NullLocator())
    ax.set_xticks(hidden)
    ax.set_xticklabels([str(h) for h in results.hidden])
    ax.set_xlabel("hidden units H" + (" (log scale)" if log else ""))
    ax.set_ylabel("final test accuracy (fraction correct)")
    ax.grid(True, alpha=0.3)
    ax.legend(title="n = done seeds per hidden size", fontsize=9)
    ax.set_title("Final test accuracy: mean over done seeds, "
                 f"{BAND_TEXT[band].replace('band', 'error bars')}\n"
                 "(the modes' points are shifted slightly sideways)",
                 fontsize=11)
    fig.tight_layout()
    return fig, labels


def save(fig, path):
    fig.savefig(path, dpi=DPI)
    plt.close(fig)
    print(path)


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Plot the mean learning curves per hidden size and the "
        "final test accuracy against hidden size of a fasweep results file "
        "as PNG figures.")
    parser.add_argument("file", metavar="FILE", help="fasweep results file")
    parser.add_argument("-o", "--output", metavar="DIR", required=True,
                        help="directory for the PNG files, created if "
                        "missing")
    parser.add_argument("--band", choices=["ci95", "sd"], default="ci95",
                        help="shaded band and error bars: 95%% confidence "
                        "interval of the mean (ci95, default) or +-1 "
                        "standard deviation across seeds (sd)")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    try:
        results = load(args.file)
    except ResultsError as err:
        print(f"plot_curves.py: error: {err}", file=sys.stderr)
        return 1
    try:
        os.makedirs(args.output, exist_ok=True)
    except OSError as err:
        print(f"plot_curves.py: error: failed to create the output directory "
              f"{args.output}: {err.strerror}", file=sys.stderr)
        return 1

    for h, hidden in enumerate(results.hidden):
        for m in range(len(results.modes)):
            warning = missing_seeds(results, m, h)
            if warning is not None:
                print(f"plot_curves.py: warning: {warning}",
                      file=sys.stderr)
        fig, _ = curves_figure(results, h, args.band)
        save(fig, os.path.join(args.output, f"curves_hidden_{hidden}.png"))

    fig, _ = final_accuracy_figure(results, args.band)
    save(fig, os.path.join(args.output, "final_accuracy.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
