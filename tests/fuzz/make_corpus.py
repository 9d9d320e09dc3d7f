#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Write the seed corpus of the fuzz targets: tests/fuzz/corpus/grid/ gets
configs/*.ini and small INI edge cases, tests/fuzz/corpus/idx/ small valid
and broken IDX files, raw and gzip. The output is committed, and this script
rewrites it byte for byte. Files it does not write, such as the inputs that
tests/fuzz/run.sh --merge adds, are left alone; delete a renamed case's old
file by hand.

Usage: make_corpus.py [OUTPUT_DIR], by default tests/fuzz/corpus."""
import glob
import gzip
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))

MAGIC_IMAGES = 0x00000803
MAGIC_LABELS = 0x00000801
PIXELS = 28 * 28

MINIMAL = """[sweep]
modes = bp
hidden = 1
seeds = 0
"""

# Every key and every way to zip, one per file.
GRID_CASES = {
    "minimal.ini": MINIMAL,
    "all_keys.ini": """[data]
dir = data/mnist
split = standard
n_train = 100
n_test = 50
n_probe = 10

[network]
learning_rate = 1e-3
batch_size = 100
epochs = 2

[feedback]
fa_scale = constant

[sweep]
modes = onehot, fa
hidden = 5
seeds = 7

[stats]
baseline = fa
""",
    "zip_mode.ini": """[network]
learning_rate = 0.1, 0.2, 0.3
batch_size = 10, 20, 30
epochs = 1, 2, 3

[sweep]
modes = bp, fa, onehot
hidden = 4
seeds = 1, 2
zip = mode, learning_rate, batch_size, epochs
""",
    "zip_seed.ini": """[data]
n_train = 300, 400
n_test = 30, 40
n_probe = 3, 4

[sweep]
modes = bp, fa
hidden = 8
seeds = 5-6
zip = seed, n_train, n_test, n_probe
""",
    "ranges.ini": """[sweep]
modes = bp
hidden = 1-3, 10, 20 - 22
seeds = 0-9, 100, 9223372036854775806-9223372036854775807
""",
    "comments_crlf_bom.ini": "\ufeff; a comment\r\n# another\r\n"
    "[sweep] ; inline after a header\r\n"
    "modes = bp, fa ; inline after a value\r\n"
    "hidden = 2 ; inline\r\n"
    "seeds : 1\r\n",
    "continuation.ini": """[sweep]
modes = bp
  fa
hidden = 3
seeds = 1
""",
    "long_line.ini": "[sweep]\nmodes = bp\nhidden = 1\nseeds = "
    + ", ".join(str(i) for i in range(0, 120, 2)) + "\n",
    "long_comment.ini": MINIMAL + "; " + "x" * 250 + "\n",
    "max_line.ini": "[sweep]\nmodes = bp\nhidden = 1\nseeds = "
    + "1" * 10 + " " * (199 - len("seeds = ") - 10) + "\n",
    "errors_duplicate.ini": MINIMAL + "modes = fa\n",
    "max_trials.ini": """[sweep]
modes = bp, fa
hidden = 1-10
seeds = 1-5
max_trials = 100
""",
    "errors_max_trials.ini": """[sweep]
modes = bp, fa, onehot
hidden = 1-1000
seeds = 1-1000
""",
    "errors_reversed.ini": "[sweep]\nmodes = bp\nhidden = 9-1\nseeds = 1\n",
    "errors_numbers.ini": """[network]
learning_rate = 3.5e38
batch_size = 0x10
epochs = 2.5
[sweep]
modes = bp
hidden = 100001
seeds = -1
""",
    "errors_sections.ini": "key = 1\n[nonsense]\nx = 1\n[sweep\n",
    "errors_zip.ini": """[data]
n_train = 10, 20
[sweep]
modes = bp, fa
hidden = 1
seeds = 1
zip = mode, n_train, n_train
""",
}


def idx(magic, count, body, dims=()):
    """An IDX file: big-endian magic, count, dimensions, then the body."""
    return struct.pack(f">II{len(dims)}I", magic, count, *dims) + body


def images(count, body=None, dims=(28, 28)):
    if body is None:
        body = bytes((i * 7 + j) % 256 for i in range(count)
                     for j in range(PIXELS))
    return idx(MAGIC_IMAGES, count, body, dims)


def labels(count, body=None):
    if body is None:
        body = bytes(i % 10 for i in range(count))
    return idx(MAGIC_LABELS, count, body)


def gz(data):
    """gzip with a fixed timestamp, so the output does not change."""
    return gzip.compress(data, compresslevel=9, mtime=0)


def idx_cases():
    valid_gz = gz(images(1))
    bad_crc = bytearray(gz(labels(20)))
    bad_crc[-8] ^= 0xff
    bad_block = bytearray(gz(labels(20)))
    bad_block[10] = 0xff  # first deflate byte: an invalid block type
    return {
        "labels_valid": labels(20),
        "labels_valid.gz": gz(labels(20)),
        "labels_bad_label": labels(5, bytes([0, 1, 10, 3, 4])),
        "labels_truncated": labels(20, bytes(12)),
        "labels_trailing": labels(3) + b"\0",
        "labels_zero_count": labels(0, b""),
        "labels_huge_count": labels(0xffffffff, bytes(4)),
        "labels_header_only": labels(1, b"")[:6],
        "images_valid": images(1),
        "images_valid.gz": valid_gz,
        "images_two.gz": gz(images(2)),
        "images_dims_28x27": images(1, bytes(28 * 27), dims=(28, 27)),
        "images_bad_magic": idx(0x00000802, 1, bytes(16), (4, 4)),
        "images_over_max_count": images(10000001, b""),
        "images_declares_many": images(1000000, bytes(100)),
        "images_gz_truncated": valid_gz[: len(valid_gz) // 2],
        "images_gz_trailing_garbage": valid_gz + b"garbage",
        "images_gz_two_members": gz(images(1)[:16]) + gz(images(1)[16:]),
        "labels_gz_bad_crc": bytes(bad_crc),
        "labels_gz_bad_block": bytes(bad_block),
        "empty": b"",
    }


def write_dir(path, files):
    os.makedirs(path, exist_ok=True)
    for name, data in sorted(files.items()):
        if isinstance(data, str):
            data = data.encode()
        with open(os.path.join(path, name), "wb") as f:
            f.write(data)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "corpus")
    grid = dict(GRID_CASES)
    for config in sorted(glob.glob(os.path.join(TOP, "configs", "*.ini"))):
        grid["configs_" + os.path.basename(config)] = open(config, "rb").read()
    write_dir(os.path.join(out, "grid"), grid)
    idx_files = idx_cases()
    write_dir(os.path.join(out, "idx"), idx_files)
    print(f"wrote {len(grid)} grid and {len(idx_files)} idx inputs "
          f"under {out}")


if __name__ == "__main__":
    main()
