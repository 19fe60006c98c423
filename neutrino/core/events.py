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

import logging
import threading
import time
from typing import Any

from sqlalchemy import delete, func, select

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
        with self.db.read() as session:
            rows = session.execute(select(StatusEvent.__table__).where(
                StatusEvent.id > self.floor).order_by(StatusEvent.id)).all()
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
        result = session.execute(delete(StatusEvent).where(
            StatusEvent.created_at < time.time() - older_than))
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
            except Exception:  # noqa: BLE001 - retried next interval
                LOG.warning("pruning status events failed", exc_info=True)
