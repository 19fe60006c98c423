"""Port binding outside the request transaction (DESIGN.md B2-B6, seed 002).

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
from typing import TYPE_CHECKING, Any

from sqlalchemy import insert, update
from sqlalchemy.orm import Session

from neutrino.core import exceptions as exc
from neutrino.drivers import status as reasons
from neutrino.core.resources import orm_port_dict, timestamp
from neutrino.db.models import Port, StatusEvent, status_event, touch, utcnow
from neutrino.metrics import BINDINGS
from neutrino.db.session import retry_on_conflict
from neutrino.drivers.api import VIF_TYPE_BINDING_FAILED, VIF_TYPE_UNBOUND, PortContext

if TYPE_CHECKING:
    from neutrino.core.plugin import Plugin

LOG = logging.getLogger(__name__)
UNBOUND_TYPES = (VIF_TYPE_UNBOUND, VIF_TYPE_BINDING_FAILED)


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


class PortBinder:
    def __init__(self, plugin: "Plugin"):
        self.plugin = plugin
        #: Counts of outcomes, for tests and metrics.
        self.outcomes: dict[Outcome, int] = {o: 0 for o in Outcome}

    def bind(self, port_id: str, snapshot: PortContext | None = None) -> dict[str, Any] | None:
        """Bind *port_id* if it needs it; the port as committed, or None if it is gone.

        *snapshot*: the port's context as its creator just committed it, used for
        the first attempt instead of reading it again (a change made meanwhile
        is caught by the commit's check, 4c, like any other).
        """
        retries = self.plugin.settings.max_bind_retries
        for attempt in range(retries):
            context = _for_binding(snapshot) if attempt == 0 and snapshot else \
                self._snapshot(port_id)
            if context is None:
                return None
            port = context.current
            if not port["binding:host_id"] or port["binding:vif_type"] not in UNBOUND_TYPES:
                return port
            driver = self.plugin.mech.bind_port(context)  # no transaction open (B2)
            outcome, result = self._commit(port_id, binding_key(port), context, driver)
            self.outcomes[outcome] += 1
            BINDINGS.labels(outcome.value).inc()
            if outcome is not Outcome.RETRY:
                return result
            LOG.info("port %s changed while binding; binding again", port_id)
        context = self._snapshot(port_id)
        if context is None:
            return None
        context.add_failure_reason(f"port kept changing during {retries} binding attempts")
        return self._commit(port_id, binding_key(context.current), context, None)[1]

    def _snapshot(self, port_id: str) -> PortContext | None:
        with self.plugin.db.read() as session:
            try:
                port = self.plugin._port_or_404(session, port_id)
            except exc.PortNotFound:
                return None
            context = self.plugin.port_context(session, port)
        return _for_binding(context)

    def _commit(self, port_id: str, key: tuple, attempt: PortContext,
                driver: str | None) -> tuple[Outcome, dict[str, Any] | None]:
        outcome, context = self._commit_txn(port_id, key, attempt, driver)
        if outcome is not Outcome.COMMITTED:
            return outcome, context
        self.plugin.doorbell.ring()
        context.session = context.network.session = None
        self.plugin.mech.postcommit("update_port_postcommit", context)
        return outcome, context.current

    @retry_on_conflict
    def _commit_txn(self, port_id: str, key: tuple, attempt: PortContext,
                    driver: str | None) -> tuple[Outcome, Any]:
        plugin = self.plugin
        with plugin.db.write() as session:
            if driver is not None:
                context = _commit_if_untouched(session, attempt, driver)
                if context is not None:
                    plugin.mech.precommit("update_port_precommit", context)
                    return Outcome.COMMITTED, context
            try:
                port = plugin._port_or_404(session, port_id, for_update=True)
            except exc.PortNotFound:
                return Outcome.GONE, None
            if port.vif_type not in UNBOUND_TYPES:
                return Outcome.TAKEN, orm_port_dict(port)
            current = orm_port_dict(port)
            if binding_key(current) != key:
                return Outcome.RETRY, None
            if driver is not None:
                binding = attempt.binding
                assert binding is not None
                segment_id, vif_type, vif_details = (binding.segment_id, binding.vif_type,
                                                     binding.vif_details)
                port.vif_type, port.vif_details = vif_type, vif_details
                port.bound_segment_id, port.bound_driver = segment_id, driver
                port.status_reason = reasons.bound(port.host)
            else:
                why = "; ".join(attempt.failure_reasons) or reasons.NO_DRIVER_COULD_BIND
                reason = f"{reasons.BINDING_FAILED_PREFIX}{why}"[:255]
                if port.vif_type == VIF_TYPE_BINDING_FAILED and port.status_reason == reason:
                    # A read retrying a failed binding (B4) must not bump the
                    # revision, log an event and call every driver each time.
                    return Outcome.UNCHANGED, current
                port.vif_type, port.vif_details = VIF_TYPE_BINDING_FAILED, {}
                port.bound_segment_id = port.bound_driver = None
                port.status_reason = reason
            touch(port)
            session.execute(insert(StatusEvent.__table__).values(status_event(
                "port", port.id, port.project_id, port.device_id, port.status,
                port.status_reason)))
            session.flush()
            context = plugin.port_context(session, port, original=current)
            plugin.mech.precommit("update_port_precommit", context)
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
    assert attempt.binding is not None
    segment_id, vif_type, vif_details = (attempt.binding.segment_id, attempt.binding.vif_type,
                                         attempt.binding.vif_details)
    now = utcnow()
    reason = reasons.bound(port["binding:host_id"])
    table = Port.__table__
    changed = session.execute(
        update(table).where(table.c.id == port["id"],
                            table.c.revision_number == port["revision_number"],
                            table.c.vif_type.in_(UNBOUND_TYPES))
        .values(vif_type=vif_type, vif_details=vif_details, bound_segment_id=segment_id,
                bound_driver=driver, status_reason=reason, updated_at=now,
                revision_number=port["revision_number"] + 1)).rowcount
    if changed != 1:
        return None
    session.execute(insert(StatusEvent.__table__).values(status_event(
        "port", port["id"], port["project_id"], port["device_id"], port["status"], reason)))
    current = {**port, "revision_number": port["revision_number"] + 1,
               "updated_at": timestamp(now), "status_reason": reason,
               "binding:vif_type": vif_type, "binding:vif_details": dict(vif_details)}
    network = attempt.network
    network.session = session
    segment = next((s for s in network.network_segments if s.get("id") == segment_id), None)
    return PortContext(current=current, original=port, network=network, bound_segment=segment,
                       bound_driver=driver, session=session)


def _for_binding(context: PortContext) -> PortContext:
    """*context*, detached from its session, offering all the network's segments (B2)."""
    context.session = context.network.session = None
    context.segments_to_bind = list(context.network.network_segments)
    return context
