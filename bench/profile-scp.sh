#!/usr/bin/env bash
# Profiles an scp upload (or download) through the SSM tunnel
# (bench/scp.sh's benchmark, one direction): a Go CPU profile of the sandbox (which runs in the test
# process) and `perf record -g` of the whole machine, from which the
# `jitssh proxy` process and the sandbox are reported, with CPU seconds
# per MiB for each. Usage: bench/profile-scp.sh [MiB] [outdir] [up|down]
# Needs perf and root (or perf_event_paranoid <= 0).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-64}
out=${2:-$(mktemp -d /tmp/jitssh-profile-XXXXXX)}
mkdir -p "$out/tmp" "$out/keep"
out=$(cd "$out" && pwd)
dirn=${3:-up}
go test -c -o "$out/e2e.test" ./e2e
# The e2e binaries live in a temporary directory the test removes on exit;
# keep a hard link so perf can still symbolise them afterwards.
(
	for _ in $(seq 600); do
		for f in "$out"/tmp/jitssh-e2e-bin-*/jitssh; do
			[ -e "$f" ] && [ ! -e "$out/keep/path" ] && ln "$f" "$out/keep/jitssh" && echo "$f" >"$out/keep/path"
		done
		[ -e "$out/keep/path" ] && exit 0
		sleep 0.2
	done
) &
# perf follows the test's whole process tree (the sandbox, sshd, scp, ssh
# and jitssh proxy) and nothing else on the machine.
# The fast sandbox agent by default: the profile is of jitssh's own cost,
# not of the AWS-like agent's pacing (JITSSH_BENCH_FAST_AGENT= to profile that).
(cd e2e && TMPDIR="$out/tmp" JITSSH_BENCH_SIZE="$size" JITSSH_BENCH_DIRECTION="$dirn" \
	JITSSH_BENCH_FAST_AGENT="${JITSSH_BENCH_FAST_AGENT-1}" \
	perf record -g -F 999 -o "$out/perf.data" -- \
	"$out/e2e.test" -test.run '^$' -test.bench '^BenchmarkSCP$' -test.benchtime 1x \
	-test.cpuprofile "$out/sandbox.prof") 2>&1 | grep '^scp' || true
wait
if [ -e "$out/keep/path" ]; then
	orig=$(cat "$out/keep/path")
	mkdir -p "$(dirname "$orig")"
	ln -f "$out/keep/jitssh" "$orig"
fi
echo "CPU seconds per process (perf samples at 999 Hz) for $size MiB ($dirn):"
perf script -i "$out/perf.data" -F comm,pid 2>/dev/null |
	awk -v mib="$size" '$1 ~ /^(jitssh|e2e.test|ssh|sshd|scp|sftp-server)$/ { n[$1" "$2]++ }
		END { for (k in n) if (n[k] > 20) { split(k, a, " "); printf "  %-12s pid %-8s %6.2f s  %6.1f ms/MiB\n", a[1], a[2], n[k]/999, n[k]/999/mib*1000 } }' | sort -k2
echo "profiles in $out: sandbox.prof (go tool pprof $out/e2e.test $out/sandbox.prof);"
echo "  proxy: perf report -i $out/perf.data --comm jitssh --no-children"
