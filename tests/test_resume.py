#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Interrupts real sweeps and resumes them: a stop signal (SIGUSR1 to
mpirun, SIGTERM to a single process, a second signal to rank 0) and kill -9
of the whole job at random moments. Each interrupted file must open, report,
and after `run --resume` equal an uninterrupted run bit for bit in every
curve and in the stats table. Also checks SWMR reads during a sweep, the
config check of --resume, the option rules, diverged trials and their
dropped pairs, a data failure on one rank, and --quiet and --verbose.

Usage: test_resume.py SCRATCH_DIR
"""
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import time

import h5py
import numpy as np

from fwtest import (FASWEEP, MPIEXEC, TINY_INI, Tally, fresh_dir, mpirun, run,
                    tiny_mnist)

CURVES = ["train_loss", "test_loss", "test_accuracy", "feedback_correlation",
          "alignment_angle", "feedback_cosine", "update_angle",
          "early/alignment_angle", "early/test_accuracy"]
EXIT_STOPPED = 4


def write_config(work, data, name, epochs, learning_rate="0.05, 0.02"):
    """A copy of configs/tiny.ini with more epochs, so a sweep lasts long
    enough to be interrupted, the given learning rates and two checkpoints
    inside the first epoch."""
    with open(TINY_INI) as f:
        text = f.read()
    text = re.sub(r"(?m)^epochs\s*=.*$", f"epochs = {epochs}", text)
    text = re.sub(r"(?m)^dir\s*=.*$", f"dir = {data}", text)
    text = re.sub(r"(?m)^learning_rate\s*=.*$",
                  f"learning_rate = {learning_rate}", text)
    text += "\n[output]\nearly_checkpoints = 2\n"
    path = os.path.join(work, name)
    with open(path, "w") as f:
        f.write(text)
    return path


def start(args, n_ranks):
    """Starts fasweep args under mpiexec (n_ranks > 0) or alone, in its own
    session, with stdout and stderr piped."""
    cmd = ([MPIEXEC, "--oversubscribe", "-n", str(n_ranks), FASWEEP]
           if n_ranks > 0 else [FASWEEP]) + args
    return subprocess.Popen(cmd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            start_new_session=True)


def job_pids(marker):
    """PIDs of every process whose command line contains marker."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmdline = f.read().decode(errors="replace")
        except OSError:
            continue
        if marker in cmdline and int(entry) != os.getpid():
            pids.append(int(entry))
    return pids


def rank0_pid(marker):
    """The fasweep process of rank 0: the one whose OMPI rank is 0."""
    for pid in job_pids(marker):
        try:
            with open(f"/proc/{pid}/environ", "rb") as f:
                env = f.read().split(b"\0")
            with open(f"/proc/{pid}/comm") as f:
                comm = f.read().strip()
        except OSError:
            continue
        if comm == "fasweep" and b"OMPI_COMM_WORLD_RANK=0" in env:
            return pid
    return None


def n_stored(path):
    """Stored trials of a file being written, read in SWMR mode; -1 if it
    cannot be read yet."""
    try:
        with h5py.File(path, "r", swmr=True) as f:
            status = f["tables/trials"]["status"]
            return int(np.sum(status != b"pending"))
    except (OSError, KeyError):
        return -1


def wait_for_stored(path, proc, at_least, timeout=60):
    """Waits until path contains at_least stored trials or proc ends."""
    end = time.time() + timeout
    while time.time() < end and proc.poll() is None:
        if n_stored(path) >= at_least:
            return True
        time.sleep(0.05)
    return False


def compare(tally, name, ref_path, path):
    """Every curve and the stats table must equal the reference."""
    with h5py.File(ref_path, "r") as ref, h5py.File(path, "r") as got:
        for curve in CURVES:
            a, b = ref[curve][...], got[curve][...]
            tally.check(f"{name}: {curve} bit-identical",
                        a.tobytes() == b.tobytes(),
                        f"{int(np.sum(a.view(np.uint32) != b.view(np.uint32)))}"
                        " values differ")
        tally.check(f"{name}: stats table bit-identical",
                    ref["tables/stats"][...].tobytes()
                    == got["tables/stats"][...].tobytes())
        status = got["tables/trials"]["status"]
        tally.check(f"{name}: no trial pending", not (status == b"pending")
                    .any(), status)


def resume(tally, name, config, path, n_ranks=3):
    proc = mpirun(n_ranks, ["run", config, "-o", path, "--resume",
                            "--quiet"])
    tally.check(f"{name}: resume exits 0", proc.returncode == 0,
                f"{proc.returncode}: {proc.stderr[-800:]}")
    return proc


def one_line_error(tally, name, proc, pattern, rc=1):
    """fasweep run without a launcher prints exactly one line on error."""
    lines = [ln for ln in proc.stderr.splitlines() if ln.strip()]
    lines = [ln for ln in lines if "INFO" not in ln]
    tally.check(f"{name}: exit {rc}", proc.returncode == rc,
                f"{proc.returncode}: {proc.stderr[-600:]}")
    tally.check(f"{name}: one error line matching {pattern!r}",
                len(lines) == 1 and re.search(pattern, lines[0]),
                proc.stderr[-600:])


def test_sigusr1(tally, work, config, ref):
    """SIGUSR1 to mpirun, which forwards it to every rank."""
    path = os.path.join(work, "usr1.h5")
    proc = start(["run", config, "-o", path], 3)
    tally.check("usr1: some trials stored before the signal",
                wait_for_stored(path, proc, 3), proc.poll())
    os.kill(proc.pid, signal.SIGUSR1)
    _, err = proc.communicate(timeout=120)
    tally.check("usr1: exit code 4", proc.returncode == EXIT_STOPPED,
                f"{proc.returncode}: {err[-800:]}")
    tally.check("usr1: log says how to resume",
                "--resume" in err and "stopped" in err, err[-400:])
    stored = n_stored(path)
    tally.check("usr1: file has pending trials", 0 < stored < 18, stored)
    with h5py.File(path, "r") as f:
        tally.check("usr1: no stats table while stopped",
                    f["tables/stats"].shape == (0,), f["tables/stats"].shape)
    rep = run([FASWEEP, "report", path])
    tally.check("usr1: report reads the stopped file", rep.returncode == 0,
                rep.stderr)
    tally.check("usr1: report shows the resume command",
                f"-o {path} --resume" in rep.stdout, rep.stdout[-400:])
    resume(tally, "usr1", config, path)
    compare(tally, "usr1", ref, path)


def test_sigterm_alone(tally, work, config, ref):
    """SIGTERM to fasweep run started without a launcher."""
    path = os.path.join(work, "term.h5")
    proc = start(["run", config, "-o", path], 0)
    wait_for_stored(path, proc, 2)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    tally.check("term: exit code 4", proc.returncode == EXIT_STOPPED,
                f"{proc.returncode}: {err[-800:]}")
    tally.check("term: the running trial was stopped",
                "trial stopped" in err, err[-600:])
    resume(tally, "term", config, path, n_ranks=1)
    compare(tally, "term", ref, path)


def test_second_signal(tally, work, config, ref):
    """Workers that do not reply, then a second signal to rank 0: the job
    ends at once with code 4 and the file stays resumable."""
    path = os.path.join(work, "second.h5")
    proc = start(["run", config, "-o", path], 3)
    wait_for_stored(path, proc, 2)

    # The job's processes: rank 0 and the two workers.
    marker = path
    rank0 = rank0_pid(marker)
    workers = [p for p in job_pids(marker)
               if p != rank0 and open(f"/proc/{p}/comm").read().strip()
               == "fasweep"]
    tally.check("second: found rank 0 and two workers",
                rank0 is not None and len(workers) == 2, (rank0, workers))
    if rank0 is None or len(workers) != 2:
        proc.kill()
        proc.communicate()
        return

    # Stopped workers cannot reply, so rank 0 waits until a second signal.
    for pid in workers:
        os.kill(pid, signal.SIGSTOP)
    os.kill(rank0, signal.SIGUSR1)
    time.sleep(1.0)
    tally.check("second: rank 0 waits for the stopped workers",
                proc.poll() is None, proc.poll())
    os.kill(rank0, signal.SIGUSR1)
    try:
        _, err = proc.communicate(timeout=60)
    finally:
        for pid in workers:
            try:
                os.kill(pid, signal.SIGCONT)
            except ProcessLookupError:
                pass

    tally.check("second: exit code 4 after MPI_Abort",
                proc.returncode == EXIT_STOPPED,
                f"{proc.returncode}: {err[-800:]}")
    tally.check("second: log names the second signal",
                "second stop signal" in err, err[-600:])
    resume(tally, "second", config, path)
    compare(tally, "second", ref, path)


def test_kill9(tally, work, config, ref, rounds):
    """kill -9 of every process of the job at random moments."""
    rng = random.Random(20261204)
    for i in range(rounds):
        path = os.path.join(work, f"kill{i}.h5")
        proc = start(["run", config, "-o", path], 3)
        time.sleep(rng.uniform(0.3, 4.0))
        for pid in job_pids(path):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        proc.communicate()
        if not os.path.exists(path):
            tally.check(f"kill {i}: no file before creation is fine", True)
            continue
        try:
            with h5py.File(path, "r", swmr=True) as f:
                f["train_loss"][...]
                opened = True
        except OSError as e:
            opened = str(e)
        tally.check(f"kill {i}: the file opens (SWMR read)", opened is True,
                    opened)
        rep = run([FASWEEP, "report", path])
        tally.check(f"kill {i}: report reads it", rep.returncode == 0,
                    rep.stderr)
        resume(tally, f"kill {i}", config, path)
        compare(tally, f"kill {i}", ref, path)


def test_swmr_reader(tally, work, config):
    """h5py reads the file in SWMR mode while the sweep writes it, and the
    sweep still finishes with its stats table."""
    path = os.path.join(work, "swmr.h5")
    proc = start(["run", config, "-o", path], 3)
    seen = set()
    while proc.poll() is None:
        n = n_stored(path)
        if n >= 0:
            seen.add(n)
        time.sleep(0.02)
    _, err = proc.communicate()
    tally.check("swmr: sweep exits 0 under a reader", proc.returncode == 0,
                err[-600:])
    tally.check("swmr: the reader saw progress", len(seen) >= 3,
                sorted(seen))
    with h5py.File(path, "r") as f:
        tally.check("swmr: stats table written", f["tables/stats"].shape[0]
                    == 4, f["tables/stats"].shape)


def test_config_check(tally, work, data, ref):
    """--resume refuses a config that changes results and leaves the file
    untouched."""
    path = os.path.join(work, "check.h5")
    shutil.copy(ref, path)
    before = open(path, "rb").read()
    other = write_config(work, data, "other_lr.ini", 12, "0.05, 0.03")
    proc = run([FASWEEP, "run", other, "-o", path, "--resume"])
    one_line_error(tally, "changed learning rate", proc,
                   r"check\.h5.*\[network\] learning_rate is 0\.02\d* in "
                   r"the file but 0\.03 in .*other_lr\.ini.*hidden 16")
    longer = write_config(work, data, "longer.ini", 13)
    proc = run([FASWEEP, "run", longer, "-o", path, "--resume"])
    one_line_error(tally, "changed epochs", proc,
                   r"\[network\] epochs is 12 in the file but 13")
    seeds = os.path.join(work, "seeds.ini")
    text = open(write_config(work, data, "s.ini", 12)).read()
    open(seeds, "w").write(re.sub(r"(?m)^seeds\s*=.*$", "seeds = 1-4", text))
    proc = run([FASWEEP, "run", seeds, "-o", path, "--resume"])
    one_line_error(tally, "changed seeds", proc,
                   r"\[sweep\] seeds is 1, 2, 3 in the file but 1, 2, 3, 4")
    for key, value, pattern in [
            ("kp_decay", "0.01", r"\[feedback\] kp_decay is 0\.001 in the "
             r"file but 0\.01 in .*kp_decay\.ini"),
            ("early_checkpoints", "3", r"\[output\] early_checkpoints is 2 "
             r"in the file but 3"),
            ("onehot_sign", "random", r"\[feedback\] onehot_sign is "
             r"positive in the file but random in .*onehot_sign\.ini")]:
        changed = os.path.join(work, f"{key}.ini")
        text = open(write_config(work, data, "base.ini", 12)).read()
        section = "output" if key == "early_checkpoints" else "feedback"
        if section == "output":
            text = re.sub(r"(?m)^early_checkpoints\s*=.*$",
                          f"early_checkpoints = {value}", text)
        else:
            text = text.replace("[feedback]", f"[feedback]\n{key} = {value}")
        open(changed, "w").write(text)
        proc = run([FASWEEP, "run", changed, "-o", path, "--resume"])
        one_line_error(tally, f"changed {key}", proc, pattern)
    tally.check("refused resumes leave the file unchanged",
                open(path, "rb").read() == before)

    other_h5 = os.path.join(work, "foreign.h5")
    with h5py.File(other_h5, "w") as f:
        f["x"] = np.arange(3)
    before = open(other_h5, "rb").read()
    proc = run([FASWEEP, "run", other, "-o", other_h5, "--resume"])
    one_line_error(tally, "resume of a foreign file", proc,
                   r"foreign\.h5: not a fasweep results file")
    tally.check("foreign file unchanged", open(other_h5, "rb").read()
                == before)


def test_options(tally, work, config, ref):
    proc = run([FASWEEP, "run", config, "--resume", "--force"])
    one_line_error(tally, "--resume with --force", proc,
                   r"--force.*--resume.*one of them", rc=2)
    proc = run([FASWEEP, "plan", config, "--resume"])
    one_line_error(tally, "--resume on plan", proc,
                   r"'--resume' applies only to run", rc=2)

    path = os.path.join(work, "fresh.h5")
    proc = mpirun(2, ["run", config, "-o", path, "--resume", "--quiet"])
    tally.check("--resume on a missing file starts it",
                proc.returncode == 0, proc.stderr[-600:])
    compare(tally, "fresh", ref, path)

    nostats = os.path.join(work, "nostats.h5")
    shutil.copy(ref, nostats)
    with h5py.File(nostats, "r+") as f:
        f["tables/stats"].resize((0,))
    rep = run([FASWEEP, "report", nostats])
    tally.check("report of a file killed before its final pass",
                rep.returncode == 0 and "ended before its final pass"
                in rep.stdout and "--resume" in rep.stdout,
                rep.stdout[-400:])
    proc = mpirun(1, ["run", config, "-o", nostats, "--resume", "--quiet"])
    tally.check("--resume writes the missing final pass",
                proc.returncode == 0, proc.stderr[-400:])
    compare(tally, "final pass only", ref, nostats)

    proc = mpirun(2, ["run", config, "-o", path, "--resume"])
    tally.check("--resume of a finished file runs nothing",
                proc.returncode == 0 and "0 to run" in proc.stderr
                and "trial started" not in proc.stderr, proc.stderr[-600:])
    compare(tally, "finished again", ref, path)


def test_diverged(tally, work, data):
    """Trials that diverge are results: the sweep goes on, and the final
    pass drops their pairs and logs how many."""
    config = write_config(work, data, "diverge.ini", 4, "3e38, 0.02")
    path = os.path.join(work, "diverge.h5")
    proc = mpirun(3, ["run", config, "-o", path])
    tally.check("diverged: sweep exits 0", proc.returncode == 0,
                proc.stderr[-600:])
    tally.check("diverged: log says pairs were dropped",
                re.search(r"hidden 8, fa vs bp: 3 of 3 seeds dropped",
                          proc.stderr), proc.stderr[-800:])

    # A learning rate of 3e38 makes every hidden-8 trial diverge.
    with h5py.File(path, "r") as f:
        trials = f["tables/trials"][...]
        stats = f["tables/stats"][...]
    small = trials[trials["hidden"] == 8]
    tally.check("diverged: hidden 8 trials diverged with a message",
                all(s == b"diverged" for s in small["status"])
                and all(b"loss became" in m for m in small["message"]),
                small[["status", "message"]])
    big = trials[trials["hidden"] == 16]
    tally.check("diverged: hidden 16 trials done",
                all(s == b"done" for s in big["status"]), big["status"])

    n_pairs = {(int(r["hidden"]), r["mode"].decode()): int(r["n_pairs"])
               for r in stats}
    tally.check("diverged: n_pairs 0 at hidden 8, 3 at hidden 16",
                n_pairs == {(8, "fa"): 0, (8, "onehot"): 0, (16, "fa"): 3,
                            (16, "onehot"): 3}, n_pairs)
    rep = run([FASWEEP, "report", path])
    tally.check("diverged: report counts diverged trials",
                rep.returncode == 0 and "diverged" in rep.stdout,
                rep.stdout[-600:])


def test_rank_data_failure(tally, work, data, config):
    """MNIST unreadable on one rank only: one clear error, no hang."""
    path = os.path.join(work, "datafail.h5")
    bad = os.path.join(work, "no-such-dir")
    cmd = [MPIEXEC, "--oversubscribe", "-n", "2", FASWEEP, "run", config,
           "-o", path, "--data", data, ":", "-n", "1", FASWEEP, "run",
           config, "-o", path, "--data", bad]
    t0 = time.time()
    proc = run(cmd)
    errors = [ln for ln in proc.stderr.splitlines() if "ERROR" in ln]
    tally.check("data failure: non-zero exit", proc.returncode != 0,
                proc.returncode)
    tally.check("data failure: ends within 60 s", time.time() - t0 < 60)
    tally.check("data failure: the failing rank names its directory",
                any("no-such-dir" in ln and "rank 2" in ln for ln in errors),
                errors)
    tally.check("data failure: no results file", not os.path.exists(path))


def test_log_levels(tally, work, config):
    quiet = mpirun(2, ["run", config, "-o", os.path.join(work, "q.h5"),
                       "--quiet"])
    tally.check("--quiet prints no INFO", quiet.returncode == 0
                and "INFO" not in quiet.stderr, quiet.stderr[-400:])
    loud = mpirun(2, ["run", config, "-o", os.path.join(work, "v.h5"),
                      "--verbose"])
    tally.check("--verbose prints DEBUG lines of the workers",
                loud.returncode == 0 and re.search(
                    r"\[rank 1 .*DEBUG .*trial started", loud.stderr),
                loud.stderr[-400:])
    normal = mpirun(2, ["run", config, "-o", os.path.join(work, "n.h5")])
    tally.check("progress lines carry done/total and an ETA",
                re.search(r"progress=\d+/18 eta=\S+", normal.stderr),
                normal.stderr[-400:])


def main():
    work = fresh_dir(sys.argv[1])
    data = tiny_mnist(work)
    tally = Tally()
    config = write_config(work, data, "long.ini", 12)

    ref = os.path.join(work, "reference.h5")
    proc = mpirun(1, ["run", config, "-o", ref, "--quiet"])
    if not tally.check("reference sweep exits 0", proc.returncode == 0,
                       proc.stderr[-800:]):
        tally.finish()

    slow = write_config(work, data, "slow.ini", 120)
    slow_ref = os.path.join(work, "slow_reference.h5")
    proc = mpirun(3, ["run", slow, "-o", slow_ref, "--quiet"])
    tally.check("slow reference sweep exits 0", proc.returncode == 0,
                proc.stderr[-800:])

    test_options(tally, work, config, ref)
    test_config_check(tally, work, data, ref)
    test_sigusr1(tally, work, slow, slow_ref)
    test_sigterm_alone(tally, work, slow, slow_ref)
    test_second_signal(tally, work, slow, slow_ref)
    test_kill9(tally, work, slow, slow_ref, rounds=4)
    test_swmr_reader(tally, work, slow)
    test_diverged(tally, work, data)
    test_rank_data_failure(tally, work, data, config)
    test_log_levels(tally, work, config)
    tally.finish()


if __name__ == "__main__":
    main()
