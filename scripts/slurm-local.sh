#!/usr/bin/env bash
# A real single-node Slurm on localhost for the tests (see docs/cluster.md).
#
#   scripts/slurm-local.sh start    install munge/slurmctld/slurmd if missing (apt-get, needs root),
#                                   write /etc/slurm/slurm.conf (CPUs from nproc), start the daemons,
#                                   wait until the node is idle
#   scripts/slurm-local.sh stop     TERM each daemon by the PID in its PID file, KILL after 10 s
#   scripts/slurm-local.sh status   exit 0 when sinfo answers and the node is usable
#
# A slurm.conf that this script did not write is never touched, and `start` does nothing when a
# Slurm is already answering (a developer machine or a cluster login node). Daemons are only ever
# stopped by PID, never by name.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
MARK="# written by fem_electrode scripts/slurm-local.sh"
PIDFILES=(/run/slurmd.pid /run/slurmctld.pid /run/munge/munged.pid)

say() { echo "slurm-local: $*" >&2; }

usable() {
    command -v sinfo >/dev/null 2>&1 || return 1
    local state
    state="$(timeout 5 sinfo -h -o '%t' 2>/dev/null | head -n1)" || return 1
    case "$state" in idle*|mix*|alloc*|comp*) return 0 ;; *) return 1 ;; esac
}

install_packages() {
    local missing=()
    for exe in /usr/sbin/munged /usr/sbin/slurmctld /usr/sbin/slurmd /usr/bin/sbatch; do
        [ -x "$exe" ] || missing+=("$exe")
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    if [ "$(id -u)" != 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        say "missing ${missing[*]}; install munge slurmctld slurmd slurm-client (needs root + apt-get)"
        exit 1
    fi
    say "installing munge slurmctld slurmd slurm-client"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        munge slurmctld slurmd slurm-client >/dev/null
}

write_conf() {
    if [ -f "$CONF" ] && ! grep -qF "$MARK" "$CONF"; then
        say "$CONF exists and was not written by this script; leaving it alone"
        return 0
    fi
    local cpus mem
    cpus="$(nproc)"
    mem="$(awk '/MemTotal/ {printf "%d", $2 / 1024 * 0.8}' /proc/meminfo)"
    mkdir -p /etc/slurm
    cat >"$CONF.tmp" <<EOF
$MARK
ClusterName=ci
SlurmctldHost=localhost
SlurmUser=slurm
AuthType=auth/munge
MpiDefault=pmi2
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MailProg=/bin/true
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
StateSaveLocation=/var/spool/slurmctld
SlurmdSpoolDir=/var/spool/slurmd
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
ReturnToService=2
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/filetxt
JobCompLoc=/var/log/slurm/jobcomp.log
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
SchedulerParameters=sched_interval=1
KillWait=10
MinJobAge=30
NodeName=localhost CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
    mv "$CONF.tmp" "$CONF"
}

alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

start() {
    if usable; then say "a Slurm is already answering; nothing to start"; return 0; fi
    install_packages
    write_conf
    install -d -o munge -g munge -m 0755 /run/munge
    install -d -o slurm -g slurm /var/spool/slurmctld /var/log/slurm
    install -d /var/spool/slurmd
    alive /run/munge/munged.pid || runuser -u munge -- /usr/sbin/munged
    alive /run/slurmctld.pid || /usr/sbin/slurmctld -c
    alive /run/slurmd.pid || /usr/sbin/slurmd -N localhost
    for _ in $(seq 1 60); do
        if usable; then say "up: $(sinfo -h -o '%N %c CPUs %t')"; return 0; fi
        sleep 0.5
    done
    say "Slurm did not come up in 30 s; see /var/log/slurm/slurmctld.log and slurmd.log"
    exit 1
}

stop_one() {  # TERM the daemon whose PID is in $1, wait up to 10 s, then KILL
    local f="$1" pid
    alive "$f" || { rm -f "$f"; return 0; }
    pid="$(cat "$f")"
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    if kill -0 "$pid" 2>/dev/null; then say "KILL $pid ($f)"; kill -KILL "$pid" 2>/dev/null || true; fi
    rm -f "$f"
    stopped=$((stopped + 1))
}

stop() {
    stopped=0
    for f in "${PIDFILES[@]}"; do stop_one "$f"; done   # slurmd, slurmctld, munged: that order
    say "stopped $stopped daemon(s)"
}

case "${1:-}" in
    start) start ;;
    stop) stop ;;
    status) if usable; then sinfo -h -o '%N %c CPUs %t'; else say "not running"; exit 1; fi ;;
    *) echo "usage: $0 {start|stop|status}" >&2; exit 2 ;;
esac
