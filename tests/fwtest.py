# SPDX-License-Identifier: GPL-3.0-or-later
"""Helpers shared by the Python tests: paths from the environment that ctest
sets, the synthetic MNIST fixture, running fasweep, and a pass/fail tally."""
import os
import shutil
import subprocess
import sys

FASWEEP = os.environ.get("FASWEEP", "fasweep")
MPIEXEC = os.environ.get("MPIEXEC", "mpiexec")
SOURCE_DIR = os.environ.get(
    "SOURCE_DIR", os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
TINY_INI = os.path.join(SOURCE_DIR, "configs", "tiny.ini")


def fresh_dir(path):
    """Create an empty scratch directory at path and return it."""
    shutil.rmtree(path, ignore_errors=True)
    os.makedirs(path)
    return path


def tiny_mnist(work):
    """Write the synthetic MNIST look-alike under work and return its dir."""
    out = os.path.join(work, "mnist")
    subprocess.run([sys.executable,
                    os.path.join(SOURCE_DIR, "tests", "make_tiny_mnist.py"),
                    out], check=True)
    return out


ALL_MODES = "bp, fa, onehot, shallow, sparse, sign, frsf, kp"


def tiny_variant(work, name, modes=None, early_checkpoints=0):
    """Write configs/tiny.ini to work/name with other modes and early
    checkpoints, and return its path."""
    with open(TINY_INI) as f:
        text = f.read()
    if modes is not None:
        text = text.replace("modes = bp, fa, onehot", f"modes = {modes}")
    if early_checkpoints:
        text += f"\n[output]\nearly_checkpoints = {early_checkpoints}\n"
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def run(args, **kw):
    """Run a command, returning the CompletedProcess with text output."""
    return subprocess.run(args, capture_output=True, text=True, timeout=600,
                          **kw)


def mpirun(n_ranks, args):
    """Run fasweep args under mpiexec with n_ranks ranks."""
    return run([MPIEXEC, "--oversubscribe", "-n", str(n_ranks), FASWEEP]
               + args)


class Tally:
    """Counts checks; each failed check prints its name and details."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, name, ok, detail=""):
        if ok:
            self.passed += 1
        else:
            self.failed += 1
            print(f"FAILED: {name}: {detail}")
        return ok

    def finish(self):
        print(f"{self.passed} passed, {self.failed} failed")
        sys.exit(1 if self.failed else 0)
