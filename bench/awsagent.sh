#!/usr/bin/env bash
# Resends against the AWS-like sandbox agent at full size: scp of a random
# file (default 64 MiB) up through the SSM tunnel to the default agent,
# which acknowledges each message only after handing it to sshd (late and
# uneven); the file must arrive intact with < 0.1 % of the messages resent
# (counted by the sandbox). Usage: bench/awsagent.sh [MiB] [runs]
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-64}
runs=${2:-3}
for i in $(seq 1 "$runs"); do
  echo "== run $i of $runs: $size MiB"
  JITSSH_UPLOAD_SIZE_MIB=$size go test -count=1 -run '^TestUploadToAWSLikeAgentResendsLittle$' -v -timeout 30m ./e2e | grep -E 'awsagent_test|^(--- |ok|FAIL)'
done
