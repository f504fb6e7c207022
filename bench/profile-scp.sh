#!/usr/bin/env bash
# Profiles an scp upload through the SSM tunnel (bench/scp.sh's benchmark,
# uploads only): a Go CPU profile of the sandbox (which runs in the test
# process) and `perf record -g` of the whole machine, from which the
# `jitssh proxy` process and the sandbox are reported, with CPU seconds
# per MiB for each. Usage: bench/profile-scp.sh [MiB] [outdir]
# Needs perf and root (or perf_event_paranoid <= 0).
set -euo pipefail
cd "$(dirname "$0")/.."
size=${1:-64}
out=${2:-$(mktemp -d /tmp/jitssh-profile-XXXXXX)}
mkdir -p "$out/tmp" "$out/keep"
out=$(cd "$out" && pwd)
go test -c -o "$out/e2e.test" ./e2e
perf record -a -g -F 999 -o "$out/perf.data" >/dev/null 2>&1 &
perf_pid=$!
sleep 1
# The e2e binaries live in a temporary directory the test removes on exit;
# keep a hard link so perf can still symbolise them afterwards.
(
	while kill -0 "$perf_pid" 2>/dev/null; do
		for f in "$out"/tmp/jitssh-e2e-bin-*/jitssh; do
			[ -e "$f" ] && [ ! -e "$out/keep/path" ] && ln "$f" "$out/keep/jitssh" && echo "$f" >"$out/keep/path"
		done
		sleep 0.2
	done
) &
watch_pid=$!
(cd e2e && TMPDIR="$out/tmp" JITSSH_BENCH_SIZE="$size" JITSSH_BENCH_UPLOAD_ONLY=1 \
	"$out/e2e.test" -test.run '^$' -test.bench '^BenchmarkSCP$' -test.benchtime 1x \
	-test.cpuprofile "$out/sandbox.prof") 2>&1 | grep '^scp' || true
kill -INT "$perf_pid"
wait "$perf_pid" 2>/dev/null || true
kill "$watch_pid" 2>/dev/null || true
if [ -e "$out/keep/path" ]; then
	orig=$(cat "$out/keep/path")
	mkdir -p "$(dirname "$orig")"
	ln -f "$out/keep/jitssh" "$orig"
fi
echo "CPU seconds per process (perf samples at 999 Hz), for $size MiB:"
perf report -i "$out/perf.data" --sort comm,pid --stdio -g none -F sample,comm,pid 2>/dev/null |
	awk -v mib="$size" '/^ *[0-9]/ && ($2 ~ /^(jitssh|e2e.test|ssh|sshd|scp)$/) { printf "  %-10s pid %-8s %6.2f s  %6.3f s/MiB\n", $2, $3, $1/999, $1/999/mib }' | sort -k3 | head -20
echo "profiles in $out: sandbox.prof (go tool pprof $out/e2e.test $out/sandbox.prof);"
echo "  proxy: perf report -i $out/perf.data --comm jitssh --no-children"
