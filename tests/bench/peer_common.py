# SPDX-License-Identifier: GPL-3.0-or-later
"""Shared parts of the Python sides of the trainer benchmark.

peer_torch.py and peer_numpy.py import this module for the trial sizes,
the images (MNIST or synthetic), the FLOP count, the command line and the
tab-separated row, so that both sides take the same options and write the
columns of bench_trainer. The module imports NumPy, so a side that pins
OpenBLAS through the environment sets it before importing this module.
"""

import argparse
import gzip
import math
import os
import statistics
import sys
import time

import numpy as np

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


def read_idx(prog, directory, name, header_bytes):
    """Return the bytes after the header of an IDX file, raw or .gz."""
    path = os.path.join(directory, name)
    if os.path.exists(path):
        with open(path, "rb") as f:
            data = f.read()
    elif os.path.exists(path + ".gz"):
        with gzip.open(path + ".gz", "rb") as f:
            data = f.read()
    else:
        sys.exit(f"{prog}: {path} not found (nor {path}.gz); "
                 "fetch MNIST with jobs/fetch_mnist.sh")
    return np.frombuffer(data, dtype=np.uint8, offset=header_bytes)


def load_mnist(prog, directory):
    """Return all 70,000 images (n x 784 uint8) and labels, train first."""
    images, labels = [], []
    for i in range(0, 4, 2):
        images.append(read_idx(prog, directory, MNIST_FILES[i],
                               16).reshape(-1, 784))
        labels.append(read_idx(prog, directory, MNIST_FILES[i + 1], 8))
    return np.concatenate(images), np.concatenate(labels)


def synthetic_images(seed):
    """Return 70,000 random images and labels: speed does not depend on
    pixel values, because every product is a dense matmul."""
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(70000, 784), dtype=np.uint8)
    return images, rng.integers(0, 10, size=70000, dtype=np.uint8)


def load_images(prog, args):
    """Return the images and labels that args.data selects."""
    if args.data:
        return load_mnist(prog, args.data)
    return synthetic_images(args.seed)


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


def time_epochs(prog, trial, epochs):
    """Time epochs training epochs of trial, each followed by the
    evaluation, after one untimed evaluation. Return a dict of the median
    times, the test accuracy after the last epoch and the FLOP counts."""
    trial.evaluate(0)
    times = {"train_s": [], "train_cpu_s": [], "eval_s": [],
             "eval_cpu_s": []}
    accuracy = float("nan")
    for epoch in range(1, epochs + 1):
        w0, c0 = time.perf_counter(), time.process_time()
        loss = trial.train_epoch(epoch)
        w1, c1 = time.perf_counter(), time.process_time()
        if not math.isfinite(loss):
            sys.exit(f"{prog}: H = {trial.hidden}: the loss became {loss} "
                     f"in epoch {epoch}; lower --learning-rate")
        _, accuracy, _, _ = trial.evaluate(epoch)
        w2, c2 = time.perf_counter(), time.process_time()
        times["train_s"].append(w1 - w0)
        times["train_cpu_s"].append(c1 - c0)
        times["eval_s"].append(w2 - w1)
        times["eval_cpu_s"].append(c2 - c1)
    row = {k: statistics.median(v) for k, v in times.items()}
    row.update(H=trial.hidden, lr=trial.lr, accuracy=accuracy,
               train_flop=train_flop(trial.hidden, N_TRAIN),
               eval_flop=eval_flop(trial.hidden))
    return row


def parse_args(description, check_help):
    """Parse the command line that every Python side takes."""
    p = argparse.ArgumentParser(description=description)
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
    p.add_argument("--check", action="store_true", help=check_help)
    args = p.parse_args()
    try:
        args.hidden = [int(h) for h in args.hidden.split(",")]
    except ValueError:
        p.error(f"invalid --hidden '{args.hidden}'; give positive integers "
                "such as 20,100")
    if min(args.hidden) < 1 or args.epochs < 1:
        p.error("--hidden sizes and --epochs must be at least 1")
    return args


def print_header(title, args):
    """Print the title lines and the column names of the result table."""
    print(title)
    print(f"seconds are medians of {args.epochs} timed epochs, wall-clock "
          "and process CPU time\n")
    print(f"{'H':>6} {'lr':>7} {'train wall s':>13} {'train CPU s':>12} "
          f"{'GFLOP/s':>8} {'eval CPU s':>11} {'accuracy':>9}")


def print_row(r):
    """Print one row of the result table."""
    print(f"{r['H']:>6} {r['lr']:>7.3g} {r['train_s']:>13.4f} "
          f"{r['train_cpu_s']:>12.4f} "
          f"{r['train_flop'] / r['train_cpu_s'] / 1e9:>8.1f} "
          f"{r['eval_cpu_s']:>11.4f} {r['accuracy']:>9.4f}", flush=True)


def write_tsv(path, impl, args, rows):
    """Append one row per hidden size to path, header first if empty. The
    peak columns are NaN: run.sh measures the peak with bench_trainer."""
    with open(path, "a") as f:
        if f.tell() == 0:
            f.write(TSV_HEADER)
        for r in rows:
            rate = r["train_flop"] / r["train_cpu_s"] / 1e9
            f.write(f"{impl}\t{args.mode}\t{r['H']}\t"
                    f"{'mnist' if args.data else 'synthetic'}\t{N_TRAIN}\t"
                    f"{BATCH_SIZE}\t{r['train_s']:.6f}\t"
                    f"{r['train_cpu_s']:.6f}\t{r['eval_s']:.6f}\t"
                    f"{r['eval_cpu_s']:.6f}\t{r['train_flop']:.6g}\t"
                    f"{r['eval_flop']:.6g}\t{rate:.3f}\tnan\tnan\tnan\t"
                    f"{r['accuracy']:.4f}\n")
