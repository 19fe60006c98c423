#!/usr/bin/env bash
# OpenStack's own network API tests against `neutrino up`: installs tempest and
# neutron-tempest-plugin (pinned in scripts/tempest-requirements.txt) into their own
# virtualenv .venv-tempest, then runs `neutrino conformance` with the arguments given
# (see docs/api.md, "Conformance"). Needs scripts/install.sh to have run first.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ ! -x .venv/bin/neutrino ]; then
  echo "Neutrino is not installed: run scripts/install.sh first" >&2
  exit 2
fi
requirements=scripts/tempest-requirements.txt
stamp=.venv-tempest/.requirements.sha256
# Reinstall only when the pins changed: a run should not pay a minute of pip each time.
if [ ! -f "$stamp" ] || ! sha256sum --quiet -c "$stamp" 2>/dev/null; then
  echo "==> installing tempest and neutron-tempest-plugin in .venv-tempest"
  [ -x .venv-tempest/bin/python ] || python3 -m venv .venv-tempest
  .venv-tempest/bin/pip install -q --disable-pip-version-check --upgrade pip
  .venv-tempest/bin/pip install -q --disable-pip-version-check -r "$requirements"
  sha256sum "$requirements" > "$stamp"
fi
exec .venv/bin/neutrino conformance "$@"
