"""Slow and numerous clients against a real ``neutrino server`` (one worker): request
headers have a deadline (408, connection closed), a connection that completes its
headers in time is served, and past ``max_connections_per_worker`` requests get 503."""
from __future__ import annotations

import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from neutrino.config import sqlite_url
from neutrino.db.migrate import upgrade
from neutrino.db.session import Database
from neutrino.sandbox.wait import wait_for
from tests.test_server import start
from tests.test_up import free_port

HEADERS = b"GET /healthz HTTP/1.1\r\nHost: neutrino\r\n"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[tuple[int, subprocess.Popen]]:
    db = Database(sqlite_url(tmp_path))
    upgrade(db)
    db.dispose()
    port = free_port()
    process = start(tmp_path, port, workers=1, client_header_timeout="1.5",
                    max_connections_per_worker="8")
    wait_for(lambda: _healthy(port), 60, "server up")
    yield port, process
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=30)


def _healthy(port: int) -> bool:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def connect(port: int) -> socket.socket:
    return socket.create_connection(("127.0.0.1", port), timeout=10)


def read_all(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection."""
    data = b""
    while chunk := sock.recv(4096):
        data += chunk
    return data


def test_partial_headers_get_408_and_the_connection_closes(
        server: tuple[int, subprocess.Popen]) -> None:
    port, _ = server
    with connect(port) as sock:
        sock.sendall(HEADERS)  # no blank line: the headers never end
        started = time.monotonic()
        answer = read_all(sock)
        waited = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer
    assert waited < 8  # the deadline, not the 10 s socket timeout, ended it


def test_headers_sent_slowly_but_in_time_are_served(
        server: tuple[int, subprocess.Popen]) -> None:
    port, _ = server
    with connect(port) as sock:
        for piece in (b"GET /healthz HTTP/1.1\r\n", b"Host: neutrino\r\n",
                      b"Connection: close\r\n\r\n"):
            sock.sendall(piece)
            time.sleep(0.3)
        assert read_all(sock).startswith(b"HTTP/1.1 200 ")


def test_the_deadline_applies_to_each_request_of_a_kept_alive_connection(
        server: tuple[int, subprocess.Popen]) -> None:
    port, _ = server
    with connect(port) as sock:
        sock.sendall(HEADERS + b"\r\n")
        first = sock.recv(4096)
        assert first.startswith(b"HTTP/1.1 200 ")
        sock.sendall(HEADERS)
        assert b"HTTP/1.1 408 " in read_all(sock)


def test_past_the_connection_limit_requests_get_503(
        server: tuple[int, subprocess.Popen]) -> None:
    port, _ = server
    held = [connect(port) for _ in range(8)]
    try:
        for sock in held:
            sock.sendall(b"GET /healthz HTTP/1.1\r\n")  # each holds a slot until its deadline
        time.sleep(0.3)
        with connect(port) as extra:
            extra.sendall(HEADERS + b"Connection: close\r\n\r\n")
            assert read_all(extra).startswith(b"HTTP/1.1 503 ")
    finally:
        for sock in held:
            sock.close()
    wait_for(lambda: _healthy(port), 10, "served again once the slots are free")
