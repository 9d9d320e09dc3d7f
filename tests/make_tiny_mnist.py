#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write a small synthetic MNIST look-alike as the four IDX files.

Each class has a fixed prototype of a few smooth strokes, and each image is
its class prototype with a random shift of up to 1 pixel, a random
brightness and Gaussian pixel noise. With the default sizes, a 784-64-10
sigmoid network trained by SGD (squared error, learning rate 0.5, batch 20)
reached about 90% test accuracy after 3 epochs, and about 60% with fixed
random feedback instead of backpropagation. The labels are balanced, so each
class gets n // 10 or n // 10 + 1 images per file. The seeds are fixed, so
the same arguments and numpy version write byte-identical files, and the
t10k images do not depend on --train. Reading and checking the files is left
to fasweep.

Usage: make_tiny_mnist.py DIR [--train N] [--test N] [--gzip]
"""

import argparse
import gzip
import os
import struct
import sys

import numpy as np

SIDE = 28  # pixels per row and column
N_CLASSES = 10
SEED = 20240611  # fixed; changing it changes every file
MAX_SHIFT = 1  # pixels, in each direction
STROKE_SD = 1.6  # pixels, sd of a stroke's Gaussian cross-section
NOISE_SD = 30.0  # pixel noise, in 0-255 units
MAX_COUNT = 10_000_000  # the largest count fasweep's IDX reader accepts

NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def draw_prototype(rng):
    """Return one 28 x 28 float prototype in 0-255: a random polyline of
    three strokes with corners inside the central 16 x 16 pixels."""
    corners = rng.uniform(6.0, 21.0, size=(4, 2))  # (row, col) pixels
    t = np.linspace(0.0, 1.0, 24)[:, None]
    points = np.concatenate(
        [a + t * (b - a) for a, b in zip(corners[:-1], corners[1:])])

    rows, cols = np.mgrid[0:SIDE, 0:SIDE]
    d2 = ((rows[None] - points[:, 0, None, None]) ** 2 +
          (cols[None] - points[:, 1, None, None]) ** 2)
    return 255.0 * np.exp(-d2 / (2.0 * STROKE_SD ** 2)).max(axis=0)


def draw_images(rng, prototypes, n):
    """Return n images (n x 28 x 28 uint8) and their balanced labels (n)."""
    labels = rng.permutation(np.arange(n) % N_CLASSES).astype(np.uint8)
    shifts = rng.integers(-MAX_SHIFT, MAX_SHIFT + 1, size=(n, 2))
    brightness = rng.uniform(0.6, 1.0, size=n)
    noise = rng.normal(0.0, NOISE_SD, size=(n, SIDE, SIDE))

    padded = np.pad(prototypes, ((0, 0), (MAX_SHIFT, MAX_SHIFT),
                                 (MAX_SHIFT, MAX_SHIFT)))
    images = np.empty((n, SIDE, SIDE))
    for i in range(n):
        r0 = MAX_SHIFT + shifts[i, 0]
        c0 = MAX_SHIFT + shifts[i, 1]
        images[i] = padded[labels[i], r0:r0 + SIDE, c0:c0 + SIDE]
    images = images * brightness[:, None, None] + noise
    return np.clip(np.rint(images), 0, 255).astype(np.uint8), labels


def idx_images(images):
    """Return the bytes of an IDX3 unsigned-byte image file."""
    header = struct.pack(">IIII", 0x00000803, len(images), SIDE, SIDE)
    return header + images.tobytes()


def idx_labels(labels):
    """Return the bytes of an IDX1 unsigned-byte label file."""
    return struct.pack(">II", 0x00000801, len(labels)) + labels.tobytes()


def write_file(directory, name, data, use_gzip):
    """Write data as directory/name, or as name.gz with use_gzip, and remove
    the other form so that a reader finds only the new file."""
    path = os.path.join(directory, name)
    other = path
    if use_gzip:
        path, data = path + ".gz", gzip.compress(data, mtime=0)
    else:
        other = path + ".gz"
    if os.path.exists(other):
        os.remove(other)
    with open(path, "wb") as f:
        f.write(data)


def count(text):
    """Parse an image count for argparse: an integer from 1 to MAX_COUNT."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer")
    if not 1 <= value <= MAX_COUNT:
        raise argparse.ArgumentTypeError(
            f"{value} is out of range, expected 1 to {MAX_COUNT}")
    return value


def parse_args(argv):
    parser = argparse.ArgumentParser(
        description="Write a synthetic, learnable MNIST look-alike as the "
        "four standard IDX files into DIR, replacing any raw or .gz file "
        "of the same name.")
    parser.add_argument("dir", metavar="DIR",
                        help="output directory, created if missing")
    parser.add_argument("--train", type=count, default=1200, metavar="N",
                        help="images in the train files (default 1200)")
    parser.add_argument("--test", type=count, default=400, metavar="N",
                        help="images in the t10k files (default 400)")
    parser.add_argument("--gzip", action="store_true",
                        help="write only gzip-compressed .gz files")
    return parser.parse_args(argv)


def main(argv):
    args = parse_args(argv)
    seeds = np.random.SeedSequence(SEED).spawn(3)
    proto_rng = np.random.default_rng(seeds[0])
    prototypes = np.stack([draw_prototype(proto_rng)
                           for _ in range(N_CLASSES)])
    train_images, train_labels = draw_images(
        np.random.default_rng(seeds[1]), prototypes, args.train)
    test_images, test_labels = draw_images(
        np.random.default_rng(seeds[2]), prototypes, args.test)

    files = {
        "train_images": idx_images(train_images),
        "train_labels": idx_labels(train_labels),
        "test_images": idx_images(test_images),
        "test_labels": idx_labels(test_labels),
    }
    try:
        os.makedirs(args.dir, exist_ok=True)
        for key, data in files.items():
            write_file(args.dir, NAMES[key], data, args.gzip)
    except OSError as e:
        print(f"{args.dir}: cannot write the MNIST files: {e}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
