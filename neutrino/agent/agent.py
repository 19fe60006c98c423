"""The plug agent's main loop: watch two databases, reconcile, report.

One thread runs the local OVS IDL and the SB IDL, like ovn-controller's main
loop. Each iteration processes database updates, collects finished OVS
transactions, lets providers run, reconciles the ports whose rows changed (all
ports on start, after a reconnect, when a provider's tables changed, and every
``resync_interval``), and refreshes the SB report. Between iterations it
sleeps until a database, a timer or :meth:`Agent.stop` wakes it.

Start-up and reconnect safety (P8): nothing is unplugged until both databases
are loaded since their last (re)connection and the SB conditions for this
chassis are in force. Plugging and updating never wait for that.
"""
from __future__ import annotations

import logging
import os
import select
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import ovs.db.idl
import ovs.poller
from ovsdbapp.backend.ovs_idl import vlog

from neutrino.agent.idl import OVS_COLUMNS, SB_COLUMNS, TrackedIdl, fetch_schema
from neutrino.agent.install_watch import DEFAULT_BOUND, InstallWatch
from neutrino.agent.local import LocalState
from neutrino.agent.reconcile import PassContext, Reconciler
from neutrino.agent.registry import ProviderRegistry
from neutrino.agent.report import PlugOutcome, PlugOutcomes, SbReporter
from neutrino.agent.southbound import SouthboundState
from neutrino.agent.writer import Outcome, OvsWriter
from neutrino.log import RateLimitedLog, fmt
from neutrino.workqueue import DONE, WorkQueue, backoff

LOG = logging.getLogger(__name__)

DEFAULT_OVS_REMOTE = "unix:/var/run/openvswitch/db.sock"

#: Committed changes that count as plug outcomes (updates do not).
COMMITTED_OUTCOMES = {"plug": PlugOutcome.PLUGGED, "unplug": PlugOutcome.UNPLUGGED}
#: A port whose change the OVS DB rejected on its own: it will likely fail again.
REJECTED = backoff(1.0, 30.0)
#: A port whose change must be tried again (row gone, transaction to retry, or alone
#: after a failed batch): at once, then less often.
RETRY = backoff(0.05, 5.0)


@dataclass
class AgentConfig:
    ovs_remote: str = DEFAULT_OVS_REMOTE
    #: provider types to load from entry points; None loads all installed ones.
    providers: list[str] | None = None
    #: seconds between full reconcile passes (a safety net; changes are handled at once).
    resync_interval: float = 30.0
    #: seconds between heartbeats in SB.  Each write to ``Chassis_Private`` makes
    #: ovn-northd (23.03) recompute everything: about 50 ms of its CPU with 2,000
    #: ports, during which no port change goes through; 20 agents at 10 s kept
    #: it at that twice a second.  30 s is Neutron's agent report interval.
    report_interval: float = 30.0
    #: seconds between calls of the providers' ``run``.
    provider_run_interval: float = 1.0
    #: how long to wait for a provider call, and when to call it slow.
    provider_timeout: float = 2.0
    provider_slow: float = 0.1
    #: most port changes in one OVS transaction.
    max_batch: int = 500
    #: seconds a plugged, claimed port may go without ``ovn-installed`` while
    #: ovn-controller answers before it is plugged again (``install_watch``).
    install_bound: float = DEFAULT_BOUND
    version: str = field(default="0.1.0")


class Agent:
    """Plugs, updates and unplugs VIFs for one chassis; see the module docstring."""

    def __init__(self, config: AgentConfig, registry: ProviderRegistry | None = None) -> None:
        self.config = config
        if registry is None:
            registry = ProviderRegistry(config.provider_timeout, config.provider_slow)
            registry.load_entry_points(config.providers)
        self.registry = registry
        self.local = LocalState()
        self.writer = OvsWriter(config.max_batch)
        self.reporter = SbReporter(config.report_interval, config.version)
        #: kept across SB reconnects (the reconciler is not): counts since start.
        self.outcomes = PlugOutcomes(registry.types())
        #: ports not installed yet, kept across SB reconnects like the counts
        self.watch = InstallWatch(config.install_bound)
        #: Logical ports to reconcile: changed rows, full passes, retries.
        self.queue: WorkQueue[str] = WorkQueue()
        self.sb: SouthboundState | None = None
        self.reconciler: Reconciler | None = None
        self.ovs_idl: TrackedIdl | None = None
        self.sb_idl: TrackedIdl | None = None
        self._sb_key: tuple[str, str] | None = None
        self._sb_retry_at = 0.0
        self._loaded_seqno: dict[str, int] = {}
        self._can_unplug = False
        self._full_pass = True
        self._next_full = 0.0
        self._next_provider_run = 0.0
        self._stop = threading.Event()
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._log = RateLimitedLog(LOG)
        #: reconcile passes run so far (for tests and benchmarks)
        self.passes = 0
        vlog.use_python_logger()

    @property
    def unplug_enabled(self) -> bool:
        """Both databases are loaded since their last (re)connection (P8 guard lifted)."""
        return self._can_unplug

    # -- control -------------------------------------------------------------------
    def stop(self) -> None:
        """Ask the loop to exit; safe from signal handlers and other threads."""
        self._stop.set()
        try:
            os.write(self._wake_w, b"x")
        except (BlockingIOError, OSError):
            pass  # the wake-up pipe is full, or closed because the agent has stopped

    def run(self) -> None:
        """Run until :meth:`stop`; then release everything and withdraw the heartbeat."""
        LOG.info(fmt("plug agent starting", ovs=self.config.ovs_remote,
                     providers=",".join(self.registry.types()) or "none"))
        try:
            if self._connect_ovs():
                while not self._stop.is_set():
                    self.iterate()
                    self._wait()
        finally:
            self._shutdown()

    def _connect_ovs(self) -> bool:
        while not self._stop.is_set():
            try:
                helper = fetch_schema(self.config.ovs_remote, "Open_vSwitch", OVS_COLUMNS)
            except Exception as exc:  # noqa: BLE001 - keep trying until the DB is up
                self._log.warning("ovs-schema", "local OVS DB not reachable yet",
                                  remote=self.config.ovs_remote, error=repr(exc))
                self._stop.wait(1.0)
                continue
            self.ovs_idl = TrackedIdl(self.config.ovs_remote, helper, self.local.on_row)
            self.local.idl = self.ovs_idl
            return True
        return False

    # -- one iteration ---------------------------------------------------------------
    def iterate(self) -> None:
        assert self.ovs_idl is not None
        now = time.monotonic()
        self.ovs_idl.run()
        settings = self.local.settings() if self.ovs_idl.has_ever_connected() else {}
        self._ensure_sb(settings, now)
        if self.sb_idl is not None:
            self.sb_idl.run()
        self._handle(self.writer.poll())
        self._track_loaded()
        if now >= self._next_provider_run:
            self._next_provider_run = now + self.config.provider_run_interval
            if self.registry.run_all():
                LOG.info(fmt("provider lookup tables changed; reconsidering all ports"))
                self._full_pass = True
        self._reconcile(settings, now)
        self.registry.flush()
        self._report(now)

    def _ensure_sb(self, settings: dict[str, str], now: float) -> None:
        """(Re)connect to SB when ``system-id`` or ``ovn-remote`` appear or change."""
        system_id, remote = settings.get("system-id"), settings.get("ovn-remote")
        if not system_id or not remote:
            if self.ovs_idl is not None and self.ovs_idl.has_ever_connected():
                self._log.warning("no-settings", "waiting for external_ids:system-id and "
                                  "ovn-remote in the local Open_vSwitch table")
            return
        if self._sb_key == (system_id, remote) or now < self._sb_retry_at:
            return
        try:
            helper = fetch_schema(remote, "OVN_Southbound", SB_COLUMNS)
        except Exception as exc:  # noqa: BLE001 - retried; plugging needs SB anyway
            self._log.warning("sb-schema", "SB not reachable yet", remote=remote,
                              error=repr(exc))
            self._sb_retry_at = now + 1.0
            return
        if self.sb_idl is not None:
            self.sb_idl.close()
        LOG.info(fmt("connecting to SB", chassis=system_id, remote=remote))
        self.sb = SouthboundState(system_id)
        self.sb_idl = TrackedIdl(remote, helper, self.sb.on_row)
        self.sb.idl = self.sb_idl
        self.sb.update_conditions(None)
        self.reconciler = Reconciler(self.local, self.sb, self.registry, self.writer,
                                     self.outcomes, self.watch)
        self._sb_key = (system_id, remote)
        self._loaded_seqno.pop("sb", None)
        self._full_pass = True

    def _track_loaded(self) -> None:
        """Rebuild indexes after every (re)load and decide whether unplugging is safe."""
        assert self.ovs_idl is not None
        ovs_loaded = self._loaded("ovs", self.ovs_idl, self.local.rebuild)
        sb_loaded = False
        if self.sb is not None and self.sb_idl is not None:
            if self.sb.chassis_changed:
                self.sb.chassis_changed = False
                self.sb.update_conditions(self.sb.chassis())
                self._full_pass = True
            sb_loaded = (self._loaded("sb", self.sb_idl, self.sb.rebuild)
                         and self.sb.loaded_for(self.sb.chassis()))
        can_unplug = ovs_loaded and sb_loaded
        if can_unplug != self._can_unplug:
            self._can_unplug = can_unplug
            LOG.info(fmt("unplugging enabled" if can_unplug else
                         "unplugging paused until both databases are loaded",
                         ovs_loaded=ovs_loaded, sb_loaded=sb_loaded))
            self._full_pass = True

    def _loaded(self, key: str, idl: TrackedIdl, rebuild: Callable[[], object]) -> bool:
        if not idl.loaded():
            return False
        seqno = idl.connection_seqno
        if self._loaded_seqno.get(key) != seqno:
            rebuild()
            self._loaded_seqno[key] = seqno
            self._full_pass = True
        return True

    def _reconcile(self, settings: dict[str, str], now: float) -> None:
        if (self.reconciler is None or self.sb is None or self.ovs_idl is None
                or not self.ovs_idl._session.is_connected()):  # noqa: SLF001 - Idl's is private
            return
        bridge = self.local.bridge(settings.get("ovn-bridge", "br-int"))
        chassis = self.sb.chassis()
        if bridge is None or chassis is None:
            return
        if self.local.config_changed:
            self.local.config_changed = False
            self._full_pass = True
        if now >= self._next_full:
            self._full_pass = True
        self.queue.add_all(self.local.take_dirty() | self.sb.take_dirty())
        nb_cfg = self.sb.nb_cfg()
        replug = self._stuck(bridge, chassis, now, nb_cfg)
        self.queue.add_all(replug)
        if self._full_pass:
            self._full_pass = False
            self._next_full = now + self.config.resync_interval
            self.queue.add_all(self.reconciler.all_keys(bridge))
        keys = set(self.queue.take())
        if not keys:
            return
        keys |= self.reconciler.name_conflicts()
        self.passes += 1
        ctx = PassContext(bridge=bridge, chassis=chassis, can_unplug=self._can_unplug,
                          now=now, nb_cfg=nb_cfg, replug=replug)
        result = self.reconciler.run(ctx, keys)
        for lport, port_result in result.results.items():
            self.queue.apply(lport, port_result)
        if result.ops:
            self._handle(self.writer.submit(self.ovs_idl, result.ops))

    def _stuck(self, bridge: ovs.db.idl.Row, chassis: ovs.db.idl.Row, now: float,
                nb_cfg: int) -> frozenset[str]:
        """The ports ovn-controller claimed but never installed: counted, logged, and
        returned to be plugged again."""
        assert self.reconciler is not None
        reconciler = self.reconciler
        stuck = self.watch.due(now, nb_cfg,
                               lambda lport: reconciler.install_state(lport, bridge, chassis))
        for lport, watched in stuck.items():
            self.outcomes.add(watched.plug_type, PlugOutcome.REPLUGGED)
            self._log.warning("not-installed", "ovn-controller claimed a port but never "
                              "installed its interface; plugging it again", lport=lport,
                              iface=watched.iface, attempt=watched.attempts,
                              next_bound=watched.bound)
        return frozenset(stuck)

    def _handle(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            op = outcome.op
            lport = op.lport
            if outcome.ok:
                self.queue.apply(lport, DONE)
                if op.kind in COMMITTED_OUTCOMES:
                    self.outcomes.add(op.handle.type, COMMITTED_OUTCOMES[op.kind])
            elif outcome.error is not None:
                if self.reconciler is not None:
                    self.reconciler.set_failure(lport, outcome.error)
                if op.kind == "plug":
                    self.outcomes.add(op.handle.type, PlugOutcome.FAILED)
                self.queue.apply(lport, REJECTED)
            else:
                self.queue.apply(lport, RETRY)

    def _report(self, now: float) -> None:
        if self.sb is None or self.sb_idl is None or self.reconciler is None:
            return
        row = self.sb.chassis_private()
        if row is None or not self.sb_idl._session.is_connected():  # noqa: SLF001 - as above
            return
        providers = {h.type: h.caller.health() for h in self.registry.handles()}
        problems = {**self.watch.problems(), **self.reconciler.problems}
        desired = self.reporter.desired(problems, providers, self.outcomes, now)
        self.reporter.flush(self.sb_idl, row, desired)

    # -- sleeping --------------------------------------------------------------------
    def _wait(self) -> None:
        poller = ovs.poller.Poller()
        now = time.monotonic()
        for idl in (self.ovs_idl, self.sb_idl):
            if idl is not None:
                idl.wait(poller)
        poller.fd_wait(self._wake_r, select.POLLIN)
        deadlines = [self._next_full, self._next_provider_run,
                     now + self.reporter.seconds_to_heartbeat(now)]
        if self._sb_key is None or self.sb_idl is None:
            deadlines.append(max(self._sb_retry_at, now + 0.2))
        if (due := self.queue.seconds_to_next()) is not None:
            deadlines.append(now + due)
        if (bound := self.watch.seconds_to_next(now)) is not None:
            deadlines.append(now + bound)
        poller.timer_wait(max(0, int((min(deadlines) - now) * 1000)))
        poller.block()
        try:
            os.read(self._wake_r, 4096)
        except BlockingIOError:
            pass

    def _shutdown(self) -> None:
        LOG.info(fmt("plug agent stopping"))
        self.writer.abandon()
        if self.sb is not None and self.sb_idl is not None:
            row = self.sb.chassis_private()
            if row is not None and self.sb_idl._session.is_connected():  # noqa: SLF001 - as above
                self.reporter.withdraw(self.sb_idl, row)
        self.registry.teardown_all()
        for idl in (self.ovs_idl, self.sb_idl):
            if idl is not None:
                idl.close()
        os.close(self._wake_r)
        os.close(self._wake_w)
