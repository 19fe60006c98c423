"""The plug grace: hold back a new port's transient "interface not present".

A port whose LSP just appeared (or moved to another chassis) is about to be
plugged; its interface usually follows within ~100 ms.  Writing "interface
not present" (or, for a port its chassis's plug agent plugs, "waiting for the
interface to be plugged and installed") meanwhile would cost a SQL write per
port create, only for ``up`` to overwrite it, so for a grace period the port
keeps the core's "bound to host 'X'; waiting for the port to come up" and the
worker looks again when the grace ends.  Other reasons (chassis down, plug agent error,
binding failed) are never held back.

Plain state with no lock of its own: the status worker calls it under its
condition, from the NB connection thread (start, stop) and its own (hold).
"""
from __future__ import annotations

from neutrino.drivers.status import ACTIVE, DOWN
from neutrino.ovn.status_rules import NOT_INSTALLED, NOT_PRESENT

#: The reasons of a port whose interface is about to come.
TRANSIENT = (NOT_PRESENT, NOT_INSTALLED)


class PlugGrace:
    """Ports in their grace period, each with when its grace ends."""

    def __init__(self) -> None:
        #: port id -> end of its grace; kept ordered by end (see :meth:`start`).
        self._ends: dict[str, float] = {}

    def start(self, port_id: str, until: float) -> None:
        # Re-inserted, so the dict stays ordered by end of grace.
        self._ends.pop(port_id, None)
        self._ends[port_id] = until

    def stop(self, port_id: str) -> None:
        self._ends.pop(port_id, None)

    def prune(self, now: float) -> None:
        """Forget ports whose grace is over."""
        while self._ends:
            first = next(iter(self._ends))
            if self._ends[first] > now:
                return
            del self._ends[first]

    def hold(self, port_id: str, status: str, reason: str | None, now: float) -> float | None:
        """Seconds to hold this status back before looking again, or None to send it now.

        Only "interface not present" and "waiting for the interface to be plugged and
        installed" are held; an ACTIVE port's grace is over.
        """
        end = self._ends.get(port_id)
        if end is None:
            return None
        if end > now and status == DOWN and reason and reason.startswith(TRANSIENT):
            return end - now
        if status == ACTIVE or end <= now:
            del self._ends[port_id]
        return None
