"""The chassis directory: what SB knows about every chassis, kept current by IDL events.

Binding, the agents listing and the status reasons all ask the same
questions — which chassis is host X, which has card serial Y, which maps
physnet Z, is it alive, did its plug agent report an error for port P — so
they share one cache, rebuilt per chassis on every SB row change.  Answers
come from memory, never from a round trip to SB, because ``bind_port`` and
``GET /v2.0/agents`` sit on request paths.

Liveness follows Neutron's OVN driver: the status worker bumps
``NB_Global.nb_cfg`` periodically; ovn-northd copies it to
``SB_Global.nb_cfg``; every live ovn-controller answers by copying it into
its ``Chassis_Private.nb_cfg``.  A chassis at most one bump behind is alive;
one further behind is still alive until ``down_time`` has passed (on this
process's clock) since it last made progress, so a chassis is never declared
dead by a bump it had no time to answer.  Progress is any sign of life SB shows
from the chassis's ovn-controller: an answer to a heartbeat, and also a port it
claims (``Port_Binding.chassis`` set to it) or sets up (``Port_Binding.up``
turning true on a port it holds), both written only by ovn-controller.  A busy
one (thousands of ports to claim after a restart or under create load) answers
heartbeats minutes late while claiming and setting up ports all along: it is
alive.  A chassis judged down is still bound to (it may only be late); its ports
say why they are not ACTIVE.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ovsdbapp.backend.ovs_idl import idlutils

from neutrino.ovn import keys
from neutrino.plugproto import AGENT_ERROR_PREFIX, AGENT_HEARTBEAT, AGENT_INFO


def parse_mappings(value: str) -> dict[str, str]:
    """``physnet1:br-ex,physnet2:br-vlan`` -> ``{physnet1: br-ex, physnet2: br-vlan}``."""
    result = {}
    for item in value.split(","):
        physnet, sep, bridge = item.strip().partition(":")
        if sep and physnet.strip():
            result[physnet.strip()] = bridge.strip()
    return result


@dataclass(frozen=True)
class PlugAgentInfo:
    """Neutrino's plug agent on a chassis, as it reports itself in Chassis_Private."""

    heartbeat: float | None
    #: The agent's ``-info`` JSON (version, pid, interval, started_at, providers,
    #: plug_outcomes).
    info: Mapping[str, Any]

    @property
    def interval(self) -> float:
        try:
            return float(self.info.get("interval") or 0)
        except (TypeError, ValueError):
            return 0.0

    @property
    def plug_outcomes(self) -> dict[str, dict[str, int]]:
        """``{provider: {outcome: count}}`` since the agent started; malformed entries skipped.

        The agent reports them (``plugged``, ``failed``, ``unplugged``), but an
        agent of another version may not, or may report other outcomes.
        """
        reported = self.info.get("plug_outcomes")
        if not isinstance(reported, dict):
            return {}
        return {provider: {outcome: n for outcome, n in counts.items()
                           if isinstance(n, int) and not isinstance(n, bool)}
                for provider, counts in reported.items() if isinstance(counts, dict)}


@dataclass(frozen=True)
class ChassisInfo:
    name: str
    hostname: str
    bridge_mappings: Mapping[str, str]
    cms_options: tuple[str, ...]
    datapath_type: str
    other_config: Mapping[str, str]
    #: ``Chassis_Private.nb_cfg``; None if the chassis has no Chassis_Private row.
    nb_cfg: int | None
    #: Union of Chassis and Chassis_Private external_ids (the latter wins).
    external_ids: Mapping[str, str] = field(default_factory=dict)

    @property
    def physnets(self) -> frozenset[str]:
        return frozenset(self.bridge_mappings)

    @property
    def card_serials(self) -> frozenset[str]:
        prefix = keys.CARD_SERIAL + "="
        return frozenset(o[len(prefix):] for o in self.cms_options if o.startswith(prefix))

    def matches_host(self, host: str) -> bool:
        return bool(host) and host in (self.hostname, self.name)

    @property
    def plug_errors(self) -> dict[str, str]:
        """Per-logical-port errors the plug agent reported (``<code>: <message>``)."""
        n = len(AGENT_ERROR_PREFIX)
        return {k[n:]: v for k, v in self.external_ids.items()
                if k.startswith(AGENT_ERROR_PREFIX)}

    @property
    def plug_agent(self) -> PlugAgentInfo | None:
        """The plug agent's report, or None if no agent runs (or it stopped cleanly)."""
        heartbeat = self.external_ids.get(AGENT_HEARTBEAT)
        raw = self.external_ids.get(AGENT_INFO)
        if heartbeat is None and raw is None:
            return None
        try:
            info = json.loads(raw) if raw else {}
        except ValueError:
            info = {"unparsable": raw}
        try:
            beat = float(heartbeat) if heartbeat is not None else None
        except ValueError:
            beat = None
        return PlugAgentInfo(heartbeat=beat, info=info if isinstance(info, dict) else {})

    def significant(self) -> tuple:
        """Everything but heartbeat counters: a change here may change a binding or a reason."""
        return (self.hostname, tuple(sorted(self.bridge_mappings.items())), self.cms_options,
                self.datapath_type, tuple(sorted(self.plug_errors.items())),
                self.plug_agent is not None)


ChangeCallback = Callable[[set[str]], None]


def _chassis_name(binding: Any) -> str | None:
    """The chassis a Port_Binding row is claimed by (None: unclaimed)."""
    return binding.chassis[0].name if binding.chassis else None


def _is_gateway(binding: Any) -> bool:
    return bool(binding.type == keys.TYPE_CHASSIS_REDIRECT)


def _changed_column(old: Any, column: str) -> bool:
    """Whether an update changed ``column`` (python-ovs's old row holds only those)."""
    return old is not None and hasattr(old, column)


def _sign_of_life(event: str, binding: Any, old: Any) -> str | None:
    """The chassis whose ovn-controller this Port_Binding update shows at work: it
    claimed the port, or set up one it holds.  Only ovn-controller writes these
    (ovn-northd never does); a row appearing (a new port, or the initial copy after
    a reconnect) says nothing about any chassis."""
    if event != "update" or not binding.chassis:
        return None
    if _changed_column(old, "chassis") or \
            (_changed_column(old, "up") and binding.up == [True]):
        return _chassis_name(binding)
    return None


class ChassisDirectory:
    """IDL listener for SB that keeps a ``ChassisInfo`` per chassis name."""

    def __init__(self, down_time: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.down_time = down_time
        self._clock = clock
        self._lock = threading.Lock()
        self._chassis: dict[str, ChassisInfo] = {}
        #: name -> local time the chassis last showed a sign of life (or first appeared).
        self._progress: dict[str, float] = {}
        self._global_nb_cfg = 0
        #: Local time ``SB_Global.nb_cfg`` last changed: when the heartbeat that a chassis
        #: one behind has not answered yet reached SB.
        self._global_since = clock()
        self._subscribers: list[ChangeCallback] = []
        #: Routers' gateways: chassis-redirect port name -> the chassis that claimed it.
        self._claims: dict[str, str | None] = {}
        self._idl: Any = None
        self.synced = False

    # -- IdlListener (SB connection thread) ---------------------------------------
    def attach(self, idl: Any) -> None:
        self._idl = idl

    def subscribe(self, callback: ChangeCallback) -> None:
        """``callback(names)`` runs on the SB thread when chassis appear, vanish or change."""
        self._subscribers.append(callback)

    def ready_changed(self, ready: bool) -> None:
        if ready:
            self.synced = True
            self._rebuild_all()

    def lock_changed(self, held: bool) -> None:
        pass

    def row_changed(self, event: str, row: Any, old: Any) -> None:
        table = row._table.name  # noqa: SLF001 - an ovs Row's table has no public name
        if table == "SB_Global":
            self._set_global(row.nb_cfg)
        elif table in ("Chassis", "Chassis_Private"):
            self._changed({row.name})
        elif table == "Port_Binding":
            if _is_gateway(row):
                self._claim(row.logical_port, None if event == "delete" else _chassis_name(row))
            sign = _sign_of_life(event, row, old)
            if sign is not None:
                self._progressed(sign)

    def _progressed(self, name: str) -> None:
        """Record a sign of life other than a heartbeat answer; a chassis judged down is
        back at once, and told as ``_changed`` tells it."""
        with self._lock:
            info = self._chassis.get(name)
            if info is None:
                return
            was_down = not self._alive(info.nb_cfg, self._progress.get(name))
            self._progress[name] = self._clock()
        if was_down:
            for callback in self._subscribers:
                callback({name})

    def _claim(self, port: str, chassis: str | None) -> None:
        with self._lock:
            before = self._claims.get(port)
            if chassis is None:
                self._claims.pop(port, None)
            else:
                self._claims[port] = chassis
        if before != chassis:
            for callback in self._subscribers:
                callback({name for name in (before, chassis) if name})

    def _rebuild_all(self) -> None:
        if self._idl is None:
            return
        names = {r.name for r in self._idl.tables["Chassis"].rows.values()}
        claims = {r.logical_port: _chassis_name(r)
                  for r in self._idl.tables["Port_Binding"].rows.values() if _is_gateway(r)}
        with self._lock:
            self._claims = {port: chassis for port, chassis in claims.items() if chassis}
        global_row = next(iter(self._idl.tables["SB_Global"].rows.values()), None)
        if global_row is not None:
            self._set_global(global_row.nb_cfg)
        self._changed(names | set(self._chassis))

    def _set_global(self, nb_cfg: int) -> None:
        if nb_cfg != self._global_nb_cfg:
            self._global_nb_cfg, self._global_since = nb_cfg, self._clock()

    def _changed(self, names: set[str]) -> None:
        if self._idl is None:
            return
        significant: set[str] = set()
        now = self._clock()
        with self._lock:
            for name in names:
                info = self._read(name)
                before = self._chassis.get(name)
                if info is None:
                    if before is not None:
                        del self._chassis[name]
                        self._progress.pop(name, None)
                        significant.add(name)
                    continue
                was_alive = self._liveness(name, before) if before is not None else None
                self._chassis[name] = info
                if before is None or before.nb_cfg != info.nb_cfg:
                    self._progress[name] = now
                # Coming back is told at once: a port judged "down" meanwhile would keep
                # that reason if only the periodic look noticed (it may have missed the
                # whole absence).  Going down has no row change to tell; that look finds it.
                if before is None or before.significant() != info.significant() or \
                        was_alive != self._liveness(name, info):
                    significant.add(name)
        if significant:
            for callback in self._subscribers:
                callback(significant)

    def _read(self, name: str) -> ChassisInfo | None:
        chassis = next(idlutils.rows_by_value(self._idl, "Chassis", "name", name), None)
        if chassis is None:
            return None
        private = next(idlutils.rows_by_value(self._idl, "Chassis_Private", "name", name), None)
        other: dict[str, str] = dict(chassis.other_config)
        ext: dict[str, str] = dict(chassis.external_ids)

        def config(key: str) -> str:
            # OVN >= 20.06 reports in other_config; older ones in external_ids.
            return other.get(key, ext.get(key, ""))
        if private is not None:
            ext.update(private.external_ids)
        return ChassisInfo(
            name=name, hostname=chassis.hostname,
            bridge_mappings=parse_mappings(config(keys.BRIDGE_MAPPINGS)),
            cms_options=tuple(o for o in config(keys.CMS_OPTIONS).split(",") if o),
            datapath_type=config(keys.DATAPATH_TYPE),
            other_config=other,
            nb_cfg=private.nb_cfg if private is not None else None,
            external_ids=ext)

    # -- queries (any thread) -------------------------------------------------------
    def all(self) -> list[ChassisInfo]:
        with self._lock:
            return sorted(self._chassis.values(), key=lambda c: c.name)

    def by_host(self, host: str) -> ChassisInfo | None:
        """The chassis whose hostname or name is ``host`` (OVN's requested-chassis rule)."""
        with self._lock:
            found = self._chassis.get(host)
            if found is not None:
                return found
            return next((c for c in self._chassis.values() if c.hostname == host), None)

    def by_card_serial(self, serial: str) -> ChassisInfo | None:
        with self._lock:
            return next((c for c in self._chassis.values() if serial in c.card_serials), None)

    def gateway_claimed_by(self, redirect_port: str) -> str | None:
        """The chassis that claimed a router gateway's chassis-redirect port, if any."""
        with self._lock:
            return self._claims.get(redirect_port)

    def maps_physnet(self, physnet: str) -> bool:
        with self._lock:
            return any(physnet in c.bridge_mappings for c in self._chassis.values())

    @property
    def global_nb_cfg(self) -> int:
        return self._global_nb_cfg

    def heartbeat_answered(self, nb_cfg: int) -> bool:
        """Whether the heartbeat ``nb_cfg`` (NB's) reached SB and a chassis answered it, or
        there is no chassis to answer.  While it is not, another heartbeat is only work:
        ovn-northd recomputes everything for each one, and a chassis that is behind answers
        the newest it has seen once it catches up, whatever was written meanwhile."""
        with self._lock:
            return not self._chassis or self._global_nb_cfg >= nb_cfg and any(
                c.nb_cfg is not None and c.nb_cfg >= nb_cfg for c in self._chassis.values())

    def _alive(self, nb_cfg: int | None, progress: float | None) -> bool:
        """Alive if it answered the last heartbeat, has had less than ``down_time`` to
        answer the one after, or last answered less than ``down_time`` ago.  Judged by
        time, not by how many heartbeats it is behind: none are written while no chassis
        answers (``heartbeat_answered``)."""
        now = self._clock()
        if nb_cfg is not None:
            behind = self._global_nb_cfg - nb_cfg
            if behind <= 0 or (behind == 1 and now - self._global_since < self.down_time):
                return True
        return progress is not None and now - progress < self.down_time

    def _plug_agent_alive(self, name: str, info: ChassisInfo) -> bool:
        """Alive if its chassis is and its heartbeat is recent.

        The heartbeat is the agent's wall-clock time, so this tolerates clock
        skew up to the grace period: ``down_time`` or three heartbeat
        intervals, whichever is longer.
        """
        agent = info.plug_agent
        if agent is None or agent.heartbeat is None or \
                not self._alive(info.nb_cfg, self._progress.get(name)):
            return False
        return time.time() - agent.heartbeat < max(self.down_time, 3 * agent.interval)

    def _liveness(self, name: str, info: ChassisInfo) -> tuple[bool, bool]:
        """Whether the chassis, and its plug agent, are alive (under the lock)."""
        return (self._alive(info.nb_cfg, self._progress.get(name)),
                self._plug_agent_alive(name, info))

    def alive(self, name: str) -> bool:
        with self._lock:
            info = self._chassis.get(name)
            return info is not None and self._alive(info.nb_cfg, self._progress.get(name))

    def plug_agent_alive(self, name: str) -> bool:
        with self._lock:
            info = self._chassis.get(name)
            return info is not None and self._plug_agent_alive(name, info)

    def alive_names(self) -> set[str]:
        """Names of live chassis, and ``<name>/plug-agent`` for each live plug agent."""
        with self._lock:
            alive = {n: self._liveness(n, c) for n, c in self._chassis.items()}
        return {n for n, (chassis, _) in alive.items() if chassis} | \
            {f"{n}/plug-agent" for n, (_, agent) in alive.items() if agent}
