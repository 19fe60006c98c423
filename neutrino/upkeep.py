"""Keeping ``neutrino up``'s daemons running: each one that dies is started again.

``neutrino up`` starts OVN's databases and ovn-northd, every chassis's
ovsdb-server, ovs-vswitchd and ovn-controller, the plug agent and Keystone.
:class:`Upkeep` looks at each of them every second (a level-triggered check:
is it running now?) and starts a dead one again, with a delay that doubles
while it keeps dying soon after each start (up to ``RESTART_DELAY_MAX``), so a
daemon that cannot run is retried without spinning.  Every death and restart
is logged (rate-limited), and counted: :meth:`Upkeep.state` is what the API
server publishes in ``/healthz`` and ``/metrics``.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from neutrino.log import RateLimitedLog

LOG = logging.getLogger(__name__)

#: Seconds between two looks at every daemon.
CHECK_INTERVAL = 1.0
#: Restart delays of a daemon that keeps dying: doubled per quick death, capped.
RESTART_DELAY, RESTART_DELAY_MAX = 1.0, 30.0
#: A daemon that ran this long before dying is restarted without delay.
STABLE_AFTER = 30.0


@dataclass
class Kept:
    """One daemon: how to tell it runs, and how to start it again."""

    name: str
    running: Callable[[], bool]
    restart: Callable[[], None]
    restarts: int = 0
    #: When it was last (re)started, and when the next restart may be tried.
    started: float = 0.0
    retry_at: float | None = None
    delay: float = 0.0


class Upkeep:
    """The loop that restarts dead daemons, in a thread of its own."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.kept: list[Kept] = []
        #: Daemons still starting elsewhere: shown as not running, not restarted.
        self.expected: list[str] = []
        self._clock = clock
        self._warn = RateLimitedLog(LOG)
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._thread = threading.Thread(target=self._run, name="upkeep", daemon=True)

    def expect(self, name: str) -> None:
        """A daemon that is starting (``neutrino up`` starts Keystone beside the rest):
        not running until :meth:`keep` names it, so ``/healthz`` does not call the
        system healthy before it is."""
        with self._lock:
            self.expected.append(name)

    def keep(self, name: str, running: Callable[[], bool], restart: Callable[[], None]) -> None:
        """Watch a daemon started just now."""
        with self._lock:
            self.kept.append(Kept(name, running, restart, started=self._clock()))
            if name in self.expected:
                self.expected.remove(name)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop looking (before the daemons are stopped on purpose); returns once the loop
        is done, so no restart races the shutdown."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()

    def _run(self) -> None:
        while not self._stop.wait(CHECK_INTERVAL):
            self.check()

    def check(self) -> None:
        """Start again every daemon that is dead and due."""
        with self._lock:
            kept = list(self.kept)
        for daemon in kept:
            if self._stop.is_set():
                return
            now = self._clock()
            if daemon.retry_at is None:
                if daemon.running():
                    continue
                ran = now - daemon.started
                daemon.delay = 0.0 if ran >= STABLE_AFTER else \
                    min(max(daemon.delay * 2, RESTART_DELAY), RESTART_DELAY_MAX)
                daemon.retry_at = now + daemon.delay
                self._warn.warning(("died", daemon.name), "daemon died; restarting it",
                                   daemon=daemon.name, ran_s=round(ran, 1),
                                   delay_s=daemon.delay)
            if now < daemon.retry_at:
                continue
            daemon.started, daemon.retry_at = now, None
            try:
                daemon.restart()
            except Exception as e:  # noqa: BLE001 - logged; the next look tries again
                self._warn.warning(("failed", daemon.name), "daemon restart failed",
                                   daemon=daemon.name, error=str(e))
                continue
            daemon.restarts += 1
            LOG.warning("daemon restarted: %s (restarts: %d)", daemon.name, daemon.restarts)

    def state(self) -> dict[str, dict[str, int | bool]]:
        """``{name: {"running": ..., "restarts": n}}`` of every daemon (``"starting": true``
        too for one :meth:`expect` names), as the last look
        found it (the supervisor asks five times a second: no pidfile is read for it)."""
        with self._lock:
            kept, expected = list(self.kept), list(self.expected)
        return {**{name: {"running": False, "restarts": 0, "starting": True}
                   for name in expected},
                **{d.name: {"running": d.retry_at is None, "restarts": d.restarts}
                   for d in kept}}
