#!/usr/bin/env bash
# Installs the real servers and clients that the test suite runs against, from Debian's
# packages: Dovecot (IMAP), Radicale (CalDAV), AWS CLI v2 at /usr/bin/aws, Info-ZIP, isync
# (mbsync, the benchmark peer). Does nothing for what is already there.
set -euo pipefail

need=()
command -v dovecot >/dev/null || need+=(dovecot-imapd)
[[ -x /usr/bin/radicale ]] || need+=(radicale apache2-utils)
[[ -x /usr/bin/aws ]] || need+=(awscli)
command -v unzip >/dev/null || need+=(unzip)
command -v zip >/dev/null || need+=(zip)
command -v mbsync >/dev/null || need+=(isync)

if ((${#need[@]})); then
  if [[ $(id -u) -ne 0 ]]; then
    echo "missing Debian packages: ${need[*]} (run as root, or install them)" >&2
    exit 1
  fi
  echo "installing: ${need[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

# A packaged Dovecot starts itself on install on some systems; the tests run their own.
if pgrep -x dovecot >/dev/null && [[ -f /run/dovecot/master.pid ]]; then
  kill "$(cat /run/dovecot/master.pid)" 2>/dev/null || true
fi

# moto serves S3, KMS and STS to the tests; it comes with Python, not from Debian.
if ! python3 -c 'import moto.server' 2>/dev/null; then
  echo "python3 ($(command -v python3)) has no moto: install it (pip install 'moto[server]')" >&2
  exit 1
fi
