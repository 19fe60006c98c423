"""``neutrino bench <name> [options]``: one sub-command per benchmark.

Each benchmark is its own module exposing ``add_arguments(parser)`` and
``run(args) -> int``.  A bench module is imported only when chosen: benches
need different parts (OVN, PostgreSQL, the plug agent), and some may not be
written yet, so the table below names modules rather than importing them.
"""
from __future__ import annotations

import argparse
import importlib
import sys

#: bench name -> (module, help)
BENCHES: dict[str, tuple[str, str]] = {
    "api": ("neutrino.bench.api", "REST API throughput/latency, listing time and server memory"),
    "plug": ("neutrino.bench.plug", "VIF plug agent: ports plugged per second"),
    "e2e": ("neutrino.bench.e2e", "port create to ACTIVE through real OVN"),
    "converge": ("neutrino.bench.converge",
                 "time for the whole system to settle after a restart, vs bare OVN"),
    "status": ("neutrino.bench.status", "status worker: NB up events to SQL status"),
    "sg": ("neutrino.bench.sg", "security group rule and membership changes, API to NB, "
                                "on a big group vs a small one"),
    "fip": ("neutrino.bench.fip", "floating IP associate to ACTIVE through real OVN"),
    "failover-status": ("neutrino.bench.failover_status",
                        "three servers, clustered NB/SB: kill -9 of the status worker's "
                        "server, and of the NB leader, under create load"),
    "failover": ("neutrino.bench.failover",
                 "a gateway chassis crashes: time until another claims, and the API's view"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = "benchmarks:\n" + "\n".join(
        f"  {name:8} {help_text}" for name, (_, help_text) in BENCHES.items())
    parser.formatter_class = argparse.RawDescriptionHelpFormatter
    parser.add_argument("bench", choices=list(BENCHES), metavar="BENCH",
                        help="one of: " + ", ".join(BENCHES))
    # The bench's own options are parsed by the bench's module, once imported.
    parser.add_argument("bench_args", nargs=argparse.REMAINDER, help=argparse.SUPPRESS)


def load(name: str):  # noqa: ANN201 - a module
    """The module of bench *name*, or None if it is not installed (yet)."""
    module_name = BENCHES[name][0]
    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as e:
        if e.name != module_name:
            raise
        return None


def run(args: argparse.Namespace) -> int:
    module = load(args.bench)
    if module is None:
        print(f"neutrino bench {args.bench}: not available "
              f"({BENCHES[args.bench][0]} is not installed)", file=sys.stderr)
        return 2
    parser = argparse.ArgumentParser(prog=f"neutrino bench {args.bench}",
                                     description=BENCHES[args.bench][1])
    module.add_arguments(parser)
    return int(module.run(parser.parse_args(args.bench_args)) or 0)
