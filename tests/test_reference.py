#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Cross-checks `fasweep trial` against an independent float64 NumPy
re-implementation of one trial for bp, fa (log_epoch scale) and onehot on the
synthetic MNIST look-alike.

The random streams, the split and the minibatch order follow fasweep's
reproducibility contract, so that both sides train on the same trial. The
network, the update rules and the curves are written here from their
mathematical definition. Producing the data and running the C trainer are
left to fwtest.py and fasweep. Usage: test_reference.py SCRATCH_DIR
"""
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

# (mode, hidden units, seed). The seed above 2^32 checks that its high word
# is the second word of the Philox key.
TRIALS = [
    ("bp", 8, 3),
    ("fa", 8, 3),
    ("onehot", 8, 3),
    ("fa", 12, 2**32 + 5),
]

CURVES = ["train_loss", "test_loss", "test_accuracy", "feedback_correlation",
          "alignment_angle"]

# The C trainer computes in float32 (unit roundoff 6e-8) with sums over up
# to 785 terms, and fasweep prints each curve as a float. With OpenBLAS
# 0.3.21 on an AMD EPYC, the largest differences over TRIALS were 4.4e-8
# relative on the losses, 2.1e-8 on the correlation and 4.1e-6 degrees on
# the angle. The tolerances sit 50x to 250x above that. Each of these
# deliberate errors in this file moved the losses by at least 5e-4 relative:
# average instead of sum, s not applied, s from the wrong epoch, bp fed back
# through the updated W2, R scaled by 1/sqrt(H). A learning rate 0.01% too
# high moved them by 2e-5. So each of these errors fails the test.
LOSS_RTOL = 1e-5
CORRELATION_ATOL = 1e-6
ANGLE_ATOL = 1e-3  # degrees


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


def pooled_split(n_images, n_train, n_test, seed, n_hidden):
    """Return the train and test image indices: a partial Fisher-Yates
    shuffle of all images with the stream (seed, H, split, 0)."""
    stream = Stream(seed, n_hidden, PURPOSE_SPLIT, 0)
    pool = list(range(n_images))
    for i in range(n_train + n_test):
        j = i + stream.below(n_images - i)
        pool[i], pool[j] = pool[j], pool[i]
    return pool[:n_train], pool[n_train:n_train + n_test]


def epoch_order(train, seed, n_hidden, epoch):
    """Return the training order of an epoch (from 1): a full Fisher-Yates
    shuffle of the train indices, from the end, with the stream
    (seed, H, order, epoch)."""
    stream = Stream(seed, n_hidden, PURPOSE_ORDER, epoch)
    order = list(train)
    for i in range(len(order) - 1, 0, -1):
        j = stream.below(i + 1)
        order[i], order[j] = order[j], order[i]
    return order


def normal_matrix(rows, cols, scale, seed, n_hidden, purpose):
    """Return a rows x cols matrix of scaled normal draws filled row by row
    and rounded to float32, as fasweep stores its weights."""
    stream = Stream(seed, n_hidden, purpose, 0)
    values = [stream.normal() * scale for _ in range(rows * cols)]
    return np.array(values, dtype=np.float32).astype(np.float64).reshape(
        rows, cols)


def sigmoid(z):
    return 1.0 / (1.0 + np.exp(-z))


def inputs(images, idx):
    """Return the network inputs of the images idx: pixels / 255 and a 1."""
    x = images[idx].astype(np.float64) / 255.0
    return np.hstack([x, np.ones((len(idx), 1))])


def one_hot(labels):
    t = np.zeros((len(labels), N_OUTPUTS))
    t[np.arange(len(labels)), labels] = 1.0
    return t


class Network:
    """A 785-H-10 sigmoid network. W1 is 785 x H with the input bias in its
    last row, and W2 is (H + 1) x 10 with the hidden bias in its last row."""

    def __init__(self, mode, n_hidden, seed):
        self.mode = mode
        self.n_hidden = n_hidden
        self.w1 = normal_matrix(N_INPUTS, n_hidden, 1.0 / math.sqrt(N_INPUTS),
                                seed, n_hidden, PURPOSE_W1)
        self.w2 = normal_matrix(n_hidden + 1, N_OUTPUTS,
                                1.0 / math.sqrt(n_hidden + 1), seed, n_hidden,
                                PURPOSE_W2)
        self.r = None
        if mode == "fa":
            self.r = normal_matrix(n_hidden, N_OUTPUTS,
                                   1.0 / math.sqrt(n_hidden + 1), seed,
                                   n_hidden, PURPOSE_FEEDBACK)

    def feedback(self, scale):
        """Return B (H x 10), the matrix that carries output errors back.
        The argument scale is the fa scale s."""
        if self.mode == "bp":
            return self.w2[:self.n_hidden].copy()
        if self.mode == "fa":
            return scale * self.r
        b = np.zeros((self.n_hidden, N_OUTPUTS))
        hidden = np.arange(self.n_hidden)
        b[hidden, hidden % N_OUTPUTS] = 1.0
        return b

    def forward(self, x):
        """Return [h; 1] (n x (H + 1)) and y (n x 10) for inputs x."""
        h = sigmoid(x @ self.w1)
        h1 = np.hstack([h, np.ones((len(x), 1))])
        return h1, sigmoid(h1 @ self.w2)

    def hidden_delta(self, h1, d_out, b):
        """Return d_hid = (B d_out) h (1 - h) for each row."""
        h = h1[:, :self.n_hidden]
        return (d_out @ b.T) * h * (1.0 - h)


def output_errors(y, labels):
    """Return E = 1/2 sum_k (y_k - t_k)^2 (n) and d_out (n x 10)."""
    t = one_hot(labels)
    loss = 0.5 * np.sum((y - t) ** 2, axis=1)
    return loss, (y - t) * y * (1.0 - y)


def train_step(net, x, labels, scale, lr):
    """Update the network on one minibatch with gradients summed over its
    rows, and return the minibatch's mean E before the update."""
    h1, y = net.forward(x)
    loss, d_out = output_errors(y, labels)
    d_hid = net.hidden_delta(h1, d_out, net.feedback(scale))
    net.w2 -= lr * (h1.T @ d_out)
    net.w1 -= lr * (x.T @ d_hid)
    return float(np.mean(loss))


def angle_degrees(a, b):
    cosine = np.sum(a * b) / math.sqrt(np.sum(a * a) * np.sum(b * b))
    return math.degrees(math.acos(min(1.0, max(-1.0, cosine))))


def measure(net, images, labels, test, probe):
    """Return test loss, test accuracy, feedback correlation and alignment
    angle of the current network. r and the angle do not change under a
    positive scale of B, so fa's s is left at 1."""
    h1, y = net.forward(inputs(images, test))
    loss, _ = output_errors(y, labels[test])
    accuracy = np.mean(np.argmax(y, axis=1) == labels[test])

    b = net.feedback(1.0)
    w2_hidden = net.w2[:net.n_hidden]
    correlation = np.corrcoef(w2_hidden.ravel(), b.ravel())[0, 1]

    h1, y = net.forward(inputs(images, probe))
    _, d_out = output_errors(y, labels[probe])
    angle = angle_degrees(net.hidden_delta(h1, d_out, b),
                          net.hidden_delta(h1, d_out, w2_hidden))
    return float(np.mean(loss)), float(accuracy), float(correlation), angle


def reference_trial(images, labels, mode, n_hidden, seed):
    """Return {curve: [value at point 0 .. epochs]} of one trial."""
    cfg = CONFIG
    train, test = pooled_split(len(images), cfg["n_train"], cfg["n_test"],
                               seed, n_hidden)
    probe = train[:cfg["n_probe"]]
    net = Network(mode, n_hidden, seed)
    curves = {name: [] for name in CURVES}

    def record(train_loss):
        values = (train_loss,) + measure(net, images, labels, test, probe)
        for name, value in zip(CURVES, values):
            curves[name].append(value)

    # Point 0: train loss over the whole training split.
    _, y = net.forward(inputs(images, train))
    record(float(np.mean(output_errors(y, labels[train])[0])))

    bs = cfg["batch_size"]
    for epoch in range(1, cfg["epochs"] + 1):
        scale = math.log((epoch - 1) + math.e)
        order = epoch_order(train, seed, n_hidden, epoch)
        batch_losses = []
        for start in range(0, len(order), bs):
            rows = order[start:start + bs]
            batch_losses.append(train_step(net, inputs(images, rows),
                                           labels[rows], scale,
                                           cfg["learning_rate"]))
        record(float(np.mean(batch_losses)))
    return curves


# The comparison with fasweep.

def write_config(work, data):
    path = os.path.join(work, "reference.ini")
    cfg = CONFIG
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

[feedback]
fa_scale = log_epoch

[sweep]
modes = bp, fa, onehot
hidden = 8
seeds = 1

[stats]
baseline = bp
"""
    with open(path, "w") as f:
        f.write(text)
    return path


def fasweep_trial(tally, name, config, data, mode, n_hidden, seed):
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
    n_points = CONFIG["epochs"] + 1
    if not tally.check(f"{name}: TSV rows", len(lines) == 1 + n_points,
                       f"{len(lines) - 1} rows, expected {n_points}"):
        return None
    rows = [[float(v) for v in line.split("\t")[1:]] for line in lines[1:]]
    return {curve: [row[k] for row in rows] for k, curve in enumerate(CURVES)}


def close(curve, c_value, py_value):
    """Return True if the C and NumPy values of a curve agree."""
    if curve in ("train_loss", "test_loss"):
        return math.isclose(c_value, py_value, rel_tol=LOSS_RTOL)
    if curve == "test_accuracy":
        # float32 rounding may flip the argmax of one near-tied test image.
        return abs(c_value - py_value) <= 1.0 / CONFIG["n_test"] + 1e-7
    if curve == "feedback_correlation":
        return abs(c_value - py_value) <= CORRELATION_ATOL
    return abs(c_value - py_value) <= ANGLE_ATOL


def compare(tally, name, c_curves, py_curves):
    for curve in CURVES:
        for point, (c_value, py_value) in enumerate(zip(c_curves[curve],
                                                        py_curves[curve])):
            tally.check(f"{name}: {curve} at point {point}",
                        close(curve, c_value, py_value),
                        f"fasweep {c_value:.9g}, numpy {py_value:.9g}")


def largest_differences(c_curves, py_curves):
    """Return a one-line summary of the largest difference per curve,
    relative for the losses and absolute otherwise."""
    parts = []
    for curve in CURVES:
        c = np.array(c_curves[curve])
        py = np.array(py_curves[curve])
        diff = np.abs(c - py)
        if curve.endswith("loss"):
            diff = diff / np.abs(py)
        parts.append(f"{curve} {np.max(diff):.2g}")
    return ", ".join(parts)


def check_philox(tally):
    for counter, key, expected in PHILOX_KAT:
        got = philox4x32_10(counter, key)
        tally.check(f"Philox4x32-10 known answer for key {key[0]:08x}",
                    got == expected,
                    " ".join(f"{w:08x}" for w in got) + " expected "
                    + " ".join(f"{w:08x}" for w in expected))


def main(argv):
    if len(argv) != 2:
        print(f"usage: {argv[0]} SCRATCH_DIR", file=sys.stderr)
        return 2
    work = fresh_dir(argv[1])
    tally = Tally()
    check_philox(tally)

    data = tiny_mnist(work)
    config = write_config(work, data)
    images, labels = load_mnist(data)
    for mode, n_hidden, seed in TRIALS:
        name = f"{mode} H={n_hidden} seed={seed}"
        c_curves = fasweep_trial(tally, name, config, data, mode, n_hidden,
                                 seed)
        if c_curves is None:
            continue
        py_curves = reference_trial(images, labels, mode, n_hidden, seed)
        print(f"{name}: largest differences: "
              f"{largest_differences(c_curves, py_curves)}")
        compare(tally, name, c_curves, py_curves)
    tally.finish()


if __name__ == "__main__":
    sys.exit(main(sys.argv))
