#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time fasweep's training epoch, and the evaluation after it, in NumPy.

The network, shapes, summed minibatch gradients, feedback rules and
minibatch order logic are those of bench_trainer and peer_torch.py. They
are written with float32 NumPy arrays and the @ operator, which calls the
BLAS that NumPy links. On Debian that is OpenBLAS, pinned here to one
thread. The random draws differ from fasweep's Philox streams and from PyTorch's,
which does not change the work. --check compares the summed gradients
with central differences of the loss. The side-by-side rounds and the
medians are left to run.sh.

Needs Debian's python3-numpy (1.24 on Debian 12).
"""

import os

# OpenBLAS reads its thread count when it loads, which importing NumPy
# does, so these must come first.
os.environ["OPENBLAS_NUM_THREADS"] = "1"
os.environ["OMP_NUM_THREADS"] = "1"

import ctypes  # noqa: E402
import math  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

import peer_common as pc  # noqa: E402

PROG = "peer_numpy"

# --check: a tiny batch and network, and the step of the central
# differences, in float64.
CHECK_ROWS = 8
CHECK_HIDDEN = 5
CHECK_STEP = 1e-6


def sigmoid(z):
    """Return the logistic function of z elementwise, in z's dtype."""
    return 1 / (1 + np.exp(-z))


def minibatch_gradients(x, t, w1, w2, feedback, scale):
    """Return the loss 0.5 sum (y - t)^2 of a minibatch and the summed
    gradients of W1 and W2, with scale times the first H rows of feedback
    in place of W2[0:H] in the hidden delta. With feedback = W2 and scale
    1 they are the gradients of the loss."""
    hidden = w1.shape[1]
    h = sigmoid(x @ w1)
    h1 = np.concatenate([h, np.ones((x.shape[0], 1), dtype=h.dtype)], axis=1)
    y = sigmoid(h1 @ w2)
    err = y - t
    d_out = err * y * (1 - y)
    d_hid = scale * (d_out @ feedback[:hidden].T) * h * (1 - h)
    return 0.5 * float((err * err).sum()), x.T @ d_hid, h1.T @ d_out


class Trial:
    """One network of fasweep's trainer with its data split."""

    def __init__(self, x_all, t_all, labels, mode, hidden, lr, seed):
        self.rng = np.random.default_rng(seed * 100003 + hidden)
        self.x_all, self.t_all, self.labels = x_all, t_all, labels
        self.mode, self.hidden, self.lr = mode, hidden, lr

        # The pooled split: disjoint training and test images.
        perm = self.rng.permutation(x_all.shape[0])
        self.train_idx = perm[:pc.N_TRAIN]
        self.test_idx = perm[pc.N_TRAIN:pc.N_TRAIN + pc.N_TEST]
        self.probe_idx = self.train_idx[:pc.N_PROBE]

        self.w1 = self.normal((pc.N_INPUTS, hidden), pc.N_INPUTS)
        self.w2 = self.normal((hidden + 1, pc.N_OUTPUTS), hidden + 1)
        if mode == "bp":
            self.feedback = self.w2[:hidden]  # a view: follows W2
        elif mode == "fa":
            self.feedback = self.normal((hidden, pc.N_OUTPUTS), hidden + 1)
        else:
            self.feedback = np.zeros((hidden, pc.N_OUTPUTS), np.float32)
            rows = np.arange(hidden)
            self.feedback[rows, rows % pc.N_OUTPUTS] = 1

    def normal(self, shape, fan_in):
        """Return float32 normal draws with standard deviation
        1 / sqrt(fan_in)."""
        w = self.rng.standard_normal(shape, dtype=np.float32)
        return w / np.float32(math.sqrt(fan_in))

    def scale(self, epoch):
        """Return fa's feedback scale ln(epoch + e), epoch from 0."""
        return math.log(epoch + math.e) if self.mode == "fa" else 1.0

    def forward(self, x):
        """Return the hidden layer with its bias column, and the output."""
        h = sigmoid(x @ self.w1)
        h1 = np.concatenate([h, np.ones((x.shape[0], 1), np.float32)],
                            axis=1)
        return h1, sigmoid(h1 @ self.w2)

    def train_epoch(self, epoch):
        """Train one epoch (from 1) and return the mean minibatch loss, or
        the first loss that is not finite."""
        scale = np.float32(self.scale(epoch - 1))
        lr = np.float32(self.lr)
        order = self.train_idx[self.rng.permutation(pc.N_TRAIN)]
        total, n_batches = 0.0, 0
        for start in range(0, pc.N_TRAIN, pc.BATCH_SIZE):
            idx = order[start:start + pc.BATCH_SIZE]
            x, t = self.x_all[idx], self.t_all[idx]
            loss, g_w1, g_w2 = minibatch_gradients(x, t, self.w1, self.w2,
                                                   self.feedback, scale)
            loss /= x.shape[0]
            if not math.isfinite(loss):
                return loss
            self.w2 -= lr * g_w2
            self.w1 -= lr * g_w1
            total += loss
            n_batches += 1
        return total / n_batches

    def hidden_delta(self, d_out, h1, feedback, scale):
        """Return scale * (d_out B^T) * h * (1 - h)."""
        h = h1[:, :self.hidden]
        return np.float32(scale) * (d_out @ feedback.T) * h * (1 - h)

    def evaluate(self, epoch):
        """Return test loss, test accuracy, the correlation of W2[0:H] with
        B and the angle between the mode's and backprop's hidden deltas."""
        loss, correct = 0.0, 0
        for start in range(0, pc.N_TEST, pc.EVAL_ROWS):
            idx = self.test_idx[start:start + pc.EVAL_ROWS]
            _, y = self.forward(self.x_all[idx])
            err = y - self.t_all[idx]
            loss += 0.5 * float((err * err).sum())
            correct += int((y.argmax(axis=1) == self.labels[idx]).sum())

        corr = np.corrcoef(self.w2[:self.hidden].ravel(),
                           self.feedback.ravel())[0, 1]

        x = self.x_all[self.probe_idx]
        h1, y = self.forward(x)
        d_out = (y - self.t_all[self.probe_idx]) * y * (1 - y)
        d_bp = self.hidden_delta(d_out, h1, self.w2[:self.hidden], 1.0)
        d_used = self.hidden_delta(d_out, h1, self.feedback,
                                   self.scale(epoch))
        cos = float((d_used * d_bp).sum()) / math.sqrt(
            float((d_used * d_used).sum()) * float((d_bp * d_bp).sum()))
        angle = math.degrees(math.acos(max(-1.0, min(1.0, cos))))
        return loss / pc.N_TEST, correct / pc.N_TEST, float(corr), angle


def openblas_state():
    """Return (path, core name, threads) of the OpenBLAS that this process
    loaded, or None when NumPy runs on another BLAS."""
    with open("/proc/self/maps") as f:
        paths = {line.split()[-1] for line in f
                 if "libopenblas" in line.split()[-1]}
    if not paths:
        return None
    path = sorted(paths)[0]
    lib = ctypes.CDLL(path)
    lib.openblas_get_corename.restype = ctypes.c_char_p
    return (path, lib.openblas_get_corename().decode(),
            lib.openblas_get_num_threads())


def report_blas():
    """Print which BLAS NumPy calls and return 0, or 1 after a message
    when it is not OpenBLAS on one thread."""
    state = openblas_state()
    if state is None:
        print(f"{PROG}: NumPy {np.__version__} loaded no libopenblas; "
              "install Debian's libopenblas0-pthread and select it as "
              "libblas.so.3", file=sys.stderr)
        return 1
    path, core, threads = state
    print(f"NumPy {np.__version__} on OpenBLAS {path}, core {core}, "
          f"{threads} thread{'s' if threads != 1 else ''}")
    if threads != 1:
        print(f"{PROG}: OpenBLAS runs {threads} threads although "
              "OPENBLAS_NUM_THREADS=1 was set before importing NumPy",
              file=sys.stderr)
        return 1
    return 0


def finite_difference_gradient(x, t, w1, w2, w):
    """Return the central difference of the minibatch loss with respect to
    every element of w, which is w1 or w2, changed in place and restored."""
    grad = np.empty_like(w)
    flat, flat_grad = w.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        saved = flat[i]
        flat[i] = saved + CHECK_STEP
        plus = minibatch_gradients(x, t, w1, w2, w2, 1.0)[0]
        flat[i] = saved - CHECK_STEP
        minus = minibatch_gradients(x, t, w1, w2, w2, 1.0)[0]
        flat[i] = saved
        flat_grad[i] = (plus - minus) / (2 * CHECK_STEP)
    return grad


def compare(quantity, got, expected, tolerance):
    """Print one check line and return 1 when got differs from expected by
    more than tolerance times the largest |expected|, else 0."""
    diff = float(np.abs(got - expected).max())
    size = float(np.abs(expected).max())
    ok = diff <= tolerance * size
    print(f"check: {quantity}: max difference {diff:.3g}, max |expected| = "
          f"{size:.3g}: {'ok' if ok else 'MISMATCH'}")
    return 0 if ok else 1


def check_gradients(x_all, t_all):
    """Compare the summed bp gradients of a tiny minibatch, in float64,
    with central differences of its loss, and the float32 computation that
    the epoch runs with the float64 one. Return the number of mismatches."""
    rng = np.random.default_rng(7)
    idx = rng.choice(x_all.shape[0], CHECK_ROWS, replace=False)
    x, t = x_all[idx].astype(np.float64), t_all[idx].astype(np.float64)
    w1 = rng.standard_normal((pc.N_INPUTS, CHECK_HIDDEN))
    w1 /= math.sqrt(pc.N_INPUTS)
    w2 = rng.standard_normal((CHECK_HIDDEN + 1, pc.N_OUTPUTS))
    w2 /= math.sqrt(CHECK_HIDDEN + 1)

    _, g_w1, g_w2 = minibatch_gradients(x, t, w1, w2, w2, 1.0)
    failed = compare("summed gradient of W1 against central differences",
                     g_w1, finite_difference_gradient(x, t, w1, w2, w1),
                     1e-6)
    failed += compare("summed gradient of W2 against central differences",
                      g_w2, finite_difference_gradient(x, t, w1, w2, w2),
                      1e-6)

    f32 = [a.astype(np.float32) for a in (x, t, w1, w2)]
    _, g32_w1, g32_w2 = minibatch_gradients(*f32, f32[3], np.float32(1))
    if g32_w1.dtype != np.float32 or g32_w2.dtype != np.float32:
        print(f"check: the float32 step returned {g32_w1.dtype} and "
              f"{g32_w2.dtype} gradients: MISMATCH")
        failed += 1
    failed += compare("float32 gradient of W1 against float64", g32_w1,
                      g_w1, 1e-4)
    failed += compare("float32 gradient of W2 against float64", g32_w2,
                      g_w2, 1e-4)
    return failed


def main():
    args = pc.parse_args(__doc__.splitlines()[0],
                         "compare the summed gradients with central "
                         "differences on a tiny minibatch, then exit")
    if report_blas() != 0:
        sys.exit(1)

    # Data preparation, outside the timed epochs: float32 inputs with the
    # bias column and one-hot targets.
    images, labels = pc.load_images(PROG, args)
    x_all = np.empty((images.shape[0], pc.N_INPUTS), np.float32)
    x_all[:, :784] = images.astype(np.float32) / 255
    x_all[:, 784] = 1
    t_all = np.eye(pc.N_OUTPUTS, dtype=np.float32)[labels]
    labels = labels.astype(np.int64)

    if args.check:
        sys.exit(1 if check_gradients(x_all, t_all) else 0)

    # exp(-z) overflows to inf for z < -88 in float32, which gives the
    # right sigmoid of 0 but would print a warning.
    np.seterr(over="ignore")
    pc.print_header(f"NumPy {np.__version__} trainer benchmark: mode "
                    f"{args.mode}, {args.data or 'synthetic images'}, 1 "
                    "thread", args)
    rows = []
    for hidden in args.hidden:
        lr = args.learning_rate or pc.default_learning_rate(hidden)
        trial = Trial(x_all, t_all, labels, args.mode, hidden, lr,
                      args.seed)
        rows.append(pc.time_epochs(PROG, trial, args.epochs))
        pc.print_row(rows[-1])
    if args.tsv:
        pc.write_tsv(args.tsv, "numpy", args, rows)


if __name__ == "__main__":
    main()
