#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs configs/tiny.ini with every mode and two early checkpoints on 1, 2
and 3 MPI ranks. Every curve array, the early checkpoints, the trial results
and the stats table must be bit-identical, because a trial's result must
not depend on which rank ran it or in what order."""
import os
import sys

import h5py
import numpy as np

from fwtest import (ALL_MODES, Tally, fresh_dir, mpirun, tiny_mnist,
                    tiny_variant)

CURVES = ["train_loss", "test_loss", "test_accuracy", "feedback_correlation",
          "alignment_angle", "feedback_cosine", "feedback_norm_ratio",
          "delta_norm_ratio", "alignment_angle_mean", "update_angle",
          "feedback_concordance", "saturation_fraction", "sigmoid_slope"]
CURVES += [f"early/{name}" for name in CURVES]


def sweep(work, data, config, n_ranks):
    path = os.path.join(work, f"ranks{n_ranks}.h5")
    proc = mpirun(n_ranks, ["run", config, "-o", path, "--data", data,
                            "--quiet"])
    if proc.returncode != 0:
        print(proc.stdout, proc.stderr)
    return path, proc.returncode


def main():
    work = fresh_dir(sys.argv[1])
    data = tiny_mnist(work)
    config = tiny_variant(work, "all_modes.ini", modes=ALL_MODES,
                          early_checkpoints=2)
    tally = Tally()

    ref_path, rc = sweep(work, data, config, 1)
    tally.check("1 rank exits 0", rc == 0, rc)
    for n_ranks in (2, 3):
        path, rc = sweep(work, data, config, n_ranks)
        tally.check(f"{n_ranks} ranks exit 0", rc == 0, rc)
        with h5py.File(ref_path, "r") as ref, h5py.File(path, "r") as got:
            for name in CURVES:
                if not tally.check(f"{name} exists", name in got):
                    continue
                a, b = ref[name][...], got[name][...]
                tally.check(f"{name} on {n_ranks} ranks bit-identical",
                            a.tobytes() == b.tobytes(),
                            f"max diff {np.nanmax(np.abs(a - b))}")
            tally.check(f"{name} has no NaN from a lost trial",
                        not np.isnan(got["test_accuracy"][...]).any())
            rt, gt = ref["tables/trials"][...], got["tables/trials"][...]
            for field in ("mode", "hidden", "seed", "status",
                          "final_test_accuracy"):
                tally.check(f"trials.{field} on {n_ranks} ranks",
                            rt[field].tobytes() == gt[field].tobytes())
            tally.check(f"ranks used on {n_ranks} ranks",
                        set(gt["rank"]) == set(range(1, n_ranks))
                        if n_ranks > 1 else set(gt["rank"]) == {0},
                        sorted(set(gt["rank"])))
            tally.check(f"stats on {n_ranks} ranks bit-identical",
                        ref["tables/stats"][...].tobytes()
                        == got["tables/stats"][...].tobytes())
            tally.check(f"mpi_ranks attribute on {n_ranks} ranks",
                        int(got.attrs["mpi_ranks"]) == n_ranks,
                        got.attrs["mpi_ranks"])
    tally.finish()


if __name__ == "__main__":
    main()
