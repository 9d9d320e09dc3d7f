#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cross-checks `fasweep trial` against an independent float64 NumPy
re-implementation of one trial, for every feedback rule, both feedback
norms and the early checkpoints, on the synthetic MNIST look-alike.

The random streams, the split and the minibatch order follow fasweep's
reproducibility contract, so that both sides train on the same trial. The
network, the update rules and the curves are written here from their
mathematical definition. Producing the data and running the C trainer are
left to fwtest.py and fasweep. Usage: test_reference.py SCRATCH_DIR
"""
import functools
import math
import os
import sys

import numpy as np

from fwtest import FASWEEP, Tally, fresh_dir, run, tiny_mnist

N_OUTPUTS = 10
N_INPUTS = 785  # 784 pixels and a constant 1
PIXELS = 784

# A trial small enough to run in well under a second on either side. The
# 420 training images make 8 full minibatches of 50 and a last one of 20.
CONFIG = {
    "n_train": 420,
    "n_test": 200,
    "n_probe": 50,
    "batch_size": 50,
    "epochs": 3,
    "learning_rate": 0.05,
}
N_BATCHES = -(-CONFIG["n_train"] // CONFIG["batch_size"])  # per epoch, 9

MODES = ["bp", "fa", "onehot", "sparse", "shallow", "sign", "frsf", "kp"]

# The INI section of each per-trial setting, and its default. A trial's
# config file contains only the settings that the trial names, so that the
# trials without them check the defaults.
SETTING_SECTIONS = {
    "fa_scale": "feedback",
    "onehot_sign": "feedback",
    "feedback_k": "feedback",
    "kp_decay": "feedback",
    "feedback_norm": "feedback",
    "early_checkpoints": "output",
}
DEFAULTS = {
    "fa_scale": "log_epoch",
    "onehot_sign": "positive",
    "feedback_k": 1,
    "kp_decay": 0.001,
    "feedback_norm": "as_drawn",
    "early_checkpoints": 0,
}

# (mode, hidden units, seed, settings that differ from DEFAULTS). The seed
# above 2^32 checks that its high word is the second word of the Philox
# key. H = 12 makes onehot and sparse wrap around the 10 outputs. The last
# early_checkpoints trial puts a checkpoint after every minibatch but the
# last one (N + 1 = n_batches).
TRIALS = [
    ("bp", 8, 3, {}),
    ("fa", 8, 3, {}),
    ("onehot", 8, 3, {}),
    ("fa", 12, 2**32 + 5, {}),
    ("fa", 8, 3, {"fa_scale": "constant"}),
    ("onehot", 12, 3, {"onehot_sign": "random"}),
    ("sparse", 12, 3, {}),
    ("sparse", 12, 3, {"feedback_k": 3}),
    ("sparse", 8, 3, {"feedback_k": 10}),
    ("shallow", 8, 3, {}),
    ("sign", 8, 3, {}),
    ("frsf", 8, 3, {}),
    ("kp", 8, 3, {}),
    ("kp", 8, 3, {"kp_decay": 0.01}),
    ("kp", 8, 3, {"kp_decay": 0}),
    ("bp", 8, 3, {"feedback_norm": "match_w2"}),
    ("fa", 8, 3, {"feedback_norm": "match_w2"}),
    ("sparse", 12, 3, {"feedback_k": 3, "feedback_norm": "match_w2"}),
    ("sign", 8, 3, {"feedback_norm": "match_w2"}),
    ("frsf", 8, 3, {"feedback_norm": "match_w2"}),
    ("kp", 8, 3, {"kp_decay": 0.01, "feedback_norm": "match_w2"}),
    ("shallow", 8, 3, {"feedback_norm": "match_w2"}),
    ("fa", 8, 3, {"early_checkpoints": 3}),
    ("kp", 8, 3, {"kp_decay": 0.01, "feedback_norm": "match_w2",
                  "early_checkpoints": 3}),
    ("sign", 8, 3, {"early_checkpoints": N_BATCHES - 1}),
]

CURVES = ["train_loss", "test_loss", "test_accuracy", "feedback_correlation",
          "alignment_angle", "feedback_cosine", "feedback_norm_ratio",
          "delta_norm_ratio", "alignment_angle_mean", "update_angle",
          "feedback_concordance", "saturation_fraction", "sigmoid_slope"]

# The curves that are undefined when B = 0 (shallow), because they divide
# by |B| or by the norm of a delta computed through B.
UNDEFINED_WITHOUT_FEEDBACK = ["feedback_correlation", "feedback_cosine",
                              "alignment_angle", "alignment_angle_mean",
                              "update_angle"]

# The C trainer computes in float32 (unit roundoff 6e-8) with sums over up to
# 785 terms, and fasweep prints each curve as a float. The largest
# differences over TRIALS, with OpenBLAS 0.3.21 on an AMD EPYC, were 5.5e-8
# relative on the losses and 9.5e-8 on the correlation and the cosine. The
# norm ratios differed by 3.0e-7 relative, the sigmoid slope by 1.6e-7
# relative and the angles by 1.5e-5 degrees. The concordance and the
# saturation differed only by the float rounding of the printed fraction, so
# no probe example or activation changed side. The tolerances sit 10x to 200x
# above the measured differences. Each of these deliberate errors in this
# file moved the losses by at least 5e-4 relative: average instead of sum, s
# not applied, s from the wrong epoch, bp fed back through the updated W2, R
# scaled by 1/sqrt(H). A learning rate 0.01% too high moved them by 2e-5.
# Each of these moved some curve by 9 to 8e5 times its tolerance: kp's decay
# on the bias row, after the gradient step, or on W2 but not B; sparse
# columns j + i; sign's s = 1/sqrt(H); frsf with R for |R|; onehot's random
# sign from column 0; match_w2 with the bias row in |W2| or with fa's s kept;
# concordance after the sigmoid derivative; saturation at 0.1 and 0.9; the
# update angle without the bias input; the mean angle as the angle of the
# mean cosine; early checkpoints rounded up. So each of these errors fails
# the test.
LOSS_RTOL = 1e-5
CORRELATION_ATOL = 1e-6  # also the cosine
ANGLE_ATOL = 1e-3  # degrees, every angle curve
RATIO_RTOL = 1e-5  # the two norm ratios and the sigmoid slope


# Philox4x32-10, the counter-based generator of Random123.

MASK32 = 0xFFFFFFFF
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9  # Weyl increment of key word 0
PHILOX_W1 = 0xBB67AE85  # Weyl increment of key word 1

# Known-answer vectors (counter, key, output). The outputs are those of
# philox4x32() in the Random123 1.14.0 headers that fasweep builds with.
PHILOX_KAT = [
    ((0, 0, 0, 0), (0, 0),
     (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((MASK32,) * 4, (MASK32, MASK32),
     (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    ((0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
     (0xA4093822, 0x299F31D0),
     (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1)),
]

# Stream purposes, the last counter word.
PURPOSE_SPLIT = 1
PURPOSE_W1 = 2
PURPOSE_W2 = 3
PURPOSE_FEEDBACK = 4
PURPOSE_ORDER = 5


def philox4x32_10(counter, key):
    """Return the four output words for a four-word counter and two-word
    key: ten rounds, with the key bumped by the Weyl constants after each."""
    c0, c1, c2, c3 = counter
    k0, k1 = key
    for _ in range(10):
        p0 = PHILOX_M0 * c0
        p1 = PHILOX_M1 * c2
        c0, c1, c2, c3 = ((p1 >> 32) ^ c1 ^ k0, p1 & MASK32,
                          (p0 >> 32) ^ c3 ^ k1, p0 & MASK32)
        k0 = (k0 + PHILOX_W0) & MASK32
        k1 = (k1 + PHILOX_W1) & MASK32
    return c0, c1, c2, c3


class Stream:
    """The random stream (seed, hidden size, purpose, index): counter
    (block, index, hidden size, purpose) with the block counted from 0, key
    (seed low word, seed high word), each block's four words in order."""

    def __init__(self, seed, n_hidden, purpose, index):
        self.key = (seed & MASK32, (seed >> 32) & MASK32)
        self.index = index
        self.n_hidden = n_hidden
        self.purpose = purpose
        self.block = 0
        self.words = []

    def u32(self):
        if not self.words:
            counter = (self.block, self.index, self.n_hidden, self.purpose)
            self.words = list(philox4x32_10(counter, self.key))
            self.block += 1
        return self.words.pop(0)

    def u64(self):
        high = self.u32()
        return (high << 32) | self.u32()

    def uniform(self):
        """Return a uniform draw on (0, 1) from the top 53 bits of a u64."""
        return ((self.u64() >> 11) + 0.5) * 2.0**-53

    def normal(self):
        """Return a standard normal draw by Box-Muller from two uniforms."""
        u1 = self.uniform()
        u2 = self.uniform()
        return math.sqrt(-2.0 * math.log(u1)) * math.cos(2.0 * math.pi * u2)

    def below(self, n):
        """Return an integer uniform on [0, n) by 64-bit multiply-shift."""
        return (self.u64() * n) >> 64


# The trial as fasweep defines it.

def read_idx(path, offset):
    with open(path, "rb") as f:
        return np.frombuffer(f.read()[offset:], dtype=np.uint8)


def load_mnist(directory):
    """Return all images (n x 784 uint8) and labels (n): the train files
    followed by the t10k files, in file order."""
    images = []
    labels = []
    for prefix in ("train", "t10k"):
        pixels = read_idx(os.path.join(directory,
                                       f"{prefix}-images-idx3-ubyte"), 16)
        images.append(pixels.reshape(-1, PIXELS))
        labels.append(read_idx(os.path.join(directory,
                                            f"{prefix}-labels-idx1-ubyte"), 8))
    return np.concatenate(images), np.concatenate(labels)


@functools.lru_cache(maxsize=None)
def pooled_split(n_images, n_train, n_test, seed, n_hidden):
    """Return the train and test image indices: a partial Fisher-Yates
    shuffle of all images with the stream (seed, H, split, 0)."""
    stream = Stream(seed, n_hidden, PURPOSE_SPLIT, 0)
    pool = list(range(n_images))
    for i in range(n_train + n_test):
        j = i + stream.below(n_images - i)
        pool[i], pool[j] = pool[j], pool[i]
    return tuple(pool[:n_train]), tuple(pool[n_train:n_train + n_test])


@functools.lru_cache(maxsize=None)
def epoch_order(train, seed, n_hidden, epoch):
    """Return the training order of an epoch (from 1): a full Fisher-Yates
    shuffle of the train indices, from the end, with the stream
    (seed, H, order, epoch)."""
    stream = Stream(seed, n_hidden, PURPOSE_ORDER, epoch)
    order = list(train)
    for i in range(len(order) - 1, 0, -1):
        j = stream.below(i + 1)
        order[i], order[j] = order[j], order[i]
    return tuple(order)


@functools.lru_cache(maxsize=None)
def normal_matrix(rows, cols, scale, seed, n_hidden, purpose):
    """Return a rows x cols matrix of scaled normal draws filled row by row
    and rounded to float32, as fasweep stores its weights. The result is
    cached, so callers copy it before changing it."""
    stream = Stream(seed, n_hidden, purpose, 0)
    values = [stream.normal() * scale for _ in range(rows * cols)]
    matrix = np.array(values, dtype=np.float32).astype(np.float64)
    matrix.flags.writeable = False
    return matrix.reshape(rows, cols)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def inputs(images, idx):
    """Return the network inputs of the images idx: pixels / 255 and a 1."""
    x = images[list(idx)].astype(np.float64) / 255.0
    return np.hstack([x, np.ones((len(idx), 1))])


def one_hot(labels):
    t = np.zeros((len(labels), N_OUTPUTS))
    t[np.arange(len(labels)), labels] = 1.0
    return t


def sign_of_r(r):
    """Return the elementwise sign of R with +1 for zero, onehot's sign."""
    return np.where(r < 0.0, -1.0, 1.0)


class Network:
    """A 785-H-10 sigmoid network with its feedback rule. W1 is 785 x H
    with the input bias in its last row, and W2 is (H + 1) x 10 with the
    hidden bias in its last row. R is the H x 10 random matrix from which
    every rule that needs random values takes them. gain multiplies B, and
    the trial sets it at the start of each epoch."""

    def __init__(self, mode, n_hidden, seed, settings):
        self.mode = mode
        self.n_hidden = n_hidden
        self.settings = settings
        scale2 = 1.0 / math.sqrt(n_hidden + 1)
        self.w1 = normal_matrix(N_INPUTS, n_hidden, 1.0 / math.sqrt(N_INPUTS),
                                seed, n_hidden, PURPOSE_W1).copy()
        self.w2 = normal_matrix(n_hidden + 1, N_OUTPUTS, scale2, seed,
                                n_hidden, PURPOSE_W2).copy()
        self.r = normal_matrix(n_hidden, N_OUTPUTS, scale2, seed, n_hidden,
                               PURPOSE_FEEDBACK)
        self.kp_b = self.r.copy()
        self.gain = 1.0

    def w2_hidden(self):
        """Return W2[0:H, :], the forward weights out of the hidden units."""
        return self.w2[:self.n_hidden]

    def feedback(self):
        """Return B (H x 10) before the gain."""
        h = self.n_hidden
        mode = self.mode
        if mode == "bp":
            return self.w2_hidden().copy()
        if mode == "fa":
            return self.r.copy()
        if mode == "kp":
            return self.kp_b.copy()
        if mode == "sign":
            return np.sign(self.w2_hidden()) / math.sqrt(h + 1)
        if mode == "frsf":
            return np.abs(self.r) * np.sign(self.w2_hidden())

        b = np.zeros((h, N_OUTPUTS))
        if mode == "onehot":
            rows = np.arange(h)
            cols = rows % N_OUTPUTS
            b[rows, cols] = 1.0
            if self.settings["onehot_sign"] == "random":
                b[rows, cols] = sign_of_r(self.r[rows, cols])
        elif mode == "sparse":
            k = self.settings["feedback_k"]
            for j in range(h):
                cols = (j * k + np.arange(k)) % N_OUTPUTS
                b[j, cols] = self.r[j, cols]
        else:
            assert mode == "shallow", mode
        return b

    def feedback_used(self):
        """Return gain * B, the matrix the hidden delta is computed with."""
        return self.gain * self.feedback()

    def epoch_gain(self, epoch):
        """Return the gain held through training epoch `epoch` (from 1),
        given that the weights are those at the start of that epoch."""
        if self.mode in ("bp", "shallow"):
            return 1.0
        if self.settings["feedback_norm"] == "match_w2":
            norm_b = np.linalg.norm(self.feedback())
            if norm_b == 0.0:
                return 1.0
            return np.linalg.norm(self.w2_hidden()) / norm_b
        if self.mode == "fa" and self.settings["fa_scale"] == "log_epoch":
            return math.log((epoch - 1) + math.e)
        return 1.0

    def forward(self, x):
        """Return [h; 1] (n x (H + 1)) and y (n x 10) for inputs x."""
        h = sigmoid(x @ self.w1)
        h1 = np.hstack([h, np.ones((len(x), 1))])
        return h1, sigmoid(h1 @ self.w2)

    def hidden_delta(self, h1, d_out, b):
        """Return d_hid = (d_out B^T) h (1 - h) for each row."""
        h = h1[:, :self.n_hidden]
        return (d_out @ b.T) * h * (1.0 - h)

    def update_w2(self, g2, lr):
        """Apply the summed gradient g2 of W2, with kp's decay of W2[0:H, :]
        and the same update of B, whose new value uses the decayed B."""
        h = self.n_hidden
        if self.mode != "kp":
            self.w2 -= lr * g2
            return
        decay = 1.0 - self.settings["kp_decay"]
        self.w2[:h] = decay * self.w2[:h] - lr * g2[:h]
        self.w2[h] -= lr * g2[h]
        self.kp_b = decay * self.kp_b - lr * g2[:h]


def output_errors(y, labels):
    """Return E = 1/2 sum_k (y_k - t_k)^2 (n) and d_out (n x 10)."""
    t = one_hot(labels)
    loss = 0.5 * np.sum((y - t) ** 2, axis=1)
    return loss, (y - t) * y * (1.0 - y)


def train_step(net, x, labels, lr):
    """Update the network on one minibatch with gradients summed over its
    rows, and return the minibatch's mean E before the update. The hidden
    delta uses B of the forward pass, before W2 (and kp's B) change."""
    h1, y = net.forward(x)
    loss, d_out = output_errors(y, labels)
    d_hid = net.hidden_delta(h1, d_out, net.feedback_used())
    net.update_w2(h1.T @ d_out, lr)
    net.w1 -= lr * (x.T @ d_hid)
    return float(np.mean(loss))


# The curves, each from its definition. A quotient whose denominator is 0
# is NaN, so shallow's B = 0 makes the angles, the correlation and the
# cosine NaN.

def quotient(numerator, denominator):
    return numerator / denominator if denominator > 0.0 else math.nan


def cosine(a, b):
    """Return the cosine between a and b, both flattened."""
    return quotient(np.sum(a * b), math.sqrt(np.sum(a * a) * np.sum(b * b)))


def pearson(a, b):
    """Return Pearson's r between a and b, both flattened."""
    return cosine(a - np.mean(a), b - np.mean(b))


def degrees(cos):
    """Return the angle in degrees of a cosine, NaN for NaN."""
    if math.isnan(cos):
        return math.nan
    return math.degrees(math.acos(min(1.0, max(-1.0, cos))))


def norm_ratio(a, b):
    """Return |a|_F / |b|_F."""
    return quotient(np.linalg.norm(a), np.linalg.norm(b))


def mean_row_angle(a, b):
    """Return the mean over rows of the angle in degrees between the rows
    of a and b, leaving out rows where either is all zero. Return NaN if
    no row is left."""
    dot = np.sum(a * b, axis=1)
    norm_a = np.sum(a * a, axis=1)
    norm_b = np.sum(b * b, axis=1)
    keep = (norm_a > 0.0) & (norm_b > 0.0)
    if not np.any(keep):
        return math.nan
    cos = dot[keep] / np.sqrt(norm_a[keep] * norm_b[keep])
    return float(np.mean(np.degrees(np.arccos(np.clip(cos, -1.0, 1.0)))))


def feedback_curves(net):
    """Return the curves that compare W2[0:H, :] with the B in use."""
    w2 = net.w2_hidden()
    b = net.feedback_used()
    return {
        "feedback_correlation": pearson(w2, b),
        "feedback_cosine": cosine(w2, b),
        "feedback_norm_ratio": norm_ratio(b, w2),
    }


def probe_curves(net, x, labels):
    """Return the curves of the probe batch with inputs x: the hidden
    deltas and updates of B in use against backprop's, the sign agreement
    of the two backpropagated errors, and the hidden activations."""
    w2 = net.w2_hidden()
    b = net.feedback_used()
    h1, y = net.forward(x)
    _, d_out = output_errors(y, labels)
    h = h1[:, :net.n_hidden]
    slope = h * (1.0 - h)

    error_bp = d_out @ w2.T
    error_used = d_out @ b.T
    d_bp = error_bp * slope
    d_used = error_used * slope
    concordant = np.sum(error_bp * error_used, axis=1) > 0.0
    saturated = (h < 0.05) | (h > 0.95)
    return {
        "alignment_angle": degrees(cosine(d_used, d_bp)),
        "delta_norm_ratio": norm_ratio(d_used, d_bp),
        "alignment_angle_mean": mean_row_angle(d_used, d_bp),
        "update_angle": degrees(cosine(x.T @ d_used, x.T @ d_bp)),
        "feedback_concordance": float(np.mean(concordant)),
        "saturation_fraction": float(np.mean(saturated)),
        "sigmoid_slope": float(np.mean(slope)),
    }


def measure(net, images, labels, test, probe):
    """Return every curve but train_loss for the current network and
    gain."""
    h1, y = net.forward(inputs(images, test))
    loss, _ = output_errors(y, labels[list(test)])
    values = {
        "test_loss": float(np.mean(loss)),
        "test_accuracy": float(np.mean(np.argmax(y, axis=1)
                                       == labels[list(test)])),
    }
    values.update(feedback_curves(net))
    values.update(probe_curves(net, inputs(images, probe),
                               labels[list(probe)]))
    return values


def checkpoint_batches(n_checkpoints):
    """Return {minibatches done: epoch label} of the early checkpoints:
    checkpoint k = 1..N after floor(k n_batches / (N + 1)) minibatches,
    labelled k / (N + 1) as C's %g prints it."""
    parts = n_checkpoints + 1
    return {k * N_BATCHES // parts: f"{k / parts:g}"
            for k in range(1, parts)}


def train_epoch(net, images, labels, order, record_early):
    """Train one epoch in the given order and return the mean minibatch
    loss. record_early(k, mean loss so far) is called after k minibatches
    when it is not None."""
    bs = CONFIG["batch_size"]
    batch_losses = []
    for start in range(0, len(order), bs):
        rows = order[start:start + bs]
        batch_losses.append(train_step(net, inputs(images, rows),
                                       labels[list(rows)],
                                       CONFIG["learning_rate"]))
        if record_early is not None:
            record_early(len(batch_losses), float(np.mean(batch_losses)))
    return float(np.mean(batch_losses))


def reference_trial(images, labels, mode, n_hidden, seed, settings):
    """Return the epoch labels and {curve: [value per row]} of one trial,
    rows in the order `fasweep trial` prints them. Point e uses the gain
    that epoch e + 1 would hold, computed from the weights at point e. So
    point 0 and the early checkpoints use the gain of epoch 1."""
    cfg = CONFIG
    train, test = pooled_split(len(images), cfg["n_train"], cfg["n_test"],
                               seed, n_hidden)
    probe = train[:cfg["n_probe"]]
    net = Network(mode, n_hidden, seed, settings)
    epochs = []
    curves = {name: [] for name in CURVES}
    early = checkpoint_batches(settings["early_checkpoints"])

    def record(epoch, train_loss):
        values = measure(net, images, labels, test, probe)
        values["train_loss"] = train_loss
        epochs.append(epoch)
        for name in CURVES:
            curves[name].append(values[name])

    def record_early(n_done, loss_so_far):
        if n_done in early:
            record(early[n_done], loss_so_far)

    # Point 0: train loss over the whole training split.
    net.gain = net.epoch_gain(1)
    _, y = net.forward(inputs(images, train))
    record("0", float(np.mean(output_errors(y, labels[list(train)])[0])))

    for epoch in range(1, cfg["epochs"] + 1):
        order = epoch_order(train, seed, n_hidden, epoch)
        loss = train_epoch(net, images, labels, order,
                           record_early if epoch == 1 else None)
        net.gain = net.epoch_gain(epoch + 1)
        record(str(epoch), loss)
    return epochs, curves


def check_reference_shallow(tally, name, curves):
    """Check that the reference itself gives shallow's defined values: NaN
    for the curves that need B, 0 for the norm ratios and the
    concordance."""
    for curve in UNDEFINED_WITHOUT_FEEDBACK:
        tally.check(f"{name}: reference {curve} is NaN",
                    all(math.isnan(v) for v in curves[curve]), curves[curve])
    for curve in ("feedback_norm_ratio", "delta_norm_ratio",
                  "feedback_concordance"):
        tally.check(f"{name}: reference {curve} is 0",
                    all(v == 0.0 for v in curves[curve]), curves[curve])


# The comparison with fasweep.

def settings_of(overrides):
    """Return the full settings of a trial: DEFAULTS with its overrides."""
    settings = dict(DEFAULTS)
    settings.update(overrides)
    return settings


def write_config(work, data, overrides, number):
    """Write the config of one trial, with only the settings it overrides
    beyond the data and network of CONFIG, and return its path."""
    path = os.path.join(work, f"reference_{number}.ini")
    cfg = CONFIG
    sections = {"feedback": [], "output": []}
    for key, value in overrides.items():
        sections[SETTING_SECTIONS[key]].append(f"{key} = {value}")
    text = f"""[data]
dir = {data}
split = pooled
n_train = {cfg['n_train']}
n_test = {cfg['n_test']}
n_probe = {cfg['n_probe']}

[network]
learning_rate = {cfg['learning_rate']}
batch_size = {cfg['batch_size']}
epochs = {cfg['epochs']}

[sweep]
modes = {', '.join(MODES)}
hidden = 8
seeds = 1

[stats]
baseline = bp
"""
    for section, lines in sections.items():
        if lines:
            text += f"\n[{section}]\n" + "\n".join(lines) + "\n"
    with open(path, "w") as f:
        f.write(text)
    return path


def fasweep_trial(tally, name, config, data, mode, n_hidden, seed,
                  expected_epochs):
    """Run `fasweep trial` and return {curve: [values]}, or None."""
    proc = run([FASWEEP, "trial", "--config", config, "--mode", mode,
                "--hidden", str(n_hidden), "--seed", str(seed),
                "--data", data])
    if not tally.check(f"{name}: fasweep trial exits 0", proc.returncode == 0,
                       f"exit {proc.returncode}: {proc.stderr.strip()}"):
        return None
    lines = proc.stdout.strip().split("\n")
    header = lines[0].split("\t")
    if not tally.check(f"{name}: TSV header", header == ["epoch"] + CURVES,
                       header):
        return None
    epochs = [line.split("\t")[0] for line in lines[1:]]
    if not tally.check(f"{name}: TSV epoch column", epochs == expected_epochs,
                       f"{epochs}, expected {expected_epochs}"):
        return None
    rows = [[float(v) for v in line.split("\t")[1:]] for line in lines[1:]]
    return {curve: [row[k] for row in rows] for k, curve in enumerate(CURVES)}


def close(curve, c_value, py_value, n_hidden):
    """Return True if the C and NumPy values of a curve agree. Where the
    reference is NaN, C must be NaN too."""
    if math.isnan(py_value) or math.isnan(c_value):
        return math.isnan(py_value) and math.isnan(c_value)
    if curve in ("train_loss", "test_loss"):
        return math.isclose(c_value, py_value, rel_tol=LOSS_RTOL)
    if curve in ("feedback_norm_ratio", "delta_norm_ratio", "sigmoid_slope"):
        return math.isclose(c_value, py_value, rel_tol=RATIO_RTOL)
    if curve == "test_accuracy":
        # float32 rounding may flip the argmax of one near-tied test image.
        return abs(c_value - py_value) <= 1.0 / CONFIG["n_test"] + 1e-7
    if curve == "feedback_concordance":
        # ... or the sign of one probe example's near-zero e^T W2^T B e.
        return abs(c_value - py_value) <= 1.0 / CONFIG["n_probe"] + 1e-7
    if curve == "saturation_fraction":
        # ... or the side of 0.05 or 0.95 of one hidden activation.
        return (abs(c_value - py_value)
                <= 1.0 / (CONFIG["n_probe"] * n_hidden) + 1e-7)
    if curve in ("feedback_correlation", "feedback_cosine"):
        return abs(c_value - py_value) <= CORRELATION_ATOL
    return abs(c_value - py_value) <= ANGLE_ATOL


def compare(tally, name, n_hidden, epochs, c_curves, py_curves):
    for curve in CURVES:
        for epoch, c_value, py_value in zip(epochs, c_curves[curve],
                                            py_curves[curve]):
            tally.check(f"{name}: {curve} at epoch {epoch}",
                        close(curve, c_value, py_value, n_hidden),
                        f"fasweep {c_value:.9g}, numpy {py_value:.9g}")


RELATIVE_CURVES = ("train_loss", "test_loss", "feedback_norm_ratio",
                   "delta_norm_ratio", "sigmoid_slope")


def differences(c_curves, py_curves):
    """Return {curve: largest difference}, relative for the losses, the
    norm ratios and the slope, absolute otherwise, over the points where
    both sides are numbers (NaN where there is none)."""
    largest = {}
    for curve in CURVES:
        c = np.array(c_curves[curve])
        py = np.array(py_curves[curve])
        both = ~np.isnan(c) & ~np.isnan(py)
        diff = np.abs(c[both] - py[both])
        if curve in RELATIVE_CURVES:
            scale = np.abs(py[both])
            diff = np.where(scale > 0, diff / np.where(scale > 0, scale, 1),
                            diff)
        largest[curve] = float(np.max(diff)) if diff.size else math.nan
    return largest


def largest_of(values):
    """Return the largest of values that are numbers, NaN if none is."""
    numbers = [v for v in values if not math.isnan(v)]
    return max(numbers) if numbers else math.nan


def summary(largest):
    return ", ".join(f"{curve} {value:.2g}"
                     for curve, value in largest.items())


def check_philox(tally):
    for counter, key, expected in PHILOX_KAT:
        got = philox4x32_10(counter, key)
        tally.check(f"Philox4x32-10 known answer for key {key[0]:08x}",
                    got == expected,
                    " ".join(f"{w:08x}" for w in got) + " expected "
                    + " ".join(f"{w:08x}" for w in expected))


def trial_name(mode, n_hidden, seed, overrides):
    extra = "".join(f" {key}={value}" for key, value in overrides.items())
    return f"{mode} H={n_hidden} seed={seed}{extra}"


def run_trial(tally, work, data, images, labels, trial, number):
    """Compare one trial of TRIALS and return its largest differences, or
    None if fasweep failed."""
    mode, n_hidden, seed, overrides = trial
    name = trial_name(mode, n_hidden, seed, overrides)
    settings = settings_of(overrides)
    epochs, py_curves = reference_trial(images, labels, mode, n_hidden,
                                        seed, settings)
    if mode == "shallow":
        check_reference_shallow(tally, name, py_curves)

    config = write_config(work, data, overrides, number)
    c_curves = fasweep_trial(tally, name, config, data, mode, n_hidden, seed,
                             epochs)
    if c_curves is None:
        return None
    largest = differences(c_curves, py_curves)
    print(f"{name}: largest differences: {summary(largest)}")
    compare(tally, name, n_hidden, epochs, c_curves, py_curves)
    return largest


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} SCRATCH_DIR", file=sys.stderr)
        return 2
    work = fresh_dir(argv[1])
    tally = Tally()
    check_philox(tally)

    data = tiny_mnist(work)
    images, labels = load_mnist(data)
    overall = {curve: [] for curve in CURVES}
    for number, trial in enumerate(TRIALS):
        largest = run_trial(tally, work, data, images, labels, trial, number)
        for curve, value in (largest or {}).items():
            overall[curve].append(value)
    print("all trials: largest differences: "
          + summary({curve: largest_of(values)
                     for curve, values in overall.items()}))
    tally.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
