"""Status writes: what backends observe (S2), stored, logged as events, counted, notified."""
from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import bindparam, insert, or_, select, update
from sqlalchemy.orm import Session

from neutrino.core.events import Doorbell
from neutrino.core.notifier import Notifier
from neutrino.core.rows import chunks
from neutrino.db.models import (
    FloatingIP,
    Network,
    Port,
    Router,
    StatusEvent,
    status_event,
    utcnow,
)
from neutrino.db.session import Database, retry_on_conflict
from neutrino.drivers.api import VIF_TYPE_UNBOUND, PortStatusesWritten, StatusUpdate
from neutrino.drivers.status import ACTIVE, BOUND_PREFIX, fitted
from neutrino.metrics import BOUND_TO_ACTIVE, STATUS_TRANSITIONS

#: The bindings and ACTIVEs of some ports in the status event log, oldest first.
#: The ``resource`` of each model's status events.
RESOURCES: dict[type, str] = {Port: "port", Network: "network", Router: "router",
                              FloatingIP: "floatingip"}
BINDINGS_AND_ACTIVES = select(
    StatusEvent.resource_id, StatusEvent.created_at, StatusEvent.status, StatusEvent.status_reason,
).where(StatusEvent.resource_id.in_(bindparam("ids", expanding=True)),
        or_(StatusEvent.status_reason.like(f"{BOUND_PREFIX}%"),
            StatusEvent.status == ACTIVE)).order_by(StatusEvent.id)


def stored_reason(status: str, reason: str | None) -> str | None:
    """The reason stored with *status*: an ACTIVE resource has none to give; others
    give theirs fitted to the column."""
    return None if status == ACTIVE or reason is None else fitted(reason)


def first_actives_since_binding(
        events: Iterable[tuple[str, float, str, str | None]]) -> dict[str, float]:
    """Of ``(port_id, time, status, reason)`` events, oldest first: for each port whose
    latest ACTIVE is the first since its latest binding, when that binding happened."""
    bound_at: dict[str, float] = {}
    actives: dict[str, int] = {}
    for pid, when, status, reason in events:
        if reason and reason.startswith(BOUND_PREFIX):
            bound_at[pid], actives[pid] = when, 0
        elif status == ACTIVE and pid in bound_at:
            actives[pid] += 1
    return {pid: when for pid, when in bound_at.items() if actives[pid] == 1}


class Statuses:
    def __init__(self, db: Database, notifier: Notifier, doorbell: Doorbell):
        self.db = db
        self.notifier = notifier
        #: Rung after every commit that writes status events.
        self.doorbell = doorbell

    def set_port_statuses(self, updates: list[StatusUpdate]) -> PortStatusesWritten:
        """Write what a backend observed, except of ports being bound (B2): a port's LSP
        is written, and may come up, before its binding commits, and a status written
        then would be a change the binding's commit has to look past (B3) and a report
        made without the binding; such ports are deferred, to be reported again."""
        transitions, deferred = self._write(Port, updates)
        if transitions:
            self.notifier.port_statuses_changed(transitions)
            self._observe_bound_to_active([t["port_id"] for t in transitions
                                           if t["status"] == ACTIVE])
        return PortStatusesWritten(changed=[t["port_id"] for t in transitions],
                                   deferred=deferred)

    def set_network_statuses(self, updates: list[StatusUpdate]) -> list[str]:
        return [t["port_id"] for t in self._write(Network, updates)[0]]

    def set_router_statuses(self, updates: list[StatusUpdate]) -> list[str]:
        return [t["port_id"] for t in self._write(Router, updates)[0]]

    def set_floatingip_statuses(self, updates: list[StatusUpdate]) -> list[str]:
        return [t["port_id"] for t in self._write(FloatingIP, updates)[0]]

    def _observe_bound_to_active(self, port_ids: list[str]) -> None:
        """Feed the binding-to-ACTIVE histogram from the event log: for each port whose
        ACTIVE just written is its first since its latest binding, the time since then.

        A later ACTIVE (after a flap) is not a binding's, and observing it would pile
        the time since an old binding into the histogram's top bucket.
        """
        if not port_ids:
            return
        now = time.time()
        with self.db.read_engine.connect() as conn:
            bound_at = first_actives_since_binding(
                conn.execute(BINDINGS_AND_ACTIVES, {"ids": port_ids}))
        for when in bound_at.values():
            BOUND_TO_ACTIVE.observe(max(0.0, now - when))

    @retry_on_conflict
    def _write(self, model: type[Port | Network | Router | FloatingIP],
               updates: list[StatusUpdate]) -> tuple[list[dict[str, Any]], list[str]]:
        """Write statuses in one transaction; only rows whose status or reason differ change.

        Returns the transitions (id, device id, old and new status, reason) and the ports
        left alone because they are being bound.  The rows are read first outside any
        write transaction: many reports change nothing (an unbound port's LSP appearing
        says what its create already wrote; a deleted port's row is gone) or are
        deferred, and those never take SQLite's writer lock, which every request's write
        waits for.  The rest are judged again once it is held.
        """
        with self.db.read() as session:
            changes, deferred = self._judge(session, model, updates)
        if not changes:
            return [], deferred
        transitions: list[dict[str, Any]] = []
        table = model.__table__
        resource = RESOURCES[model]
        # One executemany per statement and chunk: a full resync of 10k ports
        # is a handful of round trips, not 20k.
        set_status = update(table).where(table.c.id == bindparam("b_id")).values(
            status=bindparam("b_status"), status_reason=bindparam("b_reason"),
            updated_at=bindparam("b_now"), revision_number=table.c.revision_number + 1)
        # Ahead of queued request writes: clients wait for these statuses (ACTIVE), and a
        # status batch is a few statements.
        with self.db.write(urgent=True) as session:
            changes, late = self._judge(session, model, changes)
            deferred += late
            conn = session.connection()
            for chunk in chunks(changes):
                now, stamp = utcnow(), time.time()
                conn.execute(set_status, [{"b_id": res_id, "b_status": status, "b_reason": reason,
                                           "b_now": now} for res_id, status, reason, _ in chunk])
                conn.execute(insert(StatusEvent.__table__), [status_event(
                    resource, res_id, row.project_id, row.device if model is Port else "",
                    status, reason, stamp) for res_id, status, reason, row in chunk])
                for res_id, status, reason, row in chunk:
                    STATUS_TRANSITIONS.labels(resource, status).inc()
                    transitions.append({"port_id": res_id, "device_id": row.device,
                                        "old_status": row.status, "status": status,
                                        "status_reason": reason})
        if transitions:
            self.doorbell.ring()
        return transitions, deferred

    @staticmethod
    def _judge(session: Session, model: type[Port | Network | Router | FloatingIP],
               updates: Iterable[Sequence[Any]],
               ) -> tuple[list[tuple[str, str, str | None, Any]], list[str]]:
        """Of *updates*, those that change their row (with the reason as stored and the
        row as read) and the ports deferred because they are being bound."""
        table = model.__table__
        device = table.c.device_id if model is Port else table.c.id
        columns = [table.c.id, table.c.status, table.c.status_reason, table.c.project_id,
                   device.label("device")]
        if model is Port:
            columns += [table.c.host, table.c.vif_type]
        changes: list[tuple[str, str, str | None, Any]] = []
        deferred: list[str] = []
        conn = session.connection()
        for chunk in chunks(list(updates)):
            current = {r.id: r for r in conn.execute(
                select(*columns).where(table.c.id.in_([u[0] for u in chunk])))}
            for res_id, status, reason, *_ in chunk:
                reason = stored_reason(status, reason)
                row = current.get(res_id)
                if row is None or (row.status, row.status_reason) == (status, reason):
                    continue
                if model is Port and row.host and row.vif_type == VIF_TYPE_UNBOUND:
                    deferred.append(res_id)
                    continue
                changes.append((res_id, status, reason, row))
        return changes, deferred
