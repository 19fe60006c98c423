"""The private PostgreSQL server stops at once and leaves nothing behind: its directory
(a test session's databases) is removed by a process of its own, not waited for."""
from __future__ import annotations

import time
from pathlib import Path

import psycopg
import pytest

from neutrino.sandbox.postgres import PostgresServer
from neutrino.sandbox.wait import wait_for
from tests.test_up import processes_using


def test_stop_is_quick_and_the_directory_goes_after_it() -> None:
    server = PostgresServer()
    server.start()
    base = server.base_dir
    conninfo = f"host=127.0.0.1 port={server.port} user=postgres dbname="
    try:
        for i in range(5):
            server.create_database(f"t{i}")
        with psycopg.connect(conninfo + "t4") as conn:
            conn.execute("CREATE TABLE kept (id int)")
    finally:
        started = time.monotonic()
        server.stop()
        stopped_in = time.monotonic() - started
    assert stopped_in < 5, stopped_in
    assert not base.exists(), "the name is free at once"
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(conninfo + "postgres", connect_timeout=5)
    aside = Path(f"{base}.removed")
    wait_for(lambda: not aside.exists(), 60, "the moved-aside directory removed")
    assert processes_using(base) == [], "no server process and no remover left"
