#!/usr/bin/env bash
# Issue 17's shipping acceptance at full length: CloudWatch Logs throttling
# and then failing with 5xx for 2 minutes (sandbox knobs, for:DURATION)
# while events keep coming, the shipper restarted once; afterwards every
# event is in the log group exactly once after deduplication by event id.
# Runs the library test (many events) and the e2e test (real sshd and
# daemon; root). Usage: bench/cwlogs-outage.sh [DURATION]
set -euo pipefail
cd "$(dirname "$0")/.."
outage=${1:-2m}
JITSSH_CW_OUTAGE=$outage go test -count=1 -run '^TestShipperSurvivesFaults$' -v -timeout 30m ./internal/host/cwship | grep -E 'cwship_test|^(--- |ok|FAIL)'
JITSSH_CW_OUTAGE=$outage go test -count=1 -run '^TestShippingSurvivesOutageE2E$' -v -timeout 30m ./e2e | grep -E 'cwlogs_test|^(--- |ok|FAIL)'
