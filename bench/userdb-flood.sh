#!/usr/bin/env bash
# Userdb service under an unprivileged user's flood (issue 10): the real
# `jitssh-host userdb` as its own process, IMDS answering in 1-2 ms, flood
# processes running as nobody.
#   lookups:     key lookups (jitssh-authkeys-c as sshd runs it) and real sshd
#                logins, idle / with one busy loop per CPU as nobody (control) /
#                while nobody looks up made-up names, 1,000 at once
#   connections: RSS growth while nobody holds 1,000 connections, each with
#                256 KiB of a message that never ends
# Usage: bench/userdb-flood.sh [runs]   (root, sshd, nss-systemd, cc)
# JITSSH_BENCH_USERDB_BIN=PATH runs that jitssh-host build as the service
# (e.g. one built from main, to compare).
# Metrics: keys-PHASE-ok-% / -ms-p50 / -ms-p99, login-PHASE-ok-% / -ms-p99,
# keys-flood/idle-p99 and keys-cpu/idle-p99 (ratios of p99s), rss-growth-MiB,
# load1 = the 1-minute load average when the sub-benchmark started.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
CGO_ENABLED=1 go test -run '^$' -bench '^BenchmarkUserdbFlood$' -benchtime "${1:-200}x" -timeout 30m ./internal/hostcli
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
