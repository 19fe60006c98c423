"""The load generator: a lean HTTP/1.1 client, the loop that drives requests
through it, and a listener on the event stream.

Every bench measures a server that shares the machine with its load
generator, so the generator's own CPU per request matters: see
:class:`RawClient` for why the requests are not sent with httpx.
"""
from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode, urlsplit

import httpx

from neutrino.bench import report
from neutrino.bench.report import Progress, Stats


@dataclass
class Phase:
    """What one measured run of requests gave."""

    stats: Stats
    responses: list[Any]
    error_samples: list[str]
    #: CPU milliseconds per request spent by the server, the database server and this client.
    cpu_ms: dict[str, float] = field(default_factory=dict)


Request = Callable[[Any, Any], Awaitable[Any]]


async def drive(client: Client, concurrency: int, items: Sequence[Any],
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
    """A response :class:`RawClient` cannot use: an error status or a closed connection."""


class RawClient:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams, for generating load.

    Why not httpx (already a dependency): the load generator shares the
    machine with the server it measures, so its CPU per request is taken from
    the server.  On a 2-core VM, ``httpx.AsyncClient`` spends 0.8-1.6 ms of
    client CPU per request, this client 0.08-0.2 ms, and with httpx the
    ``GET /`` baseline falls from about 2,300 to 780 requests/s with one
    client: the bench would measure its own client.  Same calling convention
    as ``httpx.AsyncClient`` for what the bench uses, so ``--client httpx``
    runs the same phases with httpx for comparison.
    """

    def __init__(self, base_url: str, max_connections: int,
                 headers: dict[str, str] | None = None):
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        #: Sent with every request (``X-Auth-Token``), after the ones it needs.
        self.headers = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self._idle: list[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = []
        self._slots = asyncio.Semaphore(max_connections)

    async def get(self, path: str, params: dict[str, str] | None = None) -> RawResponse:
        return await self.request("GET", path, params=params)

    async def post(self, path: str, json: Any = None) -> RawResponse:  # httpx's name
        return await self.request("POST", path, body=json)

    async def put(self, path: str, json: Any = None) -> RawResponse:
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
                + ("Content-Type: application/json\r\n" if body is not None else "")
                + self.headers + "\r\n")
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

    async def __aenter__(self) -> RawClient:
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


def client_for(url: str, concurrency: int, kind: str = "raw",
               headers: dict[str, str] | None = None) -> Client:
    if kind == "raw":
        return RawClient(url, concurrency, headers)
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    return httpx.AsyncClient(base_url=url, limits=limits, timeout=120, headers=headers)


class EventListener:
    """A client waiting on ``GET /v2.0/events``: when it first sees each *resource*
    (port, floatingip, ...) ACTIVE."""

    def __init__(self, endpoint: str, timeout: float = 30.0, resource: str = "port") -> None:
        self.active_at: dict[str, float] = {}
        #: When the server stamped each of those events, as it wrote the status to SQL (its
        #: ``time``, moved to this process's monotonic clock).
        self.written_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self.subscribed = threading.Event()
        self._stop = False
        self.error: BaseException | None = None
        self._thread = threading.Thread(target=self._run, args=(endpoint, resource), daemon=True,
                                        name="bench-events")
        self._thread.start()
        if not self.subscribed.wait(timeout):
            raise RuntimeError("could not subscribe to the event stream")

    def _run(self, endpoint: str, resource: str) -> None:
        params = {"resource": resource, "status": "ACTIVE"}
        try:
            with httpx.stream("GET", f"{endpoint}/v2.0/events", params=params,
                              timeout=httpx.Timeout(10, read=None)) as response:
                for line in response.iter_lines():
                    now = time.monotonic()
                    self.subscribed.set()
                    if self._stop:
                        return
                    if line.startswith("data: "):
                        event = json.loads(line[6:])
                        written = event["time"] - (time.time() - now)
                        with self._lock:
                            self.active_at.setdefault(event["resource_id"], now)
                            self.written_at.setdefault(event["resource_id"], written)
        except httpx.HTTPError as e:
            if not self._stop:  # the server going away at the end is expected
                self.error = e

    def count(self, ids: set[str]) -> int:
        with self._lock:
            return sum(1 for i in ids if i in self.active_at)

    def stop(self) -> None:
        self._stop = True
