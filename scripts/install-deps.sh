#!/usr/bin/env bash
# Install what lean-uring needs from Debian packages (Debian 12). Idempotent: installs only the
# missing packages, so an offline machine that already has them passes straight through.
set -euo pipefail
pkgs=(clang cmake make git rsync patch ccache python3 libgmp-dev libgtest-dev liburing-dev spin
      elan libclang-rt-14-dev socat)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "install-deps: installing ${missing[*]}"
if [ "$(id -u)" -ne 0 ]; then SUDO=sudo; else SUDO=; fi
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
