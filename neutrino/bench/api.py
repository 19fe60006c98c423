"""``neutrino bench api``: the REST API measured end to end, as a client sees it.

A real ``neutrino server`` runs in a subprocess (its supervisor and API
workers, by default with no mechanism driver: the pure core), on SQLite and
on a private PostgreSQL.  An asyncio load generator then measures, at
each client concurrency:

* ``GET /`` (the version document): the cost of the HTTP stack alone, the
  baseline every other figure is divided by (the project reports speed as
  ratios against a baseline measured in the same run);
* port create, show, list (first page of 50), update and delete;
* ``GET /v2.0/ports`` with ``--list-size`` ports in the database;
* the summed memory of the server's processes with ``--rss-ports`` ports,
  after creating them (through the API by default) and serving requests.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Awaitable, Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from neutrino.bench import report
from neutrino.bench.report import Memory, Progress, Stats

CREATE, SHOW, LIST, UPDATE, DELETE = "create", "show", "list", "update", "delete"
OPERATIONS = (CREATE, SHOW, LIST, UPDATE, DELETE)
LABELS = {LIST: "list (limit=50)"}
#: Subnet of the bench network: room for well over 100,000 ports.
BENCH_CIDR = "10.0.0.0/12"
#: Addresses and MACs of ports written directly to the database (``--fill db``)
#: come from ranges the API's allocator does not hand out first.
FILL_FIRST_IP = (10 << 24) | (8 << 16)
FILL_MAC_PREFIX = "fa:16:3f"

TARGETS = {
    "creates_per_second_8_clients": (">=", 300.0),
    "create_p99_ms_8_clients": ("<", 50.0),
    "list_seconds": ("<", 1.0),
    "server_rss_mb": ("<", 200.0),
}


# ---------------------------------------------------------------- the server


class ServerError(RuntimeError):
    pass


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

    def start(self, timeout: float = 60.0) -> "ServerProcess":
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

    def __enter__(self) -> "ServerProcess":
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass
class BenchDatabase:
    """A database to run against: its URL and, for a server database, its main pid
    (whose process tree's CPU time is the database's share of each request)."""

    kind: str
    url: str
    pid: int | None = None

    def cpu_seconds(self) -> float:
        return report.tree_cpu_seconds(self.pid) if self.pid else 0.0


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


# ---------------------------------------------------------------- load


@dataclass
class Phase:
    """What one measured run of requests gave."""

    stats: Stats
    responses: list[Any]
    error_samples: list[str]
    #: CPU milliseconds per request spent by the server, the database server and this client.
    cpu_ms: dict[str, float] = field(default_factory=dict)


class CpuMeter:
    """CPU time of the server, database and client over a phase, per request."""

    def __init__(self, server: "ServerProcess", db: BenchDatabase):
        self.server, self.db = server, db

    def __enter__(self) -> "CpuMeter":
        self._start = (report.tree_cpu_seconds(self.server.pid), self.db.cpu_seconds(),
                       time.process_time())
        return self

    def __exit__(self, *exc: object) -> None:
        self._end = (report.tree_cpu_seconds(self.server.pid), self.db.cpu_seconds(),
                     time.process_time())

    def per_request(self, requests: int) -> dict[str, float]:
        names = ("server", "database", "client")
        return {name: round((end - start) * 1000 / max(requests, 1), 3)
                for name, start, end in zip(names, self._start, self._end)}


Request = Callable[[Any, Any], Awaitable[Any]]


async def drive(client: "Client", concurrency: int, items: Sequence[Any],
                request: Request, progress: Progress | None = None) -> Phase:
    """Send one request per item from *concurrency* clients, each waiting for its answer.

    Latency is the time until the whole body arrived; failed requests (status
    >= 400 or transport errors) are counted, not timed.
    """
    latencies: list[float] = []
    responses: list[Any] = []
    errors: list[str] = []
    pending = iter(items)
    total = len(items)

    async def one_client() -> None:
        for item in pending:
            started = time.perf_counter()
            try:
                response = await request(client, item)
            except CLIENT_ERRORS as e:
                errors.append(f"{type(e).__name__}: {e}")
                continue
            took = time.perf_counter() - started
            if response.status_code >= 400:
                errors.append(f"{response.status_code} {response.text[:200]}")
            else:
                latencies.append(took)
                responses.append(response)
            if progress is not None:
                progress.update(len(latencies) + len(errors), total)

    started = time.perf_counter()
    await asyncio.gather(*(one_client() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    return Phase(report.summarize(latencies, elapsed, len(errors)), responses, errors[:5])


class RawResponse:
    """The parts of an ``httpx.Response`` the bench reads."""

    def __init__(self, status_code: int, content: bytes):
        self.status_code = status_code
        self.content = content

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return json.loads(self.content)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise ClientError(f"HTTP {self.status_code}: {self.text[:200]}")


class ClientError(Exception):
    pass


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, for generating load.

    The load generator shares the machine with the server it measures; httpx
    spends about 2 ms of CPU per request here, this client a tenth of that,
    which leaves the cores to the server.  Same calling convention as
    ``httpx.AsyncClient`` for what the bench uses (``--client httpx`` to compare).
    """

    def __init__(self, base_url: str, max_connections: int):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def get(self, path: str, params: dict[str, str] | None = None) -> RawResponse:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: Any = None) -> RawResponse:  # noqa: A002 - httpx's name
        return await self.request("POST", path, body=json)

    async def put(self, path: str, json: Any = None) -> RawResponse:  # noqa: A002
        return await self.request("PUT", path, body=json)

    async def delete(self, path: str) -> RawResponse:
        return await self.request("DELETE", path)

    async def request(self, method: str, path: str, params: dict[str, str] | None = None,
                      body: Any = None) -> RawResponse:
        if params:
            path += "?" + urlencode(params)
        payload = b"" if body is None else json.dumps(body).encode()
        head = (f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                f"Content-Length: {len(payload)}\r\n"
                + ("Content-Type: application/json\r\n" if body is not None else "") + "\r\n")
        async with self._slots:
            reader, writer = self._idle.pop() if self._idle else \
                await asyncio.open_connection(self.host, self.port)
            try:
                writer.write(head.encode() + payload)
                status, keep_alive, content = await _read_response(reader, method)
            except BaseException:
                writer.close()
                raise
            if keep_alive:
                self._idle.append((reader, writer))
            else:
                writer.close()
        return RawResponse(status, content)

    async def open(self, count: int) -> None:
        """Open *count* connections one after another, each answering a ``GET /``
        before the next is opened.

        Independent clients connect at different times; a burst of connects
        from one load generator instead lands them all on the server worker
        that wakes first (it accepts every pending connection at once).
        """
        opened = []
        for _ in range(count):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.write(f"GET / HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n"
                         "Content-Length: 0\r\n\r\n".encode())
            await _read_response(reader, "GET")
            opened.append((reader, writer))
            await asyncio.sleep(0.01)
        self._idle.extend(opened)

    async def aclose(self) -> None:
        for _, writer in self._idle:
            writer.close()
        self._idle.clear()

    async def __aenter__(self) -> "RawClient":
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()


async def _read_response(reader: asyncio.StreamReader, method: str) -> tuple[int, bool, bytes]:
    """Status, whether the connection stays open, and the body of one response."""
    status_line = await reader.readline()
    if not status_line:
        raise ClientError("connection closed by the server")
    status = int(status_line.split(b" ", 2)[1])
    headers: dict[bytes, bytes] = {}
    while (line := await reader.readline()) not in (b"\r\n", b"\n", b""):
        name, _, value = line.partition(b":")
        headers[name.strip().lower()] = value.strip()
    keep_alive = headers.get(b"connection", b"").lower() != b"close"
    if method == "HEAD" or status in (204, 304) or 100 <= status < 200:
        return status, keep_alive, b""
    if b"content-length" in headers:
        return status, keep_alive, await reader.readexactly(int(headers[b"content-length"]))
    if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
        chunks = []
        while size := int((await reader.readline()).split(b";")[0], 16):
            chunks.append(await reader.readexactly(size))
            await reader.readline()
        await reader.readline()
        return status, keep_alive, b"".join(chunks)
    return status, False, await reader.read()


Client = httpx.AsyncClient | RawClient
#: Errors a request may end in, from either client.
CLIENT_ERRORS = (httpx.HTTPError, OSError, asyncio.IncompleteReadError, ClientError, ValueError)


def client_for(url: str, concurrency: int, kind: str = "raw") -> Client:
    if kind == "raw":
        return RawClient(url, concurrency)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=url, limits=limits, timeout=120)


def _version(client: Client, _item: Any) -> Awaitable[Any]:
    return client.get("/")


def _creator(network_id: str) -> Request:
    def create(client: Client, i: Any) -> Awaitable[Any]:
        return client.post("/v2.0/ports", json={"port": {"network_id": network_id,
                                                         "name": f"bench-{i}"}})
    return create


def _show(client: Client, port_id: str) -> Awaitable[Any]:
    return client.get(f"/v2.0/ports/{port_id}")


def _list_page(client: Client, _item: Any) -> Awaitable[Any]:
    return client.get("/v2.0/ports", params={"limit": "50"})


def _update(client: Client, port_id: str) -> Awaitable[Any]:
    return client.put(f"/v2.0/ports/{port_id}", json={"port": {"name": "renamed"}})


def _delete(client: Client, port_id: str) -> Awaitable[Any]:
    return client.delete(f"/v2.0/ports/{port_id}")


def _ids(phase: Phase) -> list[str]:
    return [r.json()["port"]["id"] for r in phase.responses]


# ---------------------------------------------------------------- phases


@dataclass
class Bench:
    """One database's run: the server, the bench network, and what was measured."""

    db: str
    database: BenchDatabase
    server: ServerProcess
    args: argparse.Namespace
    progress: Progress
    network_id: str = ""
    subnet_id: str = ""
    #: Ports on the bench network now (the CRUD phases delete what they create).
    ports: int = 0
    result: dict[str, Any] = field(default_factory=dict)

    def label(self, text: str) -> str:
        return f"[{self.db}] {text}"

    async def setup_network(self) -> None:
        async with httpx.AsyncClient(base_url=self.server.url, timeout=60) as client:
            net = await client.post("/v2.0/networks", json={"network": {"name": "bench"}})
            net.raise_for_status()
            self.network_id = net.json()["network"]["id"]
            sub = await client.post("/v2.0/subnets", json={"subnet": {
                "network_id": self.network_id, "cidr": BENCH_CIDR, "ip_version": 4}})
            sub.raise_for_status()
            self.subnet_id = sub.json()["subnet"]["id"]

    async def operations(self) -> None:
        """Baseline and port CRUD at each concurrency."""
        baseline: dict[str, Any] = {}
        operations: dict[str, Any] = {}
        spread: dict[str, list[int]] = {}
        n = self.args.ports
        for clients in self.args.clients:
            async with client_for(self.server.url, clients, self.args.client) as client:
                if isinstance(client, RawClient):
                    await client.open(clients)
                await drive(client, clients, range(min(n, 50)), _version)  # warm connections up
                spread[str(clients)] = sorted(
                    report.connections_by_process(self.server.pid, self.server.port).values(),
                    reverse=True)
                base = await self._phase(client, clients, "GET / (baseline)", range(n), _version)
                created = await self._phase(client, clients, CREATE, range(n),
                                            _creator(self.network_id))
                ids = _ids(created)
                phases = {CREATE: created,
                          SHOW: await self._phase(client, clients, SHOW, ids, _show),
                          LIST: await self._phase(client, clients, LABELS[LIST], range(n),
                                                  _list_page),
                          UPDATE: await self._phase(client, clients, UPDATE, ids, _update),
                          DELETE: await self._phase(client, clients, DELETE, ids, _delete)}
            baseline[str(clients)] = dict(base.stats.as_dict(), cpu_ms=base.cpu_ms)
            operations[str(clients)] = {
                op: dict(phase.stats.as_dict(),
                         cost_vs_baseline=report.ratio(base.stats.per_second, phase.stats.per_second),
                         p50_vs_baseline=report.ratio(phase.stats.p50_ms, base.stats.p50_ms),
                         server_cpu_vs_baseline=report.ratio(phase.cpu_ms["server"],
                                                             base.cpu_ms["server"]),
                         cpu_ms=phase.cpu_ms, error_samples=phase.error_samples)
                for op, phase in phases.items()}
        self.result["baseline"] = baseline
        self.result["operations"] = operations
        #: Client connections per server worker, most loaded first, at each concurrency.
        self.result["connections_per_worker"] = spread

    async def _phase(self, client: Client, clients: int, name: str,
                     items: Iterable[Any], request: Request) -> Phase:
        items = list(items)
        self.progress.start(self.label(f"{name}, {clients} client(s)"), len(items))
        with CpuMeter(self.server, self.database) as meter:
            phase = await drive(client, clients, items, request, self.progress)
        phase.cpu_ms = meter.per_request(len(items))
        s = phase.stats
        self.progress.done(f"{s.per_second:.0f}/s p50 {s.p50_ms:.1f} ms p99 {s.p99_ms:.1f} ms"
                           + (f", {s.errors} errors" if s.errors else ""))
        return phase

    async def fill(self, count: int) -> dict[str, Any]:
        """Bring the database to *count* ports (the bench network's ports only)."""
        have = self.ports
        missing = max(0, count - have)
        self.progress.start(self.label(f"fill to {count} ports ({self.args.fill})"), missing)
        started = time.perf_counter()
        if self.args.fill == "db":
            await asyncio.to_thread(insert_ports, self.server.database_url, self.network_id,
                                    self.subnet_id, have, missing, self.progress)
            rate = None
        else:
            async with client_for(self.server.url, 32, self.args.client) as client:
                phase = await drive(client, 32, range(have, have + missing),
                                    _creator(self.network_id), self.progress)
            if phase.stats.errors:
                raise RuntimeError(f"filling failed: {phase.error_samples}")
            rate = round(phase.stats.per_second, 1)
        took = time.perf_counter() - started
        self.ports += missing
        self.progress.done(f"{missing} ports" + (f", {rate}/s" if rate else ""))
        return {"method": self.args.fill, "created": missing, "seconds": round(took, 2),
                "creates_per_second": rate}

    async def listing(self, base_p50_ms: float | None) -> None:
        fill = await self.fill(self.args.list_size)
        times, size, count = [], 0, 0
        self.progress.start(self.label(f"GET /v2.0/ports with {self.args.list_size} ports"), 5)
        async with httpx.AsyncClient(base_url=self.server.url, timeout=300) as client:
            for i in range(5):
                started = time.perf_counter()
                response = await client.get("/v2.0/ports")
                times.append(time.perf_counter() - started)
                response.raise_for_status()
                size, count = len(response.content), len(response.json()["ports"])
                self.progress.update(i + 1, 5)
        median = statistics.median(times)
        self.progress.done(f"median {median * 1000:.0f} ms, {count} ports, {size / 1e6:.1f} MB")
        self.result["list"] = {
            "ports": count, "bytes": size, "fill": fill, "seconds_median": round(median, 4),
            "seconds_min": round(min(times), 4),
            "vs_baseline": report.ratio(median * 1000, base_p50_ms) if base_p50_ms else None}

    async def memory(self) -> None:
        before = self.server.memory()
        sampler = PeakSampler(self.server)
        with sampler:
            fill = await self.fill(self.args.rss_ports)
            # Serve a little of everything with the table full, so the figure is
            # that of a server at work, not of one that only ever inserted.
            async with client_for(self.server.url, 8, self.args.client) as client:
                created = await self._phase(client, 8, f"create with {self.args.rss_ports} ports",
                                            range(self.args.ports), _creator(self.network_id))
                ids = _ids(created)
                await drive(client, 8, ids, _show)
                await drive(client, 8, range(100), _list_page)
                await drive(client, 8, ids, _delete)
        after = self.server.memory()
        self.progress.note(self.label(
            f"server memory with {self.args.rss_ports} ports: RSS {after.rss_mb:.0f} MB "
            f"(peak {sampler.peak.rss_mb:.0f} MB), PSS {after.pss_mb:.0f} MB, "
            f"{after.processes} processes"))
        self.result["memory"] = {"ports": self.args.rss_ports, "fill": fill,
                                 "before_fill": before.as_dict(), "after": after.as_dict(),
                                 "peak": sampler.peak.as_dict(),
                                 "by_process": report.process_memory(self.server.pid)}
        self.result["create_at_scale"] = dict(created.stats.as_dict(), cpu_ms=created.cpu_ms)


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

    def __enter__(self) -> "PeakSampler":
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()


def insert_ports(url: str, network_id: str, subnet_id: str, start: int, count: int,
                 progress: Progress | None = None) -> None:
    """Write *count* ports straight into the database, as the API would have stored them.

    For ``--fill db``: much faster than the API when only the table size
    matters.  Addresses and MACs come from ranges the API allocator does not
    reach in a bench, so the two never collide.
    """
    from sqlalchemy import insert

    from neutrino.drivers import status as reasons
    from neutrino.db.models import IPAllocation, Port
    from neutrino.db.session import Database

    db = Database(url)
    now = dt.datetime.now(dt.timezone.utc).replace(microsecond=0, tzinfo=None)
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
                    "status": "DOWN", "status_reason": reasons.NO_HOST, "device_id": "",
                    "device_owner": "", "host": "", "vnic_type": "normal", "profile": {},
                    "vif_type": "unbound", "vif_details": {}, "bound_segment_id": None,
                    "bound_driver": None})
                ips.append({"subnet_id": subnet_id, "port_id": port_id, "network_id": network_id,
                            "ip_address": f"{ip >> 24}.{(ip >> 16) & 255}.{(ip >> 8) & 255}.{ip & 255}"})
            with db.write() as session:
                session.execute(insert(Port.__table__), ports)
                session.execute(insert(IPAllocation.__table__), ips)
            done += chunk
            if progress is not None:
                progress.update(done, count)
    finally:
        db.dispose()


# ---------------------------------------------------------------- run


async def bench_one(database: BenchDatabase, workdir: Path, args: argparse.Namespace,
                    progress: Progress) -> dict[str, Any]:
    db = database.kind
    env = {"NEUTRINO_MECHANISM_DRIVERS": args.mechanism_drivers}
    server = ServerProcess(database.url, workdir / f"server-{db}", workers=args.workers, env=env)
    progress.note(f"[{db}] starting neutrino server ({args.workers} API workers, "
                  f"mechanism drivers: {args.mechanism_drivers or 'none'})")
    with server:
        bench = Bench(db, database, server, args, progress)
        await bench.setup_network()
        bench.result["server"] = {"workers": args.workers, "empty": server.memory().as_dict()}
        await bench.operations()
        lowest = str(min(args.clients))
        base_p50 = bench.result["baseline"][lowest]["p50_ms"]
        if args.list_size:
            await bench.listing(base_p50)
        if args.rss_ports:
            await bench.memory()
        return bench.result


def check_targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of the issue, per database, with the measured value and a verdict."""
    checks = []
    for db, result in results.items():
        ops = result.get("operations", {}).get("8", {})
        values = {
            "creates_per_second_8_clients": ops.get(CREATE, {}).get("per_second"),
            "create_p99_ms_8_clients": ops.get(CREATE, {}).get("p99_ms"),
            "list_seconds": result.get("list", {}).get("seconds_median"),
            "server_rss_mb": result.get("memory", {}).get("after", {}).get("rss_mb"),
        }
        for name, value in values.items():
            if value is None:
                continue
            op, limit = TARGETS[name]
            ok = value >= limit if op == ">=" else value < limit
            checks.append({"db": db, "target": name, "value": value, "limit": f"{op} {limit:g}",
                           "ok": ok})
    return checks


def tables(output: dict[str, Any]) -> str:
    rows = []
    for db, result in output["results"].items():
        for clients, base in result["baseline"].items():
            spread = "/".join(map(str, result.get("connections_per_worker", {}).get(clients, [])))
            rows.append([db, f"{clients} ({spread})" if spread else int(clients),
                         "GET / (baseline)", base["per_second"], base["p50_ms"],
                         base["p99_ms"], base["errors"], 1.0, *base["cpu_ms"].values(), 1.0])
            for op, s in result["operations"][clients].items():
                rows.append([db, int(clients), LABELS.get(op, op), s["per_second"], s["p50_ms"],
                             s["p99_ms"], s["errors"], s["cost_vs_baseline"],
                             *s["cpu_ms"].values(), s["server_cpu_vs_baseline"]])
    text = [report.format_table(
        ["db", "clients (per worker)", "operation", "ops/s", "p50 ms", "p99 ms", "errors", "x base",
         "cpu ms: server", "db", "client", "server cpu x base"], rows)]
    extra = []
    for db, result in output["results"].items():
        if "list" in result:
            lst = result["list"]
            extra.append([db, f"GET /v2.0/ports ({lst['ports']} ports)",
                          f"{lst['seconds_median'] * 1000:.0f} ms", lst["vs_baseline"]])
        if "memory" in result:
            mem = result["memory"]
            extra.append([db, f"server memory ({mem['ports']} ports, {mem['after']['processes']} procs)",
                          f"RSS {mem['after']['rss_mb']:.0f} MB, PSS {mem['after']['pss_mb']:.0f} MB",
                          None])
            scale = result["create_at_scale"]
            extra.append([db, f"create with {mem['ports']} ports (8 clients)",
                          f"{scale['per_second']:.0f}/s p99 {scale['p99_ms']:.1f} ms", None])
    if extra:
        text.append(report.format_table(["db", "measure", "value", "x baseline p50"], extra))
    if output["targets"]:
        text.append(report.format_table(
            ["db", "target", "value", "limit", "met"],
            [[t["db"], t["target"], t["value"], t["limit"], "yes" if t["ok"] else "NO"]
             for t in output["targets"]]))
    return "\n\n".join(text)


def _int_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers, e.g. 1,8,32")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=_int_list, default=[1, 8, 32],
                        help="concurrent clients, comma-separated (default 1,8,32)")
    parser.add_argument("--ports", type=int, default=1000,
                        help="requests per operation and concurrency (default 1000)")
    parser.add_argument("--list-size", type=int, default=10_000,
                        help="ports in the database when timing GET /v2.0/ports (0: skip)")
    parser.add_argument("--rss-ports", type=int, default=100_000,
                        help="ports in the database when measuring server memory (0: skip)")
    parser.add_argument("--fill", choices=["api", "db"], default="api",
                        help="create the list/memory ports through the API with 32 clients "
                             "(default) or insert them straight into the database")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="load generator: a lean asyncio HTTP/1.1 client (default) or "
                             "httpx.AsyncClient; both report their CPU per request")
    parser.add_argument("--mechanism-drivers", default="",
                        help="NEUTRINO_MECHANISM_DRIVERS of the server (default: none, pure core)")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--nice", type=int, default=0,
                        help="scheduling priority of the bench, its server and database "
                             "(e.g. -5 on a machine shared with other work; negative needs root)")
    parser.add_argument("--workdir", help="keep server logs and SQLite files here")
    parser.add_argument("--output", help="write the results as JSON to this file")


def run(args: argparse.Namespace) -> int:
    progress = Progress()
    if args.nice:
        os.nice(args.nice)  # inherited by the server and PostgreSQL started below
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    output: dict[str, Any] = {
        "bench": "api", "machine": report.machine(),
        "settings": {"clients": args.clients, "ports": args.ports, "list_size": args.list_size,
                     "rss_ports": args.rss_ports, "fill": args.fill, "workers": args.workers,
                     "client": args.client, "nice": args.nice,
                     "mechanism_drivers": args.mechanism_drivers},
        "results": {}, "targets": []}
    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = Path(args.workdir)
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ntbench")))
        for kind in kinds:
            with database(kind, workdir) as db:
                output["results"][kind] = asyncio.run(bench_one(db, workdir, args, progress))
    output["machine"]["loadavg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    output["targets"] = check_targets(output["results"])
    print(tables(output))
    print(f"\nload average at start {output['machine']['loadavg_at_start']}, at end "
          f"{output['machine']['loadavg_at_end']} ({output['machine']['cpus']} CPUs): "
          "figures are only comparable on a quiet machine")
    if args.output:
        report.write_json(args.output, output)
    return 0
