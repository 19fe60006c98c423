"""Ports ovn-controller claimed but never installed, and when to plug them again.

ovn-controller 23.03, restarted while ports are being plugged, sometimes claims a
port (SB ``Port_Binding.chassis`` names its chassis) and then never sets
``ovn-installed`` on the interface, nor ``up``: the port stays down although the
interface is there and ovn-controller runs (docs/ovn-backend.md). Nothing it sees
afterwards about that interface brings it back; a new interface for the port
(unplug, then plug) is processed from scratch and installed.

A port is *waiting* while our interface carries its ``iface-id`` without
``ovn-installed``: every port is, for a moment after it is plugged. It is *stuck* once
it has waited ``bound`` seconds, ovn-controller has answered an ``nb_cfg`` since it
began to wait (``Chassis_Private.nb_cfg`` went up; Neutrino's status worker writes one
every few seconds), and its binding is claimed by this chassis (read then: a claim
alone starts no reconcile pass). ovn-controller answers only once it has processed
its databases and installed the flows of what it saw there, so it runs and is not
merely behind. A chassis that is down or minutes behind answers nothing and its
waiting ports are left alone: plugging them again would only add to its backlog.

A stuck port is plugged again and given twice as long before the next attempt (up to
``MAX_BOUND``); until it is installed it is reported with the problem
``NOT_INSTALLED``, so that its status reason says what is true.
"""
from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

from neutrino.plugproto import PortProblem, Problem

#: Seconds a port may wait for ``ovn-installed`` before it can be stuck: far above the
#: moment ovn-controller takes once it has processed the port.
DEFAULT_BOUND = 10.0
#: Longest wait between two attempts on one port (the bound doubles after each).
MAX_BOUND = 300.0


class Install(enum.Enum):
    """Where a port requested here stands with ovn-controller, as a pass saw it."""

    #: Our interface is there without ``ovn-installed`` (when the watch asks: and the
    #: binding is claimed here).
    WAITING = "waiting"
    #: Requested here, not plugged yet or being plugged again (when the watch asks:
    #: plugged but not claimed yet).
    PLUGGING = "plugging"
    #: Installed, or not ours to plug here: nothing to watch.
    SETTLED = "settled"


@dataclass
class Watched:
    """A port requested here that is not installed yet."""

    plug_type: str
    bound: float
    #: While WAITING: since when (monotonic seconds), and ``Chassis_Private.nb_cfg`` then.
    since: float | None = None
    nb_cfg: int = 0
    iface: str = ""
    #: Times it was plugged again.
    attempts: int = 0


class InstallWatch:
    """The ports of one chassis not installed yet; see the module docstring."""

    def __init__(self, bound: float = DEFAULT_BOUND) -> None:
        self.bound = bound
        self._ports: dict[str, Watched] = {}

    def observe(self, lport: str, state: Install, plug_type: str, iface: str, now: float,
                nb_cfg: int) -> None:
        """What a reconcile pass saw of *lport* (``iface``: our interface's name)."""
        if state is Install.SETTLED:
            self._ports.pop(lport, None)
            return
        watched = self._ports.setdefault(lport, Watched(plug_type, self.bound))
        if state is Install.PLUGGING:
            watched.since = None
        elif watched.since is None:
            watched.since, watched.nb_cfg, watched.iface = now, nb_cfg, iface

    def due(self, now: float, nb_cfg: int,
            state: Callable[[str], Install]) -> dict[str, Watched]:
        """The stuck ports, each counted as one more attempt: to be plugged again.
        ``state(lport)`` reads the port now (neither ovn-controller's marks nor its claims
        start a pass, so the last pass may not have seen them); it is read for ports past
        their bound and, so that their reports go as soon as they are installed, for
        ports plugged again."""
        stuck = {}
        for lport, watched in list(self._ports.items()):
            if watched.since is None:
                continue
            ripe = now - watched.since >= watched.bound and nb_cfg > watched.nb_cfg
            if not (ripe or watched.attempts):
                continue
            now_state = state(lport)
            if now_state is Install.SETTLED:
                del self._ports[lport]
                continue
            if not ripe:
                continue
            if now_state is Install.PLUGGING:  # ovn-controller has not claimed it yet
                watched.since, watched.nb_cfg = now, nb_cfg
                continue
            watched.attempts += 1
            watched.bound = min(watched.bound * 2, MAX_BOUND)
            watched.since = None
            stuck[lport] = watched
        return stuck

    def seconds_to_next(self, now: float) -> float | None:
        """Until the next bound of a waiting port ends, if any. Past its bound a port
        waits for an ``nb_cfg`` answer, which wakes the agent as an SB update."""
        ends = [end for w in self._ports.values()
                if w.since is not None and (end := w.since + w.bound) > now]
        return min(ends) - now if ends else None

    def problems(self) -> dict[str, PortProblem]:
        """What to report of the ports plugged again and not installed yet."""
        return {lport: PortProblem(
            Problem.NOT_INSTALLED,
            f"ovn-controller claimed the port but did not install interface {w.iface} "
            f"while it answered the Southbound database; plugged it again "
            f"({w.attempts} time{'s' if w.attempts > 1 else ''})")
            for lport, w in self._ports.items() if w.attempts}
