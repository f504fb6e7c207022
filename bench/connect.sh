#!/usr/bin/env bash
# Connection set-up latency per transport (ssm, eice, direct, bastion, and
# ssm to a managed instance with its key placed through Run Command),
# against direct TCP + banner and a direct `ssh true` in the same run.
# Usage: bench/connect.sh [runs]
# Env: JITSSH_BENCH_API_LATENCY (default 30ms per AWS API call),
#      JITSSH_BENCH_SSHD=openssh (real sshd instead of the embedded server).
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench '^BenchmarkConnect$' -benchtime "${1:-5}x" -timeout 30m ./e2e
