#!/usr/bin/env bash
# Issue 16: jitssh over an organization. Starts an organization of
# generated accounts (default 50 accounts × 4 regions × 200 instances)
# with a latency on every API call, then measures, in the same run:
#   - `jitssh ls --scope all` (every account and region) [runs times];
#   - `jitssh ssh ID -- true` to the one real instance, in the last
#     account's last region: the baseline named by profile and region
#     (AWS_PROFILE, AWS_REGION), pinned as ID.REGION.ACCOUNT with the
#     location cache removed, then --scope all with the cache removed
#     (cold) and kept (warm). Medians in milliseconds.
# JITSSH_BENCH_ORG=flat (default): every account has the 4 regions and
# may list (ls lists every generated instance); builtin: the sandbox's
# built-in organization (members dev, prod, audit) plus generated ones,
# the real instance dev's in us-west-2.
# For ls it also reports the CPU seconds of the client (user+sys) and of
# the sandbox (its /proc stat) per run, since on a shared machine the wall
# time says more about the other processes than about jitssh; on an idle
# 2-core machine ls takes at least (client + sandbox CPU) / 2.
# With JITSSH_BENCH_BASELINE=REV (e.g. main) the jitssh of that git
# revision is built too and its ls and cold ssh measured in the same run,
# runs alternating with this tree's.
# Usage: bench/scopes.sh [runs]
# Env: JITSSH_BENCH_API_LATENCY (default 30ms), JITSSH_BENCH_GENERATE (50x4x200),
# JITSSH_BENCH_ORG (flat or builtin), JITSSH_BENCH_SETTLE (seconds between
# connections, default 1),
# JITSSH_BENCH_BASELINE (a git revision; default none).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-5}
work=$(mktemp -d)
trap 'kill $sbpid 2>/dev/null || true; wait 2>/dev/null || true; rm -rf "$work"' EXIT
go build -o "$work/bin/" ./cmd/jitssh ./cmd/jitssh-sandbox ./cmd/jitssh-host
base=${JITSSH_BENCH_BASELINE:-}
if [ -n "$base" ]; then
	mkdir -p "$work/src"
	git archive "$base" | tar -x -C "$work/src"
	(cd "$work/src" && go build -o "$work/base/" ./cmd/jitssh)
fi
IFS=x read -r accts regions count <<<"${JITSSH_BENCH_GENERATE:-50x4x200}"
org=${JITSSH_BENCH_ORG:-flat}
case "$org" in
flat)
	# Every account has every region enabled and may list its instances,
	# so ls --scope all lists all ACCOUNTS×REGIONS×N generated instances
	# (plus the management account's hand-written ones); the one real
	# instance (sshd, SSM agent) is in the last account's last region.
	"$work/bin/jitssh-sandbox" config > "$work/org.toml"
	cat bench/scopes-flat.toml >> "$work/org.toml"
	profiles='"default", "gen-*", "zz-last"'
	id=i-0e9b2c3d4e5f00001 account=999988887777 idregion=ap-southeast-1 idprofile=zz-last
	;;
builtin)
	# The built-in organization (members dev, prod and audit) plus
	# generated members: dev's and prod's opt-in regions and audit's SCP
	# hide some of the fleet (docs/benchmarks.md).
	"$work/bin/jitssh-sandbox" config --org > "$work/org.toml"
	profiles='"default", "dev", "prod", "audit", "gen-*"'
	id=i-0d1b2c3d4e5f00002 account=210987654321 idregion=us-west-2 idprofile=dev
	;;
*) echo "JITSSH_BENCH_ORG: flat or builtin" >&2; exit 2 ;;
esac
printf '\n[generate]\naccounts = %s\nregions = %s\ncount = %s\n' "$accts" "$regions" "$count" >> "$work/org.toml"
"$work/bin/jitssh-sandbox" up --config "$work/org.toml" --host-binary "$work/bin/jitssh-host" \
	--latency "*=${JITSSH_BENCH_API_LATENCY:-30ms}" --env-file "$work/env" \
	--state-dir "$work/state" --log "$work/log" > "$work/up.out" 2>&1 &
sbpid=$!
for _ in $(seq 600); do [ -s "$work/env" ] && break; sleep 0.2; done
# shellcheck disable=SC1091
. "$work/env"
export HOME="$work/home" PATH="$work/bin:$PATH"
mkdir -p "$HOME"
export JITSSH_CONFIG="$work/jitssh.toml"
cat > "$JITSSH_CONFIG" <<TOML
[[scope]]
name = "org"
profiles = [$profiles]
regions = ["us-east-1", "us-west-2", "eu-west-1", "ap-southeast-1"]
TOML
ms() { local s; s=$(date +%s%N); "$@" > /dev/null 2> "$work/err" || { echo "failed: $*" >&2; tail -5 "$work/err" >&2; exit 1; }; echo $(( ($(date +%s%N) - s) / 1000000 )); }
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
jitssh ls --scope all > /dev/null 2>&1 || true # role sessions cached, as for a user who signed in
: > "$work/b"; : > "$work/p"; : > "$work/c"; : > "$work/w"; : > "$work/cbase"
# lscpu BIN OUT: one ls --scope all; appends "wall-ms client-cpu-s sandbox-cpu-s" to OUT.
tck=$(getconf CLK_TCK)
sbcpu() { awk '{print $14 + $15}' "/proc/$sbpid/stat"; }
lscpu() {
	local s0 s1 t0
	s0=$(sbcpu) t0=$(date +%s%N)
	/usr/bin/time -f '%U %S' -o "$work/time" "$1" ls --scope all > /dev/null 2> "$work/err" || { echo "failed: $1 ls" >&2; tail -5 "$work/err" >&2; exit 1; }
	s1=$(sbcpu)
	echo "$(( ($(date +%s%N) - t0) / 1000000 )) $(awk '{print $1 + $2}' "$work/time") $(awk -v a="$s0" -v b="$s1" -v t="$tck" 'BEGIN {print (b - a) / t}')" >> "$2"
}
: > "$work/ls"; : > "$work/lsbase"
for _ in $(seq "$runs"); do
	lscpu "$work/bin/jitssh" "$work/ls"
	[ -z "$base" ] || lscpu "$work/base/jitssh" "$work/lsbase"
done
rows=$(jitssh ls --scope all 2>/dev/null | tail -n +2 | wc -l)
# Each connection starts on a settled machine: the end of the one before
# (sshd's exit, the PAM session-close hook, the audit shipper, the SSM
# session's polite shutdown) takes a few hundred milliseconds of CPU on
# the instance side, which would overlap the next run otherwise.
settle() { sleep "${JITSSH_BENCH_SETTLE:-1}"; }
for _ in $(seq "$runs"); do
	settle
	AWS_PROFILE=$idprofile AWS_REGION=$idregion ms jitssh ssh "$id" -- true >> "$work/b"
	rm -f "$JITSSH_STATE_DIR/locations"
	settle
	ms jitssh ssh "$id.$idregion.$account" -- true >> "$work/p"
	rm -f "$JITSSH_STATE_DIR/locations"
	settle
	ms jitssh ssh --scope all "$id" -- true >> "$work/c"
	settle
	ms jitssh ssh --scope all "$id" -- true >> "$work/w"
	if [ -n "$base" ]; then
		rm -f "$JITSSH_STATE_DIR/locations"
		settle
		ms "$work/base/jitssh" ssh --scope all "$id" -- true >> "$work/cbase"
	fi
done
echo "$org organization, generate ${accts}x${regions}x${count}, latency ${JITSSH_BENCH_API_LATENCY:-30ms}, $runs runs, load $(cut -d' ' -f1-3 /proc/loadavg)"
col() { awk -v c="$1" '{print $c}' "$2" | median; }
lsline() {
	echo "$1: median $(col 1 "$2") ms wall, client CPU $(col 2 "$2") s, sandbox CPU $(col 3 "$2") s (walls: $(awk '{printf "%s ", $1}' "$2"))"
}
echo "ls --scope all: $rows rows"
lsline "  this tree" "$work/ls"
[ -z "$base" ] || lsline "  $base" "$work/lsbase"
b=$(median < "$work/b") p=$(median < "$work/p") c=$(median < "$work/c") w=$(median < "$work/w")
echo "ssh: baseline (profile+region) $b ms, pinned (.REGION.ACCOUNT) $p ms, --scope all cold $c ms, warm $w ms"
awk -v b="$b" -v p="$p" -v c="$c" -v w="$w" 'BEGIN {printf "cold/pinned %.2f, warm/pinned %.2f, cold/baseline %.2f, warm/baseline %.2f\n", c/p, w/p, c/b, w/b}'
if [ -n "$base" ]; then
	cb=$(median < "$work/cbase")
	echo "  $base's jitssh: --scope all cold $cb ms, cold/pinned $(awk -v c="$cb" -v p="$p" 'BEGIN {printf "%.2f", c/p}')"
fi
