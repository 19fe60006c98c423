"""Sessions: SQLite writers queue on the writer lock; PostgreSQL connections survive a restart."""
from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.exc import OperationalError

from neutrino.db import session as db_session
from neutrino.db.session import Database, is_conflict
from neutrino.sandbox.postgres import PostgresServer


def test_sqlite_writers_in_many_threads_and_databases_all_commit(tmp_path: Path) -> None:
    """Two Database objects stand for two server processes: every write commits, none
    fails with "database is locked", and no two write transactions overlap."""
    url = f"sqlite:///{tmp_path / 'n.db'}"
    databases = [Database(url), Database(url)]
    with databases[0].write() as session:
        session.execute(text("CREATE TABLE t (n INTEGER)"))
    inside, overlaps, errors = [0], [], []

    def writer(db: Database, count: int) -> None:
        try:
            for i in range(count):
                with db.write() as session:
                    inside[0] += 1
                    overlaps.append(inside[0])
                    session.execute(text("INSERT INTO t VALUES (:n)"), {"n": i})
                    inside[0] -= 1
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=writer, args=(databases[i % 2], 50)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert max(overlaps) == 1
    with databases[1].read() as session:
        assert session.scalar(text("SELECT count(*) FROM t")) == 300
    assert (tmp_path / "n.db.writer-lock").exists()
    for db in databases:
        db.dispose()


def test_sqlite_writer_waiting_too_long_gets_a_retryable_error(tmp_path: Path) -> None:
    lock = db_session._WriterLock(str(tmp_path / "n.db"), timeout=0.05)
    with lock.held():
        result: list[BaseException] = []

        def second() -> None:
            try:
                with lock.held():
                    pass
            except OperationalError as e:
                result.append(e)

        t = threading.Thread(target=second)
        t.start()
        t.join()
    assert len(result) == 1 and "database is locked" in str(result[0])
    assert is_conflict(result[0])  # retried by retry_on_conflict like SQLite's own error
    lock.close()


@pytest.fixture
def own_pg_server() -> PostgresServer:
    """A server of this test's own: it gets restarted."""
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


def test_postgresql_idle_connection_is_replaced_after_a_restart(
        own_pg_server: PostgresServer, monkeypatch: pytest.MonkeyPatch) -> None:
    db = Database(own_pg_server.create_database("restart"))
    with db.read() as session:
        assert session.execute(text("SELECT 1")).scalar() == 1
    own_pg_server._run(str(own_pg_server.bindir / "pg_ctl"), "-D", str(own_pg_server.data_dir),
                       "-m", "fast", "-w", "stop")
    own_pg_server.start()
    monkeypatch.setattr(db_session, "PING_IDLE_AFTER", 0.0)  # the pooled connection is "idle"
    with db.read() as session:
        assert session.execute(text("SELECT 2")).scalar() == 2
    db.dispose()


def test_sqlite_writers_in_one_process_get_the_lock_in_arrival_order() -> None:
    lock = db_session._FifoLock()
    assert lock.acquire(timeout=1)
    order: list[int] = []
    gave_up = threading.Event()

    def impatient() -> None:
        if not lock.acquire(timeout=0.05):
            gave_up.set()

    def writer(i: int) -> None:
        assert lock.acquire(timeout=10)
        order.append(i)
        lock.release()

    threads = [threading.Thread(target=impatient)]
    threads[0].start()
    threads[0].join()  # a waiter that timed out leaves the queue
    assert gave_up.is_set()
    for i in range(5):
        threads.append(threading.Thread(target=writer, args=(i,)))
        threads[-1].start()
        while len(lock._waiters) < i + 1:  # queued before the next one arrives
            threading.Event().wait(0.001)
    lock.release()
    for t in threads[1:]:
        t.join()
    assert order == [0, 1, 2, 3, 4]
    assert lock.acquire(timeout=0.01)  # free again


def test_an_urgent_sqlite_writer_goes_ahead_of_the_queued_ones() -> None:
    lock = db_session._FifoLock()
    assert lock.acquire(timeout=1)
    order: list[str] = []

    def writer(name: str, urgent: bool) -> None:
        assert lock.acquire(timeout=10, urgent=urgent)
        order.append(name)
        lock.release()

    threads = []
    for name, urgent in (("request-1", False), ("request-2", False), ("status", True)):
        threads.append(threading.Thread(target=writer, args=(name, urgent)))
        threads[-1].start()
        while len(lock._waiters) < len(threads):  # queued before the next one arrives
            threading.Event().wait(0.001)
    lock.release()
    for t in threads:
        t.join()
    assert order == ["status", "request-1", "request-2"]
