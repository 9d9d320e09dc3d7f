#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs every Python snippet of docs/FORMAT.md and README.md on a real
results file, as a user who copies it would: docs/FORMAT.md's snippets on
results.h5 from configs/tiny.ini with two early checkpoints in a scratch
directory, README.md's on results/demo.h5 there, the same file (its hidden
size 8 replaces the demo's 20). A snippet that raises, or prints nothing,
fails.

Usage: test_doc_snippets.py SCRATCH_DIR
"""
import os
import re
import shutil
import subprocess
import sys

from fwtest import (FASWEEP, SOURCE_DIR, Tally, fresh_dir, run, tiny_variant,
                    tiny_mnist)

FENCE = re.compile(r"^```python\n(.*?)^```", re.S | re.M)

# README.md names the demo's hidden size 20, which tiny.ini lacks.
README_SUBSTITUTIONS = [("hidden=20", "hidden=8")]


def snippets(doc):
    """The Python code blocks of a Markdown file, in order."""
    with open(os.path.join(SOURCE_DIR, doc)) as f:
        return FENCE.findall(f.read())


def run_snippet(tally, name, code, cwd):
    proc = subprocess.run([sys.executable, "-c", code], cwd=cwd,
                          capture_output=True, text=True, timeout=300,
                          env=dict(os.environ, MPLBACKEND="Agg"))
    tally.check(f"{name} runs", proc.returncode == 0,
                proc.stderr[-800:])
    tally.check(f"{name} prints something", proc.stdout.strip() != "",
                proc.stdout[-200:])


def main():
    work = fresh_dir(sys.argv[1])
    data = tiny_mnist(work)
    tally = Tally()

    results = os.path.join(work, "results.h5")
    config = tiny_variant(work, "tiny_early.ini", early_checkpoints=2)
    proc = run([FASWEEP, "run", config, "--data", data, "-o", results,
                "--quiet"])
    if not tally.check("tiny sweep exits 0", proc.returncode == 0,
                       proc.stderr[-800:]):
        tally.finish()
    os.makedirs(os.path.join(work, "results"))
    shutil.copy(results, os.path.join(work, "results", "demo.h5"))

    blocks = snippets("docs/FORMAT.md")
    tally.check("docs/FORMAT.md has at least 3 Python snippets",
                len(blocks) >= 3, len(blocks))
    for i, code in enumerate(blocks):
        run_snippet(tally, f"FORMAT.md snippet {i + 1}", code, work)

    blocks = snippets("README.md")
    tally.check("README.md has a Python snippet", len(blocks) >= 1,
                len(blocks))
    for i, code in enumerate(blocks):
        for old, new in README_SUBSTITUTIONS:
            code = code.replace(old, new)
        run_snippet(tally, f"README.md snippet {i + 1}", code, work)
    tally.finish()


if __name__ == "__main__":
    main()
