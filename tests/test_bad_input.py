#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-3.0-or-later
"""Runs the fasweep binary (run, plan, trial, report) on bad input, one
command per case. The inputs are bad INI files, broken MNIST IDX files,
image counts larger than the pool, output paths that cannot be written or
already exist, and files that are not fasweep results. Each case checks the
exit code. It checks that stderr contains exactly one line besides INFO
progress lines, and that this line matches the case's pattern, which names
the file, line, key or value and what to do. It also checks that an
existing results file keeps its bytes and mtime. Checking the values in
good files is left to the other tests.

`run` goes through mpiexec with 1 rank and `-q` (Open MPI), which stops
mpirun from adding its own report of a non-zero exit, so the lines left are
the ones fasweep prints. Most INI cases of `run` start it without a
launcher, as one MPI rank, because they fail before any MPI communication
and mpiexec adds seconds per case on a busy machine. Cases marked resume
need `run --resume`.
"""
import hashlib
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field

import h5py
import numpy as np

from fwtest import FASWEEP, MPIEXEC, Tally, fresh_dir, run, tiny_mnist

N_TRAIN_FILE = 1200  # images in the train files that tiny_mnist writes
N_TEST_FILE = 400  # images in its t10k files

# A valid config for the tiny data: 2 trials of 1 epoch. The line numbers
# below count from this text.
BASE_KEYS = [
    ("data", "dir", None),  # set to the tiny data
    ("data", "n_train", "100"),
    ("data", "n_test", "50"),
    ("data", "n_probe", "20"),
    ("network", "learning_rate", "0.05"),
    ("network", "batch_size", "20"),
    ("network", "epochs", "1"),
    ("sweep", "modes", "bp, fa"),
    ("sweep", "hidden", "4"),
    ("sweep", "seeds", "1"),
]

# stderr lines that report progress, not the error.
INFO_LINE = re.compile(r"^\[rank \d+ +[\d.]+s\] INFO ")

# The start of the error line. run logs it with rank and time, and with the
# host for data errors. The other commands print "fasweep: ".
ERROR_PREFIX = {
    "run": r"^\[rank 0 +[\d.]+s\] ERROR (on \S+: )?",
    "plan": r"^fasweep: ",
    "trial": r"^fasweep: ",
    "report": r"^fasweep: ",
}

# Rules that a bad numeric value breaks. The message states the rule as
# its hint.
AT_LEAST_1 = r"must be an integer >= 1$"
RATE_RANGE = r"must be a number from 1\.17549435e-38 to 3\.40282347e\+38$"
HIDDEN_RANGE = r"must be an integer from 1 to 100000$"
EPOCHS_RANGE = r"must be an integer from 1 to 100000$"
FETCH = (r"; fetch MNIST with jobs/fetch_mnist\.sh, or point dir in \[data\] "
         r"or --data at the MNIST files$")
WRITABLE = r"; choose a writable directory with -o$"
NOT_RESULTS = r"; give the results file that fasweep run wrote$"


@dataclass
class Case:
    """One command on bad input and what it must print."""
    name: str
    command: str  # run, plan, trial or report
    args: list  # arguments after the command
    pattern: str  # regex the error line must match after its prefix
    exit_code: int = 1
    keep: list = field(default_factory=list)  # files that must not change
    absent: list = field(default_factory=list)  # paths that must not appear
    wrapper: list = field(default_factory=list)  # command prefix
    launcher: bool = True  # run under mpiexec, else as one rank alone
    resume: bool = False  # needs run --resume


def sha256(path):
    with open(path, "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def snapshot(path):
    """Return the bytes' digest and mtime of path, or None if it is absent."""
    if not os.path.lexists(path):
        return None
    st = os.stat(path)
    if os.path.isdir(path):
        return ("directory", sorted(os.listdir(path)), st.st_mtime_ns)
    return (sha256(path), st.st_size, st.st_mtime_ns)


def write(path, data):
    mode = "wb" if isinstance(data, bytes) else "w"
    with open(path, mode) as f:
        f.write(data)
    return path


# ---- INI files ----

def ini_text(data_dir, values=None, drop=(), extra=""):
    """Return the base config with some values replaced or keys dropped,
    and extra lines appended to its last section, [sweep]."""
    values = dict(values or {})
    lines, section = [], None
    for key_section, key, default in BASE_KEYS:
        if key_section != section:
            if section is not None:
                lines.append("")
            lines.append(f"[{key_section}]")
            section = key_section
        if key in drop:
            continue
        value = values.get(key, data_dir if key == "dir" else default)
        lines.append(f"{key} = {value}".rstrip())
    return "\n".join(lines) + "\n" + extra


def base_line(key):
    """Return the line number of key in the base config."""
    text = ini_text("DIR")
    for number, line in enumerate(text.split("\n"), 1):
        if line.split(" = ")[0] == key:
            return number
    raise KeyError(key)


END_LINE = len(ini_text("DIR").split("\n"))  # the first appended line


def at(name, line):
    """Regex of the 'DIR/NAME.ini:LINE: ' that starts an INI error."""
    return r"/\S*/" + re.escape(f"{name}.ini:{line}: ")


def key_at(name, key, value, section):
    """Regex of 'DIR/NAME.ini:LINE: [section] key = value: ' for a key of
    the base config."""
    return at(name, base_line(key)) + re.escape(
        f"[{section}] {key} = {value}: ")


# INI cases that run also checks under mpiexec.
LAUNCHED_CONFIG_CASES = ("unknown_key", "too_many_trials")


# (name, values, drop, extra, pattern after the prefix)
def config_cases():
    cases = [
        ("unknown_section", {}, (), "[netwrk]\nepochs = 2\n",
         at("unknown_section", END_LINE) + r"unknown section \[netwrk\]; "
         r"valid sections: \[data\], \[network\], \[feedback\], \[sweep\], "
         r"\[stats\], \[output\]$"),
        ("unknown_key", {}, (), "mode = bp\n",
         at("unknown_key", END_LINE) + r"unknown key 'mode' in \[sweep\]; "
         r"valid keys: modes, hidden, seeds, zip, max_trials$"),
        ("duplicate_key", {}, (), "seeds = 2\n",
         at("duplicate_key", END_LINE) + r"\[sweep\] seeds = 2: duplicate "
         r"key, already set on line " + str(base_line("seeds")) +
         r"; keep one of the two lines$"),
        ("missing_key", {}, ("seeds",), "",
         r"/\S*/missing_key\.ini: missing key 'seeds' in \[sweep\]; add a "
         r"line such as 'seeds = 1-30'$"),
        ("bad_number", {"learning_rate": "0.0.5"}, (), "",
         key_at("bad_number", "learning_rate", "0.0.5", "network") +
         r"not a number; write a number such as 0\.07$"),
        ("bad_integer", {"batch_size": "2O"}, (), "",
         key_at("bad_integer", "batch_size", "2O", "network") +
         r"not an integer; write an integer such as 200$"),
        ("fraction_epochs", {"epochs": "2.5"}, (), "",
         key_at("fraction_epochs", "epochs", "2.5", "network") +
         EPOCHS_RANGE),
        ("empty_list", {"hidden": ""}, (), "",
         key_at("empty_list", "hidden", "", "sweep") +
         r"empty list; give at least one value$"),
        ("empty_item", {"seeds": "1,,2"}, (), "",
         key_at("empty_item", "seeds", "1,,2", "sweep") +
         r"empty item in the list; remove the extra comma$"),
        ("reversed_range", {"seeds": "9-1"}, (), "",
         key_at("reversed_range", "seeds", "9-1", "sweep") +
         r"range 9-1 is reversed; write it as 1-9$"),
        ("huge_range", {"seeds": "1-1000000000"}, (), "",
         key_at("huge_range", "seeds", "1-1000000000", "sweep") +
         r"the list expands to more than 100000 values; use a shorter "
         r"range$"),
        ("too_many_trials", {"hidden": "1-100", "seeds": "1-10000"}, (), "",
         key_at("too_many_trials", "seeds", "1-10000", "sweep") +
         r"the grid has 2 modes x 100 hidden sizes x 10000 seeds = 2000000 "
         r"trials, more than the 1000000 that max_trials allows by default; "
         r"shorten the list, or add 'max_trials = 2000000' to \[sweep\] if "
         r"the sweep is meant$"),
        ("max_trials_below_grid", {}, (), "max_trials = 1\n",
         at("max_trials_below_grid", END_LINE) + r"\[sweep\] max_trials = 1: "
         r"the grid has 2 modes x 1 hidden size x 1 seed = 2 trials; shorten "
         r"\[sweep\] hidden or seeds, or raise max_trials to 2 if the sweep "
         r"is meant$"),
        ("probe_over_train", {"n_probe": "200"}, (), "",
         key_at("probe_over_train", "n_probe", "200", "data") +
         r"200 exceeds n_train = 100; set n_probe to at most n_train$"),
        ("batch_over_train", {"batch_size": "101"}, (), "",
         key_at("batch_over_train", "batch_size", "101", "network") +
         r"101 exceeds n_train = 100; lower batch_size to at most n_train "
         r"or raise n_train$"),
    ]

    # Zero and negative sizes, and a rate of zero or below.
    rules = [("hidden", "sweep", HIDDEN_RANGE, "-4"),
             ("batch_size", "network", AT_LEAST_1, "-1"),
             ("epochs", "network", EPOCHS_RANGE, "-1"),
             ("n_train", "data", AT_LEAST_1, "-1"),
             ("n_test", "data", AT_LEAST_1, "-1"),
             ("n_probe", "data", AT_LEAST_1, "-1"),
             ("learning_rate", "network", RATE_RANGE, "-0.05")]
    for key, section, rule, negative in rules:
        for label, value in (("zero", "0"), ("negative", negative)):
            name = f"{label}_{key}"
            cases.append((name, {key: value}, (), "",
                          key_at(name, key, value, section) + rule))
    return cases


# ---- IDX files ----

IDX_NAMES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}


def idx_images(n, rows=28, cols=28, magic=0x803):
    """Return an IDX3 image file of n blank images."""
    header = np.array([magic, n, rows, cols], dtype=">u4").tobytes()
    return header + bytes(n * rows * cols)


def idx_labels(n, bad_at=None, magic=0x801):
    """Return an IDX1 label file of n labels 0-9, with 10 at bad_at."""
    labels = np.arange(n, dtype=np.uint8) % 10
    if bad_at is not None:
        labels[bad_at] = 10
    return np.array([magic, n], dtype=">u4").tobytes() + labels.tobytes()


def broken_data(work, good, name, change):
    """Copy the good MNIST directory to work/data/name and apply change, a
    function of that directory. Return the directory."""
    path = os.path.join(work, "data", name)
    shutil.copytree(good, path)
    change(path)
    return path


def replace(file_key, data):
    """Return a change that writes data as the file file_key."""
    return lambda directory: write(
        os.path.join(directory, IDX_NAMES[file_key]), data)


def remove(file_key):
    return lambda directory: os.remove(
        os.path.join(directory, IDX_NAMES[file_key]))


def cut(file_key, n_bytes):
    """Return a change that keeps only the first n_bytes of file_key."""
    def change(directory):
        path = os.path.join(directory, IDX_NAMES[file_key])
        with open(path, "rb") as f:
            data = f.read(n_bytes)
        write(path, data)
    return change


def append(file_key, data):
    def change(directory):
        with open(os.path.join(directory, IDX_NAMES[file_key]), "ab") as f:
            f.write(data)
    return change


def gzip_cut(file_key):
    """Return a change that gzips file_key and cuts the result in half."""
    def change(directory):
        path = os.path.join(directory, IDX_NAMES[file_key])
        subprocess.run(["gzip", "-n", path], check=True)
        with open(path + ".gz", "rb") as f:
            data = f.read()
        write(path + ".gz", data[:len(data) // 2])
    return change


def data_cases(work, good):
    """Return (name, data directory, pattern) of each broken MNIST set."""
    def broken(name, change):
        return broken_data(work, good, name, change)

    def file_re(directory, key):
        return re.escape(os.path.join(directory, IDX_NAMES[key]) + ": ")

    cases = []
    os.makedirs(os.path.join(work, "data"))
    missing = os.path.join(work, "data", "no_such_dir")
    cases.append(("data_dir_missing", missing,
                  re.escape(missing) + r": data directory not found \(No "
                  r"such file or directory\)" + FETCH))
    plain = write(os.path.join(work, "data", "plain_file"), "not a dir\n")
    cases.append(("data_dir_is_file", plain,
                  re.escape(plain) + r": not a directory; point dir in "
                  r"\[data\] or --data at the directory of the MNIST files$"))

    for key in ("train_images", "test_labels"):
        name = f"missing_{key}"
        path = broken(name, remove(key))
        cases.append((name, path, re.escape(
            f"{path}: {IDX_NAMES[key]} not found (nor {IDX_NAMES[key]}.gz)")
            + FETCH))

    images_bytes = 16 + N_TRAIN_FILE * 784
    path = broken("truncated_images", cut("train_images", images_bytes // 2))
    cases.append(("truncated_images", path, file_re(path, "train_images") +
                  rf"truncated: the header declares {N_TRAIN_FILE} images "
                  rf"\({images_bytes} bytes\) but the file ends after "
                  rf"{images_bytes // 2} bytes; fetch the file again$"))
    path = broken("truncated_header", cut("test_labels", 5))
    cases.append(("truncated_header", path, file_re(path, "test_labels") +
                  r"truncated: the file ends after 5 bytes, inside the "
                  r"8-byte IDX header; fetch the file again$"))
    path = broken("empty_labels", cut("train_labels", 0))
    cases.append(("empty_labels", path, file_re(path, "train_labels") +
                  r"empty file; fetch the file again$"))
    path = broken("truncated_gzip", gzip_cut("train_labels"))
    cases.append(("truncated_gzip", path, re.escape(
        os.path.join(path, IDX_NAMES["train_labels"]) + ".gz: ") +
        r"truncated: the header declares 1200 labels \(1208 bytes\) but "
        r"the decompressed gzip data ends after \d+ bytes; fetch the file "
        r"again$"))
    path = broken("trailing_data", append("test_images", b"\0" * 10))
    cases.append(("trailing_data", path, file_re(path, "test_images") +
                  r"trailing data: .* is 313626 bytes long; fetch the file "
                  r"again$"))

    path = broken("train_count_mismatch",
             replace("train_labels", idx_labels(N_TRAIN_FILE - 1)))
    cases.append(("train_count_mismatch", path,
                  file_re(path, "train_images") +
                  rf"contains {N_TRAIN_FILE} images but " + re.escape(
                      os.path.join(path, IDX_NAMES["train_labels"])) +
                  rf" contains {N_TRAIN_FILE - 1} labels; the counts must "
                  r"match, fetch both files again$"))
    path = broken("test_count_mismatch",
             replace("test_images", idx_images(N_TEST_FILE + 1)))
    cases.append(("test_count_mismatch", path,
                  file_re(path, "test_images") +
                  rf"contains {N_TEST_FILE + 1} images but .* contains "
                  rf"{N_TEST_FILE} labels; the counts must match"))

    path = broken("images_magic", replace("train_images", idx_labels(10)))
    cases.append(("images_magic", path, file_re(path, "train_images") +
                  r"bad magic number 0x00000801, expected 0x00000803 \(an "
                  r"IDX3 file of unsigned-byte images\); check that this is "
                  r"the right MNIST file$"))
    path = broken("labels_magic", replace("test_labels", idx_images(4)))
    cases.append(("labels_magic", path, file_re(path, "test_labels") +
                  r"bad magic number 0x00000803, expected 0x00000801 .*; "
                  r"check that this is the right MNIST file$"))
    path = broken("wrong_dimensions",
             replace("train_images", idx_images(N_TRAIN_FILE, rows=27)))
    cases.append(("wrong_dimensions", path, file_re(path, "train_images") +
                  r"wrong dimensions: images are 27 x 28 pixels, expected "
                  r"28 x 28; use the MNIST files$"))
    path = broken("invalid_label",
             replace("test_labels", idx_labels(N_TEST_FILE, bad_at=7)))
    cases.append(("invalid_label", path, file_re(path, "test_labels") +
                  r"invalid label 10 at index 7 \(counting from 0\), "
                  r"expected 0-9; fetch the file again$"))
    return cases


# ---- building the table ----

class Table:
    """Builds the cases and the files they need under work."""

    def __init__(self, work, data, results):
        self.work = work
        self.data = data
        self.results = results  # a good results file to copy
        self.cases = []
        os.makedirs(os.path.join(work, "cfg"))
        os.makedirs(os.path.join(work, "out"))

    def config(self, name, text):
        return write(os.path.join(self.work, "cfg", f"{name}.ini"), text)

    def existing_results(self, name):
        """Copy the good results file to out/name/results.h5."""
        directory = os.path.join(self.work, "out", name)
        os.makedirs(directory)
        path = os.path.join(directory, "results.h5")
        shutil.copy2(self.results, path)
        return path

    def add_run(self, name, config, pattern, data=None, launcher=True):
        """Add run CONFIG with --force over an existing results file, which
        a failure must leave as it was."""
        out = self.existing_results(f"run_{name}")
        args = [config, "-o", out, "--force"]
        if data is not None:
            args += ["--data", data]
        self.cases.append(Case(f"run/{name}", "run", args, pattern,
                               keep=[out], launcher=launcher))

    def add_trial(self, name, config, pattern, data=None, exit_code=1,
                  mode="fa", hidden="4", seed="1"):
        args = ["--config", config, "--mode", mode, "--hidden", hidden,
                "--seed", seed]
        if data is not None:
            args += ["--data", data]
        self.cases.append(Case(f"trial/{name}", "trial", args, pattern,
                               exit_code))

    def add_config_cases(self):
        for name, values, drop, extra, pattern in config_cases():
            config = self.config(name, ini_text(self.data, values, drop,
                                                extra))
            self.cases.append(Case(f"plan/{name}", "plan", [config],
                                   pattern))
            self.add_trial(name, config, pattern)
            self.add_run(name, config, pattern,
                         launcher=name in LAUNCHED_CONFIG_CASES)

        missing = os.path.join(self.work, "cfg", "no_such.ini")
        pattern = (re.escape(missing) + r": cannot read: No such file or "
                   r"directory; check the path$")
        self.cases.append(Case("plan/missing_config", "plan", [missing],
                               pattern))
        self.add_trial("missing_config", missing, pattern)
        self.add_run("missing_config", missing, pattern, launcher=False)

    def add_trial_usage_cases(self):
        config = self.config("usage", ini_text(self.data))
        for name, option, value, pattern in [
                ("option_zero_hidden", "hidden", "0",
                 r"--hidden '0' must be an integer from 1 to 100000"),
                ("option_negative_hidden", "hidden", "-4",
                 r"--hidden '-4' must be an integer from 1 to 100000"),
                ("option_negative_seed", "seed", "-1",
                 r"--seed '-1' must be an integer from 0 to "
                 r"9223372036854775807"),
                ("option_unknown_mode", "mode", "sgd",
                 r"unknown mode 'sgd' \(use one of bp, fa, onehot, shallow, "
                 r"sparse, sign, frsf, kp\)")]:
            kw = {option: value}
            self.add_trial(name, config, pattern + r"; see fasweep --help$",
                           exit_code=2, **kw)

    def add_data_cases(self):
        config = self.config("data", ini_text(self.data))
        for name, directory, pattern in data_cases(self.work, self.data):
            self.add_trial(name, config, pattern, data=directory)
            self.add_run(name, config, pattern, data=directory)

        # The directory named in the config, without --data.
        missing = os.path.join(self.work, "data", "no_such_dir")
        config = self.config("dir_missing", ini_text(missing))
        pattern = (re.escape(missing) + r": data directory not found \(No "
                   r"such file or directory\)" + FETCH)
        self.add_trial("config_dir_missing", config, pattern)
        self.add_run("config_dir_missing", config, pattern)

    def add_pool_cases(self):
        """Image counts that the grid accepts but the data cannot give."""
        n_pool = N_TRAIN_FILE + N_TEST_FILE
        config = self.config("pool", ini_text(
            self.data, {"n_train": "1500", "n_test": "200"}))
        self.add_trial("pooled_over_pool", config,
                       rf"split = pooled: n_train \+ n_test = 1700 exceeds "
                       rf"the {n_pool} images loaded; lower n_train or "
                       rf"n_test$")
        self.add_run("pooled_over_pool", config,
                     r"/\S*/pool\.ini: \[data\] n_train \+ n_test = 1700 "
                     rf"\(hidden 4, seed 1\) exceeds the {n_pool} images in "
                     rf"{re.escape(self.data)} \(split = pooled\); lower "
                     r"n_train or n_test$")

        config = self.config("standard_train", ini_text(
            self.data, {"n_train": "1300"}).replace(
                "[data]\n", "[data]\nsplit = standard\n"))
        self.add_trial("standard_over_train", config,
                       r"split = standard: n_train = 1300 exceeds the "
                       rf"{N_TRAIN_FILE} images of the train file; lower "
                       r"n_train$")
        self.add_run("standard_over_train", config,
                     r"/\S*/standard_train\.ini: \[data\] n_train = 1300 and "
                     rf"n_test = 50 \(hidden 4, seed 1\) exceed the "
                     rf"{N_TRAIN_FILE} training and {N_TEST_FILE} test "
                     r"images in .* \(split = standard\); lower them$")

        config = self.config("standard_test", ini_text(
            self.data, {"n_test": "500"}).replace(
                "[data]\n", "[data]\nsplit = standard\n"))
        self.add_trial("standard_over_test", config,
                       r"split = standard: n_test = 500 exceeds the "
                       rf"{N_TEST_FILE} images of the t10k file; lower "
                       r"n_test$")
        self.add_run("standard_over_test", config,
                     r"/\S*/standard_test\.ini: \[data\] n_train = 100 and "
                     r"n_test = 500 \(hidden 4, seed 1\) exceed the "
                     rf"{N_TRAIN_FILE} training and {N_TEST_FILE} test "
                     r"images in .* \(split = standard\); lower them$")

    def add_output_cases(self):
        config = self.config("output", ini_text(self.data))
        out_dir = os.path.join(self.work, "out")

        exists = r"already exists; pass --force to replace it or -o to " \
                 r"write elsewhere$"
        # A results file may be one to continue, so the hint names --resume.
        results = self.existing_results("exists_results")
        self.cases.append(Case("run/exists_results", "run",
                               [config, "-o", results],
                               re.escape(results) + r" already exists; .*"
                               r"--resume.*--force", keep=[results],
                               resume=True))
        notes = write(os.path.join(out_dir, "notes.txt"), "keep me\n")
        self.cases.append(Case("run/exists_other_file", "run",
                               [config, "-o", notes],
                               re.escape(notes) + " " + exists,
                               keep=[notes]))
        # The file is checked before MNIST is loaded, so a missing data
        # directory does not hide it.
        no_data = self.config("output_no_data", ini_text(
            os.path.join(self.work, "no_mnist_here")))
        self.cases.append(Case("run/exists_before_data", "run",
                               [no_data, "-o", notes],
                               re.escape(notes) + " " + exists,
                               keep=[notes]))

        plain = write(os.path.join(out_dir, "plain.txt"), "a file\n")
        target = os.path.join(plain, "results.h5")
        self.cases.append(Case("run/under_regular_file", "run",
                               [config, "-o", target],
                               rf"cannot create {re.escape(target)}: Not a "
                               rf"directory{WRITABLE}", keep=[plain]))
        target = os.path.join(out_dir, "no_such_dir", "results.h5")
        self.cases.append(Case("run/missing_directory", "run",
                               [config, "-o", target],
                               rf"cannot create {re.escape(target)}: No such "
                               rf"file or directory{WRITABLE}",
                               absent=[os.path.dirname(target)]))
        target = os.path.join(out_dir, "a_directory")
        os.makedirs(os.path.join(target, "inside"))
        self.cases.append(Case("run/output_is_directory", "run",
                               [config, "-o", target, "--force"],
                               rf"cannot create {re.escape(target)}: Is a "
                               rf"directory{WRITABLE}", keep=[target]))
        self.add_read_only_cases(config)

    def add_read_only_cases(self, config):
        """Add the cases of a read-only bind mount in a private mount
        namespace, where root cannot write either. They are skipped where
        unshare or mount fails."""
        ro = os.path.join(self.work, "out", "read_only")
        os.makedirs(ro)
        results = os.path.join(ro, "results.h5")
        shutil.copy2(self.results, results)
        wrapper = ["unshare", "--mount", "sh", "-c",
                   'mount --bind "$0" "$0" && '
                   'mount -o remount,bind,ro "$0" && exec "$@"', ro]
        probe = run(wrapper + ["touch", os.path.join(ro, "probe")])
        if probe.returncode == 0 or "Read-only" not in probe.stderr:
            print(f"skipped: read-only mount cases ({probe.stderr.strip()})")
            return
        self.cases.append(Case("run/read_only_replace", "run",
                               [config, "-o", results, "--force"],
                               rf"cannot create {re.escape(results)}: "
                               rf"Read-only file system{WRITABLE}",
                               keep=[results], wrapper=wrapper))
        target = os.path.join(ro, "new.h5")
        self.cases.append(Case("run/read_only_new", "run",
                               [config, "-o", target],
                               rf"cannot create {re.escape(target)}: "
                               rf"Read-only file system{WRITABLE}",
                               absent=[target], wrapper=wrapper))

    def not_results_files(self, name):
        """Write files that are not fasweep results into work/name. Return
        kind -> path."""
        directory = os.path.join(self.work, name)
        os.makedirs(directory)
        files = {
            "text": write(os.path.join(directory, "notes.h5"),
                          "notes, not results\n"),
            "empty": write(os.path.join(directory, "empty.h5"), b""),
        }
        other = os.path.join(directory, "other.h5")
        with h5py.File(other, "w") as f:
            f["x"] = np.arange(3)
        files["other_hdf5"] = other
        with open(self.results, "rb") as f:
            data = f.read()
        files["truncated"] = write(os.path.join(directory, "truncated.h5"),
                                   data[:len(data) // 2])
        return files

    def add_report_cases(self):
        files = self.not_results_files("report_inputs")
        for kind in ("text", "empty"):
            path = files[kind]
            self.cases.append(Case(f"report/{kind}", "report", [path],
                                   re.escape(path) + r": not an HDF5 file"
                                   + NOT_RESULTS, keep=[path]))
        path = files["other_hdf5"]
        self.cases.append(Case("report/other_hdf5", "report", [path],
                               re.escape(path) + r": not a fasweep results "
                               r"file.*" + NOT_RESULTS, keep=[path]))
        path = files["truncated"]
        self.cases.append(Case("report/truncated", "report", [path],
                               re.escape(path) + r": .*truncated.*; ",
                               keep=[path]))
        missing = os.path.join(self.work, "no_such.h5")
        self.cases.append(Case("report/missing", "report", [missing],
                               re.escape(missing) + r": not found; ",
                               absent=[missing]))
        self.cases.append(Case("report/directory", "report", [self.work],
                               re.escape(self.work) + r": not an HDF5 file"
                               + NOT_RESULTS))

    def add_resume_cases(self):
        config = self.config("resume", ini_text(self.data))
        files = self.not_results_files("resume_inputs")
        for kind, path in files.items():
            self.cases.append(Case(
                f"run/resume_{kind}", "run", [config, "-o", path,
                                              "--resume"],
                re.escape(path) + r": (not an HDF5 file|not a fasweep "
                r"results file|.*truncated).*; ", keep=[path], resume=True))

        # A results file of another grid.
        other = self.config("resume_other", ini_text(self.data,
                                                     {"seeds": "1-2"}))
        results = self.existing_results("resume_other_grid")
        self.cases.append(Case("run/resume_other_grid", "run",
                               [other, "-o", results, "--resume"],
                               rf"cannot resume {re.escape(results)}: "
                               r"\[sweep\] seeds is 1 in the file but 1, 2 "
                               rf"in {re.escape(other)}; resume with the "
                               r"config the file was written with, or start "
                               r"a new file with -o$",
                               keep=[results], resume=True))


# ---- running the table ----

def command_line(case):
    if case.command == "run" and case.launcher:
        return case.wrapper + [MPIEXEC, "-q", "--oversubscribe", "-n", "1",
                               FASWEEP, "run"] + case.args
    return case.wrapper + [FASWEEP, case.command] + case.args


def stray_temporaries(paths):
    """Return PATH.tmp.* files left beside the given paths."""
    found = []
    for path in paths:
        directory = os.path.dirname(path)
        if not os.path.isdir(directory):
            continue
        base = os.path.basename(path) + ".tmp."
        found += [name for name in os.listdir(directory)
                  if name.startswith(base)]
    return found


def check_case(tally, case, cwd):
    before = {path: snapshot(path) for path in case.keep}
    proc = run(command_line(case), cwd=cwd)
    lines = [line for line in proc.stderr.splitlines()
             if not INFO_LINE.match(line)]
    transcript = "\n    ".join([" ".join(command_line(case))]
                               + proc.stderr.splitlines())
    tag = f"{case.name}{' (resume)' if case.resume else ''}"

    results = [
        tally.check(f"{tag}: exit code {case.exit_code}",
                    proc.returncode == case.exit_code,
                    f"got {proc.returncode}\n    {transcript}"),
        tally.check(f"{tag}: one error line", len(lines) == 1,
                    f"got {len(lines)}\n    {transcript}"),
    ]
    regex = ERROR_PREFIX[case.command] + case.pattern
    results.append(tally.check(
        f"{tag}: error line matches", len(lines) >= 1 and any(
            re.search(regex, line) for line in lines),
        f"pattern {regex!r}\n    {transcript}"))
    for path in case.keep:
        results.append(tally.check(f"{tag}: {os.path.basename(path)} kept",
                                   snapshot(path) == before[path],
                                   f"{before[path]} -> {snapshot(path)}"))
    for path in case.absent:
        results.append(tally.check(f"{tag}: {path} not created",
                                   not os.path.lexists(path)))
    stray = stray_temporaries(case.keep + case.absent)
    results.append(tally.check(f"{tag}: no temporary file left", not stray,
                               stray))
    for line in lines:
        print(f"    {line}")
    return all(results)


def good_results(work, data):
    """Run the base config once and return its results file."""
    config = write(os.path.join(work, "good.ini"), ini_text(data))
    path = os.path.join(work, "good.h5")
    proc = run([MPIEXEC, "-q", "--oversubscribe", "-n", "1", FASWEEP, "run",
                config, "-o", path, "--quiet"])
    if proc.returncode != 0:
        print(f"the base config failed to run:\n{proc.stderr}")
        sys.exit(1)
    return path


def main():
    work = fresh_dir(sys.argv[1])
    data = tiny_mnist(work)
    table = Table(work, data, good_results(work, data))
    table.add_config_cases()
    table.add_trial_usage_cases()
    table.add_data_cases()
    table.add_pool_cases()
    table.add_output_cases()
    table.add_report_cases()
    table.add_resume_cases()

    # Every command runs in an empty directory that must stay empty, so a
    # result written to a default path shows up.
    cwd = fresh_dir(os.path.join(work, "cwd"))
    tally = Tally()
    for case in table.cases:
        print(f"{case.name}{' (resume)' if case.resume else ''}")
        ok = check_case(tally, case, cwd)
        print("    ok" if ok else "    FAILED")
    tally.check("working directory stays empty", not os.listdir(cwd),
                os.listdir(cwd))
    tally.finish()


if __name__ == "__main__":
    main()
