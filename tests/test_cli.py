#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Checks the fasweep command line as a user meets it: help and version,
plan, trial as TSV, run refusing to overwrite, bad input with one-line
errors and non-zero exits, and report."""
import hashlib
import os
import subprocess
import sys

from fwtest import FASWEEP, TINY_INI, Tally, fresh_dir, mpirun, run, tiny_mnist


def digest(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def check_help(tally):
    proc = run([FASWEEP, "--help"])
    tally.check("--help exits 0", proc.returncode == 0, proc.returncode)
    for word in ("run CONFIG", "plan CONFIG", "trial --config", "report FILE"):
        tally.check(f"--help lists {word}", word in proc.stdout)

    proc = run([FASWEEP, "--version"])
    tally.check("--version", proc.stdout.startswith("fasweep 0."), proc.stdout)

    proc = run([FASWEEP, "run", "--help"])
    tally.check("--help after a command exits 0", proc.returncode == 0,
                proc.stderr)


def check_usage_errors(tally):
    proc = run([FASWEEP])
    tally.check("no command exits 2", proc.returncode == 2, proc.returncode)

    proc = run([FASWEEP, "frobnicate"])
    tally.check("unknown command exits 2", proc.returncode == 2)
    tally.check("unknown command named", "frobnicate" in proc.stderr,
                proc.stderr)

    proc = run([FASWEEP, "plan", TINY_INI, "--seed", "3"])
    tally.check("option of another command exits 2", proc.returncode == 2,
                proc.returncode)
    tally.check("option of another command named", "--seed" in proc.stderr,
                proc.stderr)

    proc = run([FASWEEP, "plan", TINY_INI, "--force"])
    tally.check("--force outside run exits 2", proc.returncode == 2,
                proc.returncode)

    proc = run([FASWEEP, "trial", "--config", TINY_INI, "--mode", "fa",
                "--hidden", "8", "--seed", "99999999999999999999"])
    tally.check("overflowing --seed exits 2", proc.returncode == 2,
                proc.returncode)

    with open("/dev/full", "w") as full:
        proc = subprocess.run([FASWEEP, "plan", TINY_INI], stdout=full,
                              stderr=subprocess.PIPE, text=True)
    tally.check("plan to a full disk exits 1", proc.returncode == 1,
                proc.stderr)


def check_plan(tally):
    proc = run([FASWEEP, "plan", TINY_INI])
    tally.check("plan exits 0", proc.returncode == 0, proc.stderr)
    tally.check("plan counts 18 trials", "trials:  18" in proc.stdout,
                proc.stdout)
    tally.check("plan shows zipped learning rate", " 0.02 " in proc.stdout,
                proc.stdout)


def trial(data, mode):
    return run([FASWEEP, "trial", "--config", TINY_INI, "--mode", mode,
                "--hidden", "8", "--seed", "2", "--data", data])


def check_trial(tally, data):
    rows = {}
    for mode in ("bp", "fa", "onehot"):
        proc = trial(data, mode)
        tally.check(f"trial {mode} exits 0", proc.returncode == 0,
                    proc.stderr)
        lines = proc.stdout.strip().split("\n")
        tally.check(f"trial {mode} TSV header",
                    lines[0].split("\t")[:3]
                    == ["epoch", "train_loss", "test_loss"], lines[0])
        tally.check(f"trial {mode} has epochs 0-3", len(lines) == 5, lines)
        rows[mode] = [line.split("\t") for line in lines[1:]]
        tally.check(f"trial {mode} status on stderr",
                    "status=done" in proc.stderr, proc.stderr)
    # Same (H, seed): the state before training is the same in every mode.
    tally.check("trial epoch 0 paired", rows["bp"][0][1:4]
                == rows["fa"][0][1:4] == rows["onehot"][0][1:4], rows)
    proc = run([FASWEEP, "trial", "--config", TINY_INI, "--mode", "fa",
                "--hidden", "9", "--seed", "1", "--data", data])
    tally.check("trial with an H outside a zipped axis exits 2",
                proc.returncode == 2, proc.returncode)
    tally.check("trial error names the setting and the sizes",
                "learning_rate" in proc.stderr and "one of: 8, 16" in
                proc.stderr, proc.stderr)


def check_overwrite(tally, work, data):
    path = os.path.join(work, "existing.h5")
    with open(path, "wb") as f:
        f.write(b"results a user wants to keep\n")
    before = digest(path)
    proc = mpirun(1, ["run", TINY_INI, "-o", path, "--data", data])
    tally.check("run refuses an existing file", proc.returncode == 1,
                proc.returncode)
    tally.check("refusal says --force", "--force" in proc.stderr,
                proc.stderr)
    tally.check("existing file untouched", digest(path) == before)
    proc = mpirun(1, ["run", TINY_INI, "-o", path, "--data", data, "--force",
                      "--quiet"])
    tally.check("run --force replaces it", proc.returncode == 0, proc.stderr)
    with open(path, "rb") as f:
        tally.check("replaced file is HDF5", f.read(8) == b"\x89HDF\r\n\x1a\n")
    return path


def check_bad_input(tally, work, data):
    bad = os.path.join(work, "bad.ini")
    with open(TINY_INI) as f:
        text = f.read()
    with open(bad, "w") as f:
        f.write(text.replace("epochs = 3", "epochs = 3\nlearnig_rate = 1"))
    out = os.path.join(work, "bad.h5")
    proc = mpirun(1, ["run", bad, "-o", out, "--data", data])
    tally.check("unknown key exits 1", proc.returncode == 1, proc.returncode)
    tally.check("unknown key names file, line and key",
                "bad.ini:17:" in proc.stderr and "learnig_rate" in proc.stderr,
                proc.stderr)
    tally.check("no file after a bad config", not os.path.exists(out))

    proc = mpirun(1, ["run", os.path.join(work, "none.ini"), "-o", out])
    tally.check("missing config exits 1", proc.returncode == 1)
    tally.check("missing config named", "none.ini" in proc.stderr, proc.stderr)

    empty = fresh_dir(os.path.join(work, "empty"))
    proc = mpirun(1, ["run", TINY_INI, "-o", out, "--data", empty])
    tally.check("missing MNIST exits 1", proc.returncode == 1)
    tally.check("missing MNIST names the file",
                "train-images-idx3-ubyte" in proc.stderr, proc.stderr)
    tally.check("no file without data", not os.path.exists(out))

    proc = run([FASWEEP, "report", bad])
    tally.check("report on a non-HDF5 file exits 1", proc.returncode == 1)
    tally.check("report names the file", "bad.ini" in proc.stderr,
                proc.stderr)


def check_report(tally, path):
    proc = run([FASWEEP, "report", path])
    tally.check("report exits 0", proc.returncode == 0, proc.stderr)
    tally.check("report counts trials", "18 done" in proc.stdout, proc.stdout)
    table = proc.stdout.split("t-tests")[-1]
    for hidden in ("8", "16"):
        for mode in ("fa", "onehot"):
            tally.check(f"report row {mode} H={hidden}", any(
                line.split()[:2] == [hidden, mode]
                for line in table.split("\n")), table)


def main():
    work = fresh_dir(sys.argv[1])
    data = tiny_mnist(work)
    tally = Tally()
    check_help(tally)
    check_usage_errors(tally)
    check_plan(tally)
    check_trial(tally, data)
    path = check_overwrite(tally, work, data)
    check_bad_input(tally, work, data)
    check_report(tally, path)
    tally.finish()


if __name__ == "__main__":
    main()
