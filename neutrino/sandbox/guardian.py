"""Stops a sandbox's daemons when the process that owns the sandbox dies.

OVS and OVN daemons started with ``--detach`` live in their own session, so
they outlive a test run or a benchmark that is killed before it can clean up.
Each sandbox starts this guardian with a pipe on its stdin; the guardian
waits for end-of-file - the owner closed the pipe (clean stop) or died - and
then terminates whatever daemons are still recorded in pidfiles under the
sandbox directory, and removes the directory if the sandbox created it.

Run as ``python -m neutrino.sandbox.guardian BASE_DIR {keep|remove}``, through
:func:`neutrino.sandbox.daemon.start_guardian`.
"""
from __future__ import annotations

import os
import shutil
import signal
import sys
import time
from pathlib import Path

from neutrino.sandbox.daemon import pid_alive


def pids_under(base: Path) -> list[int]:
    pids = []
    for pidfile in base.glob("*/*.pid"):
        try:
            pids.append(int(pidfile.read_text().strip()))
        except (OSError, ValueError):
            continue
    return pids


def terminate(pids: list[int], grace: float = 5.0) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + grace
    while time.monotonic() < deadline and any(pid_alive(p) for p in pids):
        time.sleep(0.05)
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def main(argv: list[str]) -> int:
    base, mode = Path(argv[0]), argv[1]
    os.setsid()  # signals to the owner's process group must not reach us
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    while sys.stdin.buffer.read(4096):
        pass
    terminate(pids_under(base))
    if mode == "remove":
        shutil.rmtree(base, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
