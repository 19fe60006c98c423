#!/usr/bin/env bash
# Run the whole test suite: real SQLite, PostgreSQL, ovsdb-server, ovn-northd,
# ovn-controller and ovs-vswitchd, all started by the tests themselves.
set -euo pipefail
cd "$(dirname "$0")/.."
exec .venv/bin/python -m pytest -q "$@"
