#!/usr/bin/env bash
# bench/audit.sh: the acceptance benchmark of `jitssh audit` (issue 17):
# a sandbox whose CloudTrail holds 100,000 records of one day and whose
# CloudWatch Logs group holds 100,000 instance events; `jitssh audit --user
# user-0042` for that day (a few hundred of each) must finish within
# 1.2 × (LookupEvents pages ÷ 2 a second) + 1 s. Prints pages, calls (as
# the sandbox's CloudTrail recorded them), events and wall time, with the
# machine's load, for docs/benchmarks.md.
#
#   bench/audit.sh            # once (TestAuditScale)
#   BENCH=1 bench/audit.sh    # also the Go benchmark (BenchmarkAudit, 3 runs)
set -euo pipefail
cd "$(dirname "$0")/.."
out=$(mktemp)
trap 'rm -f "$out"' EXIT
echo "machine: $(nproc) cores, $(uname -sr), go $(go env GOVERSION)"
echo "date:    $(date -u +%Y-%m-%dT%H:%M:%SZ)"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) (1, 5, 15 min) before"
JITSSH_AUDIT_BENCH_OUT="$out" go test ./e2e -run '^TestAuditScale$' -count=1 -v | grep -E 'audit_bench_test|^(--- |ok|FAIL)'
echo "result:  $(cat "$out")"
echo "load:    $(cut -d' ' -f1-3 /proc/loadavg) after"
if [ -n "${BENCH:-}" ]; then
	go test ./e2e -run '^$' -bench '^BenchmarkAudit$' -benchtime 3x -count=1
fi
