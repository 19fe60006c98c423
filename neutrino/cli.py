"""The ``neutrino`` command: one entry point, one sub-command per daemon or tool.

Each sub-command imports its module lazily so that, for example, the plug agent
on a DPU does not import the API server's dependencies.
"""
from __future__ import annotations

import argparse
import importlib
import signal
import sys

# sub-command -> (module, help). Each module exposes ``add_arguments(parser)``
# and ``run(args) -> int``.
COMMANDS: dict[str, tuple[str, str]] = {
    "up": ("neutrino.up", "run the whole system on this machine (SQLite + local OVN)"),
    "server": ("neutrino.server", "run the API server (its workers run the status worker)"),
    "db": ("neutrino.db.cli", "manage the database schema (upgrade)"),
    "plug-agent": ("neutrino.agent.main",
                   "run the VIF plug agent: one per OVS remote given (one chassis each)"),
    "bench": ("neutrino.bench.cli", "run benchmarks"),
    "conformance": ("neutrino.conformance.run",
                    "run tempest's and neutron-tempest-plugin's network API tests against "
                    "`neutrino up` (scripts/conformance.sh installs them)"),
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="neutrino", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    # Only the chosen sub-command's module is imported.
    chosen = next((a for a in argv if not a.startswith("-")), None)
    for name, (module_name, help_text) in COMMANDS.items():
        p = sub.add_parser(name, help=help_text)
        if name == chosen:
            module = importlib.import_module(module_name)
            module.add_arguments(p)
            p.set_defaults(_run=module.run)
    args = parser.parse_args(argv)
    # SIGTERM ends any command as Ctrl-C does, so its cleanup runs (a bench stops the
    # server and OVN it started); commands with a shutdown of their own set their own.
    # The handler raises KeyboardInterrupt itself: relaying SIGTERM as SIGINT did nothing
    # in a process started with SIGINT ignored (a background job of a script).
    previous = signal.signal(signal.SIGTERM, signal.default_int_handler)
    try:
        return int(args._run(args) or 0)  # noqa: SLF001 - ours, from set_defaults above
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
