"""The system a benchmark measures: ``neutrino server`` in a subprocess, its database.

Benchmarks and tests that need a real server process share these: the API
bench (``neutrino.bench.api``), the status and end-to-end benches (with the
OVN driver, :func:`ovn_server`) and tests that load a server with concurrent
clients.  The server is started as an operator would start it (``neutrino
server`` with ``NEUTRINO_*`` settings, readiness on ``NOTIFY_SOCKET``), so
what is measured is what is shipped.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from neutrino.bench import report
from neutrino.bench.report import Memory, Progress

if TYPE_CHECKING:
    from neutrino.sandbox import Sandbox

class ServerError(RuntimeError):
    """The server exited or never became ready; the message ends with its log's tail."""


@dataclass
class ServerProcess:
    """``neutrino server`` in a subprocess of its own session, on a migrated database.

    Settings go through ``NEUTRINO_*`` variables (``env``), exactly as an
    operator would set them; the parent's ``NEUTRINO_*`` variables are not
    inherited, so the server runs with what the caller chose.
    """

    database_url: str
    workdir: Path
    workers: int = 2
    env: dict[str, str] = field(default_factory=dict)
    port: int = 0
    process: subprocess.Popen | None = None
    #: Where the server reports readiness (``NOTIFY_SOCKET``).
    notify: socket.socket | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None
        return self.process.pid

    @property
    def log_path(self) -> Path:
        return self.workdir / "server.log"

    def start(self, timeout: float = 60.0) -> ServerProcess:
        """Migrate the database, launch the server and wait until all its workers serve."""
        from neutrino.db.migrate import upgrade
        from neutrino.db.session import Database

        db = Database(self.database_url)
        try:
            upgrade(db)
        finally:
            db.dispose()
        self.launch()
        self._wait_ready(timeout)
        return self

    def launch(self) -> None:
        """Start ``neutrino server`` and return at once; it reports readiness on
        :attr:`notify` (systemd's protocol)."""
        from neutrino.core.quotas import COUNTED
        from neutrino.sandbox.ovsdb import free_tcp_port

        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = self.port or free_tcp_port()
        if self.notify is None:
            self.notify = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self.notify.bind(f"\0neutrino-bench-{uuid.uuid4().hex}")
        self.notify.setblocking(False)
        with contextlib.suppress(BlockingIOError):
            while self.notify.recv(4096):  # a previous launch's news
                pass
        env = {k: v for k, v in os.environ.items() if not k.startswith("NEUTRINO_")}
        env.update({"NEUTRINO_DATABASE_URL": self.database_url,
                    "NEUTRINO_BIND_PORT": str(self.port),
                    "NEUTRINO_API_WORKERS": str(self.workers),
                    "NEUTRINO_LOG_LEVEL": "WARNING",
                    # The benchmarks measure the API without identity unless ``env`` says.
                    "NEUTRINO_AUTH_STRATEGY": "noauth",
                    # ... and load one project far past Neutron's default limits: it has
                    # none, as rally's quotas context gives the projects it loads (-1).
                    **{f"NEUTRINO_QUOTA_{name.upper()}": "-1" for name in COUNTED},
                    "NOTIFY_SOCKET": "@" + self.notify.getsockname()[1:].decode()})
        env.update(self.env)
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "neutrino.cli", "server"], env=env, stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def _wait_ready(self, timeout: float) -> None:
        """Until the server says ``READY=1``: every worker up, not just the first one
        ``/healthz`` would reach (a worker still starting takes a core for a second)."""
        assert self.process is not None and self.notify is not None
        deadline = time.monotonic() + timeout
        self.notify.settimeout(0.2)
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise ServerError(f"neutrino server exited ({self.process.returncode}):\n"
                                  + self.log_tail())
            with contextlib.suppress(TimeoutError):
                if b"READY=1" in self.notify.recv(4096).split(b"\n"):
                    return
        self.stop()
        raise ServerError(f"neutrino server not ready after {timeout}s:\n" + self.log_tail())

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""

    def memory(self) -> Memory:
        return report.tree_memory(self.pid)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL to the server's own process group; the
        readiness socket is closed (a later launch binds a new one)."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(10)
        if self.notify is not None:
            self.notify.close()
            self.notify = None

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def ovn_server(workdir: Path, sandbox: Sandbox, workers: int) -> ServerProcess:
    """``neutrino server`` on SQLite in *workdir* with the OVN driver, for *sandbox*."""
    return ServerProcess(database_url=f"sqlite:///{workdir / 'neutrino.db'}", workdir=workdir,
                         workers=workers,
                         env={"NEUTRINO_OVN_NB_CONNECTION": sandbox.nb_remote,
                              "NEUTRINO_OVN_SB_CONNECTION": sandbox.sb_remote,
                              "NEUTRINO_MECHANISM_DRIVERS": "ovn"})


def launch_agent(sandbox: Sandbox, workdir: Path) -> subprocess.Popen:
    """One ``neutrino plug-agent`` process for every chassis of *sandbox* (an agent thread
    each, as ``neutrino up`` runs it), logging to ``agent.log``; not waited for."""
    with open(workdir / "agent.log", "ab") as log:
        remotes = [chassis.ovs_remote for chassis in sandbox.chassis.values()]
        return subprocess.Popen(
            [sys.executable, "-m", "neutrino.cli", "plug-agent", *remotes,
             "--providers", "dummy", "--log-level", "WARNING"], stdout=log,
            stderr=subprocess.STDOUT)


def start_agent(sandbox: Sandbox, workdir: Path, timeout: float = 60.0) -> subprocess.Popen:
    """:func:`launch_agent`, then wait until it heartbeats for every chassis."""
    from neutrino.sandbox.wait import wait_for

    agent = launch_agent(sandbox, workdir)
    for name in sandbox.chassis:

        def beating(n: str = name) -> bool:
            return "neutrino-plug-agent-heartbeat" in sandbox.sbctl(
                "get", "Chassis_Private", n, "external_ids")

        wait_for(beating, timeout, f"plug agent of {name}")
    return agent


def stop_agent(agent: subprocess.Popen) -> None:
    agent.terminate()
    agent.wait(20)


@dataclass
class BenchDatabase:
    """A database to run against: its URL and, for a server database, its main pid
    (whose process tree's CPU time is the database's share of each request)."""

    kind: str
    url: str
    pid: int | None = None


@contextlib.contextmanager
def database(kind: str, workdir: Path | None) -> Iterator[BenchDatabase]:
    """A fresh empty database of *kind* (``sqlite`` or ``postgresql``)."""
    if kind == "sqlite":
        workdir = Path(workdir or tempfile.mkdtemp(prefix="ntbench"))
        yield BenchDatabase(kind, f"sqlite:///{workdir / 'neutrino.db'}")
        return
    from neutrino.sandbox.postgres import PostgresServer

    server = PostgresServer()  # its own directory: it must be readable by the postgres user
    server.start()
    try:
        url = server.create_database("neutrino")
        pid = int((server.data_dir / "postmaster.pid").read_text().split()[0])
        yield BenchDatabase(kind, url, pid)
    finally:
        server.stop()


class CpuMeter:
    """CPU time of named process trees, and of this process (``client``), over a phase.

    A tree whose pid is None (no database server: SQLite) counts 0.
    """

    def __init__(self, trees: dict[str, int | None]):
        self.trees = trees

    def _now(self) -> dict[str, float]:
        return {**{name: report.tree_cpu_seconds(pid) if pid else 0.0
                   for name, pid in self.trees.items()}, "client": time.process_time()}

    def __enter__(self) -> CpuMeter:
        self._start = self._now()
        return self

    def __exit__(self, *exc: object) -> None:
        self._end = self._now()

    def seconds(self) -> dict[str, float]:
        return {name: self._end[name] - start for name, start in self._start.items()}

    def per_request(self, requests: int) -> dict[str, float]:
        """Milliseconds of each tree (and the client) per request."""
        return {name: round(used * 1000 / max(requests, 1), 3)
                for name, used in self.seconds().items()}


class PeakSampler:
    """Samples a server's memory in the background; keeps the largest RSS seen."""

    def __init__(self, server: ServerProcess, interval: float = 1.0):
        self.server = server
        self.interval = interval
        self.peak = Memory(0, 0.0, 0.0)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def _sample(self) -> None:
        current = self.server.memory()
        if current.rss_mb > self.peak.rss_mb:
            self.peak = current

    def __enter__(self) -> PeakSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


#: Addresses and MACs of ports written directly to the database (``--fill db``)
#: come from ranges the API's allocator does not hand out first.
FILL_FIRST_IP = (10 << 24) | (8 << 16)
FILL_MAC_PREFIX = "fa:16:3f"


def insert_ports(url: str, network_id: str, subnet_id: str, start: int, count: int,
                 progress: Progress | None = None) -> None:
    """Write *count* ports straight into the database, as the API would have stored them.

    For ``--fill db``: much faster than the API when only the table size
    matters.  Addresses and MACs come from ranges the API allocator does not
    reach in a bench, so the two never collide.
    """
    from sqlalchemy import insert

    from neutrino.db.models import IPAllocation, Port
    from neutrino.db.session import Database
    from neutrino.drivers import status

    db = Database(url)
    now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    done = 0
    try:
        while done < count:
            chunk = min(5000, count - done)
            ports, ips = [], []
            for i in range(start + done, start + done + chunk):
                port_id = str(uuid.uuid4())
                mac = f"{FILL_MAC_PREFIX}:{(i >> 16) & 255:02x}:{(i >> 8) & 255:02x}:{i & 255:02x}"
                ip = FILL_FIRST_IP + i
                ports.append({
                    "id": port_id, "project_id": "", "name": f"fill-{i}", "description": "",
                    "revision_number": 1, "created_at": now, "updated_at": now,
                    "network_id": network_id, "mac_address": mac, "admin_state_up": True,
                    "status": "DOWN", "status_reason": status.NO_HOST, "device_id": "",
                    "device_owner": "", "host": "", "vnic_type": "normal", "profile": {},
                    "vif_type": "unbound", "vif_details": {}, "bound_segment_id": None,
                    "bound_driver": None})
                address = f"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}"
                ips.append({"subnet_id": subnet_id, "port_id": port_id, "network_id": network_id,
                            "ip_address": address})
            with db.write() as session:
                session.execute(insert(Port.__table__), ports)
                session.execute(insert(IPAllocation.__table__), ips)
            done += chunk
            if progress is not None:
                progress.update(done, count)
    finally:
        db.dispose()
