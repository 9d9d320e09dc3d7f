# SPDX-License-Identifier: GPL-3.0-or-later
"""Open a fasweep results file read-only, check that it has the layout of
docs/FORMAT.md, and load its axes, curves, early checkpoints and tables
into NumPy arrays.

Files of fasweep versions that recorded only the first five curves, and
files without early checkpoints, load too: the curves they lack are absent
from Results.curves, and Results.early is None.

Shared by plot_curves.py and summary.py, which do the plotting and the
statistics. Importing this module needs only h5py and NumPy.
"""
import configparser
import os

import h5py
import numpy as np

# Curves that every results file has.
CURVES = ["train_loss", "test_loss", "test_accuracy", "feedback_correlation",
          "alignment_angle"]

# Curves of the probe batch that newer files add (docs/FEEDBACK.md).
DIAGNOSTIC_CURVES = ["feedback_cosine", "feedback_norm_ratio",
                     "delta_norm_ratio", "alignment_angle_mean",
                     "update_angle", "feedback_concordance",
                     "saturation_fraction", "sigmoid_slope"]
ALL_CURVES = CURVES + DIAGNOSTIC_CURVES

# The group of [output] early_checkpoints and its point axis.
EARLY_GROUP = "early"
EARLY_SCALE = "epoch_fraction"

SCALES = ["mode", "hidden", "seed", "epoch"]
TRIAL_FIELDS = ["mode", "hidden", "seed", "status", "final_test_accuracy"]
STATS_DOUBLE_FIELDS = ["mean", "sd", "mean_baseline", "sd_baseline",
                       "mean_diff", "ci95_low", "ci95_high", "t_paired",
                       "p_paired", "t_welch", "df_welch", "p_welch",
                       "cohen_d", "p_holm"]
STATS_FIELDS = ["mode", "hidden", "baseline", "n_pairs"] + STATS_DOUBLE_FIELDS
STATUSES = ["pending", "done", "diverged", "failed"]
DEFAULT_BASELINE = "bp"


class ResultsError(Exception):
    """A results file that cannot be read or is not a fasweep file. The
    message is one line that names the file."""


class EarlyCurves:
    """The checkpoints inside epoch 1 of the group /early.

    fraction is the float64 array of /early/epoch_fraction, the fraction of
    epoch 1 done at each checkpoint. curves maps each curve name of the
    group to a float32 array [mode][hidden][seed][checkpoint], and units
    to its units attribute.
    """

    def __init__(self, group):
        self.fraction = np.asarray(group[EARLY_SCALE][()], dtype=np.float64)
        names = [name for name in ALL_CURVES if name in group]
        self.curves = {name: group[name][()] for name in names}
        self.units = {name: attribute_text(group[name], "units", "1")
                      for name in names}


class Results:
    """The contents of one results file.

    modes, hidden and seeds are the axes in file order. curves maps each
    curve name of the file to a float32 array [mode][hidden][seed][epoch]:
    always the names of CURVES, and those of DIAGNOSTIC_CURVES that the
    file has. early is an EarlyCurves, or None when the file has no group
    /early. status is a
    str array [mode][hidden][seed], final_accuracy the float64 array of
    final_test_accuracy in the same shape. trials and stats are the raw
    structured arrays of /tables, and baseline is the [stats] baseline of
    the config attribute.
    """

    def __init__(self, path, f):
        self.path = path
        self.version = attribute_text(f, "fasweep_version")
        self.config = attribute_text(f, "config")
        self.modes = [text(v) for v in f["mode"][()]]
        self.hidden = [int(v) for v in f["hidden"][()]]
        self.seeds = [int(v) for v in f["seed"][()]]
        self.epochs = np.asarray(f["epoch"][()], dtype=np.int64)
        names = [name for name in ALL_CURVES if name in f]
        self.curves = {name: f[name][()] for name in names}
        self.units = {name: attribute_text(f[name], "units", "1")
                      for name in names}
        self.early = EarlyCurves(f[EARLY_GROUP]) if EARLY_GROUP in f else None
        self.trials = f["tables/trials"][()]
        self.stats = f["tables/stats"][()]
        self.baseline = config_baseline(path, self.config)

        shape = (len(self.modes), len(self.hidden), len(self.seeds))
        self.status = np.array([text(v) for v in self.trials["status"]],
                               dtype=object).reshape(shape)
        self.final_accuracy = np.asarray(
            self.trials["final_test_accuracy"],
            dtype=np.float64).reshape(shape)

    def count_status(self, status):
        """Return the number of trials with this status."""
        return int(np.count_nonzero(self.status == status))


def text(value):
    """Decode a fixed-length string field, which h5py returns as bytes."""
    if isinstance(value, bytes):
        return value.decode("utf-8")
    return str(value)


def attribute_text(obj, name, default=None):
    value = obj.attrs.get(name, default)
    return None if value is None else text(value)


def config_baseline(path, config):
    """Return [stats] baseline from the INI text of the config attribute,
    with fasweep's default when the key is absent."""
    # inih, which fasweep uses, takes ";" after whitespace as the start of
    # an inline comment, and ";" or "#" at the start of a line
    parser = configparser.ConfigParser(inline_comment_prefixes=(";",),
                                       interpolation=None)
    try:
        parser.read_string(config or "")
    except configparser.Error as err:
        first_line = str(err).splitlines()[0]
        raise ResultsError(f"{path}: cannot parse the config attribute as an "
                           f"INI file: {first_line}") from err
    return parser.get("stats", "baseline", fallback=DEFAULT_BASELINE).strip()


def missing_object(f):
    """Return the first object of the fasweep layout missing from f, or
    None."""
    for name in ["fasweep_version", "config"]:
        if name not in f.attrs:
            return f"root attribute {name}"
    for name in SCALES + CURVES + ["tables/trials", "tables/stats"]:
        if name not in f or not isinstance(f[name], h5py.Dataset):
            return f"dataset /{name}"
    for table, fields in [("trials", TRIAL_FIELDS), ("stats", STATS_FIELDS)]:
        names = f[f"tables/{table}"].dtype.names or ()
        for field in fields:
            if field not in names:
                return f"field {field} of /tables/{table}"
    return None


def curves_problem(group, axes):
    """Return how a curve dataset in group (the root or /early) breaks the
    layout for the shape axes, or None. A name of DIAGNOSTIC_CURVES may
    be absent, but not another kind of object."""
    prefix = group.name.rstrip("/")
    for name in ALL_CURVES:
        if name not in group and name in DIAGNOSTIC_CURVES:
            continue
        if not isinstance(group.get(name), h5py.Dataset):
            return f"{prefix}/{name} is missing or not a dataset"
        if group[name].shape != axes:
            return (f"{prefix}/{name} has shape {group[name].shape}, the "
                    f"axes give {axes}")
    return None


def shape_problem(f):
    """Return how the curves or the trials table disagree with the axes,
    or None."""
    axes = tuple(f[name].shape[0] if f[name].ndim == 1 else -1
                 for name in SCALES)
    if -1 in axes:
        return "an axis dataset is not one-dimensional"
    problem = curves_problem(f, axes)
    if problem is not None:
        return problem
    n_trials = axes[0] * axes[1] * axes[2]
    if f["tables/trials"].shape != (n_trials,):
        return (f"/tables/trials has shape {f['tables/trials'].shape}, "
                f"expected ({n_trials},)")
    return early_problem(f, axes[:3])


def early_problem(f, trial_axes):
    """Return how the group /early, when present, breaks the layout, or
    None. trial_axes are the lengths of the mode, hidden and seed axes."""
    if EARLY_GROUP not in f:
        return None
    group = f[EARLY_GROUP]
    if not isinstance(group, h5py.Group):
        return f"/{EARLY_GROUP} is not a group"
    scale = group.get(EARLY_SCALE)
    if not isinstance(scale, h5py.Dataset) or scale.ndim != 1:
        return (f"/{EARLY_GROUP}/{EARLY_SCALE} is missing or not a "
                f"one-dimensional dataset")

    # k / (N + 1) for k = 1..N: increasing and inside epoch 1
    fraction = np.asarray(scale[()], dtype=np.float64)
    if fraction.size == 0 or not (np.all(fraction > 0.0)
                                  and np.all(fraction < 1.0)
                                  and np.all(np.diff(fraction) > 0.0)):
        return (f"/{EARLY_GROUP}/{EARLY_SCALE} is {fraction.tolist()}, "
                f"expected increasing fractions between 0 and 1")
    return curves_problem(group, trial_axes + (fraction.size,))


def row_order_problem(results):
    """Return the first trial row whose keys or status break the layout of
    docs/FORMAT.md, or None."""
    modes, hidden, seeds = results.modes, results.hidden, results.seeds
    for k, row in enumerate(results.trials):
        m, rest = divmod(k, len(hidden) * len(seeds))
        h, s = divmod(rest, len(seeds))
        keys = (text(row["mode"]), int(row["hidden"]), int(row["seed"]))
        if keys != (modes[m], hidden[h], seeds[s]):
            return (f"/tables/trials row {k} is {keys}, expected "
                    f"{(modes[m], hidden[h], seeds[s])}")
        status = text(row["status"])
        if status not in STATUSES:
            return f"/tables/trials row {k} has unknown status {status!r}"
    return None


def open_h5(path):
    """Open path read-only with h5py in SWMR mode, so that a file a sweep
    is writing reads too, turning the usual failures into one line."""
    if not os.path.exists(path):
        raise ResultsError(f"{path}: no such file")
    try:
        return h5py.File(path, "r", swmr=True)
    except OSError as err:
        if "unable to lock file" in str(err):
            raise ResultsError(
                f"{path} is locked by a writer that lets no reader in "
                f"(not a fasweep sweep, which allows SWMR reads): wait for "
                f"that process to end, or set HDF5_USE_FILE_LOCKING=FALSE "
                f"to read it now (a value being written may then read "
                f"half-written)") from err
        if not h5py.is_hdf5(path):
            raise ResultsError(f"{path} is not an HDF5 file") from err
        raise ResultsError(f"{path}: failed to open: {err}") from err


def load(path):
    """Read the results file at path. Raise ResultsError when it cannot be
    read or lacks part of the fasweep layout."""
    with open_h5(path) as f:
        missing = missing_object(f)
        if missing is not None:
            raise ResultsError(f"{path} is not a fasweep results file: "
                               f"missing {missing}")
        problem = shape_problem(f)
        if problem is not None:
            raise ResultsError(f"{path} is not a valid fasweep results "
                               f"file: {problem}")
        results = Results(path, f)

    problem = row_order_problem(results)
    if problem is not None:
        raise ResultsError(f"{path} is not a valid fasweep results file: "
                           f"{problem}")
    if results.baseline not in results.modes:
        raise ResultsError(f"{path}: the baseline {results.baseline!r} of "
                           f"the config attribute is not one of the modes "
                           f"{results.modes}")
    return results
