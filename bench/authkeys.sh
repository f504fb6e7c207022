#!/usr/bin/env bash
# Instance-side latency (issue 4): the shipped AuthorizedKeysCommand run as
# sshd runs it, against the sandbox IMDS on 127.0.0.1, idle and with one busy
# loop per CPU, interleaved with /bin/true (the fork+exec floor):
# jitssh-authkeys asking the key service (authkeys), the same client in C
# (authkeys-c, cmd/jitssh-authkeys-c, when cc exists), jitssh-host
# authorized-keys verifying in its own process (authkeys-inprocess) and the
# service's share alone (service-call); and glibc lookups of a known JIT user, an unknown name and root
# through nss-systemd, in process (getpwnam_r) and through getent.
# Usage: bench/authkeys.sh [runs]   (root, nss-systemd in /etc/nsswitch.conf)
# JITSSH_BENCH_HOST_BIN=PATH measures that jitssh-host build (and jitssh-authkeys, jitssh-authkeys-c next to it) instead of this tree;
# JITSSH_BENCH_HOST_BIN_BASELINE=PATH times it too, interleaved (authkeys-baseline).
# Metrics: NAME-ms-p50 / NAME-ms-p99 per operation, load1 = the 1-minute load
# average when the sub-benchmark started, A/B = ratio of medians.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "# $(date -u +%FT%TZ) $(uname -srm), $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3)"
echo "# load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
CGO_ENABLED=1 go test -run '^$' -bench '^BenchmarkJIT(AuthorizedKeys|Lookup)$' -benchtime "${1:-200}x" -timeout 30m ./internal/hostcli
echo "# load average after: $(cut -d' ' -f1-3 /proc/loadavg)"
