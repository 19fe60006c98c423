"""One keyed work queue for every reconcile loop: the OVN status worker and the plug agent.

Kubernetes-controller style: an event only *adds a key* (a port id, a logical
port name); the loop takes the keys that are due, in batches, and reconciles
each against the current state (level-triggered), so a key added ten times
before it is taken is reconciled once.  A reconciler never schedules anything
itself: it returns a :class:`Result` for its key (done, look again after N
seconds, or retry with backoff), and the loop hands that to :meth:`WorkQueue.apply`.
One place therefore decides when a key is looked at again, and a retry can
never be lost in a reconciler's private timer.

It lives at the top of the package, beside ``neutrino.log``, and imports
nothing from Neutrino: the plug agent (``neutrino.agent``) is a standalone
daemon that must not import the server's ``neutrino.core`` or ``neutrino.ovn``,
and the OVN driver must not import the agent; both may import this leaf.

The clock is injectable so the behaviour can be tested without sleeping.
"""
from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass
from typing import Generic, TypeVar

K = TypeVar("K", bound=Hashable)


@dataclass(frozen=True)
class Result:
    """What a reconciler says about one key; only the loop turns it into scheduling.

    Neither field set: done (any retry scheduled for the key is cancelled and
    its backoff forgotten).
    """

    #: Look at the key again after this many seconds.
    requeue_after: float | None = None
    #: ``(first, limit)``: look again after a per-key delay that starts at
    #: ``first`` and doubles with every consecutive retry up to ``limit``.
    backoff: tuple[float, float] | None = None

    @property
    def done(self) -> bool:
        return self.requeue_after is None and self.backoff is None


DONE = Result()


def requeue_after(seconds: float) -> Result:
    return Result(requeue_after=seconds)


def backoff(first: float, limit: float) -> Result:
    return Result(backoff=(first, limit))


class WorkQueue(Generic[K]):
    """Keys ready now (deduplicated, first added first taken) and keys due later.

    Thread-safe.  Every method that can make work available notifies
    :attr:`cond`; a loop that also waits for other news (a lock, a stop flag)
    passes its own condition in (its lock must be reentrant, as
    ``threading.Condition()``'s is), so one ``wait`` covers both.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 cond: threading.Condition | None = None) -> None:
        self._clock = clock
        #: Notified whenever work may have become available; its lock guards the queue.
        self.cond = cond if cond is not None else threading.Condition()
        #: Keys ready to be taken, in the order they were added (a dict keeps it).
        self._ready: dict[K, None] = {}
        #: key -> when it is due; the heap below finds the earliest one.
        self._due: dict[K, float] = {}
        #: (due, tie-breaker, key); entries whose due no longer matches ``_due`` are stale.
        self._heap: list[tuple[float, int, K]] = []
        self._seq = itertools.count()
        #: key -> the delay of its last backoff retry (doubles on the next one).
        self._delays: dict[K, float] = {}

    # -- adding -----------------------------------------------------------------------
    def add(self, key: K) -> None:
        """Make ``key`` ready now (no-op if it already is)."""
        with self.cond:
            self._ready[key] = None
            self.cond.notify_all()

    def add_all(self, keys: Iterable[K]) -> None:
        with self.cond:
            for key in keys:
                self._ready[key] = None
            self.cond.notify_all()

    def add_after(self, key: K, delay: float) -> None:
        """Make ``key`` ready after ``delay`` seconds.  A key already due earlier keeps
        its earlier time: asking to look at a key later never postpones a look."""
        if delay <= 0:
            self.add(key)
            return
        with self.cond:
            at = self._clock() + delay
            if self._due.get(key, float("inf")) <= at:
                return
            self._due[key] = at
            heapq.heappush(self._heap, (at, next(self._seq), key))
            self.cond.notify_all()

    def add_backoff(self, key: K, first: float, limit: float) -> float:
        """Retry ``key`` after a delay doubling per consecutive retry (from ``first``,
        at most ``limit``) until :meth:`forget`; returns the delay chosen."""
        with self.cond:
            delay = min(self._delays.get(key, first / 2) * 2, limit)
            self._delays[key] = delay
            self.add_after(key, delay)
            return delay

    def forget(self, key: K) -> None:
        """Cancel a later look at ``key`` and its backoff (a ready key stays ready)."""
        with self.cond:
            self._due.pop(key, None)
            self._delays.pop(key, None)

    def apply(self, key: K, result: Result) -> None:
        """Schedule ``key`` as a reconciler's ``result`` asks."""
        if result.backoff is not None:
            self.add_backoff(key, *result.backoff)
        elif result.requeue_after is not None:
            self.add_after(key, result.requeue_after)
        else:
            self.forget(key)

    def clear(self) -> None:
        """Drop every key, ready or due later, and all backoff."""
        with self.cond:
            self._ready.clear()
            self._due.clear()
            self._heap.clear()
            self._delays.clear()

    # -- taking -----------------------------------------------------------------------
    def take(self, limit: int | None = None) -> list[K]:
        """Remove and return up to ``limit`` keys that are due (all if None), oldest first.

        A key taken while also due later stays due later, as in Kubernetes'
        delaying queue: the reconciler's result decides whether that look is still
        wanted (``DONE`` cancels it)."""
        with self.cond:
            self._promote(self._clock())
            count = len(self._ready) if limit is None else min(limit, len(self._ready))
            keys = list(itertools.islice(self._ready, count))
            for key in keys:
                del self._ready[key]
            return keys

    def seconds_to_next(self) -> float | None:
        """0 if a key is ready, else seconds until the next one is due; None if empty."""
        with self.cond:
            if self._ready:
                return 0.0
            self._drop_stale()
            if not self._heap:
                return None
            return max(0.0, self._heap[0][0] - self._clock())

    def __len__(self) -> int:
        """Keys ready now or due later."""
        with self.cond:
            return len(self._ready.keys() | self._due.keys())

    # -- internals ----------------------------------------------------------------------
    def _promote(self, now: float) -> None:
        """Move every key whose time has come to the ready keys."""
        while True:
            self._drop_stale()
            if not self._heap or self._heap[0][0] > now:
                return
            _, _, key = heapq.heappop(self._heap)
            del self._due[key]
            self._ready[key] = None

    def _drop_stale(self) -> None:
        heap = self._heap
        while heap and self._due.get(heap[0][2]) != heap[0][0]:
            heapq.heappop(heap)
