#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Time fasweep's training epoch, and the evaluation after it, in PyTorch.

The network, shapes, summed minibatch gradients, feedback rules and
minibatch order logic are those of bench_trainer (src/net.c and
src/trainer.c), written the way a researcher would write them: float32
tensors, matmuls, the gradients by hand, one thread. The random draws differ
from fasweep's Philox streams, which does not change the work. The
side-by-side rounds and the medians are left to run.sh.

Needs Debian's python3-torch (tests/bench/install_peer.sh installs it).
"""

import argparse
import gzip
import math
import os
import statistics
import sys
import time

import numpy as np
import torch

N_TRAIN = 50000
N_TEST = 20000
N_PROBE = 1000
BATCH_SIZE = 200
EVAL_ROWS = 1000  # rows per forward pass in the evaluation, as in fasweep
N_INPUTS = 785  # 784 pixels / 255 and a constant 1
N_OUTPUTS = 10

MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte",
               "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")

TSV_HEADER = ("impl\tmode\tH\tdata\tn_train\tbatch_size\ttrain_s\t"
              "train_cpu_s\teval_s\teval_cpu_s\ttrain_flop\teval_flop\t"
              "train_cpu_gflops\tfma_peak_gflops\tsgemm_peak_gflops\t"
              "train_pct_fma_peak\ttest_accuracy\n")


def read_idx(directory, name, header_bytes):
    """Return the bytes after the header of an IDX file, raw or .gz."""
    path = os.path.join(directory, name)
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    elif os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            data = f.read()
    else:
        sys.exit(f"peer_torch: {path} not found (nor {path}.gz); "
                 "fetch MNIST with jobs/fetch_mnist.sh")
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes)


def load_mnist(directory):
    """Return all 70,000 images (n x 784 uint8) and labels, train first."""
    images, labels = [], []
    for i in range(0, 4, 2):
        images.append(read_idx(directory, MNIST_FILES[i], 16).reshape(-1, 784))
        labels.append(read_idx(directory, MNIST_FILES[i + 1], 8))
    return np.concatenate(images), np.concatenate(labels)


def synthetic_images(seed):
    """Return 70,000 random images and labels: speed does not depend on
    pixel values, because every product is a dense matmul."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(70000, 784), dtype=np.uint8)
    return images, rng.integers(0, 10, size=70000, dtype=np.uint8)


def default_learning_rate(hidden):
    """Return bench_trainer's default: 0.07 for H <= 20, else 1/H."""
    return 0.07 if hidden <= 20 else 1.0 / hidden


def train_flop(hidden, n_train):
    """FLOP of one epoch: forward (x W1, h W2) and backward (d_out B^T,
    h^T d_out, x^T d_hid) per image, 2 per multiply-add."""
    per_image = 2 * (N_INPUTS * hidden + (hidden + 1) * N_OUTPUTS
                     + N_OUTPUTS * hidden + (hidden + 1) * N_OUTPUTS
                     + N_INPUTS * hidden)
    return per_image * n_train


def eval_flop(hidden):
    """FLOP of the evaluation: forward passes of test and probe images and
    two d_out B^T products per probe image."""
    forward = 2 * (N_INPUTS * hidden + (hidden + 1) * N_OUTPUTS)
    return forward * (N_TEST + N_PROBE) + 4 * N_OUTPUTS * hidden * N_PROBE


class Trial:
    """One network of fasweep's trainer with its data split."""

    def __init__(self, x_all, t_all, labels, mode, hidden, lr, seed):
        self.gen = torch.Generator().manual_seed(seed * 100003 + hidden)
        self.x_all, self.t_all, self.labels = x_all, t_all, labels
        self.mode, self.hidden, self.lr = mode, hidden, lr

        # The pooled split: disjoint training and test images.
        perm = torch.randperm(x_all.shape[0], generator=self.gen)
        self.train_idx = perm[:N_TRAIN]
        self.test_idx = perm[N_TRAIN:N_TRAIN + N_TEST]
        self.probe_idx = self.train_idx[:N_PROBE]

        self.w1 = torch.randn(N_INPUTS, hidden, generator=self.gen)
        self.w1 /= math.sqrt(N_INPUTS)
        self.w2 = torch.randn(hidden + 1, N_OUTPUTS, generator=self.gen)
        self.w2 /= math.sqrt(hidden + 1)
        if mode == "bp":
            self.feedback = self.w2[:hidden]  # a view: follows W2
        elif mode == "fa":
            self.feedback = torch.randn(hidden, N_OUTPUTS,
                                        generator=self.gen)
            self.feedback /= math.sqrt(hidden + 1)
        else:
            self.feedback = torch.zeros(hidden, N_OUTPUTS)
            rows = torch.arange(hidden)
            self.feedback[rows, rows % N_OUTPUTS] = 1.0
        self.ones = torch.ones(max(BATCH_SIZE, EVAL_ROWS), 1)

    def scale(self, epoch):
        """Return fa's feedback scale ln(epoch + e), epoch from 0."""
        return math.log(epoch + math.e) if self.mode == "fa" else 1.0

    def forward(self, x):
        """Return the hidden layer with its bias column, and the output."""
        h = torch.sigmoid(x @ self.w1)
        h1 = torch.cat([h, self.ones[:x.shape[0]]], dim=1)
        return h1, torch.sigmoid(h1 @ self.w2)

    def hidden_delta(self, d_out, h1, feedback, scale):
        """Return scale * (d_out B^T) * h * (1 - h)."""
        h = h1[:, :self.hidden]
        return scale * (d_out @ feedback.T) * h * (1 - h)

    def train_epoch(self, epoch):
        """Train one epoch (from 1) and return the mean minibatch loss, or
        the first loss that is not finite."""
        scale = self.scale(epoch - 1)
        order = self.train_idx[torch.randperm(N_TRAIN, generator=self.gen)]
        total, n_batches = 0.0, 0
        for start in range(0, N_TRAIN, BATCH_SIZE):
            idx = order[start:start + BATCH_SIZE]
            x, t = self.x_all[idx], self.t_all[idx]
            h1, y = self.forward(x)
            err = y - t
            loss = 0.5 * (err * err).sum().item() / x.shape[0]
            if not math.isfinite(loss):
                return loss
            d_out = err * y * (1 - y)
            d_hid = self.hidden_delta(d_out, h1, self.feedback, scale)
            self.w2 -= self.lr * (h1.T @ d_out)
            self.w1 -= self.lr * (x.T @ d_hid)
            total += loss
            n_batches += 1
        return total / n_batches

    def evaluate(self, epoch):
        """Return test loss, test accuracy, the correlation of W2[0:H] with
        B and the angle between the mode's and backprop's hidden deltas."""
        loss, correct = 0.0, 0
        for start in range(0, N_TEST, EVAL_ROWS):
            idx = self.test_idx[start:start + EVAL_ROWS]
            _, y = self.forward(self.x_all[idx])
            err = y - self.t_all[idx]
            loss += 0.5 * (err * err).sum().item()
            correct += (y.argmax(dim=1) == self.labels[idx]).sum().item()

        w2_rows = self.w2[:self.hidden].flatten()
        corr = torch.corrcoef(torch.stack([w2_rows,
                                           self.feedback.flatten()]))[0, 1]

        x = self.x_all[self.probe_idx]
        h1, y = self.forward(x)
        d_out = (y - self.t_all[self.probe_idx]) * y * (1 - y)
        d_bp = self.hidden_delta(d_out, h1, self.w2[:self.hidden], 1.0)
        d_used = self.hidden_delta(d_out, h1, self.feedback,
                                   self.scale(epoch))
        cos = (d_used * d_bp).sum() / torch.sqrt(
            (d_used * d_used).sum() * (d_bp * d_bp).sum())
        angle = math.degrees(math.acos(max(-1.0, min(1.0, cos.item()))))
        return loss / N_TEST, correct / N_TEST, corr.item(), angle


def check_gradients(x_all, t_all, labels):
    """Compare the hand-written summed gradients of one bp minibatch with
    autograd's, and return the number of mismatches."""
    trial = Trial(x_all, t_all, labels, "bp", 20, 0.07, 1)
    idx = trial.train_idx[:BATCH_SIZE]
    x, t = x_all[idx], t_all[idx]

    h1, y = trial.forward(x)
    d_out = (y - t) * y * (1 - y)
    d_hid = trial.hidden_delta(d_out, h1, trial.feedback, 1.0)
    hand = {"W1": x.T @ d_hid, "W2": h1.T @ d_out}

    w1 = trial.w1.clone().requires_grad_(True)
    w2 = trial.w2.clone().requires_grad_(True)
    h = torch.sigmoid(x @ w1)
    y = torch.sigmoid(torch.cat([h, torch.ones(x.shape[0], 1)], 1) @ w2)
    (0.5 * ((y - t) ** 2).sum()).backward()
    auto = {"W1": w1.grad, "W2": w2.grad}

    failed = 0
    for name in ("W1", "W2"):
        diff = (hand[name] - auto[name]).abs().max().item()
        size = auto[name].abs().max().item()
        ok = diff <= 1e-5 * size
        failed += not ok
        print(f"check: summed gradient of {name}: max |hand - autograd| = "
              f"{diff:.3g}, max |autograd| = {size:.3g}: "
              f"{'ok' if ok else 'MISMATCH'}")
    return failed


def bench_hidden(x_all, t_all, labels, args, hidden):
    """Time args.epochs epochs after one untimed evaluation, and return a
    dict of the median times and the last test accuracy."""
    lr = args.learning_rate or default_learning_rate(hidden)
    trial = Trial(x_all, t_all, labels, args.mode, hidden, lr, args.seed)
    trial.evaluate(0)
    times = {"train_s": [], "train_cpu_s": [], "eval_s": [],
             "eval_cpu_s": []}
    accuracy = float("nan")
    for epoch in range(1, args.epochs + 1):
        w0, c0 = time.perf_counter(), time.process_time()
        loss = trial.train_epoch(epoch)
        w1, c1 = time.perf_counter(), time.process_time()
        if not math.isfinite(loss):
            sys.exit(f"peer_torch: H = {hidden}: the loss became {loss} in "
                     f"epoch {epoch}; lower --learning-rate")
        _, accuracy, _, _ = trial.evaluate(epoch)
        w2, c2 = time.perf_counter(), time.process_time()
        times["train_s"].append(w1 - w0)
        times["train_cpu_s"].append(c1 - c0)
        times["eval_s"].append(w2 - w1)
        times["eval_cpu_s"].append(c2 - c1)
    row = {k: statistics.median(v) for k, v in times.items()}
    row.update(H=hidden, lr=lr, accuracy=accuracy,
               train_flop=train_flop(hidden, N_TRAIN),
               eval_flop=eval_flop(hidden))
    return row


def write_tsv(path, args, rows):
    """Append one row per hidden size to path, header first if empty."""
    with open(path, "a") as f:
        if f.tell() == 0:
            f.write(TSV_HEADER)
        for r in rows:
            rate = r["train_flop"] / r["train_cpu_s"] / 1e9
            f.write(f"torch\t{args.mode}\t{r['H']}\t"
                    f"{'mnist' if args.data else 'synthetic'}\t{N_TRAIN}\t"
                    f"{BATCH_SIZE}\t{r['train_s']:.6f}\t"
                    f"{r['train_cpu_s']:.6f}\t{r['eval_s']:.6f}\t"
                    f"{r['eval_cpu_s']:.6f}\t{r['train_flop']:.6g}\t"
                    f"{r['eval_flop']:.6g}\t{rate:.3f}\tnan\tnan\tnan\t"
                    f"{r['accuracy']:.4f}\n")


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--data", metavar="DIR",
                   help="MNIST's four IDX files (default: synthetic images)")
    p.add_argument("--hidden", default="20,100,500,1000",
                   help="hidden sizes, comma-separated "
                   "(default 20,100,500,1000)")
    p.add_argument("--mode", choices=("bp", "fa", "onehot"), default="bp",
                   help="feedback rule (default bp)")
    p.add_argument("--epochs", type=int, default=3,
                   help="timed epochs per size; the median is reported "
                   "(default 3)")
    p.add_argument("--learning-rate", type=float, default=0.0,
                   help="default 0.07 for H <= 20, else 1/H")
    p.add_argument("--seed", type=int, default=1,
                   help="seed of weights, split and order (default 1)")
    p.add_argument("--tsv", metavar="FILE",
                   help="append one tab-separated row per size to FILE")
    p.add_argument("--check", action="store_true",
                   help="compare the hand-written gradients with autograd "
                   "on one minibatch, then exit")
    args = p.parse_args()
    try:
        args.hidden = [int(h) for h in args.hidden.split(",")]
    except ValueError:
        p.error(f"invalid --hidden '{args.hidden}'; give positive integers "
                "such as 20,100")
    if min(args.hidden) < 1 or args.epochs < 1:
        p.error("--hidden sizes and --epochs must be at least 1")
    return args


def main():
    args = parse_args()
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    # Data preparation, outside the timed epochs as a researcher would do
    # it: float32 inputs with the bias column and one-hot targets.
    images, labels = (load_mnist(args.data) if args.data
                      else synthetic_images(args.seed))
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0)
    x_all = torch.cat([x_all, torch.ones(x_all.shape[0], 1)], dim=1)
    labels = torch.from_numpy(labels.astype(np.int64))
    t_all = torch.nn.functional.one_hot(labels, N_OUTPUTS).float()

    if args.check:
        sys.exit(1 if check_gradients(x_all, t_all, labels) else 0)

    print(f"PyTorch {torch.__version__} trainer benchmark: mode {args.mode}, "
          f"{args.data or 'synthetic images'}, {torch.get_num_threads()} "
          "thread")
    print(f"seconds are medians of {args.epochs} timed epochs, wall-clock "
          "and process CPU time\n")
    print(f"{'H':>6} {'lr':>7} {'train wall s':>13} {'train CPU s':>12} "
          f"{'GFLOP/s':>8} {'eval CPU s':>11} {'accuracy':>9}")
    rows = []
    for hidden in args.hidden:
        r = bench_hidden(x_all, t_all, labels, args, hidden)
        rows.append(r)
        print(f"{hidden:>6} {r['lr']:>7.3g} {r['train_s']:>13.4f} "
              f"{r['train_cpu_s']:>12.4f} "
              f"{r['train_flop'] / r['train_cpu_s'] / 1e9:>8.1f} "
              f"{r['eval_cpu_s']:>11.4f} {r['accuracy']:>9.4f}", flush=True)
    if args.tsv:
        write_tsv(args.tsv, args, rows)


if __name__ == "__main__":
    main()
