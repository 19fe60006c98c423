"""Port and network status from OVN (S3, S4): what each status is, and the worker that reports it.

Exactly one status worker acts at a time across all servers: the holder of
the OVSDB lock ``neutrino_status_worker`` on NB (seed 004).  Every server's
worker keeps its NB copy current while it waits, and ovsdb-server hands the
lock to the next waiter the moment the holder's connection drops (kill -9
included), so a takeover costs one round trip plus one full sync.  See
docs/ovn-backend.md for the trade-off against Neutron's hash ring.

The worker is level-triggered: an NB row change only marks its port or
network *dirty*; the worker then reads the current row and reports the status
it implies.  Events are therefore deduplicated and can never be applied out
of order, and a full sync — run when the lock is acquired, after every
reconnect, and every ``maintenance_interval`` — compares every port in SQL
with NB, so a lost event cannot leave a port stuck (perf anchors §4.3.1).
"""
from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from neutrino.drivers.api import VIF_TYPE_BINDING_FAILED, VIF_TYPE_UNBOUND, CoreHandle
from neutrino.ovn import binding, commands, keys
from neutrino.ovn.chassis import ChassisDirectory
from neutrino.ovn.connection import ListenerSlot, Northbound, NullListener
from neutrino.ovn.desired import network_segments
from neutrino.ovn.nbcache import LspRow, NbCache, SwitchRow
from neutrino.ovn.repair import DriftRepair
from neutrino.plugproto import REQUESTED_CHASSIS, VIF_PLUG_TYPE

LOG = logging.getLogger(__name__)

ACTIVE, DOWN, BUILD = "ACTIVE", "DOWN", "BUILD"
NB_UNREACHABLE = "OVN northbound unreachable"
WAITING_FOR_PORT = "waiting for OVN northbound to create the logical switch port"
WAITING_FOR_SWITCH = "waiting for OVN northbound to create the logical switch"
ADMIN_DOWN = "admin_state_up is false"
NO_HOST = "no host: binding:host_id is not set"
NOT_PRESENT = "interface not present on chassis"
SB_UNKNOWN = "waiting for OVN southbound (chassis not known yet)"

Status = tuple[str, "str | None"]
#: What the worker's lock session monitors: the row it writes heartbeats and its identity to.
LOCK_SESSION_TABLES = {"NB_Global": ["nb_cfg", "external_ids"]}


@dataclass(frozen=True)
class LspView:
    """The facts of one Logical_Switch_Port that decide its port's status."""

    port_id: str
    up: bool
    enabled: bool
    requested_chassis: str
    vif_type: str
    vnic_type: str
    plug_type: str

    @classmethod
    def of(cls, row: Any) -> LspView:
        """From an LSP (an IDL row or its :class:`~neutrino.ovn.nbcache.LspRow` copy)."""
        ext = row.external_ids
        return cls(port_id=ext.get(keys.PORT_ID, row.name),
                   up=row.up == [True],
                   enabled=row.enabled != [False],
                   requested_chassis=row.options.get(REQUESTED_CHASSIS, ""),
                   vif_type=ext.get(keys.VIF_TYPE, ""),
                   vnic_type=ext.get(keys.VNIC_TYPE, keys.VNIC_NORMAL),
                   plug_type=row.options.get(VIF_PLUG_TYPE, ""))


def port_status(view: LspView | None, directory: ChassisDirectory,
                binding_reason: str | None = None) -> Status:
    """The status a port has, and why it is not ACTIVE."""
    if view is None:
        return BUILD, WAITING_FOR_PORT
    if not view.enabled:
        return DOWN, ADMIN_DOWN
    if view.vif_type == VIF_TYPE_BINDING_FAILED:
        return DOWN, binding_reason or "binding failed"
    if view.up:
        return ACTIVE, None
    name = view.requested_chassis
    if not name:
        return DOWN, binding_reason or NO_HOST
    if not directory.synced:
        return DOWN, SB_UNKNOWN
    chassis = directory.by_host(name)
    if chassis is None:
        return DOWN, f"no chassis with hostname or name '{name}'"
    if not directory.alive(chassis.name):
        return DOWN, f"chassis '{chassis.name}' is down"
    error = chassis.plug_errors.get(view.port_id)
    if error:
        return DOWN, f"plug agent on chassis '{chassis.name}': {error}"
    if view.plug_type and chassis.plug_agent is not None and \
            not directory.plug_agent_alive(chassis.name):
        return DOWN, f"plug agent on chassis '{chassis.name}' is down"
    return DOWN, f"{NOT_PRESENT} '{chassis.name}'"


def network_status(exists: bool) -> Status:
    return (ACTIVE, None) if exists else (BUILD, WAITING_FOR_SWITCH)


class _LockEvents(NullListener):
    """The lock session's news for the worker: only whether it holds the lock."""

    def __init__(self, worker: StatusWorker) -> None:
        self._worker = worker

    def lock_changed(self, held: bool) -> None:
        self._worker.lock_changed(held)


def _chunks(items: list, size: int) -> Iterable[list]:
    for i in range(0, len(items), size):
        yield items[i:i + size]


class StatusWorker:
    """Turns NB state into port/network statuses; runs drift repair and heartbeats.

    All methods named like the ``IdlListener`` protocol run on the NB
    connection thread and only record; the work happens on the worker thread.
    """

    #: Ports per ``set_port_statuses`` call: one SQL transaction each.
    BATCH_SIZE = 500
    #: Pause before taking a batch of events (seconds).  Zero: a batch is whatever one
    #: IDL pass (one or more NB messages, e.g. northd's ``up`` for a burst of ports)
    #: changed, plus whatever arrived while the previous batch was being written.
    BATCH_WINDOW = 0.0
    #: Pause after a failed pass (SQL or NB trouble) before trying again.
    RETRY_DELAY = 1.0
    #: Seconds a port whose LSP just appeared (or moved to another chassis) keeps the
    #: core's reason ("bound to host ...; waiting for the port to come up") before
    #: "interface not present" is written: the interface usually follows within
    #: ~100 ms, and the transient DOWN would cost a SQL write per port create.
    PLUG_GRACE = 1.0

    def __init__(self, nb: Northbound, events: ListenerSlot, nb_remote: str, timeout: float,
                 core: CoreHandle, directory: ChassisDirectory,
                 maintenance_interval: float = 60.0, heartbeat_interval: float = 10.0,
                 repair: bool = True, clock: Callable[[], float] = time.monotonic) -> None:
        #: The process's NB connection (shared with its API writes): its copy of NB
        #: feeds the worker's, and the repair and heartbeats write through it.
        self.nb = nb
        self._events = events
        self.nb_remote = nb_remote
        self.timeout = timeout
        self.core = core
        self.directory = directory
        self.maintenance_interval = maintenance_interval
        self.heartbeat_interval = heartbeat_interval
        self.repair_enabled = repair
        self._clock = clock
        self.identity = f"{socket.gethostname()}:{os.getpid()}"
        #: The session holding the OVSDB lock; NB_Global writes go through it (fenced).
        self.lock: Northbound | None = None
        self.cache = NbCache()
        self._idl: Any = None
        self.repair: DriftRepair | None = None
        self._cond = threading.Condition()
        self._held = False
        #: The data connection holds a complete, current copy of NB.
        self._data_ready = False
        self._stopping = False
        self._full_reason: str | None = None
        self._dirty_ports: set[str] = set()
        self._dirty_networks: set[str] = set()
        self._chassis_changed = False
        #: Dirty ports or networks recorded in the current IDL pass, not yet signalled.
        self._pending = False
        #: The NB copy is complete: rows arriving now are new, not the initial load.
        self._loaded = False
        #: port id -> end of its PLUG_GRACE (connection thread writes, worker reads).
        self._fresh: dict[str, float] = {}
        #: port id -> when to look again at a port whose "not present" was held back.
        self._deferred: dict[str, float] = {}
        self._alive: set[str] = set()
        self._thread: threading.Thread | None = None
        #: Counters for health(): transitions reported, syncs run, failures.
        self.stats: dict[str, Any] = {"transitions": 0, "full_syncs": 0, "failures": 0,
                                      "lock_acquired": 0, "last_full_sync": None,
                                      "last_full_sync_seconds": None}
        directory.subscribe(self._on_chassis_change)

    # -- lifecycle ------------------------------------------------------------
    def start(self) -> None:
        self.repair = DriftRepair(self.nb, self.cache, self.core, self.directory,
                                  leading=lambda: self._held)
        self._events.connect(self, self.nb.read_lock())
        self.lock = Northbound(self.nb_remote, self.timeout, listener=_LockEvents(self),
                               lock_name=keys.STATUS_LOCK, tables=LOCK_SESSION_TABLES)
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
                **self.stats, "repairs": dict(self.repair.totals) if self.repair else {}}

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
                self._dirty_ports.clear()
                self._dirty_networks.clear()
                self._deferred.clear()
            self._cond.notify_all()
        LOG.info("status worker %s: %s the OVSDB lock %s", self.identity,
                 "acquired" if held else "does not hold", keys.STATUS_LOCK)

    def row_changed(self, event: str, row: Any, old: Any) -> None:
        before, after = self.cache.row_changed(event, row)
        if not self._held:
            return  # whoever takes the lock starts with a full sync
        # Only changes that can change a status count: a port's LSP facts
        # (LspView) or a write by Neutrino (a new revision: the core may have
        # rewritten the status meanwhile, e.g. a binding committed after the port
        # went ACTIVE), and a network's switch appearing or going.  Every port write
        # also updates its switch's ``ports``, and northd's ``up=[false]`` on a new
        # LSP changes nothing; each would cost a SQL write transaction.
        if isinstance(before or after, LspRow):
            views = [LspView.of(r) if r is not None and keys.PORT_ID in r.external_ids else None
                     for r in (before, after)]
            if views[0] != views[1] or (
                    before is not None and after is not None and
                    before.external_ids.get(keys.REVISION) != after.external_ids.get(keys.REVISION)):
                old_view, new_view = views
                with self._cond:
                    self._dirty_ports.update(v.port_id for v in views if v is not None)
                    self._pending = True
                    if new_view is not None and self._loaded and (
                            old_view is None or
                            old_view.requested_chassis != new_view.requested_chassis):
                        # Re-inserted, so the dict stays ordered by end of grace.
                        self._fresh.pop(new_view.port_id, None)
                        self._fresh[new_view.port_id] = self._clock() + self.PLUG_GRACE
                    elif new_view is None and old_view is not None:
                        self._fresh.pop(old_view.port_id, None)
        elif isinstance(before or after, SwitchRow):
            ids = {r.external_ids.get(keys.NETWORK_ID) if r is not None else None
                   for r in (before, after)}
            if len(ids) > 1:
                with self._cond:
                    self._dirty_networks.update(i for i in ids if i)
                    self._pending = True

    def changes_done(self) -> None:
        """After an IDL pass: wake the worker once for everything that pass changed."""
        if self._pending:
            with self._cond:
                self._pending = False
                self._cond.notify_all()

    def _on_chassis_change(self, names: set[str]) -> None:
        with self._cond:
            self._chassis_changed = True
            self._cond.notify_all()

    def _request_full(self, reason: str) -> None:
        with self._cond:
            self._full_reason = self._full_reason or reason
            self._cond.notify_all()

    # -- worker thread ------------------------------------------------------------
    def _has_work(self) -> bool:
        return bool(self._full_reason or self._dirty_ports or self._dirty_networks
                    or self._chassis_changed) or self._next_deferred() <= self._clock()

    def _next_deferred(self) -> float:
        return min(self._deferred.values(), default=float("inf"))

    def _run(self) -> None:
        next_full = self._clock() + self.maintenance_interval
        next_beat = self._clock() + self.heartbeat_interval
        while True:
            with self._cond:
                while not self._stopping and not (self._held and self._data_ready
                                                  and self._has_work()):
                    wait = min(next_full, next_beat, self._next_deferred()) - self._clock()
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
            except Exception:  # noqa: BLE001 - the worker must survive SQL/NB trouble
                self.stats["failures"] += 1
                LOG.exception("status worker pass failed; full sync again in %.1fs",
                              self.RETRY_DELAY)
                self._request_full("retry after failure")
                with self._cond:
                    self._cond.wait(self.RETRY_DELAY)

    def _take_events(self) -> tuple[set[str], set[str], bool]:
        if self.BATCH_WINDOW > 0:
            time.sleep(self.BATCH_WINDOW)
        with self._cond:
            ports = set()
            now = self._clock()
            if self._next_deferred() <= now:
                due = [pid for pid, at in self._deferred.items() if at <= now]
                for pid in due:
                    del self._deferred[pid]
                self._dirty_ports.update(due)
            while self._fresh:  # ordered by end of grace: drop the ended ones
                first = next(iter(self._fresh))
                if self._fresh[first] > now:
                    break
                del self._fresh[first]
            while self._dirty_ports and len(ports) < self.BATCH_SIZE:
                ports.add(self._dirty_ports.pop())
            networks, self._dirty_networks = self._dirty_networks, set()
            chassis, self._chassis_changed = self._chassis_changed, False
        return ports, networks, chassis

    def _process_events(self) -> None:
        ports, networks, chassis_changed = self._take_events()
        try:
            if chassis_changed:
                ports |= self._ports_not_up()
                self._rebind_bindable()
            if ports:
                self._update_ports(ports)
            if networks:
                self._update_networks(networks)
        except Exception:
            with self._cond:
                self._dirty_ports |= ports
                self._dirty_networks |= networks
                self._chassis_changed = self._chassis_changed or chassis_changed
            raise

    # -- reads of the NB copy -----------------------------------------------------
    def _views(self, port_ids: Iterable[str] | None = None) -> dict[str, LspView]:
        """LSP facts of the given ports (all owned ports if None)."""
        rows = self.cache.snapshot().ports if port_ids is None else \
            self.cache.ports(list(port_ids))
        return {pid: LspView.of(row) for pid, row in rows.items()}

    def _ports_not_up(self) -> set[str]:
        return {pid for pid, v in self._views().items() if not v.up}

    # -- reporting ---------------------------------------------------------------
    def _binding_reason(self, port: Mapping[str, Any],
                        networks: Mapping[str, Mapping[str, Any]]) -> str:
        network = networks.get(port["network_id"], {})
        decision = binding.decide(port, network_segments(network), self.directory)
        if decision.bound:
            return f"binding failed; retrying on chassis '{decision.chassis.name}'"
        return f"binding failed: {decision.reason or 'no chassis'}"

    def _update_ports(self, port_ids: set[str]) -> None:
        views = self._views(port_ids)
        failed = [pid for pid, v in views.items()
                  if v.vif_type == VIF_TYPE_BINDING_FAILED and v.enabled]
        reasons: dict[str, str] = {}
        if failed:
            networks = {n["id"]: n for n in self.core.list_networks()}
            for pid in failed:
                port = self.core.get_port(pid)
                if port is not None:
                    reasons[pid] = self._binding_reason(port, networks)
        updates = [(pid, *port_status(views.get(pid), self.directory, reasons.get(pid)))
                   for pid in sorted(port_ids)]
        self._send_ports(self._hold_back_fresh(updates))

    def _hold_back_fresh(self, updates: list[tuple[str, str, str | None]],
                         ) -> list[tuple[str, str, str | None]]:
        """Updates to send now; "interface not present" of a port in its PLUG_GRACE is
        held back and looked at again when the grace ends (the interface usually came)."""
        now = self._clock()
        send = []
        with self._cond:
            for update in updates:
                port_id, status, reason = update
                end = self._fresh.get(port_id)
                if end is not None:
                    if end > now and status == DOWN and reason and reason.startswith(NOT_PRESENT):
                        self._deferred[port_id] = end
                        continue
                    if status == ACTIVE or end <= now:
                        del self._fresh[port_id]
                self._deferred.pop(port_id, None)
                send.append(update)
        return send

    def _send_ports(self, updates: list[tuple[str, str, str | None]]) -> None:
        for chunk in _chunks(updates, self.BATCH_SIZE):
            if not self._held:
                return  # the lock moved on; the new holder starts with a full sync
            changed = self.core.set_port_statuses(chunk)
            self.stats["transitions"] += len(changed)
            if changed:
                wanted = {u[0]: u[1:] for u in chunk}
                for port_id in changed:
                    LOG.info("port %s status %s (%s)", port_id, *wanted.get(port_id, ("?", None)))

    def _update_networks(self, network_ids: set[str]) -> None:
        switches = self.cache.snapshot().switches
        updates = [(nid, *network_status(nid in switches)) for nid in sorted(network_ids)]
        self.core.set_network_statuses(updates)

    def _rebind_bindable(self, ports: list[Mapping[str, Any]] | None = None,
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

    def _full_sync(self, reason: str) -> None:
        assert self.nb is not None and self.repair is not None
        started = self._clock()
        with self._cond:
            self._full_reason = None
            self._dirty_ports.clear()
            self._dirty_networks.clear()
            self._chassis_changed = False
            self._deferred.clear()
        repairs = self.repair.run() if self.repair_enabled else {}
        networks = {n["id"]: n for n in self.core.list_networks()}
        ports = self.core.list_ports()
        snapshot = self.cache.snapshot()
        views = {pid: LspView.of(row) for pid, row in snapshot.ports.items()}
        switches = snapshot.switches
        updates = []
        for port in ports:
            view = views.get(port["id"])
            if view is None and port.get("binding:host_id") and \
                    port.get("binding:vif_type") == VIF_TYPE_UNBOUND:
                # Being bound: its LSP is written by the binding's update (or, if the
                # binding was cut short, by the repair); the core's "binding pending"
                # stays until then rather than a BUILD that the binding would not clear.
                continue
            binding_reason = None
            if port.get("binding:vif_type") == VIF_TYPE_BINDING_FAILED:
                binding_reason = self._binding_reason(port, networks)
            want = port_status(view, self.directory, binding_reason)
            if (port.get("status"), port.get("status_reason")) != want:
                updates.append((port["id"], *want))
        self._send_ports(self._hold_back_fresh(updates))
        net_updates = [(nid, *network_status(nid in switches)) for nid, net in networks.items()
                       if (net.get("status"), net.get("status_reason")) !=
                       network_status(nid in switches)]
        if net_updates:
            self.core.set_network_statuses(net_updates)
        self._rebind_bindable(ports, networks)
        self._alive = self.directory.alive_names()
        self._publish(repairs)
        elapsed = self._clock() - started
        self.stats["full_syncs"] += 1
        self.stats["last_full_sync"] = time.time()
        self.stats["last_full_sync_seconds"] = round(elapsed, 3)
        LOG.info("full sync (%s): %d ports, %d networks, %d port and %d network status "
                 "changes, repairs %s, %.3fs", reason, len(ports), len(networks), len(updates),
                 len(net_updates), repairs or "none", elapsed)

    def _publish(self, repairs: Mapping[str, int] | None = None) -> None:
        """Share the worker's identity and cumulative repair counts with every server.

        Written only when something changed: every NB_Global write wakes ovn-northd.
        """
        assert self.lock is not None
        with self.lock.read_lock():
            row = next(iter(self.lock.tables["NB_Global"].rows.values()), None)
            published = row is not None and \
                row.external_ids.get(keys.GLOBAL_WORKER) == self.identity
        if published and not repairs:
            return
        increments = {keys.GLOBAL_REPAIRS_PREFIX + name: n for name, n in (repairs or {}).items()}
        with self.lock.transaction(check_error=True) as txn:
            txn.add(commands.SetGlobalInfo(self.lock, {keys.GLOBAL_WORKER: self.identity},
                                           increments))

    def _heartbeat(self) -> None:
        """Bump nb_cfg so live chassis answer; react to chassis coming and going."""
        assert self.lock is not None
        with self.lock.transaction(check_error=True) as txn:
            txn.add(commands.BumpNbCfg(self.lock))
        self._publish()
        alive = self.directory.alive_names()
        if alive != self._alive:
            LOG.info("agents now down: %s; now alive: %s",
                     sorted(self._alive - alive) or "none", sorted(alive - self._alive) or "none")
            came_back = alive - self._alive
            self._alive = alive
            self._update_ports(self._ports_not_up())
            if came_back:
                self._rebind_bindable()
