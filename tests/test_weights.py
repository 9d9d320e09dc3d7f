#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks [output] save_weights = initial, final on real sweeps of
configs/tiny.ini on 2 ranks: the shapes and types of /weights, the shared
start of the modes, the feedback matrix B of each mode, the split indices,
that the final weights reproduce the final test accuracy in NumPy, that the
curves equal a sweep without weights bit for bit, what diverged and stopped
trials store, that a stopped sweep resumes to the same file as an
uninterrupted one, the xarray view of a hidden size's group, and the h5py
snippet of docs/FORMAT.md.

Usage: test_weights.py SCRATCH_DIR
"""
import configparser
import gzip
import math
import os
import re
import signal
import subprocess
import sys

import h5py
import numpy as np

from fwtest import SOURCE_DIR, TINY_INI, Tally, fresh_dir, mpirun, tiny_mnist
from test_resume import n_stored, start, wait_for_stored

CURVES = ["train_loss", "test_loss", "test_accuracy", "feedback_correlation",
          "alignment_angle"]
STAGES = ["initial", "final"]
MATRICES = ["W1", "W2", "B"]
INDEX_FILL = 0xFFFFFFFF
EXIT_STOPPED = 4
N_RANKS = 2


def tiny_settings():
    """n_train, n_test and epochs of configs/tiny.ini."""
    ini = configparser.ConfigParser(inline_comment_prefixes=(";",))
    ini.read(TINY_INI)
    return {"n_train": ini.getint("data", "n_train"),
            "n_test": ini.getint("data", "n_test"),
            "epochs": ini.getint("network", "epochs")}


def write_config(work, data, name, save="initial, final", epochs=None,
                 learning_rate=None):
    """configs/tiny.ini with the data directory, optionally other epochs
    and learning rates, and an [output] section unless save is None."""
    with open(TINY_INI) as f:
        text = f.read()
    text = re.sub(r"(?m)^dir\s*=.*$", f"dir = {data}", text)
    if epochs is not None:
        text = re.sub(r"(?m)^epochs\s*=.*$", f"epochs = {epochs}", text)
    if learning_rate is not None:
        text = re.sub(r"(?m)^learning_rate\s*=.*$",
                      f"learning_rate = {learning_rate}", text)
    if save is not None:
        text += f"\n[output]\nsave_weights = {save}\n"
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def sweep(tally, name, config, path):
    proc = mpirun(N_RANKS, ["run", config, "-o", path, "--quiet"])
    return tally.check(f"{name}: sweep exits 0", proc.returncode == 0,
                       proc.stderr[-800:])


def read_idx(path, header_words):
    """The data of an IDX file (raw or gzip) after its header."""
    for candidate in (path, path + ".gz"):
        if os.path.exists(candidate):
            with open(candidate, "rb") as f:
                raw = f.read()
            if raw[:2] == b"\x1f\x8b":
                raw = gzip.decompress(raw)
            return np.frombuffer(raw[4 * header_words:], np.uint8)
    raise FileNotFoundError(path)


def load_images(data):
    """Pixels (n, 784) and labels of all images, train file first, then
    t10k: the numbering of train_index and test_index."""
    images = [read_idx(os.path.join(data, f"{p}-images-idx3-ubyte"), 4)
              for p in ("train", "t10k")]
    labels = [read_idx(os.path.join(data, f"{p}-labels-idx1-ubyte"), 2)
              for p in ("train", "t10k")]
    return (np.concatenate(images).reshape(-1, 784),
            np.concatenate(labels))


def fa_scale(epoch):
    """s(epoch) of fa_scale = log_epoch, rounded to float32 as the trainer
    rounds it."""
    return np.float32(math.log(epoch + math.e))


def grid_of(f):
    modes = list(f["mode"].asstr()[()])
    return modes, [int(h) for h in f["hidden"][()]], list(f["seed"][()])


def check_shapes(tally, f, settings):
    modes, hidden, seeds = grid_of(f)
    w = f["weights"]
    tally.check("stages attribute", w.attrs["stages"] == "initial,final",
                w.attrs["stages"])
    tally.check("stage scale", list(w["stage"].asstr()[()]) == STAGES,
                w["stage"][()])
    tally.check("groups, one per hidden size",
                sorted(k for k in w if k != "stage")
                == sorted(f"hidden_{h}" for h in hidden), list(w))
    for h in hidden:
        g = w[f"hidden_{h}"]
        outer = (len(modes), len(seeds), len(STAGES))
        want = {"W1": outer + (785, h), "W2": outer + (h + 1, 10),
                "B": outer + (h, 10),
                "train_index": (len(seeds), settings["n_train"]),
                "test_index": (len(seeds), settings["n_test"])}
        for name, shape in want.items():
            tally.check(f"H {h}: {name} shape", g[name].shape == shape,
                        (g[name].shape, shape))
            dtype = "<u4" if name.endswith("index") else "<f4"
            tally.check(f"H {h}: {name} dtype", g[name].dtype == dtype,
                        g[name].dtype)
            chunk = ((1, 1, 1) + shape[3:] if len(shape) == 5
                     else (1, shape[1]))
            tally.check(f"H {h}: {name} one chunk per trial and stage",
                        g[name].chunks == chunk, (g[name].chunks, chunk))
        tally.check(f"H {h}: hidden attribute", g.attrs["hidden"] == h,
                    g.attrs["hidden"])
        tally.check(f"H {h}: W1 axes mode, seed, stage",
                    [g["W1"].dims[i][0].name for i in range(3)]
                    == ["/mode", "/seed", "/weights/stage"],
                    [g["W1"].dims[i][0].name for i in range(3)])


def check_pairing(tally, f):
    """Every mode of one (H, seed) starts from the same W1 and W2."""
    _, hidden, seeds = grid_of(f)
    for h in hidden:
        g = f[f"weights/hidden_{h}"]
        for name in ("W1", "W2"):
            start_ = g[name][:, :, 0]
            same = all(start_[m].tobytes() == start_[0].tobytes()
                       for m in range(1, start_.shape[0]))
            tally.check(f"H {h}: initial {name} equal in every mode", same)
            tally.check(f"H {h}: initial {name} differs between seeds",
                        start_[0, 0].tobytes() != start_[0, 1].tobytes())
            tally.check(f"H {h}: final {name} differs from initial",
                        g[name][0, 0, 1].tobytes()
                        != g[name][0, 0, 0].tobytes())
            tally.check(f"H {h}: no {name} value NaN",
                        not np.isnan(g[name][()]).any())


def check_feedback(tally, f, epochs):
    """B is W2[0:H] for bp, s(epoch) R for fa, the one-hot matrix for
    onehot."""
    modes, hidden, _ = grid_of(f)
    for h in hidden:
        g = f[f"weights/hidden_{h}"]
        b, w2 = g["B"][()], g["W2"][()]
        bp = modes.index("bp")
        tally.check(f"H {h}: bp B is W2[0:H] at both stages",
                    b[bp].tobytes() == np.ascontiguousarray(
                        w2[bp, :, :, :h]).tobytes())
        onehot = np.zeros((h, 10), np.float32)
        onehot[np.arange(h), np.arange(h) % 10] = 1.0
        m = modes.index("onehot")
        tally.check(f"H {h}: onehot B is the one-hot matrix",
                    (b[m] == onehot).all())
        fa = modes.index("fa")
        initial, final = b[fa, :, 0], b[fa, :, 1]
        tally.check(f"H {h}: fa B initial is R, scale ln(e) = 1",
                    fa_scale(0) == np.float32(1.0))
        tally.check(f"H {h}: fa B final = s({epochs}) * B initial",
                    (final == fa_scale(epochs) * initial).all(),
                    np.abs(final - fa_scale(epochs) * initial).max())
        tally.check(f"H {h}: fa B final is not B initial",
                    not (final == initial).all())


def stored_indices(row):
    return row[row != INDEX_FILL]


def check_indices(tally, f, settings, n_images):
    _, hidden, seeds = grid_of(f)
    for h in hidden:
        g = f[f"weights/hidden_{h}"]
        for s in range(len(seeds)):
            train = stored_indices(g["train_index"][s])
            test = stored_indices(g["test_index"][s])
            tally.check(f"H {h} seed {s}: n_train indices",
                        len(train) == settings["n_train"], len(train))
            tally.check(f"H {h} seed {s}: n_test indices",
                        len(test) == settings["n_test"], len(test))
            both = np.concatenate([train, test])
            tally.check(f"H {h} seed {s}: indices in range",
                        both.size > 0 and both.max() < n_images, both.max())
            tally.check(f"H {h} seed {s}: train and test disjoint, no "
                        "repeats", len(np.unique(both)) == len(both))
        tally.check(f"H {h}: seeds draw different splits",
                    g["train_index"][0].tobytes()
                    != g["train_index"][1].tobytes())


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def accuracy(w1, w2, pixels, labels):
    """Test accuracy of the sigmoid network of docs/FORMAT.md in float64:
    x = pixels / 255 then a 1, h = sigmoid(x W1), y = sigmoid([h, 1] W2);
    the prediction is the first largest output."""
    x = pixels.astype(np.float32) * np.float32(1.0 / 255.0)
    w1, w2 = w1.astype(np.float64), w2.astype(np.float64)
    hid = sigmoid(x @ w1[:-1] + w1[-1])
    out = sigmoid(hid @ w2[:-1] + w2[-1])
    return np.count_nonzero(out.argmax(axis=1) == labels) / len(labels)


def check_accuracy(tally, f, images, labels):
    """The final weights of every trial, run on its test images, give its
    final test accuracy to the float32 rounding it is stored with."""
    modes, hidden, seeds = grid_of(f)
    acc = f["test_accuracy"][()]
    for hi, h in enumerate(hidden):
        g = f[f"weights/hidden_{h}"]
        for s in range(len(seeds)):
            test = stored_indices(g["test_index"][s])
            for m, mode in enumerate(modes):
                got = accuracy(g["W1"][m, s, 1], g["W2"][m, s, 1],
                               images[test], labels[test])
                want = acc[m, hi, s, -1]
                tally.check(f"{mode} H {h} seed {s}: final weights give "
                            "the final test accuracy",
                            np.float32(got) == want, (got, want))


def compare(tally, name, a_path, b_path, weights=True):
    """The curves, the stats table, and with weights every weight and index
    dataset, equal bit for bit."""
    with h5py.File(a_path, "r") as a, h5py.File(b_path, "r") as b:
        for curve in CURVES:
            tally.check(f"{name}: {curve} bit-identical",
                        a[curve][()].tobytes() == b[curve][()].tobytes())
        tally.check(f"{name}: stats table bit-identical",
                    a["tables/stats"][()].tobytes()
                    == b["tables/stats"][()].tobytes())
        tally.check(f"{name}: final accuracies bit-identical",
                    a["tables/trials"]["final_test_accuracy"].tobytes()
                    == b["tables/trials"]["final_test_accuracy"].tobytes())
        if not weights:
            return
        for group in a["weights"]:
            if group == "stage":
                continue
            for ds in MATRICES + ["train_index", "test_index"]:
                path = f"weights/{group}/{ds}"
                tally.check(f"{name}: {path} bit-identical",
                            a[path][()].tobytes() == b[path][()].tobytes())


def check_stopped_file(tally, path):
    """Only stored trials have weights; a pending trial stores none."""
    with h5py.File(path, "r") as f:
        modes, hidden, seeds = grid_of(f)
        status = f["tables/trials"]["status"]
        n_pending = 0
        for t, st in enumerate(status):
            m, rest = divmod(t, len(hidden) * len(seeds))
            hi, s = divmod(rest, len(seeds))
            w1 = f[f"weights/hidden_{hidden[hi]}/W1"][m, s]
            if st == b"pending":
                n_pending += 1
                ok = np.isnan(w1).all()
            else:
                ok = not np.isnan(w1).any()
            tally.check(f"stopped: trial {t} ({st.decode()}) weights "
                        f"{'NaN' if st == b'pending' else 'stored'}", ok)
        tally.check("stopped: some trials pending", n_pending > 0,
                    n_pending)


def test_stop_resume(tally, work, data):
    """SIGUSR1 to mpirun stops a save_weights sweep with exit code 4, and
    --resume ends with the file of an uninterrupted sweep."""
    config = write_config(work, data, "slow.ini", epochs=80)
    ref = os.path.join(work, "slow_reference.h5")
    if not sweep(tally, "slow reference", config, ref):
        return
    path = os.path.join(work, "stopped.h5")
    proc = start(["run", config, "-o", path], N_RANKS)
    tally.check("stop: some trials stored before the signal",
                wait_for_stored(path, proc, 2), proc.poll())
    os.kill(proc.pid, signal.SIGUSR1)
    _, err = proc.communicate(timeout=120)
    tally.check("stop: exit code 4", proc.returncode == EXIT_STOPPED,
                f"{proc.returncode}: {err[-800:]}")
    stored = n_stored(path)
    tally.check("stop: file has pending trials", 0 < stored < 18, stored)
    if proc.returncode != EXIT_STOPPED:
        return
    check_stopped_file(tally, path)
    resumed = mpirun(N_RANKS, ["run", config, "-o", path, "--resume",
                               "--quiet"])
    tally.check("resume exits 0", resumed.returncode == 0,
                resumed.stderr[-800:])
    compare(tally, "resumed", ref, path)

    other = write_config(work, data, "no_weights.ini", save=None, epochs=80)
    proc = mpirun(1, ["run", other, "-o", path, "--resume"])
    tally.check("resume without save_weights is rejected",
                proc.returncode == 1 and re.search(
                    r"\[output\] save_weights is initial, final in the "
                    r"file but none in \S*no_weights\.ini", proc.stderr),
                proc.stderr[-600:])


def test_diverged(tally, work, data):
    """Trials that diverge keep their initial weights and split; their
    final stage stays NaN."""
    config = write_config(work, data, "diverge.ini",
                          learning_rate="3e38, 0.02")
    path = os.path.join(work, "diverge.h5")
    if not sweep(tally, "diverged", config, path):
        return
    with h5py.File(path, "r") as f:
        trials = f["tables/trials"][()]
        tally.check("diverged: every H 8 trial diverged",
                    (trials[trials["hidden"] == 8]["status"]
                     == b"diverged").all(), trials["status"])
        g = f["weights/hidden_8"]
        for name in MATRICES:
            tally.check(f"diverged: initial {name} stored",
                        not np.isnan(g[name][:, :, 0]).any())
            tally.check(f"diverged: final {name} NaN",
                        np.isnan(g[name][:, :, 1]).all())
        tally.check("diverged: split stored",
                    (g["train_index"][()] != INDEX_FILL).all())
        tally.check("diverged: H 16 final W1 stored",
                    not np.isnan(f["weights/hidden_16/W1"][()]).any())


def check_xarray(tally, path):
    """xarray reads a hidden size's group with named dimensions."""
    import xarray as xr
    with h5py.File(path, "r") as f:
        w1 = f["weights/hidden_8/W1"][()]
    with xr.open_dataset(path, engine="h5netcdf",
                         group="weights/hidden_8") as ds:
        tally.check("xarray: W1 dims", ds.W1.dims == (
            "mode", "seed", "stage", "input", "unit"), ds.W1.dims)
        tally.check("xarray: W2 dims", ds.W2.dims == (
            "mode", "seed", "stage", "unit_and_bias", "output"), ds.W2.dims)
        tally.check("xarray: train_index dims and dtype",
                    ds.train_index.dims == ("seed", "train_position")
                    and ds.train_index.dtype == np.uint32,
                    (ds.train_index.dims, ds.train_index.dtype))
        tally.check("xarray: W1 values", ds.W1.values.tobytes()
                    == w1.tobytes())
        with xr.open_dataset(path, engine="h5netcdf") as root, \
                xr.open_dataset(path, engine="h5netcdf",
                                group="weights") as top:
            tally.check("xarray: stage coordinate",
                        list(top.stage.values) == STAGES, top.stage.values)
            named = ds.assign_coords(mode=root.mode.values,
                                     seed=root.seed.values,
                                     stage=top.stage.values)
            final = named.W1.sel(mode="fa", seed=2, stage="final").values
            tally.check("xarray: W1 selected by coordinates",
                        final.tobytes() == w1[1, 1, 1].tobytes())


def check_doc_snippet(tally, work, path):
    """The h5py snippet of docs/FORMAT.md that reads /weights runs on this
    file and recomputes the feedback correlation of its curve."""
    with open(os.path.join(SOURCE_DIR, "docs", "FORMAT.md")) as f:
        blocks = re.findall(r"^```python\n(.*?)^```", f.read(), re.S | re.M)
    code = [b for b in blocks if 'get("weights")' in b]
    if not tally.check("FORMAT.md has one /weights snippet", len(code) == 1,
                       len(code)):
        return
    run_dir = fresh_dir(os.path.join(work, "snippet"))
    os.link(path, os.path.join(run_dir, "results.h5"))
    proc = subprocess.run([sys.executable, "-c", code[0]], cwd=run_dir,
                          capture_output=True, text=True, timeout=120)
    tally.check("snippet runs", proc.returncode == 0, proc.stderr[-800:])
    found = re.search(r"feedback_correlation (\S+) (\S+)", proc.stdout)
    tally.check("snippet's correlation matches the curve",
                found and abs(float(found[1]) - float(found[2])) < 1e-6,
                proc.stdout[-400:])


def main():
    work = fresh_dir(sys.argv[1])
    data = tiny_mnist(work)
    tally = Tally()
    settings = tiny_settings()

    path = os.path.join(work, "weights.h5")
    plain = os.path.join(work, "plain.h5")
    if not (sweep(tally, "save_weights", write_config(work, data, "w.ini"),
                  path)
            and sweep(tally, "no weights",
                      write_config(work, data, "plain.ini", save=None),
                      plain)):
        tally.finish()

    images, labels = load_images(data)
    with h5py.File(path, "r") as f:
        check_shapes(tally, f, settings)
        check_pairing(tally, f)
        check_feedback(tally, f, settings["epochs"])
        check_indices(tally, f, settings, len(images))
        check_accuracy(tally, f, images, labels)
    with h5py.File(plain, "r") as f:
        tally.check("no /weights without save_weights", "weights" not in f,
                    list(f))
    compare(tally, "without weights", plain, path, weights=False)
    check_xarray(tally, path)
    check_doc_snippet(tally, work, path)
    test_diverged(tally, work, data)
    test_stop_resume(tally, work, data)
    tally.finish()


if __name__ == "__main__":
    main()
