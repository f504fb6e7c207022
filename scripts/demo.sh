#!/usr/bin/env bash
# The jitssh demo: start the sandbox, connect with real ssh through jitssh,
# copy a file there and back with scp, show the instance's audit line, stop.
# Exits non-zero if any step fails. Touches nothing outside a temp directory.
set -euo pipefail
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}
export PATH="$BIN:$PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/jitssh-demo.XXXXXX")
sandbox_pid=
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

bold() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

# Keep jitssh's key cache and host-key pins inside the demo directory.
export XDG_CACHE_HOME="$work/cache" XDG_CONFIG_HOME="$work/config"

bold "1. Start the sandbox (a local AWS with simulated instances)"
printf '$ jitssh-sandbox up --env-file %s &\n' "$work/env"
jitssh-sandbox up --env-file "$work/env" --state-dir "$work/state" 2>"$work/sandbox.log" &
sandbox_pid=$!
for _ in $(seq 1 300); do
  [ -s "$work/env" ] && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/sandbox.log"; echo "demo: the sandbox failed to start" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/env" ] || { echo "demo: the sandbox did not become ready" >&2; exit 1; }
# shellcheck disable=SC1091
. "$work/env"
sed -n '/ready at/,$p' "$work/sandbox.log"

# Field $2 of the first instance in the instances file (written by json.MarshalIndent).
field() { sed -n "s/^    \"$1\": \"\\(.*\\)\",\\{0,1\\}\$/\\1/p" "$JITSSH_SANDBOX_INSTANCES" | head -n 1; }
id=$(field id); name=$(field name); want_host=$(field hostname); audit=$(field audit_log)
sshd_log=$(field sshd_log || true)
echo "instance: $id (Name=$name), its hostname is $want_host"

bold "2. jitssh ssh: run a command on the instance (by id; its Name tag works too)"
out=$(run jitssh ssh "$id" -- hostname)
echo "$out"
[ "$out" = "$want_host" ] || { echo "demo: expected hostname $want_host, got $out" >&2; exit 1; }

bold "3. Plain ssh through the ProxyCommand block of 'jitssh config'"
run jitssh config install --file "$work/ssh_config"
sed 's/^/    /' "$work/ssh_config"
echo "    ...which includes $XDG_CONFIG_HOME/jitssh/ssh_config:"
sed 's/^/    /' "$XDG_CONFIG_HOME/jitssh/ssh_config"
out=$(run ssh -F "$work/ssh_config" "$id" hostname)
echo "$out"
[ "$out" = "$want_host" ] || { echo "demo: expected hostname $want_host, got $out" >&2; exit 1; }

bold "4. scp a file there and back, and compare checksums"
head -c 4194304 /dev/urandom >"$work/payload"
remote="/tmp/jitssh-demo-$$-$RANDOM"
run scp -q -F "$work/ssh_config" "$work/payload" "$id:$remote"
run scp -q -F "$work/ssh_config" "$id:$remote" "$work/payload.back"
ssh -F "$work/ssh_config" "$id" rm -f "$remote"
a=$(sha256sum <"$work/payload" | cut -d' ' -f1); b=$(sha256sum <"$work/payload.back" | cut -d' ' -f1)
echo "sent     $a"
echo "received $b"
[ "$a" = "$b" ] || { echo "demo: checksum mismatch" >&2; exit 1; }

bold "5. What the instance recorded: the audit line of the last login"
tail -n 1 "$audit"
if [ -n "$sshd_log" ] && [ -f "$sshd_log" ]; then
  echo "and sshd's own line, which joins to it by fingerprint:"
  grep 'Accepted publickey' "$sshd_log" | tail -n 1
fi

bold "6. Stop the sandbox"
kill "$sandbox_pid"; wait "$sandbox_pid" 2>/dev/null || true; sandbox_pid=
echo "demo: all steps passed"
