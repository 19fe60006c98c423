"""Statuses from the NB copy to the core: compute, write in batches, rebind what can be bound.

Shared by the status worker's event path, its full sync and its reaction to
chassis liveness: each decides *which* ports and networks to look at, this
turns them into ``set_port_statuses`` / ``set_network_statuses`` calls.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from typing import Any

from neutrino.drivers.api import VIF_TYPE_BINDING_FAILED, CoreHandle
from neutrino.ovn import binding, keys
from neutrino.ovn.chassis import ChassisDirectory
from neutrino.ovn.desired import network_segments, router_port_name
from neutrino.ovn.nbcache import NbCache
from neutrino.ovn.status_l3 import floatingip_status, router_status, without_gateway
from neutrino.ovn.status_rules import LspView, network_status, port_status

LOG = logging.getLogger(__name__)

#: (port or network id, status, reason), as the core takes them.
Update = tuple[str, str, "str | None"]


class StatusWriter:
    """Reads the NB copy and the chassis directory; writes statuses through the core."""

    #: Ports per ``set_port_statuses`` call: one SQL transaction each.
    BATCH_SIZE = 500

    def __init__(self, core: CoreHandle, cache: NbCache, directory: ChassisDirectory,
                 leading: Callable[[], bool]) -> None:
        self.core = core
        self.cache = cache
        self.directory = directory
        #: Whether this worker still holds the lock: checked before every batch.
        self._leading = leading
        #: Port status transitions the core reported (for the worker's health).
        self.transitions = 0

    # -- reads of the NB copy -----------------------------------------------------
    def views(self, port_ids: Iterable[str] | None = None) -> dict[str, LspView]:
        """LSP facts of the given ports (all owned ports if None)."""
        rows = self.cache.snapshot().ports if port_ids is None else \
            self.cache.ports(list(port_ids))
        return {pid: LspView.of(row) for pid, row in rows.items()}

    def ports_not_up(self) -> set[str]:
        return {pid for pid, v in self.views().items() if not v.up}

    # -- ports ---------------------------------------------------------------------
    def binding_reason(self, port: Mapping[str, Any],
                       networks: Mapping[str, Mapping[str, Any]]) -> str:
        """What the binding would say now about a port whose binding failed."""
        network = networks.get(port["network_id"], {})
        decision = binding.decide(port, network_segments(network), self.directory)
        if decision.bound:
            assert decision.chassis is not None  # a bound decision names its chassis
            return f"binding failed; retrying on chassis '{decision.chassis.name}'"
        return f"binding failed: {decision.reason or 'no chassis'}"

    def port_updates(self, port_ids: Iterable[str]) -> list[Update]:
        """The status each port has now, in port id order."""
        port_ids = sorted(port_ids)
        views = self.views(port_ids)
        failed = [pid for pid, v in views.items()
                  if v.vif_type == VIF_TYPE_BINDING_FAILED and v.enabled]
        reasons: dict[str, str] = {}
        if failed:
            networks = {n["id"]: n for n in self.core.list_networks()}
            for pid in failed:
                port = self.core.get_port(pid)
                if port is not None:
                    reasons[pid] = self.binding_reason(port, networks)
        return [(pid, *port_status(views.get(pid), self.directory, reasons.get(pid)))
                for pid in port_ids]

    def send_ports(self, updates: list[Update]) -> list[str]:
        """Write port statuses, ``BATCH_SIZE`` per SQL transaction, while leading; returns
        the ports the core deferred (being bound), to be reported again."""
        deferred: list[str] = []
        for i in range(0, len(updates), self.BATCH_SIZE):
            chunk = updates[i:i + self.BATCH_SIZE]
            if not self._leading():
                break  # the lock moved on; the new holder starts with a full sync
            written = self.core.set_port_statuses(chunk)
            deferred += written.deferred
            self.transitions += len(written.changed)
            if written.changed:
                wanted = {u[0]: u[1:] for u in chunk}
                for port_id in written.changed:
                    LOG.info("port %s status %s (%s)", port_id, *wanted.get(port_id, ("?", None)))
        return deferred

    # -- networks ----------------------------------------------------------------------
    def update_networks(self, network_ids: Iterable[str]) -> None:
        switches = self.cache.snapshot().switches
        self.core.set_network_statuses([(nid, *network_status(nid in switches))
                                        for nid in sorted(network_ids)])

    # -- routers and floating IPs ---------------------------------------------------------
    def update_routers(self, router_ids: Collection[str] | None = None) -> tuple[int, int]:
        """The statuses of these routers (None: every router) and their associated floating
        IPs, from NB and SB; returns how many of each changed.  Level-triggered: what
        changed is found by comparing."""
        snap = self.cache.snapshot()
        router_updates: list[Update] = []
        fip_updates: list[Update] = []
        contexts = self.core.list_routers() if router_ids is None else [
            c for rid in sorted(router_ids) if (c := self.core.router_context(rid)) is not None]
        for context in contexts:
            router = context.current
            claimed = None
            if context.gateway is not None:
                claimed = self.directory.gateway_claimed_by(
                    keys.REDIRECT_PREFIX + router_port_name(context.gateway.port["id"]))
            status = router_status(context, router["id"] in snap.routers,
                                   self.directory.synced, claimed, self.directory.alive)
            if (router.get("status"), router.get("status_reason")) != status:
                router_updates.append((router["id"], *status))
            for fip in context.floatingips:
                if fip.get("port_id"):
                    want = without_gateway(context) or floatingip_status(
                        fip, status, fip["id"] in snap.floatingips)
                    if (fip.get("status"), fip.get("status_reason")) != want:
                        fip_updates.append((fip["id"], *want))
        if router_updates:
            self.core.set_router_statuses(router_updates)
        if fip_updates:
            self.core.set_floatingip_statuses(fip_updates)
        return len(router_updates), len(fip_updates)

    # -- bindings ------------------------------------------------------------------------
    def rebind_bindable(self, ports: Sequence[Mapping[str, Any]] | None = None,
                        networks: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        """Ask the core to bind again every failed port that a chassis could take now."""
        if not self.directory.synced:
            return
        ports = self.core.list_ports() if ports is None else ports
        failed = [p for p in ports if p.get("binding:vif_type") == VIF_TYPE_BINDING_FAILED]
        if not failed:
            return
        if networks is None:
            networks = {n["id"]: n for n in self.core.list_networks()}
        ready = [p["id"] for p in failed if binding.decide(
            p, network_segments(networks.get(p["network_id"], {})), self.directory).bound]
        if ready:
            LOG.info("rebinding %d port(s) a chassis can now take: %s", len(ready),
                     ", ".join(ready[:20]))
            self.core.rebind_ports(ready)
