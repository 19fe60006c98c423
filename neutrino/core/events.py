"""Reading the status event log in commit order, for waiters and event streams.

Any process may write a status change (the status worker, an API worker
committing a binding); each writes a ``status_events`` row in the same
transaction.  A process that has clients waiting tails the log.

Ids come from a sequence, so on PostgreSQL a transaction can commit an id
lower than one already seen.  The feed therefore keeps its read floor at the
first missing id for up to ``GAP_SECONDS`` before giving up on it, and
never hands out an event twice.
"""
from __future__ import annotations

import hashlib
import logging
import os
import secrets
import socket
import threading
import time
from typing import Any, cast

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.engine import CursorResult, make_url

from neutrino.db.models import StatusEvent
from neutrino.db.session import Database

LOG = logging.getLogger(__name__)

#: How long an id missing from the log may still appear (a slow commit).
GAP_SECONDS = 5.0
#: Events kept for clients that resume a stream (``Last-Event-ID``).
RETENTION_SECONDS = 3600.0
#: Seconds between prunings of the log.
PRUNE_INTERVAL = 60.0


def event_dict(row: Any) -> dict[str, Any]:
    return {"id": row.id, "resource": row.resource, "resource_id": row.resource_id,
            "project_id": row.project_id, "device_id": row.device_id, "status": row.status,
            "status_reason": row.status_reason, "time": row.created_at}


_EVENTS = StatusEvent.__table__
NEWER_EVENTS = select(_EVENTS).where(_EVENTS.c.id > bindparam("floor")).order_by(_EVENTS.c.id)


class EventFeed:
    """Hands out each committed event once, in id order, starting after ``start``."""

    def __init__(self, db: Database, start: int | None = None):
        self.db = db
        self.floor = self.latest_id() if start is None else start
        self._seen: set[int] = set()
        self._gap_since: float | None = None

    def latest_id(self) -> int:
        with self.db.read() as session:
            return session.scalar(select(func.max(StatusEvent.id))) or 0

    def poll(self) -> list[dict[str, Any]]:
        # A plain connection, not an ORM session: a tail polls after every status
        # commit on the host, and a session took three times as long (164 µs against
        # 57 µs for a poll that finds nothing, SQLite).
        with self.db.read_engine.connect() as conn:
            rows = conn.execute(NEWER_EVENTS, {"floor": self.floor}).all()
        fresh = [event_dict(r) for r in rows if r.id not in self._seen]
        self._seen.update(r.id for r in rows)
        self._advance()
        return fresh

    def _advance(self) -> None:
        """Move the floor over every id seen contiguously, or over an old gap."""
        while self.floor + 1 in self._seen:
            self.floor += 1
            self._seen.discard(self.floor)
        if not self._seen:
            self._gap_since = None
            return
        now = time.monotonic()
        if self._gap_since is None:
            self._gap_since = now
        elif now - self._gap_since > GAP_SECONDS:
            self.floor = min(self._seen)  # the missing id was rolled back: skip it
            self._gap_since = None
            self._advance()


def prune(db: Database, older_than: float = RETENTION_SECONDS) -> int:
    with db.write() as session:
        # A DML statement's result is a CursorResult (SQLAlchemy types it as any Result).
        result = cast(CursorResult[Any], session.execute(delete(StatusEvent).where(
            StatusEvent.created_at < time.time() - older_than)))
        return result.rowcount or 0


class Pruner:
    """Deletes events older than the retention, every ``PRUNE_INTERVAL``, in a thread.

    Every worker of every server runs one: the DELETE is idempotent and cheap,
    and no election is needed for a job that any process may do twice.
    """

    def __init__(self, db: Database) -> None:
        self.db = db
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="event-pruner", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(5)

    def _run(self) -> None:
        while not self._stop.wait(PRUNE_INTERVAL):
            try:
                prune(self.db)
            except Exception:  # retried next interval
                LOG.warning("pruning status events failed", exc_info=True)


class Doorbell:
    """Wakes this host's event-log readers the moment events are committed.

    Readers poll the log every few milliseconds anyway; the doorbell saves
    them that wait.  Each reader binds an abstract unix datagram socket named
    after the database, and a writer sends one byte to every such socket it
    finds in ``/proc/net/unix``: no files to clean up after a crash, and a
    lost byte only costs the poll interval.  SQLite only, whose processes all
    share one host; on PostgreSQL, servers on other hosts rely on polling.
    """

    PREFIX = "neutrino-events-"
    #: Seconds a scan of ``/proc/net/unix`` is reused: readers come and go only
    #: with worker processes, and the scan (every socket on the host) cost more
    #: than the rest of a status update.  A reader newer than that polls meanwhile.
    LISTENERS_TTL = 1.0

    def __init__(self, db: Database) -> None:
        path = make_url(db.url).database if db.is_sqlite else None
        self.name = None
        if path and path != ":memory:":
            digest = hashlib.sha1(os.path.realpath(path).encode()).hexdigest()[:16]
            self.name = f"{self.PREFIX}{digest}-"
        self._sender: socket.socket | None = None
        self._listeners: list[str] = []
        self._listed_at = -self.LISTENERS_TTL

    def listen(self) -> socket.socket | None:
        """A non-blocking socket that receives a byte per ring (None: no doorbell here)."""
        if self.name is None:
            return None
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        sock.setblocking(False)
        sock.bind(f"\0{self.name}{os.getpid()}-{secrets.token_hex(4)}")
        return sock

    def ring(self) -> None:
        if self.name is None:
            return
        listeners = self._find_listeners()
        if not listeners:
            return
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        for name in listeners:
            try:
                self._sender.sendto(b"!", f"\0{name}")
            except OSError:
                pass  # gone meanwhile, or its queue is full: it polls anyway

    def _find_listeners(self) -> list[str]:
        now = time.monotonic()
        if now - self._listed_at >= self.LISTENERS_TTL:
            try:
                with open("/proc/net/unix") as table:
                    self._listeners = [line.rsplit(None, 1)[-1][1:] for line in table
                                       if f"@{self.name}" in line]
            except OSError:
                self._listeners = []
            self._listed_at = now
        return self._listeners
