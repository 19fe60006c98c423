"""The status worker: port and network statuses from OVN (S3, S4), reported by one process.

Exactly one status worker acts at a time across all servers: the holder of
the OVSDB lock ``neutrino_status_worker`` on NB (docs/behaviour.md S4).  Every server's
worker keeps its NB copy current while it waits, and ovsdb-server hands the
lock to the next waiter the moment the holder's connection drops (kill -9
included), so a takeover costs one round trip plus one full sync.  See
docs/ovn-backend.md for the trade-off against Neutron's hash ring.

The worker is level-triggered: an NB row change that can change a status
(``status_changes``) only adds its port or network to a work queue; the loop
takes what is due and reports the status the *current* row implies
(``status_rules``, written by ``status_writer``).  Events are therefore
deduplicated and can never be applied out of order, and a full sync
(``fullsync``) — run when the lock is acquired, after every reconnect, and
every ``maintenance_interval`` — compares every port in SQL with NB, so a lost
event cannot leave a port stuck (docs/behaviour.md S4).  Heartbeats and chassis
liveness are ``heartbeat``'s.
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from neutrino.drivers.api import CoreHandle
from neutrino.ovn import keys
from neutrino.ovn.chassis import ChassisDirectory
from neutrino.ovn.connection import ListenerSlot, Northbound, NullListener
from neutrino.ovn.fullsync import FullSync
from neutrino.ovn.heartbeat import ChassisLiveness, Heartbeat
from neutrino.ovn.nbcache import LspRow, MarkedRow, NbCache, SwitchRow
from neutrino.ovn.repair import DriftRepair
from neutrino.ovn.status_changes import (
    lsp_status_changed,
    plug_grace_starts,
    port_gone,
    port_view,
    switch_networks_changed,
)
from neutrino.ovn.status_grace import PlugGrace
from neutrino.ovn.status_writer import StatusWriter, Update
from neutrino.workqueue import DONE, WorkQueue, backoff, requeue_after

LOG = logging.getLogger(__name__)

#: What the worker's lock session monitors: the row it writes heartbeats and its identity to.
LOCK_SESSION_TABLES = {"NB_Global": ["nb_cfg", "external_ids"]}


class _LockEvents(NullListener):
    """The lock session's news for the worker: only whether it holds the lock."""

    def __init__(self, worker: StatusWorker) -> None:
        self._worker = worker

    def lock_changed(self, held: bool) -> None:
        self._worker.lock_changed(held)


class StatusWorker:
    """Turns NB state into port/network statuses; runs drift repair and heartbeats.

    All methods named like the ``IdlListener`` protocol run on the NB
    connection thread and only record; the work happens on the worker thread.
    """

    #: Ports per pass (and per ``set_port_statuses`` call: one SQL transaction).  A
    #: pass takes whatever one IDL pass (one or more NB messages, e.g. northd's ``up``
    #: for a burst of ports) changed, plus whatever arrived while the previous pass
    #: was being written; no pause is added to collect more.
    BATCH_SIZE = StatusWriter.BATCH_SIZE
    #: Pause after a failed pass (SQL or NB trouble) before trying again.
    RETRY_DELAY = 1.0
    #: Seconds a port whose LSP just appeared (or moved to another chassis) keeps the
    #: core's reason ("bound to host ...; waiting for the port to come up") before
    #: "interface not present" is written (``status_grace``).
    PLUG_GRACE = 1.0
    #: ``(first, limit)`` seconds before reporting again a port the core deferred because
    #: its binding had not committed: a binding commits within milliseconds of its LSP's
    #: write unless SQL is busy.
    BINDING_RETRY = (0.05, 1.0)

    def __init__(self, nb: Northbound, events: ListenerSlot, nb_remote: str, timeout: float,
                 core: CoreHandle, directory: ChassisDirectory,
                 maintenance_interval: float = 60.0, heartbeat_interval: float = 10.0,
                 repair: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        #: The process's NB connection (shared with its API writes): its copy of NB
        #: feeds the worker's, and the repair writes through it.
        self.nb = nb
        self._events = events
        self.nb_remote = nb_remote
        self.timeout = timeout
        self.directory = directory
        self.maintenance_interval = maintenance_interval
        self.heartbeat_interval = heartbeat_interval
        self.repair_enabled = repair
        self._clock = clock
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        #: The session holding the OVSDB lock; NB_Global writes go through it (fenced).
        self.lock: Northbound | None = None
        self.cache = NbCache()
        self.writer = StatusWriter(core, self.cache, directory, leading=lambda: self._held)
        self.liveness = ChassisLiveness(directory)
        self.repair: DriftRepair | None = None
        self.heartbeat: Heartbeat | None = None
        self.sync: FullSync | None = None
        self._idl: Any = None
        self._cond = threading.Condition()
        #: Ports and networks whose status may have changed; the loop takes them in batches.
        self.ports: WorkQueue[str] = WorkQueue(clock, self._cond)
        self.networks: WorkQueue[str] = WorkQueue(clock, self._cond)
        #: Ports whose "interface not present" is held back for now.
        self.grace = PlugGrace()
        self._held = False
        #: The data connection holds a complete, current copy of NB.
        self._data_ready = False
        self._stopping = False
        self._full_reason: str | None = None
        self._chassis_changed = False
        #: Routers whose NB rows (the Logical_Router, its NAT) changed: their statuses
        #: and their floating IPs' are judged again (level-triggered).  A chassis change
        #: (a gateway claimed or released, liveness) re-judges every router.
        self._routers: set[str] = set()
        self._pass_routers: set[str] = set()
        #: Names of the chassis that may host gateways, as last seen.
        self._gateways: set[str] = set()
        #: Keys of the current IDL pass (connection thread only), queued at its end.
        self._pass_ports: set[str] = set()
        self._pass_networks: set[str] = set()
        #: The NB copy is complete: rows arriving now are new, not the initial load.
        self._loaded = False
        self._thread: threading.Thread | None = None
        #: Counters for health(): syncs run, failures.
        self.stats: dict[str, Any] = {"full_syncs": 0, "failures": 0, "lock_acquired": 0,
                                      "last_full_sync": None, "last_full_sync_seconds": None}
        directory.subscribe(self._on_chassis_change)

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        self.lock = Northbound(self.nb_remote, self.timeout, listener=_LockEvents(self),
                               lock_name=keys.STATUS_LOCK, tables=LOCK_SESSION_TABLES)
        self.heartbeat = Heartbeat(self.lock, self.identity, self.directory.heartbeat_answered)
        if self.repair_enabled:
            self.repair = DriftRepair(self.nb, self.cache, self.writer.core, self.directory,
                                      leading=lambda: self._held)
        self.sync = FullSync(self.writer, self.repair, self.heartbeat, self.liveness,
                             self._report_ports, self._clock)
        self._events.connect(self, self.nb.read_lock())
        self._thread = threading.Thread(target=self._run, name="neutrino-status-worker",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        if self._thread is not None:
            self._thread.join(timeout=10)
        if self.lock is not None:
            self.lock.close()

    @property
    def holds_lock(self) -> bool:
        return self._held

    def health(self) -> dict[str, Any]:
        return {"role": "active" if self._held else "standby", "identity": self.identity,
                "transitions": self.writer.transitions, **self.stats,
                "repairs": dict(self.repair.totals) if self.repair else {}}

    # -- IdlListener: NB connection thread -------------------------------------
    def attach(self, idl: Any) -> None:
        self._idl = idl

    def ready_changed(self, ready: bool) -> None:
        self._loaded = ready
        with self._cond:
            self._data_ready = ready
        if ready:
            self.cache.prune(self._idl)
            self._request_full("northbound connected")

    def lock_changed(self, held: bool) -> None:
        with self._cond:
            self._held = held
            if held:
                self._full_reason = "lock acquired"
                self.stats["lock_acquired"] += 1
            else:
                self.ports.clear()
                self.networks.clear()
            self._cond.notify_all()
        LOG.info("status worker %s: %s the OVSDB lock %s", self.identity,
                 "acquired" if held else "does not hold", keys.STATUS_LOCK)

    def row_changed(self, event: str, row: Any, old: Any) -> None:
        before, after = self.cache.row_changed(event, row)
        if not self._held:
            return  # whoever takes the lock starts with a full sync
        if isinstance(before or after, LspRow):
            if not lsp_status_changed(before, after):
                return
            old_view, new_view = port_view(before), port_view(after)
            self._pass_ports.update(v.port_id for v in (old_view, new_view) if v is not None)
            if new_view is not None and self._loaded and plug_grace_starts(old_view, new_view):
                with self._cond:
                    self.grace.start(new_view.port_id, self._clock() + self.PLUG_GRACE)
            elif old_view is not None and port_gone(old_view, new_view):
                with self._cond:
                    self.grace.stop(old_view.port_id)
        elif isinstance(before or after, SwitchRow):
            self._pass_networks |= switch_networks_changed(before, after)
        elif isinstance(before or after, MarkedRow):
            self._pass_routers |= {r.external_ids[keys.ROUTER_ID] for r in (before, after)
                                   if isinstance(r, MarkedRow) and keys.ROUTER_ID in r.external_ids}

    def changes_done(self) -> None:
        """After an IDL pass: queue (and wake the worker once for) what that pass changed."""
        if self._pass_ports or self._pass_networks or self._pass_routers:
            with self._cond:
                self.ports.add_all(self._pass_ports)
                self.networks.add_all(self._pass_networks)
                self._routers |= self._pass_routers
            self._pass_routers = set()
            self._pass_ports, self._pass_networks = set(), set()

    def _on_chassis_change(self, names: set[str]) -> None:
        gateways = {c.name for c in self.directory.all()
                    if keys.GATEWAY_CHASSIS_OPTION in c.cms_options}
        with self._cond:
            self._chassis_changed = True
            if gateways != self._gateways:
                # Routers' gateways are scheduled over these: the full sync's repair
                # reschedules every HA_Chassis_Group.
                self._gateways = gateways
                self._full_reason = self._full_reason or "gateway chassis changed"
            self._cond.notify_all()

    def _request_full(self, reason: str) -> None:
        with self._cond:
            self._full_reason = self._full_reason or reason
            self._cond.notify_all()

    # -- worker thread ------------------------------------------------------------
    def _has_work(self) -> bool:
        return bool(self._full_reason or self._chassis_changed or self._routers) or \
            self.ports.seconds_to_next() == 0 or self.networks.seconds_to_next() == 0

    def _run(self) -> None:
        next_full = self._clock() + self.maintenance_interval
        next_beat = self._clock() + self.heartbeat_interval
        while True:
            with self._cond:
                while not self._stopping:
                    held = self._held and self._data_ready
                    if held and self._has_work():
                        break
                    wake = min(next_full, next_beat)
                    if held and (due := self.ports.seconds_to_next()) is not None:
                        wake = min(wake, self._clock() + due)
                    wait = wake - self._clock()
                    if wait <= 0:
                        break
                    self._cond.wait(wait)
                if self._stopping:
                    return
                held = self._held and self._data_ready
            now = self._clock()
            if not held:
                next_full = max(next_full, now + self.maintenance_interval)
                next_beat = max(next_beat, now + self.heartbeat_interval)
                continue
            try:
                if self._full_reason or now >= next_full:
                    self._full_sync(self._full_reason or "periodic")
                    next_full = self._clock() + self.maintenance_interval
                else:
                    self._process_events()
                if now >= next_beat:
                    next_beat = now + self.heartbeat_interval
                    self._heartbeat()
            except Exception:  # the worker must survive SQL/NB trouble
                self.stats["failures"] += 1
                LOG.exception("status worker pass failed; full sync again in %.1fs",
                              self.RETRY_DELAY)
                self._request_full("retry after failure")
                with self._cond:
                    self._cond.wait(self.RETRY_DELAY)

    def _take(self) -> tuple[list[str], list[str], bool, set[str]]:
        with self._cond:
            self.grace.prune(self._clock())
            ports = self.ports.take(self.BATCH_SIZE)
            networks = self.networks.take()
            chassis, self._chassis_changed = self._chassis_changed, False
            routers, self._routers = self._routers, set()
        return ports, networks, chassis, routers

    def _process_events(self) -> None:
        ports, networks, chassis_changed, routers = self._take()
        try:
            if chassis_changed:
                self.writer.update_routers()
            elif routers:
                self.writer.update_routers(routers)
            port_ids = set(ports)
            if chassis_changed:
                port_ids |= self.writer.ports_not_up()
                self.writer.rebind_bindable()
            if port_ids:
                self._report_ports(self.writer.port_updates(port_ids))
            if networks:
                self.writer.update_networks(networks)
        except Exception:
            with self._cond:
                self.ports.add_all(ports)
                self.networks.add_all(networks)
                self._chassis_changed = self._chassis_changed or chassis_changed
                self._routers |= routers
            raise

    def _report_ports(self, updates: list[Update]) -> None:
        """Write these statuses, except the "interface not present" of ports in their plug
        grace: those are looked at again when it ends (the interface usually came).  Ports
        the core deferred (their binding commits next) are looked at again soon, then
        less and less often (a binding cut short waits for a read to finish it, B4)."""
        now = self._clock()
        send = []
        with self._cond:
            for update in updates:
                hold = self.grace.hold(*update, now)
                if hold is None:
                    send.append(update)
                else:
                    self.ports.apply(update[0], requeue_after(hold))
        deferred = set(self.writer.send_ports(send))
        with self._cond:
            for port_id, _, _ in send:
                self.ports.apply(port_id, backoff(*self.BINDING_RETRY) if port_id in deferred
                                 else DONE)

    def _full_sync(self, reason: str) -> None:
        assert self.sync is not None
        with self._cond:
            self._full_reason = None
            self.ports.clear()
            self.networks.clear()
            self._chassis_changed = False
        elapsed = self.sync.run(reason)
        self.stats["full_syncs"] += 1
        self.stats["last_full_sync"] = time.time()
        self.stats["last_full_sync_seconds"] = round(elapsed, 3)

    def _heartbeat(self) -> None:
        """Bump nb_cfg so live chassis answer; re-judge the ports that are not up, and the
        routers, when a chassis or plug agent goes down or comes back (liveness never
        decides a binding, only a reason)."""
        assert self.heartbeat is not None
        self.heartbeat.beat()
        if self.liveness.check() is not None:
            self._report_ports(self.writer.port_updates(self.writer.ports_not_up()))
            self.writer.update_routers()  # a gateway's chassis went down or came back
