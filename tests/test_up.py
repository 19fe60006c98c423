"""`neutrino up`: the whole system from a clean state dir, as a user runs it.

Follows the printed instructions with openstacksdk until a port is ACTIVE,
stops with SIGINT and checks nothing is left running, then starts again on
the same state dir and finds the data.
"""
from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import openstack
import pytest
import yaml


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Up:
    def __init__(self, state_dir: Path, port: int):
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEUTRINO_")}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "neutrino.cli", "up", "--state-dir", str(state_dir),
             "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=env, start_new_session=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if "Press Ctrl-C to stop." in line:
                self.ready.set()

    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 120) -> str:
        if not self.ready.wait(timeout):
            self.stop()
            pytest.fail("neutrino up did not become ready:\n" + self.output())
        return self.output()

    def stop(self) -> int:
        self.proc.send_signal(signal.SIGINT)
        try:
            return self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)


def processes_using(path: Path) -> list[str]:
    """Command lines of live processes that mention *path* (sandbox daemons, agents...)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(cmdline)
    return found


def connect(printed: str, tmp: Path) -> openstack.connection.Connection:
    """A connection made exactly from the clouds.yaml `up` printed."""
    block = printed[printed.index("clouds:"):printed.index("Then try:")]
    (tmp / "clouds.yaml").write_text(block)
    config = yaml.safe_load(block)
    assert config["clouds"]["neutrino"]["auth_type"] == "none"
    os.environ["OS_CLIENT_CONFIG_FILE"] = str(tmp / "clouds.yaml")
    return openstack.connect(cloud="neutrino")


def test_up_runs_everything_and_resumes() -> None:
    state = Path(tempfile.mkdtemp(prefix="ntup"))
    port = free_port()
    up = Up(state, port)
    printed = up.wait_ready()
    assert f"http://127.0.0.1:{port}" in printed
    host = re.search(r"--host (\S+)", printed).group(1)
    conn = connect(printed, state)

    net = conn.network.create_network(name="demo")
    conn.network.create_subnet(network_id=net.id, cidr="10.0.0.0/24", ip_version=4,
                               name="demo-subnet")
    created = conn.network.create_port(network_id=net.id, name="demo-port",
                                       binding_host_id=host,
                                       binding_profile={"vif_plug_type": "dummy"})
    active = conn.network.wait_for_status(created, "ACTIVE", failures=["ERROR"], interval=0.5,
                                          wait=60)  # openstacksdk's own polling wait
    assert active.status == "ACTIVE"

    assert up.stop() == 0, up.output()
    time.sleep(0.5)
    assert processes_using(state) == []

    again = Up(state, port)
    try:
        again.wait_ready()
        conn = connect(again.output(), state)
        port_again = conn.network.get_port(created.id)
        assert port_again.name == "demo-port"
        assert [s.name for s in conn.network.subnets(network_id=net.id)] == ["demo-subnet"]
        assert conn.network.wait_for_status(port_again, "ACTIVE", interval=0.5, wait=60).status \
            == "ACTIVE"
    finally:
        assert again.stop() == 0, again.output()
    assert processes_using(state) == []
