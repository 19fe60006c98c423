"""Engines, sessions and the retry policy for write transactions.

SQLite: WAL journal, a busy timeout, and write transactions opened with
``BEGIN IMMEDIATE`` so concurrent writers queue instead of failing at commit;
readers use a separate engine with deferred transactions and never block
writers.  Writers also queue on a lock (a thread lock plus ``flock`` on a file
next to the database) before ``BEGIN IMMEDIATE``: SQLite's own busy handler
polls with sleeps of up to 100 ms, which under concurrent writes made most
of a request's latency; a blocked ``flock`` wakes as soon as it is released.

PostgreSQL: READ COMMITTED; races surface as constraint violations or lock
conflicts and the whole transaction is retried.
"""
from __future__ import annotations

import collections
import contextlib
import fcntl
import functools
import json
import logging
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import create_engine, event, make_url
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError, DisconnectionError, IntegrityError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.pool import ConnectionPoolEntry

LOG = logging.getLogger(__name__)
P = ParamSpec("P")
T = TypeVar("T")

#: How many times a conflicting write transaction is retried before giving up.
MAX_RETRIES = 20


class RetryRequest(Exception):
    """Raised inside a transaction to have it rolled back and run again."""


def _loads(text: str) -> Any:
    """JSON columns: most hold an empty object; listing 10,000 ports decodes 20,000."""
    return {} if text == "{}" else json.loads(text)


#: Page cache of one SQLite connection, KiB.  SQLite's default (2 MB) per pooled
#: connection made a worker some 30 MB larger once the tables outgrew it; the
#: OS page cache serves the rest at the cost of a syscall per page.
SQLITE_CACHE_KIB = 512


def _sqlite_engine(url: str, immediate: bool) -> Engine:
    # Writers take turns (one at a time per process, see _WriterLock), so the
    # writer engine needs few connections; readers run side by side.
    pool_size, max_overflow = (2, 2) if immediate else (8, 4)
    engine = create_engine(url, connect_args={"timeout": 30, "check_same_thread": False},
                           pool_size=pool_size, max_overflow=max_overflow,
                           json_deserializer=_loads)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: sqlite3.Connection, _record: Any) -> None:
        # Let SQLAlchemy, not pysqlite, decide when transactions begin.
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA cache_size=-{SQLITE_CACHE_KIB}")
        cur.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine


#: A pooled PostgreSQL connection unused for longer than this is pinged before use.
PING_IDLE_AFTER = 2.0


def _ping_when_idle(engine: Engine) -> None:
    """Check a pooled connection before use only if it sat idle: a restarted server or a
    connection dropped by a firewall costs a reconnect, not a failed request.

    ``pool_pre_ping`` pings on every checkout: one more round trip per request,
    a tenth of a port show; a busy server reuses connections within milliseconds.
    """
    @event.listens_for(engine, "connect")
    def _connected(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info.pop("idle_since", None)

    @event.listens_for(engine, "checkin")
    def _checked_in(_dbapi_conn: Any, record: ConnectionPoolEntry) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checked_out(dbapi_conn: Any, record: ConnectionPoolEntry, _proxy: Any) -> None:
        idle_since = record.info.get("idle_since")
        if idle_since is None or time.monotonic() - idle_since < PING_IDLE_AFTER:
            return
        try:
            engine.dialect.do_ping(dbapi_conn)
        except Exception as e:  # any failure means: reconnect
            raise DisconnectionError(f"pooled connection unusable: {e}") from e


class _FifoLock:
    """A thread lock granted in arrival order.

    ``threading.Lock`` wakes an arbitrary waiter, so under a queue of
    writers some wait several turns: a fair queue cuts the tail latency of
    concurrent writes (p99) without changing their throughput.  An *urgent*
    waiter goes to the head of the queue (see :meth:`Database.write`).
    """

    def __init__(self) -> None:
        self._mutex = threading.Lock()
        self._waiters: collections.deque[threading.Lock] = collections.deque()
        self._held = False

    def acquire(self, timeout: float, urgent: bool = False) -> bool:
        with self._mutex:
            if not self._held:
                self._held = True
                return True
            turn = threading.Lock()
            turn.acquire()
            if urgent:
                self._waiters.appendleft(turn)
            else:
                self._waiters.append(turn)
        if turn.acquire(timeout=timeout):
            return True  # handed over by release()
        with self._mutex:
            try:
                self._waiters.remove(turn)
            except ValueError:
                return True  # handed over while timing out: it is ours
            return False

    def release(self) -> None:
        with self._mutex:
            if self._waiters:
                self._waiters.popleft().release()  # ownership passes directly, in order
            else:
                self._held = False


class _WriterLock:
    """One SQLite writer at a time across threads and processes, woken without polling.

    Waiting longer than SQLite's busy timeout raises the same "database is
    locked" error SQLite would, which ``retry_on_conflict`` treats as a conflict.
    """

    def __init__(self, database: str | None, timeout: float = 30.0):
        self.timeout = timeout
        self._thread_lock = _FifoLock()
        self._path = f"{database}.writer-lock" if database and database != ":memory:" else None
        self._fd: int | None = None
        self._pid = os.getpid()

    def _file(self) -> int | None:
        if self._path is None:
            return None
        if self._fd is None or self._pid != os.getpid():  # not inherited across fork
            self._fd = os.open(self._path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            self._pid = os.getpid()
        return self._fd

    @contextlib.contextmanager
    def held(self, urgent: bool = False) -> Iterator[None]:
        if not self._thread_lock.acquire(timeout=self.timeout, urgent=urgent):
            raise OperationalError("BEGIN IMMEDIATE", {},
                                   sqlite3.OperationalError("database is locked"))
        try:
            fd = self._file()
            if fd is not None:
                fcntl.flock(fd, fcntl.LOCK_EX)
            try:
                yield
            finally:
                if fd is not None:
                    fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            self._thread_lock.release()

    def close(self) -> None:
        if self._fd is not None and self._pid == os.getpid():
            os.close(self._fd)
        self._fd = None


class Database:
    """Owns the engines; hands out read and write sessions."""

    def __init__(self, url: str):
        self.url = url
        self.is_sqlite = url.startswith("sqlite")
        if self.is_sqlite:
            self.write_engine = _sqlite_engine(url, immediate=True)
            self.read_engine = _sqlite_engine(url, immediate=False)
            self._writer: _WriterLock | None = _WriterLock(make_url(url).database)
        else:
            # An API worker runs at most 8 request threads, plus its status worker.
            self.write_engine = self.read_engine = create_engine(
                url, pool_size=10, max_overflow=5)
            _ping_when_idle(self.write_engine)
            self._writer = None
        self._write = sessionmaker(self.write_engine, expire_on_commit=False)
        self._read = sessionmaker(self.read_engine, expire_on_commit=False)

    @contextlib.contextmanager
    def write(self, urgent: bool = False) -> Iterator[Session]:
        """One write transaction: committed on success, rolled back on error.

        *urgent*: on SQLite, wait only for the writer holding the lock, ahead of this
        process's queued writers.  For short writes that someone is waiting on while
        the queue is made of requests: the status worker's (a port's ACTIVE, which a
        client such as Nova waits for, queued behind every create in flight).
        """
        with self._writer.held(urgent) if self._writer else contextlib.nullcontext():
            with self._write() as session, session.begin():
                yield session

    @contextlib.contextmanager
    def read(self) -> Iterator[Session]:
        with self._read() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.write_engine.dispose()
        if self._writer is not None:
            self._writer.close()
        if self.read_engine is not self.write_engine:
            self.read_engine.dispose()


def is_conflict(exc: BaseException) -> bool:
    """Whether *exc* means "another transaction got there first": worth a retry."""
    if isinstance(exc, (RetryRequest, StaleDataError, IntegrityError)):
        return True
    if isinstance(exc, OperationalError):
        text = str(exc.orig).lower()
        return "locked" in text or "deadlock" in text or "could not serialize" in text
    if isinstance(exc, DBAPIError):
        code = getattr(exc.orig, "sqlstate", None)
        return code in ("40001", "40P01")
    return False


def retry_on_conflict(func: Callable[P, T]) -> Callable[P, T]:
    """Run *func* (which opens its own transaction) again when it lost a race.

    Unique-constraint violations are retried too: allocation picks a free
    value, and a violation means a concurrent request took it.  A violation
    that is the client's fault (a MAC or IP asked for explicitly) must be
    turned into an API error inside *func* before it reaches here.
    """

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> T:
        for attempt in range(MAX_RETRIES):
            try:
                return func(*args, **kwargs)
            except Exception as exc:  # classified below
                if not is_conflict(exc) or attempt == MAX_RETRIES - 1:
                    raise
                LOG.debug("retrying %s after conflict (%s): %s", func.__name__, attempt + 1, exc)
                time.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise AssertionError("unreachable")

    return wrapper
