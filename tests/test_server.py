"""``neutrino server``'s supervisor: workers share one socket, a dead worker is
replaced, readiness is reported to systemd once every worker is up, SIGTERM (or
the supervisor's own death) leaves no process behind, and
a database without schema is refused with a clear message instead of workers
restarting forever."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx

from neutrino.config import sqlite_url
from neutrino.db.migrate import upgrade
from neutrino.db.session import Database
from neutrino.sandbox.wait import wait_for
from tests.test_up import free_port


def children(pid: int) -> set[int]:
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.add(int(entry))
    return found


def alive(pid: int) -> bool:
    """Running (a zombie has exited; reaping it is up to whoever adopted it)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def start(tmp_path: Path, port: int, notify: socket.socket | None = None, workers: int = 2,
          **settings: str) -> subprocess.Popen:
    """``neutrino server`` on a SQLite database in *tmp_path*; *settings* as
    ``NEUTRINO_<NAME>`` variables."""
    env = {**os.environ, "NEUTRINO_DATABASE_URL": sqlite_url(tmp_path),
           "NEUTRINO_MECHANISM_DRIVERS": "", "NEUTRINO_BIND_PORT": str(port),
           "NEUTRINO_AUTH_STRATEGY": "noauth",
           **{f"NEUTRINO_{name.upper()}": value for name, value in settings.items()}}
    if notify is not None:
        env["NOTIFY_SOCKET"] = notify.getsockname()
    return subprocess.Popen(
        [sys.executable, "-m", "neutrino.cli", "server", "--workers", str(workers)],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_supervisor_replaces_a_dead_worker_and_stops_cleanly(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path))
    upgrade(db)
    db.dispose()
    port = free_port()
    notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    notify.bind(str(tmp_path / "notify.sock"))
    notify.settimeout(60)
    server = start(tmp_path, port, notify)
    url = f"http://127.0.0.1:{port}"
    try:
        # systemd's readiness protocol: sent once, when every worker is up.
        assert notify.recv(64) == b"READY=1"
        first = children(server.pid)
        assert len(first) == 2
        assert httpx.get(f"{url}/healthz", timeout=2).json()["status"] == "ok"
        victim = min(first)
        os.kill(victim, signal.SIGKILL)
        # While the replacement starts, the other worker serves: never a 503.
        seen = set()

        def replaced() -> bool:
            answer = httpx.get(f"{url}/healthz", timeout=2)
            seen.add((answer.status_code, answer.json()["status"]))
            return len(children(server.pid) - first) == 1 and answer.json()["status"] == "ok"
        wait_for(replaced, 15, "a replacement worker serving")
        assert victim not in children(server.pid)
        assert (200, "degraded") in seen and all(code == 200 for code, _ in seen), seen
        # Both workers answer on the one socket; the data written through either is there.
        created = httpx.post(f"{url}/v2.0/networks", json={"network": {"name": "n"}}, timeout=10)
        assert created.status_code == 201
        assert httpx.get(f"{url}/v2.0/networks", timeout=10).json()["networks"][0]["name"] == "n"
        workers = children(server.pid)
    finally:
        server.send_signal(signal.SIGTERM)
        output = server.communicate(timeout=30)[0].decode()
    assert server.returncode == 0, output
    assert not any(alive(pid) for pid in workers)
    assert "API worker died; restarting it" in output
    # The second worker was started only once the first one was healthy.
    events = [line for line in output.splitlines()
              if "API worker started" in line or "API worker healthy" in line
              or "all API workers up" in line]
    assert "API worker started worker=0" in events[0], events
    assert "API worker healthy worker=0" in events[1], events
    assert "API worker started worker=1" in events[2], events
    assert "API worker healthy worker=1" in events[3], events
    assert "all API workers up workers=2" in events[4], events


def test_no_schema_stops_the_server_with_a_message(tmp_path: Path) -> None:
    server = start(tmp_path, free_port())
    output = server.communicate(timeout=60)[0].decode()
    assert server.returncode != 0
    assert "the database has no schema: run `neutrino db upgrade` first" in output


def test_workers_exit_when_the_supervisor_is_killed(tmp_path: Path) -> None:
    db = Database(sqlite_url(tmp_path))
    upgrade(db)
    db.dispose()
    server = start(tmp_path, free_port())
    try:
        wait_for(lambda: len(children(server.pid)) == 2, 30, "two workers")
        workers = children(server.pid)
    finally:
        server.kill()
        server.communicate(timeout=10)
    wait_for(lambda: not any(alive(pid) for pid in workers), 30, "orphaned workers to exit")
