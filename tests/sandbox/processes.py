"""Finding the processes a sandbox or Keystone left behind, by their command lines."""
from __future__ import annotations

import os
from pathlib import Path

from neutrino.sandbox.daemon import pid_alive


def processes_under(directory: Path) -> list[int]:
    """Live processes whose command line mentions ``directory``."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{entry}/cmdline").read_bytes()
        except OSError:
            continue
        if str(directory).encode() in cmdline and pid_alive(int(entry)):
            found.append(int(entry))
    return found
