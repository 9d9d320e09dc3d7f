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

import math
import sys

import numpy as np
import torch

import peer_common as pc
from peer_common import BATCH_SIZE, EVAL_ROWS, N_INPUTS, N_OUTPUTS, \
    N_PROBE, N_TEST, N_TRAIN

PROG = "peer_torch"


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


def main():
    args = pc.parse_args(__doc__.splitlines()[0],
                         "compare the hand-written gradients with autograd "
                         "on one minibatch, then exit")
    torch.set_num_threads(1)
    torch.set_num_interop_threads(1)

    # Data preparation, outside the timed epochs as a researcher would do
    # it: float32 inputs with the bias column and one-hot targets.
    images, labels = pc.load_images(PROG, args)
    x_all = torch.from_numpy(images.astype(np.float32) / 255.0)
    x_all = torch.cat([x_all, torch.ones(x_all.shape[0], 1)], dim=1)
    labels = torch.from_numpy(labels.astype(np.int64))
    t_all = torch.nn.functional.one_hot(labels, N_OUTPUTS).float()

    if args.check:
        sys.exit(1 if check_gradients(x_all, t_all, labels) else 0)

    pc.print_header(f"PyTorch {torch.__version__} trainer benchmark: mode "
                    f"{args.mode}, {args.data or 'synthetic images'}, "
                    f"{torch.get_num_threads()} thread", args)
    rows = []
    for hidden in args.hidden:
        lr = args.learning_rate or pc.default_learning_rate(hidden)
        trial = Trial(x_all, t_all, labels, args.mode, hidden, lr,
                      args.seed)
        rows.append(pc.time_epochs(PROG, trial, args.epochs))
        pc.print_row(rows[-1])
    if args.tsv:
        pc.write_tsv(args.tsv, "torch", args, rows)


if __name__ == "__main__":
    main()
