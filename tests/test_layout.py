#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Check the HDF5 layout of fasweep results files with h5py, xarray and h5dump.

Runs the test_h5out executable (environment variable TEST_H5OUT) on the
scratch directory, which writes SCRATCH/layout.h5, and checks that file
against the values test_h5out.c writes. check_layout() takes any results file
and a description of its grid, so it also serves for the output of a real
sweep. Then starts two `fasweep run` processes (environment variable FASWEEP)
with the same output file, several times, and checks that exactly one of them
creates it.

Usage: test_layout.py SCRATCH_DIR
"""

import datetime
import glob
import os
import re
import shutil
import subprocess
import sys
import warnings

import h5py
import numpy as np

from fwtest import FASWEEP, TINY_INI, Tally, fresh_dir, tiny_mnist

# Imported before any warning is recorded, so that warnings raised while
# these packages load are not taken for problems with the file.
import h5netcdf  # noqa: F401
import xarray as xr

CURVES = [
    "train_loss",
    "test_loss",
    "test_accuracy",
    "feedback_correlation",
    "alignment_angle",
]
CURVE_UNITS = {
    "train_loss": "1",
    "test_loss": "1",
    "test_accuracy": "1",
    "feedback_correlation": "1",
    "alignment_angle": "degrees",
}
DIMS = ["mode", "hidden", "seed", "epoch"]
SCALE_DTYPES = {"hidden": "<i4", "seed": "<i8", "epoch": "<i4"}
ROOT_STRING_ATTRS = [
    "fasweep_version",
    "config",
    "created_utc",
    "command_line",
    "hostname",
    "writer",
]
# Field names and file types of the tables, in order (struct trial_row and
# struct stats_row in include/fasweep).
TRIAL_FIELDS = [
    ("mode", "S16"),
    ("hidden", "<i4"),
    ("seed", "<i8"),
    ("status", "S16"),
    ("final_test_accuracy", "<f4"),
    ("wall_seconds", "<f8"),
    ("rank", "<i4"),
    ("host", "S64"),
    ("message", "S128"),
]
STATS_DOUBLE_FIELDS = [
    "mean",
    "sd",
    "mean_baseline",
    "sd_baseline",
    "mean_diff",
    "ci95_low",
    "ci95_high",
    "t_paired",
    "p_paired",
    "t_welch",
    "df_welch",
    "p_welch",
    "cohen_d",
    "p_holm",
]
STATS_FIELDS = [
    ("mode", "S16"),
    ("hidden", "<i4"),
    ("baseline", "S16"),
    ("n_pairs", "<i4"),
] + [(name, "<f8") for name in STATS_DOUBLE_FIELDS]
CREATED_UTC_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
CREATED_UTC_PATTERN = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ"


class Checker(Tally):
    """A Tally that can also compare values with same()."""

    def equal(self, name, got, want):
        self.check(name, same(got, want), f"got {got!r}, expected {want!r}")


def same(got, want):
    """Compare values, arrays or lists, with NaN equal to NaN."""
    if isinstance(got, np.ndarray) or isinstance(want, np.ndarray):
        got, want = np.asarray(got), np.asarray(want)
        if got.shape != want.shape:
            return False
        if got.dtype.kind in "fc" and want.dtype.kind in "fc":
            return bool(np.array_equal(got, want, equal_nan=True))
        return bool(np.array_equal(got, want))
    if isinstance(got, float) and isinstance(want, float):
        return got == want or (np.isnan(got) and np.isnan(want))
    return got == want


def text(value):
    """Decode a fixed-length string field that h5py returns as bytes."""
    return value.decode("utf-8") if isinstance(value, bytes) else value


def is_vlen_utf8(dtype):
    """Return whether h5py maps dtype to a variable-length UTF-8 string."""
    info = h5py.check_string_dtype(dtype)
    if info is None:
        return False
    return info.length is None and info.encoding == "utf-8"


def trial_keys(expect, trial):
    """Return the axis indices (m, h, s) of a flat trial index."""
    n_hidden, n_seeds = len(expect["hidden"]), len(expect["seeds"])
    m, rest = divmod(trial, n_hidden * n_seeds)
    h, s = divmod(rest, n_seeds)
    return m, h, s


def check_root_attrs(f, expect, ck):
    for name in ROOT_STRING_ATTRS:
        ck.check(f"attribute {name} present", name in f.attrs)
        if name not in f.attrs:
            continue
        attr = f.attrs.get_id(name)
        ck.check(
            f"attribute {name} is a variable-length UTF-8 string",
            is_vlen_utf8(attr.dtype),
            f"dtype {attr.dtype}: {h5py.check_string_dtype(attr.dtype)}",
        )
        ck.equal(f"attribute {name} is scalar", attr.shape, ())
        ck.check(
            f"attribute {name} reads as str", isinstance(f.attrs[name], str)
        )

    ck.check("attribute mpi_ranks present", "mpi_ranks" in f.attrs)
    if "mpi_ranks" in f.attrs:
        attr = f.attrs.get_id("mpi_ranks")
        ck.equal("attribute mpi_ranks dtype", attr.dtype, np.dtype("<i4"))
        ck.equal("attribute mpi_ranks is scalar", attr.shape, ())

    for name, want in expect.get("attrs", {}).items():
        if name in f.attrs:
            ck.equal(f"attribute {name}", f.attrs[name], want)

    created = f.attrs.get("created_utc", "")
    try:
        stamp = datetime.datetime.strptime(created, CREATED_UTC_FORMAT)
    except (TypeError, ValueError):
        stamp = None
    ck.check(
        "created_utc is ISO 8601 UTC",
        stamp is not None and re.fullmatch(CREATED_UTC_PATTERN, created),
        repr(created),
    )
    window = expect.get("created_between")
    if window is not None and stamp is not None:
        ck.check(
            "created_utc within the run",
            window[0] <= stamp <= window[1],
            f"{created} not in [{window[0]}, {window[1]}]",
        )


def check_scales(f, expect, ck):
    values = {
        "mode": expect["modes"],
        "hidden": expect["hidden"],
        "seed": expect["seeds"],
        "epoch": list(range(expect["max_epochs"] + 1)),
    }
    for name in DIMS:
        ck.check(f"dataset {name} present", name in f)
        if name not in f:
            continue
        ds = f[name]
        ck.check(f"{name} is a dimension scale", h5py.h5ds.is_scale(ds.id))
        ck.equal(f"{name} scale NAME", text(ds.attrs.get("NAME")), name)
        ck.equal(f"{name} shape", ds.shape, (len(values[name]),))
        if name == "mode":
            ck.check(
                "mode is variable-length UTF-8",
                is_vlen_utf8(ds.dtype),
                f"dtype {ds.dtype}: {h5py.check_string_dtype(ds.dtype)}",
            )
            ck.equal("mode values", list(ds.asstr()[()]), values[name])
        else:
            ck.equal(f"{name} dtype", ds.dtype, np.dtype(SCALE_DTYPES[name]))
            ck.equal(f"{name} values", ds[()].tolist(), values[name])


def check_zipped(f, expect, ck):
    for name, (axis, values) in expect["zipped"].items():
        ck.check(f"zipped setting {name} present", name in f)
        if name not in f:
            continue
        ds = f[name]
        ck.equal(f"{name} dtype", ds.dtype, np.dtype("<f8"))
        ck.equal(f"{name} values", ds[()].tolist(), values)
        scales = [scale.name for scale in ds.dims[0].values()]
        ck.equal(f"{name} scale", scales, ["/" + axis])


def check_curve_data(f, expect, ck, name, index):
    """Compare written trials with expect["curves"] and check that the
    trials listed in expect["pending"] read back NaN."""
    data = f[name][()]
    for trial in expect.get("pending") or []:
        m, h, s = trial_keys(expect, trial)
        ck.check(
            f"{name} of pending trial {trial} is NaN",
            bool(np.all(np.isnan(data[m, h, s]))),
            repr(data[m, h, s]),
        )
    for trial, curves in (expect.get("curves") or {}).items():
        m, h, s = trial_keys(expect, trial)
        ck.equal(f"{name} of trial {trial}", data[m, h, s], curves[index])


def check_curves(f, expect, ck):
    shape = (
        len(expect["modes"]),
        len(expect["hidden"]),
        len(expect["seeds"]),
        expect["max_epochs"] + 1,
    )
    coordinates = " ".join(expect["zipped"])
    for index, name in enumerate(CURVES):
        ck.check(f"curve {name} present", name in f)
        if name not in f:
            continue
        ds = f[name]
        ck.equal(f"{name} dtype", ds.dtype, np.dtype("<f4"))
        ck.equal(f"{name} shape", ds.shape, shape)
        ck.equal(f"{name} chunks", ds.chunks, (1, 1, 1, shape[3]))
        ck.check(
            f"{name} fill value is NaN",
            np.isnan(ds.fillvalue),
            repr(ds.fillvalue),
        )
        # Every chunk is allocated when the file is created, so that writing
        # a trial never changes the chunk index.
        n_trials = shape[0] * shape[1] * shape[2]
        ck.equal(
            f"{name} chunks allocated", ds.id.get_num_chunks(), n_trials
        )
        for axis, dim in enumerate(DIMS):
            scales = [scale.name for scale in ds.dims[axis].values()]
            ck.equal(f"{name} scale of axis {axis}", scales, ["/" + dim])
        ck.equal(f"{name} units", ds.attrs.get("units"), CURVE_UNITS[name])
        ck.check(
            f"{name} long_name", isinstance(ds.attrs.get("long_name"), str)
        )
        if coordinates:
            ck.equal(
                f"{name} coordinates", ds.attrs.get("coordinates"), coordinates
            )
        check_curve_data(f, expect, ck, name, index)


def check_fields(ck, table, dtype, fields):
    got = [(name, dtype.fields[name][0].str) for name in dtype.names or ()]
    want = [(name, np.dtype(code).str) for name, code in fields]
    ck.equal(f"{table} fields", got, want)


def check_trials(f, expect, ck):
    n_trials = (
        len(expect["modes"]) * len(expect["hidden"]) * len(expect["seeds"])
    )
    ds = f["tables/trials"]
    check_fields(ck, "tables/trials", ds.dtype, TRIAL_FIELDS)
    ck.equal("tables/trials shape", ds.shape, (n_trials,))
    rows = ds[()]
    if len(rows) != n_trials:
        return

    for trial, row in enumerate(rows):
        m, h, s = trial_keys(expect, trial)
        keys = (text(row["mode"]), int(row["hidden"]), int(row["seed"]))
        want = (expect["modes"][m], expect["hidden"][h], expect["seeds"][s])
        ck.equal(f"trial {trial} keys", keys, want)

    pending = {
        "status": "pending",
        "final_test_accuracy": float("nan"),
        "wall_seconds": float("nan"),
        "rank": -1,
        "host": "",
        "message": "",
    }
    expected_rows = {trial: pending for trial in expect.get("pending") or []}
    expected_rows.update(expect.get("rows") or {})
    for trial, fields in expected_rows.items():
        for field, want in fields.items():
            got = rows[trial][field]
            got = text(got) if isinstance(got, bytes) else got.item()
            ck.equal(f"trial {trial} {field}", got, want)


def check_stats(f, expect, ck):
    ck.check("tables/stats present", "tables/stats" in f)
    if "tables/stats" not in f:
        return
    ds = f["tables/stats"]
    check_fields(ck, "tables/stats", ds.dtype, STATS_FIELDS)
    ck.equal("tables/stats is resizable", ds.maxshape, (None,))
    want_rows = expect.get("stats")
    if want_rows is None:
        return
    rows = ds[()]
    ck.equal("tables/stats rows", len(rows), len(want_rows))
    for r, (row, want) in enumerate(zip(rows, want_rows)):
        for field, value in want.items():
            got = row[field]
            got = text(got) if isinstance(got, bytes) else got.item()
            ck.equal(f"stats row {r} {field}", got, value)


def check_xarray(path, expect, ck):
    """Open the file as xarray does for netCDF-4 users and compare."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with xr.open_dataset(path, engine="h5netcdf") as ds:
                ds.load()
        except Exception as e:  # any failure to open is one failed check
            ck.check(
                "xarray opens the file", False, f"{type(e).__name__}: {e}"
            )
            return
    ck.equal("xarray warnings", [str(w.message) for w in caught], [])

    with h5py.File(path, "r") as f:
        raw = {name: f[name][()] for name in CURVES if name in f}
    for name in CURVES:
        ck.check(f"xarray has {name}", name in ds.data_vars)
        if name not in ds.data_vars:
            continue
        ck.equal(f"xarray {name} dims", ds[name].dims, tuple(DIMS))
        ck.equal(f"xarray {name} dtype", ds[name].dtype, np.dtype("float32"))
        if name in raw:
            ck.equal(f"xarray {name} values", ds[name].values, raw[name])

    coords = {
        "mode": expect["modes"],
        "hidden": expect["hidden"],
        "seed": expect["seeds"],
        "epoch": list(range(expect["max_epochs"] + 1)),
    }
    for name, values in coords.items():
        ck.check(f"xarray coordinate {name}", name in ds.coords)
        if name in ds.coords:
            ck.equal(f"xarray {name} values", ds[name].values.tolist(), values)
    for name, (axis, values) in expect["zipped"].items():
        ck.check(f"xarray {name} is a coordinate", name in ds.coords)
        if name in ds.coords:
            ck.equal(f"xarray {name} dims", ds[name].dims, (axis,))
            ck.equal(f"xarray {name} values", ds[name].values.tolist(), values)


def check_h5dump(path, ck):
    h5dump = shutil.which("h5dump")
    ck.check("h5dump installed", h5dump is not None, "install hdf5-tools")
    if h5dump is None:
        return
    run = subprocess.run([h5dump, "-H", path], capture_output=True, text=True)
    ck.check("h5dump -H exits 0", run.returncode == 0, run.stderr.strip())
    ck.check("h5dump lists train_loss", 'DATASET "train_loss"' in run.stdout)


def check_layout(path, expect, ck=None):
    """Check the results file at path and return the Checker.

    expect describes the grid and, optionally, the content:
      modes, hidden, seeds  axis values in grid order
      max_epochs            largest epoch count, so the epoch axis is
                            0..max_epochs
      zipped                {setting: (axis name, values)} for zipped settings
      attrs                 {root attribute: exact value} (optional)
      created_between       (earliest, latest) naive UTC datetimes (optional)
      pending               flat trial indices that must still be pending
      rows                  {flat trial index: {field: value}} of written rows
      curves                {flat trial index: array [curve][epoch]}
      stats                 list of {field: value}, one per stats row
    Omitted optional keys skip those checks.
    """
    ck = ck or Checker()
    with h5py.File(path, "r") as f:
        check_root_attrs(f, expect, ck)
        check_scales(f, expect, ck)
        check_zipped(f, expect, ck)
        check_curves(f, expect, ck)
        ck.check("group tables present", "tables" in f)
        if "tables" in f:
            check_trials(f, expect, ck)
            check_stats(f, expect, ck)
    check_xarray(path, expect, ck)
    check_h5dump(path, ck)
    return ck


# What test_h5out.c writes. A change there needs the same change here.
TEST_CONFIG = (
    "[sweep]\n"
    "modes = bp, fa, onehot\n"
    "hidden = 16, 32\n"
    "seeds = 11, 22, 33\n"
    "\n"
    "[network]\n"
    "# step size \u03b7 per hidden size\n"
    "learning_rate = 0.1, 0.05\n"
    "epochs = 4\n"
)
TEST_WRITTEN = {
    0: ("done", ""),
    4: ("diverged", "loss became NaN in epoch 3"),
    17: ("done", ""),
}


def expected_test_file(created_between):
    """Return the expect dict of the file test_h5out.c writes."""
    max_epochs = 4
    rows, curves = {}, {}
    for trial, (status, message) in TEST_WRITTEN.items():
        accuracy = float("nan")
        if status == "done":
            # float32 arithmetic, as in test_h5out.c
            accuracy = float(
                np.float32(0.5) + np.float32(0.01) * np.float32(trial)
            )
        rows[trial] = {
            "status": status,
            "final_test_accuracy": accuracy,
            "wall_seconds": 10.0 + trial,
            "rank": 1 + trial % 2,
            "host": f"node{trial}",
            "message": message,
        }
        curve_index = np.arange(len(CURVES))[:, None]
        epoch = np.arange(max_epochs + 1)
        curves[trial] = (trial * 100 + curve_index * 10 + epoch).astype(
            np.float32
        )

    stats = []
    for r in range(4):
        row = {
            "mode": ["fa", "onehot"][r // 2],
            "hidden": [16, 32][r % 2],
            "baseline": "bp",
            "n_pairs": 3,
        }
        for k, name in enumerate(STATS_DOUBLE_FIELDS):
            row[name] = r * 100 + k + 0.25
        stats.append(row)
    stats[-1]["p_holm"] = float("nan")

    return {
        "modes": ["bp", "fa", "onehot"],
        "hidden": [16, 32],
        "seeds": [11, 22, 33],
        "max_epochs": max_epochs,
        "zipped": {"learning_rate": ("hidden", [0.1, 0.05])},
        "attrs": {
            "fasweep_version": "0.2.0",
            "config": TEST_CONFIG,
            "mpi_ranks": 3,
            "command_line": "fasweep run sweep.ini -o layout.h5",
            "hostname": "testhost",
        },
        "created_between": created_between,
        "pending": [t for t in range(18) if t not in TEST_WRITTEN],
        "rows": rows,
        "curves": curves,
        "stats": stats,
    }


RACE_ROUNDS = 10


def check_concurrent_runs(work, ck):
    """Start two sweeps with the same output file at the same moment, again
    and again: exactly one must create it and the other must be rejected."""
    data = tiny_mnist(work)
    path = os.path.join(work, "race.h5")
    for round_ in range(RACE_ROUNDS):
        if os.path.exists(path):
            os.remove(path)
        args = [FASWEEP, "run", TINY_INI, "-o", path, "--data", data]
        procs = [
            subprocess.Popen(
                args,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(2)
        ]
        errors = [proc.communicate(timeout=120)[1] for proc in procs]
        codes = [proc.returncode for proc in procs]
        ck.equal(f"round {round_} exit statuses", sorted(codes), [0, 1])
        if sorted(codes) == [0, 1]:
            loser = errors[codes.index(1)]
            ck.check(
                f"round {round_} rejection names --force",
                re.search(r"already exists; pass .*--force", loser),
                loser.strip(),
            )
    leftovers = glob.glob(path + ".tmp.*")
    ck.equal("temporary files left by the races", leftovers, [])


def utc_now():
    """Return the current UTC time as a naive datetime, to whole seconds."""
    now = datetime.datetime.now(datetime.timezone.utc).replace(tzinfo=None)
    return now.replace(microsecond=0)


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} SCRATCH_DIR", file=sys.stderr)
        return 2
    scratch = sys.argv[1]
    os.makedirs(scratch, exist_ok=True)
    path = os.path.join(scratch, "layout.h5")
    if os.path.exists(path):
        os.remove(path)

    ck = Checker()
    binary = os.environ.get("TEST_H5OUT")
    ck.check(
        "TEST_H5OUT is set",
        bool(binary),
        "set it to the test_h5out executable",
    )
    start = utc_now()
    if binary:
        run = subprocess.run([binary, scratch], capture_output=True, text=True)
        ck.check(
            "test_h5out exits 0",
            run.returncode == 0,
            f"exit {run.returncode}: {run.stderr.strip()}",
        )
    end = utc_now()

    ck.check("test_h5out wrote layout.h5", os.path.exists(path), path)
    if os.path.exists(path):
        check_layout(path, expected_test_file((start, end)), ck)

    check_concurrent_runs(fresh_dir(os.path.join(scratch, "race")), ck)
    print(f"{ck.passed} passed, {ck.failed} failed")
    return 1 if ck.failed else 0


if __name__ == "__main__":
    sys.exit(main())
