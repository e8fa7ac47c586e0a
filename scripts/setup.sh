#!/usr/bin/env bash
# Installs what the build and the integration suite need on a fresh Debian machine.
#
# Idempotent and quiet: when everything is present it only checks (well under a second);
# `apt-get update` runs once, and only when a Debian package is missing. Python packages go
# into a venv at .venv/ (git-ignored) so the system Python stays untouched.
# Swift itself (6.3.1 at /opt/swift) comes with the machine image; this script only checks it.
set -euo pipefail
cd "$(dirname "$0")/.."

# curl, nginx, haproxy, wrk, h2load, strace: real peers and comparison proxies for the tests
# and benchmarks; libnghttp2-dev: the HTTP/2 codec's C library; python3-venv: the test venv;
# iproute2 and iptables: the fault matrix's black-holed upstream (F2: a network namespace that
# drops SYNs).
APT_PACKAGES=(curl nginx-light haproxy wrk nghttp2-client libnghttp2-dev strace python3-venv procps
              iproute2 iptables)

is_installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }
missing=()
for pkg in "${APT_PACKAGES[@]}"; do
  # Any installed flavour of the nginx binary will do for nginx-light.
  if [ "$pkg" = nginx-light ] && command -v nginx >/dev/null 2>&1; then continue; fi
  is_installed "$pkg" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v swift >/dev/null 2>&1; then
  echo "setup: swift is not on PATH (expected Swift 6.3.1 at /opt/swift/usr/bin)" >&2
  exit 1
fi

# Python test dependencies: reinstall only when the pinned list changed since the last install.
REQS=Tests/integration/requirements.txt
STAMP=.venv/.requirements.installed
if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
if ! cmp -s "$REQS" "$STAMP" 2>/dev/null; then
  echo "setup: installing Python test packages into .venv"
  .venv/bin/python -m pip install -q --disable-pip-version-check -r "$REQS"
  cp "$REQS" "$STAMP"
fi
