#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs jobs/slurm_single.sbatch on a real one-node SLURM cluster on this
machine's loopback (tests/slurm/cluster.sh) and checks a chain of jobs:

1. Job A runs the sweep with srun and gets SIGUSR1 mid-run. It must exit
   with code 4, leave pending trials in the file and resubmit itself.
2. The resubmitted job B resumes the sweep and is stopped the same way. It
   must end the chain, because MAX_RESUBMITS=1 is reached.
3. Job C, submitted by the test with LAUNCHER=mpirun, finishes the sweep.

The file must then match an uninterrupted `fasweep run` of the same config
bit for bit: every curve, the trial results and the stats table. The
partition is set DOWN while job A stops, so that job B stays pending while
the file is checked. The test needs root and Debian's slurm-wlm and munge
(jobs/install_deps.sh installs them); without them it fails. The cluster is
stopped at the end, also on failure.

Usage: test_slurm.py SCRATCH_DIR
"""
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time

import h5py
import numpy as np

from fwtest import FASWEEP, SOURCE_DIR, TINY_INI, Tally, fresh_dir, run
from fwtest import tiny_mnist

CLUSTER_SH = os.path.join(SOURCE_DIR, "tests", "slurm", "cluster.sh")
SBATCH_SCRIPT = os.path.join(SOURCE_DIR, "jobs", "slurm_single.sbatch")
PARTITION = "debug"  # the one partition that cluster.sh configures
COMMANDS = ["munged", "mungekey", "slurmctld", "slurmd", "sbatch", "scancel",
            "scontrol", "squeue", "sinfo"]
CURVES = ["train_loss", "test_loss", "test_accuracy", "feedback_correlation",
          "alignment_angle"]
TRIAL_FIELDS = ["mode", "hidden", "seed", "status", "final_test_accuracy"]

# configs/tiny.ini with more seeds and epochs: 60 trials, which took 9 to
# 19 s under mpirun -n 3 on a 2-core machine whose cores a niced sweep and
# other tests also used.
SEEDS = "1-10"
EPOCHS = 150
N_TRIALS = 3 * 2 * 10

# A job is sent SIGUSR1 once its output shows this many finished trials.
TRIALS_BEFORE_STOP = 10
WAIT_SECONDS = 180  # for any one job to reach the next stage
END_STATES = {"COMPLETED", "FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL",
              "PREEMPTED", "BOOT_FAIL", "DEADLINE", "OUT_OF_MEMORY"}


def missing_requirements():
    """Return what this machine lacks to run the cluster, or None."""
    if os.geteuid() != 0:
        return "not root: slurmd and munged of the test cluster run as root"
    absent = [cmd for cmd in COMMANDS if shutil.which(cmd) is None]
    if absent:
        return (f"{', '.join(absent)} not found: run jobs/install_deps.sh "
                "as root (Debian packages slurm-wlm and munge)")
    return None


def free_port_pair(first=16817, last=17817):
    """Return a port p such that p and p + 1 on 127.0.0.1 are free."""
    for base in range(first, last, 2):
        try:
            for port in (base, base + 1):
                with socket.socket() as sock:
                    sock.bind(("127.0.0.1", port))
        except OSError:
            continue
        return base
    raise RuntimeError(f"no free pair of ports in {first}-{last}")


def write_config(work, data):
    """Write a copy of configs/tiny.ini with SEEDS, EPOCHS and the data
    directory, and return its path."""
    with open(TINY_INI, encoding="utf-8") as f:
        text = f.read()
    edits = [(r"(?m)^dir = .*$", f"dir = {data}"),
             (r"(?m)^epochs = .*$", f"epochs = {EPOCHS}"),
             (r"(?m)^seeds = .*$", f"seeds = {SEEDS}")]
    for pattern, line in edits:
        text, n = re.subn(pattern, line, text)
        assert n == 1, f"{pattern} matched {n} lines of {TINY_INI}"
    path = os.path.join(work, "sweep.ini")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def copy_script(work):
    """Copy the batch script with --ntasks set to this machine's cores, as a
    cluster user edits it, and return the copy's path."""
    with open(SBATCH_SCRIPT, encoding="utf-8") as f:
        text = f.read()
    cores = len(os.sched_getaffinity(0))
    text, n = re.subn(r"(?m)^#SBATCH --ntasks=\d+$",
                      f"#SBATCH --ntasks={cores}", text)
    assert n == 1, f"{SBATCH_SCRIPT}: {n} '#SBATCH --ntasks=' lines"
    path = os.path.join(work, "slurm_single.sbatch")
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


class Cluster:
    """The test cluster: cluster.sh start and stop, and the SLURM commands
    run against it."""

    def __init__(self, work):
        # A short directory of its own, because munged's socket path must
        # fit in 108 bytes (sun_path on Linux) and build trees can be deep.
        self.dir = tempfile.mkdtemp(prefix="fasweep-slurm-")
        self.work = work
        self.env = dict(os.environ, SLURM_CONF=f"{self.dir}/slurm.conf",
                        SLURM_PORT_BASE=str(free_port_pair()))

    def script(self, action):
        return run([CLUSTER_SH, action, self.dir], env=self.env)

    def command(self, args, extra_env=None):
        env = dict(self.env, **(extra_env or {}))
        return subprocess.run(args, capture_output=True, text=True,
                              timeout=60, env=env, cwd=self.work)

    def set_partition(self, state):
        proc = self.command(["scontrol", "update",
                             f"PartitionName={PARTITION}", f"State={state}"])
        if proc.returncode != 0:
            raise RuntimeError(f"scontrol failed to set partition "
                               f"{PARTITION} {state}: {proc.stderr.strip()}")

    def submit(self, script, args, extra_env):
        proc = self.command(["sbatch", "--parsable", script] + args,
                            extra_env)
        if proc.returncode != 0:
            raise RuntimeError(f"sbatch failed: {proc.stderr.strip()}")
        return int(proc.stdout.strip().split(";")[0])

    def job(self, job_id):
        """Return scontrol's fields of a job as a dict ({} if unknown)."""
        proc = self.command(["scontrol", "show", "job", "-o", str(job_id)])
        if proc.returncode != 0:
            return {}
        return dict(re.findall(r"(\w+)=(\S*)", proc.stdout))

    def queue(self):
        """Return the ids of the jobs squeue lists."""
        proc = self.command(["squeue", "--noheader", "--format=%i"])
        return [int(x) for x in proc.stdout.split()]

    def output(self, job_id):
        """Return the job's output file text (the script's
        --output=%x-%j.out, job name fasweep), or "" while it is absent."""
        path = os.path.join(self.work, f"fasweep-{job_id}.out")
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                return f.read()
        except FileNotFoundError:
            return ""

    def wait_trials(self, job_id, count):
        """Wait until the job has logged count finished trials."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            if self.output(job_id).count("trial done") >= count:
                return
            if self.job(job_id).get("JobState") in END_STATES:
                raise RuntimeError(
                    f"job {job_id} ended before {count} trials were done; "
                    f"its output:\n{self.output(job_id)}")
            time.sleep(0.2)
        raise RuntimeError(f"timed out after {WAIT_SECONDS} s waiting for "
                           f"job {job_id} to finish {count} trials; its "
                           f"output:\n{self.output(job_id)}")

    def wait_end(self, job_id):
        """Wait until the job has ended and return its scontrol fields."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            fields = self.job(job_id)
            if fields.get("JobState") in END_STATES:
                return fields
            time.sleep(0.2)
        raise RuntimeError(f"timed out after {WAIT_SECONDS} s waiting for "
                           f"job {job_id} to end; its output:\n"
                           f"{self.output(job_id)}")

    def stop_job(self, job_id):
        """Send SIGUSR1 to the batch shell of a job and wait for its end."""
        proc = self.command(["scancel", "--signal=USR1", "--batch",
                             str(job_id)])
        if proc.returncode != 0:
            raise RuntimeError(f"scancel --signal=USR1 failed for job "
                               f"{job_id}: {proc.stderr.strip()}")
        return self.wait_end(job_id)


def trial_statuses(path):
    """Return the trials' status strings and whether every pending trial
    has only NaN in every curve."""
    with h5py.File(path, "r") as f:
        status = [s.decode() for s in f["tables/trials"]["status"]]
        curves = [f[name][()].reshape(N_TRIALS, -1) for name in CURVES]
    pending_nan = all(np.isnan(c[t]).all() for c in curves
                      for t, s in enumerate(status) if s == "pending")
    return status, pending_nan


def check_stopped(tally, cluster, label, job_id, fields):
    """Check that a stopped job exited with fasweep's code 4."""
    tally.check(f"{label} exit code 4", fields.get("ExitCode") == "4:0",
                f"JobState={fields.get('JobState')} "
                f"ExitCode={fields.get('ExitCode')}; output:\n"
                f"{cluster.output(job_id)}")


def check_file_resumable(tally, label, path, done_before):
    """Check the file after a stop: more trials done than before, some
    pending, no other status, and no curve values of pending trials. Return
    the number of trials done."""
    status, pending_nan = trial_statuses(path)
    n_done, n_pending = status.count("done"), status.count("pending")
    tally.check(f"{label}: trials done", n_done > done_before,
                f"{n_done} done, {done_before} before")
    tally.check(f"{label}: trials pending", n_pending > 0,
                f"{n_pending} pending")
    tally.check(f"{label}: only done and pending trials",
                n_done + n_pending == N_TRIALS, sorted(set(status)))
    tally.check(f"{label}: pending trials have only NaN curves",
                pending_nan)
    return n_done


def compare_files(path, reference):
    """Compare a file with the uninterrupted run bit for bit. Return a list
    of (check name, ok, detail)."""
    results = []
    with h5py.File(reference, "r") as ref, h5py.File(path, "r") as got:
        for name in CURVES:
            a, b = ref[name][()], got[name][()]
            results.append((f"{name} bit-identical to the uninterrupted run",
                            a.tobytes() == b.tobytes(),
                            f"{int(np.sum(a != b))} values differ"))
        rt, gt = ref["tables/trials"][()], got["tables/trials"][()]
        for field in TRIAL_FIELDS:
            results.append((f"trials.{field} bit-identical",
                            rt[field].tobytes() == gt[field].tobytes(), ""))
        statuses = sorted(set(gt["status"].tolist()))
        results.append(("every trial done", statuses == [b"done"],
                         statuses))
        rs, gs = ref["tables/stats"][()], got["tables/stats"][()]
        results.append(("stats table bit-identical",
                        rs.dtype == gs.dtype and rs.tobytes() == gs.tobytes(),
                        f"{len(gs)} rows, {len(rs)} in the uninterrupted run"))
    return results


def check_comparison_fails(tally, path, reference, work):
    """Check that compare_files reports a copy with one test_accuracy value
    changed by one unit in the last place."""
    copy = os.path.join(work, "changed.h5")
    shutil.copyfile(path, copy)
    with h5py.File(copy, "r+") as f:
        value = f["test_accuracy"][0, 0, 0, 1]
        f["test_accuracy"][0, 0, 0, 1] = np.nextafter(value, np.float32(2))
    failed = [name for name, ok, _ in compare_files(copy, reference)
              if not ok]
    want = ["test_accuracy bit-identical to the uninterrupted run"]
    tally.check("comparison detects one changed value", failed == want,
                f"failed checks {failed}, expected {want}")


def run_reference(tally, work, config):
    """Run the sweep once, uninterrupted, under mpirun with 3 ranks."""
    path = os.path.join(work, "reference.h5")
    start = time.monotonic()
    proc = run([os.environ.get("MPIEXEC", "mpiexec"), "--oversubscribe",
                "-n", "3", FASWEEP, "run", config, "-o", path, "--quiet"])
    print(f"uninterrupted run: {time.monotonic() - start:.1f} s")
    tally.check("uninterrupted run exits 0", proc.returncode == 0,
                f"exit {proc.returncode}: {proc.stderr.strip()}")
    return path


def run_chain(tally, cluster, script, config, output):
    """Run jobs A and B with srun. Each is stopped, and A resubmits itself."""
    env = {"FASWEEP": FASWEEP, "LAUNCHER": "srun", "MAX_RESUBMITS": "1"}
    job_a = cluster.submit(script, [config, output], env)
    cluster.wait_trials(job_a, TRIALS_BEFORE_STOP)
    cluster.set_partition("DOWN")
    check_stopped(tally, cluster, "job A", job_a, cluster.stop_job(job_a))

    match = re.search(r"Submitted job (\d+), which resumes it",
                      cluster.output(job_a))
    if not tally.check("job A resubmits itself", match is not None,
                       cluster.output(job_a)):
        return
    job_b = int(match.group(1))
    tally.check("job B waits while the partition is down",
                cluster.job(job_b).get("JobState") == "PENDING",
                cluster.job(job_b))
    done_a = check_file_resumable(tally, "after job A", output, 0)

    cluster.set_partition("UP")
    cluster.wait_trials(job_b, TRIALS_BEFORE_STOP)
    check_stopped(tally, cluster, "job B", job_b, cluster.stop_job(job_b))
    tally.check("job B ends the chain at MAX_RESUBMITS",
                "MAX_RESUBMITS=1 resubmissions reached" in
                cluster.output(job_b), cluster.output(job_b))
    tally.check("no job queued after job B", cluster.queue() == [],
                cluster.queue())
    check_file_resumable(tally, "after job B", output, done_a)


def run_last(tally, cluster, script, config, output):
    """Run job C, submitted by the test with mpirun, to finish the sweep."""
    cluster.set_partition("UP")
    env = {"FASWEEP": FASWEEP, "LAUNCHER": "mpirun"}
    job_c = cluster.submit(script, [config, output], env)
    fields = cluster.wait_end(job_c)
    tally.check("job C exit code 0", fields.get("ExitCode") == "0:0",
                f"JobState={fields.get('JobState')} "
                f"ExitCode={fields.get('ExitCode')}; output:\n"
                f"{cluster.output(job_c)}")
    tally.check("job C reports the sweep finished",
                "sweep finished, results in" in cluster.output(job_c),
                cluster.output(job_c))
    tally.check("no job queued after job C", cluster.queue() == [],
                cluster.queue())


def main():
    if len(sys.argv) != 2:
        print(f"usage: {sys.argv[0]} SCRATCH_DIR", file=sys.stderr)
        sys.exit(2)
    tally = Tally()
    missing = missing_requirements()
    if missing is not None:
        tally.check("SLURM test cluster can run here", False, missing)
        tally.finish()

    # All ranks run on this one node, so MPI messages can go through shared
    # memory alone and the ranks open no TCP port. mpirun itself still
    # listens on every address.
    os.environ["OMPI_MCA_btl"] = "self,vader"
    work = fresh_dir(sys.argv[1])
    config = write_config(work, tiny_mnist(work))
    script = copy_script(work)
    output = os.path.join(work, "chain.h5")
    reference = run_reference(tally, work, config)

    cluster = Cluster(work)
    start = time.monotonic()
    try:
        proc = cluster.script("start")
        if tally.check("cluster.sh start", proc.returncode == 0,
                       proc.stderr.strip()):
            run_chain(tally, cluster, script, config, output)
            run_last(tally, cluster, script, config, output)
            for name, ok, detail in compare_files(output, reference):
                tally.check(name, ok, detail)
            check_comparison_fails(tally, output, reference, work)
        print(f"SLURM jobs: {time.monotonic() - start:.1f} s")
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as err:
        tally.check("SLURM job chain", False, err)
    finally:
        proc = cluster.script("stop")
        tally.check("cluster.sh stop", proc.returncode == 0,
                    proc.stderr.strip())
        proc = cluster.script("status")
        stopped = ": running" not in proc.stdout
        tally.check("no daemon left after stop", stopped,
                    f"{proc.stdout.strip()}\n(cluster files in {cluster.dir})")
    if stopped:
        shutil.rmtree(cluster.dir, ignore_errors=True)
    tally.finish()


if __name__ == "__main__":
    main()
