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



WAITING_COMMAND = """
import sys, threading, types
from neutrino import cli

def run(args):
    try:  # before the print: the signal may come as soon as it is read
        print("waiting", flush=True)
        threading.Event().wait()
    except KeyboardInterrupt:
        print("cleaned up", flush=True)
        return 0

sys.modules["waiting"] = types.SimpleNamespace(add_arguments=lambda parser: None, run=run)
cli.COMMANDS["waiting"] = ("waiting", "waits until interrupted")
sys.exit(cli.main(["waiting"]))
"""


def test_sigterm_ends_a_command_started_with_sigint_ignored() -> None:
    """A background job of a non-interactive shell (``cmd &`` in a script, as CI and
    supervisors start things) inherits SIGINT ignored; SIGTERM must still run the
    command's cleanup (a handler that relayed SIGTERM as SIGINT did nothing there)."""
    command = subprocess.Popen(
        [sys.executable, "-c", WAITING_COMMAND], stdout=subprocess.PIPE, text=True,
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_IGN))
    try:
        assert command.stdout is not None
        assert command.stdout.readline() == "waiting\n"
        command.send_signal(signal.SIGTERM)
        out, _ = command.communicate(timeout=30)
    finally:
        command.kill()
    assert out == "cleaned up\n" and command.returncode == 0
