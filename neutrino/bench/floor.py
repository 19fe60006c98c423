"""The stack's floor: the least a port create can cost on Neutrino's stack.

``bench e2e``'s throughput phase compares Neutrino's creates/s with what bare NB accepts
from direct ovsdbapp clients.  Between the two sits the stack any Neutron-like API on
these libraries has to run: an HTTP server (uvicorn, FastAPI and pydantic), a SQL
transaction (SQLAlchemy on SQLite) and the NB write (ovsdbapp, with Neutrino's NB
connection).  This module is that stack with nothing on it: each create validates its
body, inserts one row and writes the same LSP as the baseline's, and answers.  No
identity, policy, IPAM, quota, security group or status; no second SQL statement.

Measured in the baseline's sandbox with the same clients, it says how much of the gap
between Neutrino and bare NB is the stack's and how much is Neutrino's own work.  The
app runs in ``--workers`` uvicorn processes, as Neutrino's API does.
"""
from __future__ import annotations

import itertools
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Any

import httpx
from pydantic import BaseModel

from neutrino.bench.lsps import unbound_lsp
from neutrino.sandbox.ovsdb import free_tcp_port
from neutrino.sandbox.wait import wait_for

#: Where the floor's processes find their NB and what they write, and the directory where
#: each says it is ready (set by :class:`Floor`).
ENV_NB, ENV_DB, ENV_SWITCH, ENV_DHCP, ENV_READY = (
    "FLOOR_NB", "FLOOR_DATABASE", "FLOOR_SWITCH", "FLOOR_DHCP", "FLOOR_READY")


class PortIn(BaseModel):
    network_id: str
    device_id: str = ""


class Body(BaseModel):
    port: PortIn


def create_app() -> Any:
    """The floor's ASGI app (a uvicorn ``--factory``), configured from the environment."""
    import sqlalchemy as sa
    from fastapi import FastAPI

    from neutrino.ovn.connection import Northbound

    engine = sa.create_engine(f"sqlite:///{os.environ[ENV_DB]}",
                              connect_args={"check_same_thread": False, "timeout": 30})
    sa.event.listen(engine, "connect",
                    lambda conn, _: conn.execute("PRAGMA journal_mode=WAL"))
    ports = sa.Table("ports", sa.MetaData(),
                     sa.Column("id", sa.String(36), primary_key=True),
                     sa.Column("network_id", sa.String(36)),
                     sa.Column("device_id", sa.String(255)),
                     sa.Column("mac_address", sa.String(32)))
    switch, dhcp = os.environ[ENV_SWITCH], os.environ[ENV_DHCP]
    nb = Northbound(os.environ[ENV_NB], 60)
    wait_for(lambda: nb.ready, 30, "NB connection")
    # Each process numbers its own ports: addresses need not be unique in NB.
    numbers, numbers_lock = itertools.count(os.getpid() % 64 * 1024), threading.Lock()

    app = FastAPI()

    @app.post("/v2.0/ports", status_code=201)
    def create(body: Body) -> dict[str, Any]:
        with numbers_lock:
            i = next(numbers)
        port_id = str(uuid.uuid4())
        columns = unbound_lsp(switch, dhcp, port_id, i)
        mac = columns["addresses"][0].split()[0]
        with engine.begin() as conn:
            conn.execute(ports.insert().values(id=port_id, network_id=body.port.network_id,
                                               device_id=body.port.device_id, mac_address=mac))
        with nb.transaction(check_error=True) as txn:
            txn.add(nb.lsp_add(switch, port_id, **columns))
        return {"port": {"id": port_id, "network_id": body.port.network_id,
                         "device_id": body.port.device_id, "mac_address": mac}}

    (Path(os.environ[ENV_READY]) / str(os.getpid())).touch()
    return app


class Floor:
    """The floor's app in ``workers`` uvicorn processes of its own session, writing to
    *switch* (with the DHCP options *dhcp*) of the NB at *nb_remote*."""

    def __init__(self, nb_remote: str, switch: str, dhcp: str, workers: int) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="nt-floor-")
        db = Path(self._tmp.name) / "floor.db"
        self._create_table(db)  # once, before the workers would race to
        self.port = free_tcp_port()
        self._log = open(Path(self._tmp.name) / "floor.log", "wb")
        self.workers, self._ready = workers, Path(self._tmp.name) / "ready"
        self._ready.mkdir()
        env = {**os.environ, ENV_NB: nb_remote, ENV_DB: str(db), ENV_SWITCH: switch,
               ENV_DHCP: dhcp, ENV_READY: str(self._ready)}
        self.process = subprocess.Popen(
            [sys.executable, "-m", "uvicorn", "--factory", f"{__name__}:create_app",
             "--host", "127.0.0.1", "--port", str(self.port), "--workers", str(workers),
             "--log-level", "warning", "--no-access-log"],
            env=env, stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)

    @staticmethod
    def _create_table(db: Path) -> None:
        with sqlite3.connect(db) as conn:
            conn.execute("CREATE TABLE ports (id VARCHAR(36) PRIMARY KEY, "
                         "network_id VARCHAR(36), device_id VARCHAR(255), "
                         "mac_address VARCHAR(32))")

    @property
    def pid(self) -> int:
        return self.process.pid

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def wait_ready(self, timeout: float = 60.0) -> None:
        """Until every worker has its NB copy and serves: a worker still starting would
        put its start's CPU into the measure."""

        def answers() -> bool:
            if self.process.poll() is not None:
                self._log.flush()
                log = Path(self._log.name).read_text(errors="replace")[-2000:]
                raise RuntimeError(f"the floor's server exited:\n{log}")
            if len(list(self._ready.iterdir())) < self.workers:
                return False
            try:
                return httpx.get(f"{self.url}/openapi.json", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(answers, timeout, "the floor's server")

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()
        self._tmp.cleanup()
