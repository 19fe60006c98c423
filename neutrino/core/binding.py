"""Port binding outside the request transaction (docs/behaviour.md B2-B6).

``bind`` reads the port, offers it to the mechanism drivers with no
transaction open, then commits the result in a second transaction that
first looks at what happened meanwhile:

* 4a - nothing relevant changed: commit this result and run the drivers'
  ``update_port_*`` hooks with the new binding;
* 4b - another attempt already committed a binding: return it, call no driver;
* 4c - host, vnic type or profile changed but nobody bound: try again,
  at most ``max_bind_retries`` times, then record ``binding_failed``.
"""
from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from typing import Any, cast

from sqlalchemy import insert, update
from sqlalchemy.engine import CursorResult
from sqlalchemy.orm import Session

from neutrino.core.contexts import port_context
from neutrino.core.events import Doorbell
from neutrino.core.mech_manager import MechanismManager
from neutrino.core.resources import orm_port_dict, timestamp
from neutrino.core.writes import Writes, detach
from neutrino.db.models import Port, StatusEvent, status_event, touch, utcnow
from neutrino.db.session import Database
from neutrino.drivers.api import VIF_TYPE_BINDING_FAILED, VIF_TYPE_UNBOUND, PortContext
from neutrino.drivers.status import (
    BINDING_FAILED_PREFIX,
    NO_DRIVER_COULD_BIND,
    bound,
    fitted,
)
from neutrino.metrics import BINDINGS

LOG = logging.getLogger(__name__)
UNBOUND_TYPES = (VIF_TYPE_UNBOUND, VIF_TYPE_BINDING_FAILED)

#: ``(session, port_id, lock)``: the port as an ORM object, or None if it is gone.
ReadPort = Callable[[Session, str, bool], "Port | None"]


class Outcome(enum.Enum):
    COMMITTED = "4a"
    TAKEN = "4b"
    RETRY = "4c"
    GONE = "gone"
    #: The attempt failed just as the committed one did: nothing is written.
    UNCHANGED = "unchanged"


def binding_key(port: dict[str, Any]) -> tuple:
    """What a binding depends on; if it changes, a binding attempt is stale."""
    return (port["binding:host_id"], port["binding:vnic_type"],
            sorted((port["binding:profile"] or {}).items(), key=lambda kv: kv[0]).__repr__())


def failure_reason(driver_reasons: list[str]) -> str:
    """The reason a port no driver could bind carries."""
    why = "; ".join(driver_reasons) or NO_DRIVER_COULD_BIND
    return fitted(f"{BINDING_FAILED_PREFIX}{why}")


def outcome(port: dict[str, Any] | None, key: tuple, failed_with: str | None) -> Outcome:
    """What committing an attempt does, given the port as it is now (None: deleted).

    *key*: the binding key the attempt read; *failed_with*: the reason if no
    driver bound it, None if one did.
    """
    if port is None:
        return Outcome.GONE
    if port["binding:vif_type"] not in UNBOUND_TYPES:
        return Outcome.TAKEN
    if binding_key(port) != key:
        return Outcome.RETRY
    if failed_with is not None and port["binding:vif_type"] == VIF_TYPE_BINDING_FAILED \
            and port["status_reason"] == failed_with:
        # A read retrying a failed binding (B4) must not bump the
        # revision, log an event and call every driver each time.
        return Outcome.UNCHANGED
    return Outcome.COMMITTED


class PortBinder:
    def __init__(self, db: Database, writes: Writes, mech: MechanismManager, doorbell: Doorbell,
                 max_retries: int, read_port: ReadPort):
        self.db = db
        self.writes = writes
        self.mech = mech
        #: Rung after a binding commits (it writes a status event).
        self.doorbell = doorbell
        self.max_retries = max_retries
        self.read_port = read_port
        #: Counts of outcomes, for tests and metrics.
        self.outcomes: dict[Outcome, int] = {o: 0 for o in Outcome}

    def bind(self, port_id: str, snapshot: PortContext | None = None) -> dict[str, Any] | None:
        """Bind *port_id* if it needs it; the port as committed, or None if it is gone.

        *snapshot*: the port's context as its creator just committed it, used for
        the first attempt instead of reading it again (a change made meanwhile
        is caught by the commit's check, 4c, like any other).
        """
        for attempt in range(self.max_retries):
            context = _for_binding(snapshot) if attempt == 0 and snapshot else \
                self._snapshot(port_id)
            if context is None:
                return None
            port = context.current
            if not port["binding:host_id"] or port["binding:vif_type"] not in UNBOUND_TYPES:
                return port
            driver = self.mech.bind_port(context)  # no transaction open (B2)
            result, committed = self._commit(port_id, binding_key(port), context, driver)
            self.outcomes[result] += 1
            BINDINGS.labels(result.value).inc()
            if result is not Outcome.RETRY:
                return committed
            LOG.info("port %s changed while binding; binding again", port_id)
        context = self._snapshot(port_id)
        if context is None:
            return None
        context.add_failure_reason(
            f"port kept changing during {self.max_retries} binding attempts")
        return self._commit(port_id, binding_key(context.current), context, None)[1]

    def _snapshot(self, port_id: str) -> PortContext | None:
        with self.db.read() as session:
            port = self.read_port(session, port_id, False)
            if port is None:
                return None
            context = port_context(session, port)
        return _for_binding(context)

    def _commit(self, port_id: str, key: tuple, attempt: PortContext,
                driver: str | None) -> tuple[Outcome, dict[str, Any] | None]:
        result, context = self.writes.transaction(
            lambda session: self._commit_txn(session, port_id, key, attempt, driver))
        if result is not Outcome.COMMITTED:
            return result, context
        self.doorbell.ring()
        return result, self.writes.postcommit("update_port", context).current

    def _commit_txn(self, session: Session, port_id: str, key: tuple, attempt: PortContext,
                    driver: str | None) -> tuple[Outcome, Any]:
        if driver is not None:
            context = _commit_if_untouched(session, attempt, driver)
            if context is not None:
                self.mech.precommit("update_port_precommit", context)
                return Outcome.COMMITTED, context
        port = self.read_port(session, port_id, not self.db.is_sqlite)
        current = orm_port_dict(port) if port is not None else None
        failed_with = None if driver is not None else failure_reason(attempt.failure_reasons)
        result = outcome(current, key, failed_with)
        if result is not Outcome.COMMITTED:
            return result, current if result in (Outcome.TAKEN, Outcome.UNCHANGED) else None
        assert port is not None
        if driver is not None:
            binding = attempt.binding
            assert binding is not None  # the manager names a driver only once one bound
            port.vif_type, port.vif_details = binding.vif_type, binding.vif_details
            port.bound_segment_id, port.bound_driver = binding.segment_id, driver
            port.status_reason = bound(port.host)
        else:
            port.vif_type, port.vif_details = VIF_TYPE_BINDING_FAILED, {}
            port.bound_segment_id = port.bound_driver = None
            port.status_reason = failed_with
        touch(port)
        session.execute(insert(StatusEvent.__table__).values(status_event(
            "port", port.id, port.project_id, port.device_id, port.status,
            port.status_reason)))
        session.flush()
        context = port_context(session, port, original=current)
        self.mech.precommit("update_port_precommit", context)
        return Outcome.COMMITTED, context


def _commit_if_untouched(session: Session, attempt: PortContext,
                         driver: str) -> PortContext | None:
    """Commit the binding of *attempt* if the port row is still at the revision the
    attempt read (so nothing at all changed: 4a); its new context, else None.

    Two plain statements instead of loading the port, its addresses and its
    network into the ORM: a create's binding commit holds SQLite's single
    writer lock for a fraction of the time.  Anything else falls back to the
    full check, which tells 4a, 4b, 4c and a deleted port apart.
    """
    port = attempt.current
    binding = attempt.binding
    assert binding is not None
    now = utcnow()
    reason = bound(port["binding:host_id"])
    table = Port.__table__
    # A DML statement's result is a CursorResult (SQLAlchemy types it as any Result).
    changed = cast(CursorResult[Any], session.execute(
        update(table).where(table.c.id == port["id"],
                            table.c.revision_number == port["revision_number"],
                            table.c.vif_type.in_(UNBOUND_TYPES))
        .values(vif_type=binding.vif_type, vif_details=binding.vif_details,
                bound_segment_id=binding.segment_id,
                bound_driver=driver, status_reason=reason, updated_at=now,
                revision_number=port["revision_number"] + 1))).rowcount
    if changed != 1:
        return None
    session.execute(insert(StatusEvent.__table__).values(status_event(
        "port", port["id"], port["project_id"], port["device_id"], port["status"], reason)))
    current = {**port, "revision_number": port["revision_number"] + 1,
               "updated_at": timestamp(now), "status_reason": reason,
               "binding:vif_type": binding.vif_type,
               "binding:vif_details": dict(binding.vif_details)}
    network = attempt.network
    network.session = session
    segment = next((s for s in network.network_segments if s.get("id") == binding.segment_id),
                   None)
    return PortContext(current=current, original=port, network=network, bound_segment=segment,
                       bound_driver=driver, session=session)


def _for_binding(context: PortContext) -> PortContext:
    """*context*, detached from its session, offering all the network's segments (B2)."""
    detach(context)
    context.segments_to_bind = list(context.network.network_segments)
    return context
