"""The plug grace: hold back a new port's transient "interface not present".

A port whose LSP just appeared (or moved to another chassis) is about to be
plugged; its interface usually follows within ~100 ms.  Writing "interface
not present" meanwhile would cost a SQL write per port create, only for
``up`` to overwrite it, so for a grace period the port keeps the core's
"bound to host 'X'; waiting for the port to come up" and the worker looks
again when the grace ends.  Other reasons (chassis down, plug agent error,
binding failed) are never held back.

Plain state with no lock of its own: the status worker calls it under its
condition, from the NB connection thread (start, stop) and its own (hold).
"""
from __future__ import annotations

from neutrino.drivers.status import ACTIVE, DOWN
from neutrino.ovn.status_rules import NOT_PRESENT


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

        Only "interface not present" is held; an ACTIVE port's grace is over.
        """
        end = self._ends.get(port_id)
        if end is None:
            return None
        if end > now and status == DOWN and reason and reason.startswith(NOT_PRESENT):
            return end - now
        if status == ACTIVE or end <= now:
            del self._ends[port_id]
        return None
