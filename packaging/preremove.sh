#!/bin/sh
# jitssh-host package: stop the userdb service before its files go.
if [ -d /run/systemd/system ]; then
  systemctl disable --now jitssh-userdb.service || true
fi
# On removal (deb: "remove"; rpm: 0 packages left), not on upgrade: the
# PAM session hook's lines go too.
if [ "$1" = remove ] || [ "$1" = 0 ]; then
  if [ -f /etc/pam.d/sshd ]; then
    sed -i -e '/^# managed by jitssh-host install: session-opened\/closed audit events/d' \
      -e '/pam_exec.so quiet \/usr\/bin\/jitssh-host session-event$/d' /etc/pam.d/sshd
  fi
fi
