#!/usr/bin/env bash
# Integrity under faults at full size: scp of a random file (default 256 MiB)
# to an instance and back through the sandbox tunnel with 5 % frame drop, 1 %
# duplication, reordering and the websocket closed by the "service" every
# 700 ms (each close needs a ResumeSession); the SHA-256 must match every
# time. Usage: bench/faults.sh [MiB] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-256}
runs=${2:-3}
for i in $(seq 1 "$runs"); do
  echo "== run $i of $runs: $size MiB"
  JITSSH_FAULT_SIZE_MIB=$size go test -count=1 -run '^TestSCPIntegrityUnderFaults$' -v -timeout 60m ./e2e | grep -E 'faults_test|^(--- |ok|FAIL)'
done
