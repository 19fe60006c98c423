#!/usr/bin/env bash
# Install everything Neutrino needs on Debian 12, as root: OVS/OVN and PostgreSQL
# from Debian, a virtualenv in .venv with the package and its test extras, and
# Keystone in its own virtualenv .venv-keystone (see neutrino/sandbox/keystone.py).
set -euo pipefail
cd "$(dirname "$0")/.."

echo "==> installing Debian packages (OVS, OVN, PostgreSQL, Python)"
export DEBIAN_FRONTEND=noninteractive
# Neutrino starts its own daemons; keep the packages' system services from starting.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy" && created_policy=1
fi
trap '[ "$created_policy" = 1 ] && rm -f "$policy"' EXIT
apt-get update -qq
apt-get install -y -qq --no-install-recommends \
  python3 python3-venv python3-dev python3-openvswitch \
  openvswitch-switch openvswitch-common ovn-central ovn-host ovn-common \
  postgresql util-linux procps git >/dev/null

echo "==> creating virtualenv .venv (with Debian's python3-openvswitch and its C JSON parser)"
# Debian's own interpreter, by path: a python3 earlier on the PATH (pyenv, a
# hand-built one) would not see Debian's python3-openvswitch, and pip would fetch
# the pure-Python `ovs`, whose JSON parser costs the server about a tenth of its CPU.
python=/usr/bin/python3
if [ -x .venv/bin/python ] && ! grep -qx 'home = /usr/bin' .venv/pyvenv.cfg; then
  echo "    .venv was built on another python3: rebuilding it on $python"
  rm -rf .venv
fi
[ -x .venv/bin/python ] || "$python" -m venv --system-site-packages .venv
.venv/bin/pip install -q --disable-pip-version-check --upgrade pip
echo "==> installing neutrino and its dependencies"
.venv/bin/pip install -q --disable-pip-version-check -e '.[test,bench]'
echo "==> installing Keystone in .venv-keystone (its own pins, apart from Neutrino's)"
[ -x .venv-keystone/bin/python ] || "$python" -m venv .venv-keystone
.venv-keystone/bin/pip install -q --disable-pip-version-check --upgrade pip
.venv-keystone/bin/pip install -q --disable-pip-version-check -r scripts/keystone-requirements.txt
echo "==> done: .venv/bin/neutrino"
