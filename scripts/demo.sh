#!/usr/bin/env bash
# The jitssh demo: start the sandbox; connect by Name tag over SSM, with plain
# ssh and scp, to a private instance through the EC2 Instance Connect Endpoint
# and through a bastion; a just-in-time user; an impersonation attempt denied
# by the SCP; an MFA-protected role's prompt answered once, then its cached
# session; CloudTrail joined to the instance's audit line; an IAM Identity
# Center sign-in (device code, approved with ctl sso approve); the incident
# drill (jitssh revoke alice while she is logged in, then --undo); her
# timeline with jitssh audit; stop.
# Exits non-zero if any step fails. Touches nothing outside a temp directory.
set -euo pipefail
BIN=${BIN:-$(cd "$(dirname "$0")/.." && pwd)/bin}
export PATH="$BIN:$PATH"

work=$(mktemp -d "${TMPDIR:-/tmp}/jitssh-demo.XXXXXX")
# Searchable (not readable) by others: a just-in-time user's home lives
# under the sandbox's state directory in here (step 7).
chmod 711 "$work"
sandbox_pid=
cleanup() {
  if [ -n "$sandbox_pid" ]; then kill "$sandbox_pid" 2>/dev/null || true; wait "$sandbox_pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

bold() { if [ -t 1 ]; then printf '\n\033[1m== %s\033[0m\n' "$*"; else printf '\n== %s\n' "$*"; fi; }
run() { printf '$ %s\n' "$*" >&2; "$@"; }

# sh COMMAND-LINE: print it, then run exactly that line.
sh_run() { printf '$ %s\n' "$1" >&2; eval "$1"; }

bold "1. Start the sandbox (a local AWS with simulated instances)"
# Its summary goes to a file the demo shows once it is ready; its log (a
# line per API call) to sandbox.log in the state directory. The env file
# gives jitssh a state directory of the sandbox's own (JITSSH_STATE_DIR),
# so nothing lands in your ~/.config or ~/.cache. --tls: HTTPS and WSS, as
# AWS serves, with a CA of the sandbox's own that the env file names
# (AWS_CA_BUNDLE, as for a corporate TLS-inspecting proxy; docs/networks.md).
sh_run "jitssh-sandbox up --tls --env-file $work/env --state-dir $work/state 2>$work/up.txt &"
sandbox_pid=$!
for _ in $(seq 1 300); do
  [ -s "$work/env" ] && break
  kill -0 "$sandbox_pid" 2>/dev/null || { cat "$work/up.txt"; echo "demo: the sandbox failed to start" >&2; exit 1; }
  sleep 0.1
done
[ -s "$work/env" ] || { echo "demo: the sandbox did not become ready" >&2; exit 1; }
for _ in $(seq 1 50); do grep -q '^Ctrl-C' "$work/up.txt" && break; sleep 0.1; done
cat "$work/up.txt"
# shellcheck disable=SC1091
sh_run ". $work/env"
echo "AWS_ENDPOINT_URL=$AWS_ENDPOINT_URL, trusted through AWS_CA_BUNDLE=$AWS_CA_BUNDLE"
case $AWS_ENDPOINT_URL in https://*) ;; *) echo "demo: the sandbox does not serve HTTPS" >&2; exit 1 ;; esac

# field KEY [NAME]: KEY of the instance named NAME (default: the first) in
# the instances file, which json.MarshalIndent writes one field per line.
field() {
  awk -v key="\"$1\":" -v name="${2:-}" '
    /^  \{/ { inst = 0; if (name == "") seen++ }
    name != "" && $1 == "\"name\":" && $2 == "\"" name "\"," { inst = 1 }
    (name == "" && seen == 1) || inst {
      if ($1 == key) { v = $2; sub(/,$/, "", v); gsub(/"/, "", v); print v; exit }
    }' "$JITSSH_SANDBOX_INSTANCES"
}
expect() { # expect WANT GOT WHAT
  [ "$1" = "$2" ] || { echo "demo: $3: expected $1, got $2" >&2; exit 1; }
}
id=$(field id); name=$(field name); want_host=$(field hostname); audit=$(field audit_log)
sshd_log=$(field sshd_log || true)

bold "2. What this account has: jitssh ls (state, SSM agent, and which transports reach each instance)"
run jitssh ls

bold "3. By Name tag, over SSM Session Manager: jitssh ssh $name -- hostname"
out=$(run jitssh ssh "$name" -- hostname)
echo "$out"
expect "$want_host" "$out" "hostname of $name"

bold "4. Plain ssh through the ProxyCommand block of 'jitssh config'"
# --user: the sandbox's default identity logs in as JITSSH_SANDBOX_USER,
# which is not the local user when the sandbox runs as root (never root).
run jitssh config install --file "$work/ssh_config" --user "$JITSSH_SANDBOX_USER"
sed 's/^/    /' "$work/ssh_config"
echo "    ...which includes $JITSSH_STATE_DIR/ssh_config:"
sed 's/^/    /' "$JITSSH_STATE_DIR/ssh_config"
out=$(run ssh -F "$work/ssh_config" "$id" hostname)
echo "$out"
expect "$want_host" "$out" "hostname over plain ssh"

echo; echo "scp a file there and back, and compare checksums:"
head -c 4194304 /dev/urandom >"$work/payload"
remote="/tmp/jitssh-demo-$$-$RANDOM"
run scp -q -F "$work/ssh_config" "$work/payload" "$id:$remote"
run scp -q -F "$work/ssh_config" "$id:$remote" "$work/payload.back"
ssh -F "$work/ssh_config" "$id" rm -f "$remote"
a=$(sha256sum <"$work/payload" | cut -d' ' -f1); b=$(sha256sum <"$work/payload.back" | cut -d' ' -f1)
echo "sent     $a"
echo "received $b"
expect "$a" "$b" "checksum of the file copied back"

bold "5. A private instance whose SSM agent is offline, through the EC2 Instance Connect Endpoint"
app_host=$(field hostname app-1)
out=$(run jitssh ssh --transport eice app-1 -- hostname)
echo "$out"
expect "$app_host" "$out" "hostname of app-1 over EICE"
echo "(jitssh ssh app-1 picks eice by itself: 'jitssh doctor app-1' says why)"

bold "6. The same private network through a bastion: keys pushed to both hops"
db_host=$(field hostname db-1)
out=$(run jitssh ssh --via bastion-1 db-1 -- hostname)
echo "$out"
expect "$db_host" "$out" "hostname of db-1 through bastion-1"

jit=$(field jit_service web-2)
jit_user=alice
bold "7. A just-in-time user: $jit_user exists nowhere on web-2 until she logs in"
if [ -n "$jit" ]; then
  if grep -q "^$jit_user:" /etc/passwd; then
    echo "demo: $jit_user already exists on this machine, so the JIT step would prove nothing; skipping it"
  else
    # Root's lookups never use the service's negative cache, so this
    # lookup does not get in the way of the login that follows.
    sh_run "getent passwd $jit_user" || echo "(no such user)"
    out=$(sh_run "AWS_PROFILE=alice jitssh ssh $jit_user@web-2 -- 'id; ls -ld ~'")
    echo "$out"
    case "$out" in "uid="*"($jit_user)"*) ;; *) echo "demo: $jit_user was not created on web-2" >&2; exit 1 ;; esac
  fi
else
  echo "(skipped: the sandbox runs just-in-time users only as root with glibc's nss-systemd; see docs/instance.md)"
fi

bold "8. Impersonation: alice asks for a key as bob, and the organisation's SCP says no"
if out=$(sh_run "AWS_PROFILE=alice jitssh ssh bob@$name -- id" 2>&1); then
  echo "demo: alice logged in as bob" >&2; exit 1
fi
echo "$out" | grep -v -e '^kex_exchange_identification' -e '^Connection closed by'
echo "$out" | grep -q 'explicit deny in a service control policy' || { echo "demo: the SCP denial was not reported" >&2; exit 1; }

bold "9. An MFA-protected role (profile mfa: role_arn, source_profile carol, mfa_serial): one prompt, then the cache"
# The prompt is on the terminal (/dev/tty), never stdin: script(1) gives
# jitssh one, and types the code jitssh-sandbox ctl mfa-code prints. HOME
# is the demo's own, so the session cache (~/.aws/cli/cache, shared with
# the AWS CLI) is not yours.
mfa_home="$work/home"; mkdir -p "$mfa_home"
code=$(run jitssh-sandbox ctl mfa-code mfa)
echo "$code"
printf '$ AWS_PROFILE=mfa jitssh ls   # on a terminal; typed: %s\n' "$code" >&2
out=$(printf '%s\n' "$code" | HOME="$mfa_home" AWS_PROFILE=mfa script -qec "jitssh ls" /dev/null | tr -d '\r')
# (the terminal echoes the code as script types it, before the prompt: shown after it here)
printf '%s\n' "$out" | sed -e "1{/^$code\$/d}" -e "s/(profile mfa): /(profile mfa): $code\n/"
case "$out" in *"MFA code for arn:aws:iam::"*"(profile mfa): "*) ;; *) echo "demo: no MFA prompt" >&2; exit 1 ;; esac
case "$out" in *"$id"*) ;; *) echo "demo: jitssh ls with the MFA profile listed nothing" >&2; exit 1 ;; esac
echo; echo "Again, without a terminal: the cached session, no prompt:"
sh_run "HOME=$mfa_home AWS_PROFILE=mfa setsid jitssh ls </dev/null | head -n 3"
ls -l "$mfa_home/.aws/cli/cache/"*.json | sed 's/^/    /'
if command -v aws >/dev/null; then
  echo "The AWS CLI uses the same cache entry (no code asked):"
  sh_run "HOME=$mfa_home aws sts get-caller-identity --profile mfa --output text </dev/null"
fi

bold "10. CloudTrail and the instance's audit log, joined by request id"
# The last key the instance served (steps 3-4), and the API call that pushed it.
line=$(tail -n 1 "$audit")
rid=$(printf '%s\n' "$line" | sed -n 's/.*"request_id":"\([^"]*\)".*/\1/p')
ct=$(grep -F "\"requestID\":\"$rid\"" "$JITSSH_SANDBOX_CLOUDTRAIL" | head -n 1)
[ -n "$rid" ] && [ -n "$ct" ] || { echo "demo: no CloudTrail record for request $rid" >&2; exit 1; }
pick() { printf '%s\n' "$2" | sed -n "s/.*\"$1\":\"\\([^\"]*\\)\".*/\\1/p" | head -n 1; }
printf '%-11s %-22s %-60s %s\n' "" "event" "who" "request id"
printf '%-11s %-22s %-60s %s\n' CloudTrail "$(pick eventName "$ct")" "$(pick arn "$ct")" "$(pick requestID "$ct")"
printf '%-11s %-22s %-60s %s\n' instance "$(pick event "$line") $(pick os_user "$line")" "$(pick caller "$line")" "$(pick request_id "$line")"
echo "fingerprint $(pick fingerprint "$line")"
if [ -n "$sshd_log" ] && [ -f "$sshd_log" ]; then
  echo "and sshd's own line, which joins to it by that fingerprint:"
  grep 'Accepted publickey' "$sshd_log" | tail -n 1
fi
echo "The denied attempt is in CloudTrail too:"
denied=$(grep -F '"instanceOSUser":"bob"' "$JITSSH_SANDBOX_CLOUDTRAIL" | tail -n 1)
[ -n "$denied" ] || { echo "demo: no CloudTrail record of the denied push" >&2; exit 1; }
echo "    $(pick errorCode "$denied"): $(pick errorMessage "$denied")"

bold "11. IAM Identity Center (SSO): jitssh login signs in without the AWS CLI"
# The token cache goes to ~/.aws/sso/cache, where the AWS CLI reads it:
# here a home of the demo's own. A person approves the code in a browser
# (the URL printed); jitssh-sandbox ctl sso approve does it for the demo.
export HOME="$work/home"
mkdir -p "$HOME"
printf '$ %s\n' "jitssh login --profile sso --use-device-code" >&2
jitssh login --profile sso --use-device-code >"$work/login.out" 2>"$work/login.txt" &
login_pid=$!
code=
for _ in $(seq 1 100); do
  code=$(grep -o -m1 '[A-Z]\{4\}-[A-Z]\{4\}' "$work/login.txt" || true)
  [ -n "$code" ] && break
  sleep 0.1
done
[ -n "$code" ] || { cat "$work/login.txt"; echo "demo: jitssh login printed no code" >&2; exit 1; }
sed 's/^/    /' "$work/login.txt"
run jitssh-sandbox ctl --env-file "$work/env" sso approve "$code"
wait "$login_pid" || { cat "$work/login.txt"; echo "demo: jitssh login failed" >&2; exit 1; }
grep -v -e 'waiting for the sign-in' "$work/login.txt" | tail -n 1
cat "$work/login.out"
ls -l "$HOME"/.aws/sso/cache/*.json | sed 's/^/    /'
out=$(sh_run "AWS_PROFILE=sso jitssh ssh $name -- hostname")
echo "$out"
expect "$want_host" "$out" "hostname of $name as the SSO user"
# (The key made in step 3 is still within its push window, so the last
# SSM session is what shows who connected.)
ct=$(grep -F '"eventName":"StartSession"' "$JITSSH_SANDBOX_CLOUDTRAIL" | tail -n 1)
echo "SSM session started by $(pick arn "$ct")"
case "$(pick arn "$ct")" in *AWSReservedSSO_*) ;; *) echo "demo: the session was not started by the SSO role session" >&2; exit 1 ;; esac

bold "12. Incident response: alice is revoked while logged in, then let back in"
# alice (the just-in-time user of step 7) leaves a shell looping on web-2;
# the admin's jitssh revoke denies her (an SCP: the admin may manage the
# organisation's), ends her SSM session and blocks and kills her on every
# managed instance through Run Command; --undo gives the access back.
alice_pid=
if [ -n "$jit" ] && ! grep -q "^alice:" /etc/passwd; then
  sh_run "AWS_PROFILE=alice jitssh ssh alice@web-2 -- 'echo logged-in; while :; do sleep 1; done' >$work/alice.out 2>&1 &"
  alice_pid=$!
  for _ in $(seq 1 300); do grep -q logged-in "$work/alice.out" && break; sleep 0.1; done
  grep -q logged-in "$work/alice.out" || { cat "$work/alice.out"; echo "demo: alice did not log in" >&2; exit 1; }
  sh_run "ps -o user=,pid=,args= -u alice"
fi
if ! sh_run "AWS_PROFILE=admin jitssh revoke alice --yes"; then
  # Without root the sandbox runs no jitssh-host on its instances.
  [ -z "$jit" ] || { echo "demo: jitssh revoke failed" >&2; exit 1; }
  echo "(the instances' steps need the sandbox as root, with jitssh-host: see docs/incident.md)"
fi
if [ -n "$alice_pid" ]; then
  for _ in $(seq 1 100); do kill -0 "$alice_pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$alice_pid" 2>/dev/null; then echo "demo: alice's ssh is still connected 10 s after the revoke" >&2; exit 1; fi
  wait "$alice_pid" 2>/dev/null || true
  # (killed processes show until their parent, root's sshd, reaps them)
  for _ in $(seq 1 100); do ps -o pid= -u alice >/dev/null || break; sleep 0.1; done
  if ps -o user=,pid=,stat=,args= -u alice; then echo "demo: alice still runs processes" >&2; exit 1; fi
  echo "alice's ssh ended: $(tail -n 1 "$work/alice.out"); she runs no process any more"
fi
if out=$(sh_run "AWS_PROFILE=alice jitssh ssh alice@web-2 -- true" 2>&1); then
  echo "demo: alice logged in after the revoke" >&2; exit 1
fi
echo "$out" | grep -v -e '^kex_exchange_identification' -e '^Connection closed by'
echo "$out" | grep -q 'explicit deny in a service control policy' || { echo "demo: the revoke's denial was not reported" >&2; exit 1; }
sh_run "AWS_PROFILE=admin jitssh revoke --undo alice --yes" || [ -z "$jit" ]
if [ -n "$alice_pid" ]; then
  out=$(sh_run "AWS_PROFILE=alice jitssh ssh alice@web-2 -- echo alice is back")
  echo "$out"
  expect "alice is back" "$out" "alice's login after --undo"
fi

bold "13. Who did what: alice's timeline, her login and the revocation joined"
# jitssh audit reads CloudTrail (LookupEvents) and the events web-2's
# jitssh-host shipped to CloudWatch Logs: her key push joined to the key
# web-2 served and her login by request id; the admin's SCP, the end of
# her SSM session and the Run Command whose request id web-2's block and
# kill carry; the undo.
if [ -n "$alice_pid" ]; then
  # (web-2 ships its events every half second)
  for _ in $(seq 1 20); do
    out=$(AWS_PROFILE=admin jitssh audit --user alice --since 1h)
    grep -q 'user-unblocked .*command=' <<<"$out" && break
    sleep 0.5
  done
  printf '$ %s\n' "AWS_PROFILE=admin jitssh audit --user alice --since 1h" >&2
  cut -c1-220 <<<"$out"
  grep -q 'push+key-served+login .*request=' <<<"$out" || { echo "demo: no login of alice joined to its push" >&2; exit 1; }
  for w in 'revoke CreatePolicy .*of=alice' 'revoke AttachPolicy .*of=alice' 'terminate-session .*Admin/admin.*of=alice' 'revoke DeletePolicy .*of=alice'; do
    grep -q "$w" <<<"$out" || { echo "demo: alice's timeline lacks $w" >&2; exit 1; }
  done
  cmd=$(sed -n '/send-command .*comment="jitssh: revoke alice"/{s/.*request=\([^ ]*\).*/\1/p;q;}' <<<"$out")
  [ -n "$cmd" ] && grep -q "user-blocked .*request=$cmd" <<<"$out" || { echo "demo: web-2's block is not joined to the revoke's Run Command" >&2; exit 1; }
  echo "(web-2 blocked and killed alice by the Run Command of request $cmd)"
else
  echo "(skipped with the JIT step)"
fi

bold "14. Stop the sandbox"
kill "$sandbox_pid"; wait "$sandbox_pid" 2>/dev/null || true; sandbox_pid=
echo "demo: all steps passed"
