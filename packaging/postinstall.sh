#!/bin/sh
# jitssh-host package: start the userdb service and reload sshd.
set -e
for db in passwd group; do
  if ! grep -Eq "^$db:[^#]*[[:space:]]systemd([[:space:]#]|$)" /etc/nsswitch.conf 2>/dev/null; then
    echo "jitssh-host: /etc/nsswitch.conf does not ask nss-systemd for $db; just-in-time users will not resolve." >&2
    echo "  fix: sed -i -E '/^$db:[^#]*[[:space:]]systemd([[:space:]#]|\$)/!s/^($db:[^#]*[^#[:space:]])/\\1 systemd/' /etc/nsswitch.conf" >&2
  fi
done
# The PAM session hook (session-opened/closed audit events), exactly the
# lines `jitssh-host install` adds (internal/host/install, PAMSessionLine).
if [ -f /etc/pam.d/sshd ] && ! grep -q 'jitssh-host session-event' /etc/pam.d/sshd; then
  printf '%s\n%s\n' '# managed by jitssh-host install: session-opened/closed audit events (docs/instance.md)' \
    'session optional pam_exec.so quiet /usr/bin/jitssh-host session-event' >> /etc/pam.d/sshd
fi
if [ -d /run/systemd/system ]; then
  systemctl daemon-reload
  # restart, not just start: an upgrade's new service serves io.jitssh.Keys
  # (jitssh-authkeys falls back to jitssh-host authorized-keys meanwhile).
  systemctl enable jitssh-userdb.service || true
  systemctl restart jitssh-userdb.service || true
  if sshd -t; then
    systemctl reload-or-restart ssh.service 2>/dev/null || systemctl reload-or-restart sshd.service 2>/dev/null || true
  fi
fi
