"""The ``neutrino`` command itself: what every sub-command gets from it."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path


def processes_using(path: Path) -> list[int]:
    """Pids of live processes whose environment mentions *path* (a bench's servers do)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            environ = (entry / "environ").read_bytes()
            state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if str(path).encode() in environ and state != "Z":
            found.append(int(entry.name))
    return found


def test_sigterm_ends_a_bench_with_its_cleanup(tmp_path: Path) -> None:
    """SIGTERM runs a command's cleanup as Ctrl-C does: a bench killed mid-run stops the
    server it started (in a session of its own, so nothing else would)."""
    bench = subprocess.Popen(
        [sys.executable, "-m", "neutrino.cli", "bench", "api", "--db", "sqlite", "--clients", "1",
         "--ports", "1000000", "--list-size", "0", "--rss-ports", "0",
         "--workdir", str(tmp_path / "work")],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        for line in bench.stdout:  # the first phase runs: the server and its workers are up
            if "GET / (baseline), 1 client(s)" in line:
                break
        servers = processes_using(tmp_path)
        assert len(servers) >= 3, servers  # the supervisor and two workers
        bench.send_signal(signal.SIGTERM)
        bench.communicate(timeout=60)
        deadline = time.monotonic() + 30
        while processes_using(tmp_path) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert processes_using(tmp_path) == []
    finally:
        bench.kill()
        for pid in processes_using(tmp_path):
            os.kill(pid, signal.SIGKILL)
