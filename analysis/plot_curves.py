#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Plot the learning curves, the feedback diagnostics and the final test
accuracy of a fasweep results file as PNG figures.

Writes per hidden size H:

- curves_hidden_H.png, four panels (train loss, test accuracy, feedback
  correlation, alignment angle against the epoch);
- diagnostics_hidden_H.png, one panel per diagnostic curve of
  docs/FEEDBACK.md (feedback_cosine to sigmoid_slope), when the file has
  them; files of older fasweep versions lack them;
- early_hidden_H.png, when the file has the group /early of
  [output] early_checkpoints: alignment_angle, feedback_cosine,
  test_accuracy and update_angle on one x axis that runs through epoch 0,
  the checkpoints inside epoch 1 and the epochs after it.

Each panel has one line per mode, the mean over seeds, and a shaded band.
A mode whose curve is NaN for every seed, such as the angles of shallow,
has no line in that panel. It then writes final_accuracy.png, the final
test accuracy against the hidden size with error bars. The band is the
95% confidence interval of the mean from Student's t (default) or +-1
sample standard deviation.

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
from matplotlib.lines import Line2D  # noqa: E402
from matplotlib.ticker import (FixedLocator, FuncFormatter,  # noqa: E402
                               MaxNLocator, NullLocator)
from scipy import stats  # noqa: E402

from results_file import (DIAGNOSTIC_CURVES, ResultsError,  # noqa: E402
                          load)

# 9 x 6 inches at 100 dots per inch: 900 x 600 pixels
FIGSIZE = (9.0, 6.0)  # inches
DIAGNOSTICS_FIGSIZE = (14.0, 7.0)  # inches, 2 x 4 panels
DPI = 100

# One colour per mode in every figure, from matplotlib's tab10 palette of
# ten distinct colours, which the default colour cycle uses too.
MODE_COLOURS = {"bp": "tab:blue", "fa": "tab:orange", "onehot": "tab:green",
                "shallow": "tab:gray", "sparse": "tab:red",
                "sign": "tab:purple", "frsf": "tab:brown", "kp": "tab:cyan"}
SPARE_COLOURS = ["tab:pink", "tab:olive"]

# Width of one legend column below a figure, and height of one row.
LEGEND_COLUMN_WIDTH = 1.75  # inches
LEGEND_ROW_HEIGHT = 0.25  # inches

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

# The same for the diagnostic curves, in the order of DIAGNOSTIC_CURVES.
# The title is the dataset name, which docs/FEEDBACK.md defines.
DIAGNOSTIC_PANELS = [
    ("feedback_cosine", "feedback_cosine", "cosine of W2[0:H, :] and B"),
    ("feedback_norm_ratio", "feedback_norm_ratio", "\u2016B\u2016 / "
     "\u2016W2[0:H, :]\u2016"),
    ("delta_norm_ratio", "delta_norm_ratio", "\u2016delta\u2016 / "
     "\u2016backprop delta\u2016"),
    ("alignment_angle_mean", "alignment_angle_mean", "{units}"),
    ("update_angle", "update_angle", "{units}"),
    ("feedback_concordance", "feedback_concordance",
     "fraction of probe images"),
    ("saturation_fraction", "saturation_fraction",
     "fraction of activations"),
    ("sigmoid_slope", "sigmoid_slope", "mean h (1 - h)"),
]

# The panels of the early alignment figure.
EARLY_PANELS = [
    ("alignment_angle", "alignment_angle", "{units}"),
    ("feedback_cosine", "feedback_cosine", "cosine of W2[0:H, :] and B"),
    ("test_accuracy", "test_accuracy", "fraction correct"),
    ("update_angle", "update_angle", "{units}"),
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


def plot_modes(ax, results, x, values, band, marker=None):
    """Draw into ax one line with its band per mode, against x, of
    values[m], a seeds x points array of mode m. A mode with no finite
    value gets no line."""
    for m, mode in enumerate(results.modes):
        mean, half, n = mean_and_band(values[m], band)
        if not np.any(n > 0):
            continue
        colour = mode_colour(results.modes, mode)
        ax.plot(x, mean, color=colour, label=count_label(mode, n), lw=1.5,
                marker=marker, markersize=3)
        ax.fill_between(x, mean - half, mean + half, color=colour,
                        alpha=0.2, lw=0)


def plot_panel(ax, results, h, name, band):
    """Draw one curve of every mode at hidden index h into ax."""
    plot_modes(ax, results, results.epochs, results.curves[name][:, h],
               band)


def mark_missing(ax, name):
    """Write into an empty panel that the file lacks the curve name."""
    ax.text(0.5, 0.5, f"{name} is not in this file", ha="center",
            va="center", transform=ax.transAxes, fontsize=9, color="0.4")


def mode_legend(fig, results, h):
    """Put a legend of every mode with a value at hidden index h below
    the panels of fig, with the n of its train loss, and return its labels
    and the fraction of the figure's height it takes."""
    handles, labels = [], []
    for m, mode in enumerate(results.modes):
        counts = np.isfinite(results.curves["train_loss"][m, h]).sum(axis=0)
        if not np.any(counts > 0):
            continue
        handles.append(Line2D([], [], color=mode_colour(results.modes, mode),
                              lw=1.5))
        labels.append(count_label(mode, counts))
    if not handles:
        return labels, 0.02

    width, height = fig.get_size_inches()
    columns = min(len(handles), max(1, int(width // LEGEND_COLUMN_WIDTH)))
    rows = -(-len(handles) // columns)
    fig.legend(handles, labels, loc="lower center", ncol=columns,
               fontsize=9, frameon=False)
    return labels, (rows * LEGEND_ROW_HEIGHT + 0.1) / height


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

    # the n of the train loss, which every panel shares unless a curve
    # is NaN where the others have values
    labels, bottom = mode_legend(fig, results, h)
    fig.tight_layout(rect=(0, bottom, 1, 0.96))
    return fig, labels


def diagnostics_figure(results, h, band):
    """Return the figure of the diagnostic curves at hidden index h and
    its legend labels. A panel whose curve the file lacks shows a note
    in its place."""
    fig, axes = plt.subplots(2, 4, figsize=DIAGNOSTICS_FIGSIZE, dpi=DPI,
                             sharex=True)
    for ax, (name, title, ylabel) in zip(axes.flat, DIAGNOSTIC_PANELS):
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if name not in results.curves:
            mark_missing(ax, name)
            continue
        plot_panel(ax, results, h, name, band)
        ax.set_ylabel(ylabel.format(units=results.units[name]))
    for ax in axes[1]:
        ax.set_xlabel("epoch (0 = before training)")
    fig.suptitle(f"Hidden size {results.hidden[h]}: feedback diagnostics "
                 f"on the probe batch, mean over seeds, {BAND_TEXT[band]}",
                 fontsize=11)

    labels, bottom = mode_legend(fig, results, h)
    fig.tight_layout(rect=(0, bottom, 1, 0.96))
    return fig, labels


def early_points(results, h, name):
    """Return the x positions (epoch 0, the checkpoints' fractions of
    epoch 1, then epochs 1 and later) and the values of curve name at
    hidden index h there, an array [mode][seed][point]."""
    fraction = results.early.fraction
    x = np.concatenate([results.epochs[:1], fraction, results.epochs[1:]])
    root = results.curves[name][:, h]
    values = np.concatenate([root[..., :1], results.early.curves[name][:, h],
                             root[..., 1:]], axis=-1)
    return x, values


def early_ticks(max_epoch):
    """Return the x ticks of the early figure: quarters of epoch 1, then
    1-2-5 steps of the log part up to max_epoch, and max_epoch."""
    ticks = [0.0, 0.25, 0.5, 0.75, 1.0]
    decade = 1
    while decade <= max_epoch:
        ticks += [step * decade for step in (2, 5, 10)
                  if 1 < step * decade <= max_epoch]
        decade *= 10
    if max_epoch > 1 and max_epoch not in ticks:
        ticks.append(float(max_epoch))
    return ticks


def format_early_axis(ax, max_epoch):
    """Make the x axis linear up to the end of epoch 1, where the line at
    x = 1 marks the switch, and logarithmic after it."""
    ax.set_xscale("symlog", linthresh=1.0, linscale=1.0)
    ax.xaxis.set_major_locator(FixedLocator(early_ticks(max_epoch)))
    ax.xaxis.set_minor_locator(NullLocator())
    ax.xaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.axvline(1.0, color="0.5", lw=0.8, ls=":")


def early_figure(results, h, band):
    """Return the figure of a few curves through epoch 0, the early
    checkpoints and the later epochs at hidden index h, and its legend
    labels."""
    fig, axes = plt.subplots(2, 2, figsize=FIGSIZE, dpi=DPI, sharex=True)
    for ax, (name, title, ylabel) in zip(axes.flat, EARLY_PANELS):
        ax.set_title(title, fontsize=10)
        ax.grid(True, alpha=0.3)
        format_early_axis(ax, int(results.epochs[-1]))
        if name not in results.curves or name not in results.early.curves:
            mark_missing(ax, name)
            continue
        x, values = early_points(results, h, name)
        plot_modes(ax, results, x, values, band, marker="o")
        ax.set_ylabel(ylabel.format(units=results.units[name]))
    for ax in axes[1]:
        ax.set_xlabel("epoch (linear to 1, log scale after)")
    fig.suptitle(f"Hidden size {results.hidden[h]}: epoch 1 at "
                 f"{len(results.early.fraction)} checkpoints, mean over "
                 f"seeds, {BAND_TEXT[band]}", fontsize=11)

    labels, bottom = mode_legend(fig, results, h)
    fig.tight_layout(rect=(0, bottom, 1, 0.96))
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
        description="Plot the mean learning curves, feedback diagnostics "
        "and early checkpoints per hidden size and the final test accuracy "
        "against hidden size of a fasweep results file as PNG figures.")
    parser.add_argument("file", metavar="FILE", help="fasweep results file")
    parser.add_argument("-o", "--output", metavar="DIR", required=True,
                        help="directory for the PNG files, created if "
                        "missing")
    parser.add_argument("--band", choices=["ci95", "sd"], default="ci95",
                        help="shaded band and error bars: 95%% confidence "
                        "interval of the mean (ci95, default) or +-1 "
                        "standard deviation across seeds (sd)")
    return parser.parse_args(argv)


def plot_hidden(results, h, args, has_diagnostics):
    """Write the figures of hidden index h that the file has data for."""
    hidden = results.hidden[h]
    fig, _ = curves_figure(results, h, args.band)
    save(fig, os.path.join(args.output, f"curves_hidden_{hidden}.png"))
    if has_diagnostics:
        fig, _ = diagnostics_figure(results, h, args.band)
        save(fig, os.path.join(args.output,
                               f"diagnostics_hidden_{hidden}.png"))
    if results.early is not None:
        fig, _ = early_figure(results, h, args.band)
        save(fig, os.path.join(args.output, f"early_hidden_{hidden}.png"))


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

    has_diagnostics = any(name in results.curves
                          for name in DIAGNOSTIC_CURVES)
    if not has_diagnostics:
        print(f"plot_curves.py: note: {args.file} has none of the "
              f"diagnostic curves (older fasweep versions did not record "
              f"them), so no diagnostics figures are drawn", file=sys.stderr)

    for h in range(len(results.hidden)):
        for m in range(len(results.modes)):
            warning = missing_seeds(results, m, h)
            if warning is not None:
                print(f"plot_curves.py: warning: {warning}",
                      file=sys.stderr)
        plot_hidden(results, h, args, has_diagnostics)

    fig, _ = final_accuracy_figure(results, args.band)
    save(fig, os.path.join(args.output, "final_accuracy.png"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
