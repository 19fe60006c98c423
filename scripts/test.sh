#!/usr/bin/env bash
# Run the whole test suite: real SQLite, PostgreSQL, ovsdb-server, ovn-northd,
# ovn-controller and ovs-vswitchd, all started by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
# Two test processes (pytest-xdist): most tests wait on OVN or a subprocess, so
# two keep a 2-core machine busy and halve the wall time.
exec .venv/bin/python -m pytest -q -n 2 "$@"
