"""The status worker's full sync: repair NB, compare every status, rebind, publish.

Run when the worker acquires the lock, after every NB reconnect, every
``maintenance_interval`` and after a failed pass.  It is what makes events
optional: whatever an event missed (a dead lock holder's last changes, a
dropped connection, a bug) is found by comparing every port and network in SQL
with NB, so nothing can stay stuck (docs/behaviour.md S4).
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable

from neutrino.drivers.api import VIF_TYPE_BINDING_FAILED
from neutrino.ovn.heartbeat import ChassisLiveness, Heartbeat
from neutrino.ovn.repair import DriftRepair
from neutrino.ovn.status_rules import LspView, network_status, port_status
from neutrino.ovn.status_writer import StatusWriter, Update

LOG = logging.getLogger(__name__)


class SwitchlessNetworks:
    """Networks without a logical switch, reported BUILD only when two consecutive passes
    found them so, as the drift repair leaves a row ahead of SQL for one pass: a create
    writes its switch just after its commit, so a pass can read the network before NB has
    it, and the next pass finds it there. If that write failed, the create call reported
    the network BUILD itself."""

    def __init__(self) -> None:
        self._last: set[str] = set()

    def confirmed(self, switchless: set[str]) -> set[str]:
        """Of the networks this pass found without a switch, those the previous pass
        found so too; remembers this pass's."""
        confirmed = switchless & self._last
        self._last = switchless
        return confirmed


class FullSync:
    """One pass over everything; the worker decides when."""

    def __init__(self, writer: StatusWriter, repair: DriftRepair | None, heartbeat: Heartbeat,
                 liveness: ChassisLiveness, report_ports: Callable[[list[Update]], None],
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.writer = writer
        #: None: drift repair disabled, statuses only.
        self.repair = repair
        self.heartbeat = heartbeat
        self.liveness = liveness
        #: The worker's way to write port statuses (it holds back fresh ports' "not present").
        self.report_ports = report_ports
        self._clock = clock
        self.switchless = SwitchlessNetworks()

    def run(self, reason: str) -> float:
        """Sync everything; returns the seconds it took."""
        started = self._clock()
        writer = self.writer
        repairs = self.repair.run() if self.repair is not None else {}
        networks = {n["id"]: n for n in writer.core.list_networks()}
        ports = writer.core.list_ports()
        snapshot = writer.cache.snapshot()
        views = {pid: LspView.of(row) for pid, row in snapshot.ports.items()}
        updates: list[Update] = []
        for port in ports:
            view = views.get(port["id"])
            binding_reason = None
            if port.get("binding:vif_type") == VIF_TYPE_BINDING_FAILED:
                binding_reason = writer.binding_reason(port, networks)
            want = port_status(view, writer.directory, binding_reason)
            if (port.get("status"), port.get("status_reason")) != want:
                updates.append((port["id"], *want))
        self.report_ports(updates)
        confirmed = self.switchless.confirmed(set(networks) - set(snapshot.switches))
        net_updates = [(nid, *want) for nid, net in networks.items()
                       if (net.get("status"), net.get("status_reason")) !=
                       (want := network_status(nid in snapshot.switches))
                       and (nid in snapshot.switches or nid in confirmed)]
        if net_updates:
            writer.core.set_network_statuses(net_updates)
        writer.rebind_bindable(ports, networks)
        router_changes, fip_changes = writer.update_routers()
        self.liveness.reset()
        self.heartbeat.publish(repairs)
        elapsed = self._clock() - started
        LOG.info("full sync (%s): %d ports, %d networks, %d port, %d network, %d router and "
                 "%d floating IP status changes, repairs %s, %.3fs", reason, len(ports),
                 len(networks), len(updates), len(net_updates), router_changes, fip_changes,
                 repairs or "none", elapsed)
        return elapsed
