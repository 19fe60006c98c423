#!/usr/bin/env bash
# Run the whole test suite: real SQLite, PostgreSQL, ovsdb-server, ovn-northd,
# ovn-controller and ovs-vswitchd, all started by the tests themselves.
# Lint (ruff) and types (mypy, configured in pyproject.toml) come first: they take
# seconds, and either failing fails the run before the slow part starts.
set -euo pipefail
cd "$(dirname "$0")/.."
.venv/bin/ruff check neutrino tests
.venv/bin/mypy
# Two test processes (pytest-xdist): most tests wait on OVN or a subprocess, so
# two keep a 2-core machine busy and halve the wall time.
exec .venv/bin/python -m pytest -q -n 2 "$@"
