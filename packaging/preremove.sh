#!/bin/sh
# jitssh-host package: stop the userdb service before its files go.
if [ -d /run/systemd/system ]; then
  systemctl disable --now jitssh-userdb.service || true
fi
