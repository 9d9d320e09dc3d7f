#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs Debian's python3-torch, the PyTorch that tests/bench/peer_torch.py
# runs on, skipping the step when it is present. Only the side-by-side
# benchmark needs it, not building, testing or sweeping. Needs root (or sudo)
# on Debian 12 or later.
set -euo pipefail

dpkg-query -W -f='${Status}' python3-torch 2>/dev/null | grep -q "ok installed" &&
	exit 0

echo "installing: python3-torch" >&2
sudo=""
[ "$(id -u)" -eq 0 ] || sudo=sudo
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq python3-torch
