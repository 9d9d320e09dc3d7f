#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Starts, stops or reports a one-node SLURM cluster on this machine's
# loopback, for the SLURM test: its own munged, slurmctld and slurmd, run as
# root, with every file in a scratch directory. Installing Debian's slurm-wlm
# and munge is left to jobs/install_deps.sh, and submitting jobs to the
# caller, which must export SLURM_CONF=DIR/slurm.conf.
#
# Usage: cluster.sh start|stop|status [DIR]   (DIR: default /tmp/fasweep-slurm)
# start returns once the node is idle. stop cancels the cluster's jobs and
# sends SIGTERM to the daemons whose pid files are under DIR, after checking
# each process's command name. status exits 0 only when all three daemons run.
# Environment: SLURM_PORT_BASE (default 16817): slurmctld listens on it and
# slurmd on the next port, both on 127.0.0.1.
set -euo pipefail

action=${1:-}
dir=${2:-/tmp/fasweep-slurm}
port=${SLURM_PORT_BASE:-16817}
export SLURM_CONF=$dir/slurm.conf

die() {
	echo "cluster.sh: $*" >&2
	exit 1
}

# Check that the commands exist and that we are root, with what to do if not.
check_host() {
	[ "$(id -u)" -eq 0 ] ||
		die "must run as root: slurmd starts jobs as their user"
	local cmd
	for cmd in munged mungekey slurmctld slurmd sinfo; do
		command -v "$cmd" >/dev/null ||
			die "$cmd not found: run jobs/install_deps.sh" \
			    "(Debian packages slurm-wlm and munge)"
	done
}

# With CommunicationParameters=NoInAddrAny, srun listens on the address
# that this machine's hostname resolves to, so that address must be on the
# loopback for the cluster to stay there.
check_hostname() {
	local name addr
	name=$(hostname)
	addr=$(getent ahostsv4 "$name" | awk 'NR == 1 { print $1 }') || addr=
	[ -n "$addr" ] ||
		die "hostname $name does not resolve, and srun needs its" \
		    "address: add '127.0.1.1 $name' to /etc/hosts"
	case $addr in
	127.*) ;;
	*) die "hostname $name resolves to $addr, not to a loopback" \
	       "address, so srun would listen there: add '127.0.1.1 $name'" \
	       "to /etc/hosts" ;;
	esac
}

# Fail if something listens on port $1 of 127.0.0.1.
check_port() {
	if (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; then
		die "port $1 on 127.0.0.1 is in use: set SLURM_PORT_BASE" \
		    "to the first of two free ports"
	fi
}

# Print the pid in pid file $1 if that process is alive and its command
# name is $2, so that a pid reused by another program is never signalled.
live_pid() {
	local pid comm
	[ -s "$1" ] || return 1
	pid=$(cat "$1")
	comm=$(cat "/proc/$pid/comm" 2>/dev/null) || return 1
	[ "$comm" = "$2" ] || return 1
	echo "$pid"
}

# Start a private munged with its own key, socket and pid file under $dir.
start_munge() {
	mkdir -p "$dir/munge"
	chmod 0755 "$dir/munge"
	if [ ! -s "$dir/munge/munge.key" ]; then
		mungekey --create --keyfile="$dir/munge/munge.key"
	fi
	live_pid "$dir/munge/munged.pid" munged >/dev/null && return 0
	munged --socket="$dir/munge/munge.socket" \
		--key-file="$dir/munge/munge.key" \
		--pid-file="$dir/munge/munged.pid" \
		--log-file="$dir/munge/munged.log" \
		--seed-file="$dir/munge/munged.seed" ||
		die "munged failed to start: see $dir/munge/munged.log"
}

# Write slurm.conf for one node with this machine's CPUs and memory.
write_conf() {
	local cpus mem_mb
	cpus=$(nproc)
	mem_mb=$(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo)
	mkdir -p "$dir/ctld" "$dir/slurmd" "$dir/log"
	cat >"$dir/slurm.conf" <<EOF
# One-node test cluster written by tests/slurm/cluster.sh. No plugin uses
# cgroups. slurmd tracks a job's processes by parent pid (linuxproc) and
# binds no tasks (task/none), so it runs without systemd or a delegated
# cgroup.
ClusterName=fasweep-test
SlurmctldHost=localhost(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge/munge.socket
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$dir/ctld
SlurmdSpoolDir=$dir/slurmd
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
MailProg=/bin/true
ReturnToService=2
NodeName=localhost NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem_mb State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
}

# Wait up to 30 s until sinfo reports the node idle.
wait_idle() {
	local state
	for _ in $(seq 60); do
		state=$(sinfo --noheader --format=%T 2>/dev/null || true)
		[ "$state" = idle ] && return 0
		sleep 0.5
	done
	die "timed out after 30 s waiting for the node to be idle" \
	    "(sinfo: ${state:-no output}): see $dir/log/slurmctld.log" \
	    "and $dir/log/slurmd.log"
}

start() {
	check_host
	check_hostname
	# munged requires every user to be able to reach its socket.
	mkdir -p "$dir"
	chmod 0755 "$dir"
	live_pid "$dir/slurmctld.pid" slurmctld >/dev/null ||
		check_port "$port"
	live_pid "$dir/slurmd.pid" slurmd >/dev/null ||
		check_port $((port + 1))
	start_munge
	write_conf
	if ! live_pid "$dir/slurmctld.pid" slurmctld >/dev/null; then
		slurmctld -f "$SLURM_CONF" ||
			die "slurmctld failed to start: see $dir/log/slurmctld.log"
	fi
	if ! live_pid "$dir/slurmd.pid" slurmd >/dev/null; then
		slurmd -f "$SLURM_CONF" -N localhost ||
			die "slurmd failed to start: see $dir/log/slurmd.log"
	fi
	wait_idle
	echo "cluster.sh: node idle, run SLURM commands with" \
	     "SLURM_CONF=$SLURM_CONF"
}

# Send SIGTERM to daemon $2 in pid file $1 and wait up to 10 s for it.
stop_daemon() {
	local pid
	pid=$(live_pid "$1" "$2") || return 0
	kill "$pid"
	for _ in $(seq 20); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.5
	done
	echo "cluster.sh: $2 (pid $pid) still running 10 s after SIGTERM," \
	     "sending SIGKILL" >&2
	kill -KILL "$pid" 2>/dev/null || true
}

# Cancel every job of this cluster and wait up to 60 s for them to end,
# because the processes of running jobs outlive slurmd.
cancel_jobs() {
	local jobs
	live_pid "$dir/slurmctld.pid" slurmctld >/dev/null || return 0
	jobs=$(squeue --noheader --format=%i 2>/dev/null) || return 0
	[ -n "$jobs" ] || return 0
	# shellcheck disable=SC2086 # one argument per job id
	scancel $jobs 2>/dev/null || true
	for _ in $(seq 120); do
		[ -z "$(squeue --noheader --format=%i 2>/dev/null)" ] && return 0
		sleep 0.5
	done
	echo "cluster.sh: jobs still listed by squeue after 60 s" >&2
}

stop() {
	cancel_jobs
	stop_daemon "$dir/slurmd.pid" slurmd
	stop_daemon "$dir/slurmctld.pid" slurmctld
	stop_daemon "$dir/munge/munged.pid" munged
}

status() {
	local name file pid rc=0
	for name in munged slurmctld slurmd; do
		file=$dir/$name.pid
		[ "$name" = munged ] && file=$dir/munge/munged.pid
		if pid=$(live_pid "$file" "$name"); then
			echo "$name: running, pid $pid"
		else
			echo "$name: not running"
			rc=1
		fi
	done
	[ "$rc" -eq 0 ] && sinfo
	return "$rc"
}

case "$action" in
start) start ;;
stop) stop ;;
status) status ;;
*) die "usage: cluster.sh start|stop|status [DIR]" ;;
esac
