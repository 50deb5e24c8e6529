#!/usr/bin/env bash
# Install what lean-uring needs from Debian packages (Debian 12). Idempotent and silent when
# nothing is missing (dpkg-query first, no apt-get), so an offline machine that already has the
# packages passes straight through; scripts/build-toolchain.sh and .ci/run call it.
#
#   scripts/install-deps.sh
set -euo pipefail
pkgs=(clang cmake make git rsync patch ccache python3 libgmp-dev libgtest-dev liburing-dev spin
      elan libclang-rt-14-dev socat nginx wrk gnuplot-nox curl frama-c-base why3 z3 cvc5)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

fix="apt-get install ${missing[*]}"
if [ "$(id -u)" -eq 0 ]; then
  as_root=()
elif command -v sudo > /dev/null; then
  as_root=(sudo)
else
  echo "install-deps: missing ${missing[*]}; install them as root: $fix" >&2
  exit 1
fi
echo "install-deps: installing ${missing[*]}"
if ! "${as_root[@]}" apt-get update -qq ||
   ! "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" > /dev/null; then
  echo "install-deps: could not install ${missing[*]} (apt-get says why above: offline?);" \
    "once that is fixed: $fix" >&2
  exit 1
fi
