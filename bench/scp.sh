#!/usr/bin/env bash
# scp throughput through the SSM tunnel and an EICE tunnel vs direct ssh on loopback, to the
# same sandbox SSH server, in one run. Usage: bench/scp.sh [MiB] [runs]
# Env: JITSSH_BENCH_FAST_AGENT=1 runs the sandbox's fast agent instead of the
# AWS-like default, whose downloads run at about 0.6 MiB/s (16 MiB is enough there).
# JITSSH_BENCH_DIRECTION=up|down times one direction only; JITSSH_SSM_PAYLOAD_SIZE
# raises the client's message size. bench/profile-scp.sh profiles a run.
set -euo pipefail
cd "$(dirname "$0")/.."
export JITSSH_BENCH_SIZE=${1:-128}
go test -run '^$' -bench '^BenchmarkSCP$' -benchtime "${2:-3}x" -timeout 60m ./e2e
