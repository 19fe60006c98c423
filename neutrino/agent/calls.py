"""Contained provider calls: every call runs on the provider's own worker thread.

A provider is third-party code on the agent's critical path. Running it on a
dedicated thread lets the agent stop waiting after a deadline, so a provider
that hangs delays only its own ports; exceptions become results; every call is
timed so slow providers show up in logs and in the agent's report.
"""
from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any

from neutrino.log import RateLimitedLog

LOG = logging.getLogger(__name__)


@dataclass
class CallResult:
    """Outcome of one provider call: ``ok`` with ``value``, or an ``error`` text."""

    ok: bool
    value: Any = None
    error: str | None = None
    seconds: float = 0.0
    #: not made (deadline passed, or the provider is busy): try again later
    deferred: bool = False


@dataclass
class CallStats:
    """Counters per provider method, kept for logs and the agent's report."""

    calls: int = 0
    errors: int = 0
    timeouts: int = 0
    slow: int = 0
    total_seconds: float = 0.0
    max_seconds: float = 0.0


class Worker:
    """One daemon thread running submitted functions in order.

    A daemon thread (unlike ``ThreadPoolExecutor``'s) cannot keep the process
    alive at exit when a provider hangs forever.
    """

    def __init__(self, name: str) -> None:
        self._queue: queue.SimpleQueue[tuple[Future[Any], Callable[..., Any], tuple[Any, ...]]
                                      | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future[Any]:
        future: Future[Any] = Future()
        self._queue.put((future, fn, args))
        return future

    def stop(self) -> None:
        self._queue.put(None)

    def _loop(self) -> None:
        while (item := self._queue.get()) is not None:
            future, fn, args = item
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(fn(*args))
            except BaseException as exc:  # noqa: BLE001 - handed to the caller
                future.set_exception(exc)


class _Batch:
    """Shared state of one batch of calls between the agent and the worker."""

    def __init__(self, size: int) -> None:
        self.results: list[CallResult | None] = [None] * size
        self.lock = threading.Lock()
        self.done = threading.Event()
        self.cancelled = False
        self.running: int | None = None  # index of the call in progress
        #: index of the call abandoned at the deadline, and what to do with a late yes
        self.abandoned: int | None = None
        self.on_late: Callable[[int, Any], None] | None = None


class ContainedCaller:
    """Calls methods of one object on its worker, with deadlines and statistics.

    Calls are handed to the worker in batches (one thread hand-off per pass, not
    per port). The agent waits for a batch at most ``timeout`` seconds; calls not
    started by then are skipped (*deferred*, the caller retries them later) and
    the one in progress is abandoned. While an abandoned call runs the caller is
    *busy*: further calls fail at once instead of queueing behind it, so the
    agent keeps serving other providers' ports.
    """

    def __init__(self, name: str, target: object, timeout: float, slow: float) -> None:
        self.name = name
        self.target = target
        self.timeout = timeout
        self.slow = slow
        self.stats: dict[str, CallStats] = {}
        #: (monotonic time, text) of the last error, timeout or slow call.
        self.last_problem: tuple[float, str] | None = None
        self._worker = Worker(f"provider-{name}")
        self._overdue: Future[Any] | None = None
        self._outbox: list[tuple[str, tuple[Any, ...]]] = []
        self._log = RateLimitedLog(LOG)

    @property
    def busy(self) -> bool:
        """True while an earlier call is still running past its deadline."""
        return self._overdue is not None and not self._overdue.done()

    def call(self, method: str, *args: Any, timeout: float | None = None,
             on_late: Callable[[Any], None] | None = None) -> CallResult:
        """Call ``target.method(*args)`` and wait for it at most ``timeout`` seconds.

        If the deadline passes, the result is abandoned and, should the call
        later succeed, ``on_late(value)`` runs on the worker (e.g. to release
        what a late ``prepare`` allocated).
        """
        late = None if on_late is None else (lambda _i, value: on_late(value))
        return self.call_batch(method, [args], timeout=timeout, on_late=late)[0]

    def call_batch(self, method: str, calls: list[tuple[Any, ...]],
                   timeout: float | None = None,
                   on_late: Callable[[int, Any], None] | None = None) -> list[CallResult]:
        """Call ``target.method(*args)`` for each args tuple, in order, on the worker.

        Returns one result per call; a call not made because the deadline
        passed (or the caller is busy) has ``deferred`` set. ``on_late(index,
        value)`` runs on the worker if the abandoned call later succeeds.
        """
        if not calls:
            return []
        self.flush()
        if self.busy:
            busy = (f"provider {self.name} is still busy with an earlier call that overran "
                    "its deadline")
            return [CallResult(False, error=busy, deferred=True) for _ in calls]
        deadline = self.timeout if timeout is None else timeout
        batch = _Batch(len(calls))
        batch.on_late = on_late
        future = self._worker.submit(self._run_batch, method, calls, batch)
        if not batch.done.wait(deadline):
            with batch.lock:
                batch.cancelled = True
                batch.abandoned = batch.running
            if batch.abandoned is not None:
                self._overdue = future
                self._record(method).timeouts += 1
                problem = f"{method} did not return within {deadline:g}s"
                self.last_problem = (time.monotonic(), problem)
                self._log.warning(("timeout", method), "provider call overran its deadline",
                                  provider=self.name, method=method, deadline_s=deadline)
        results = []
        with batch.lock:
            for i, result in enumerate(batch.results):
                if result is not None:
                    results.append(result)
                elif i == batch.abandoned:
                    results.append(CallResult(False, error=f"{method} did not return within "
                                                           f"{deadline:g}s",
                                              seconds=deadline))
                else:
                    results.append(CallResult(False, error="not called before the deadline",
                                              deferred=True))
        return results

    def health(self, window: float = 300.0) -> str:
        """``ok``, ``busy: ...`` or ``degraded: <last problem>`` (within ``window`` s)."""
        if self.busy:
            return "busy: a call overran its deadline and has not returned"
        if self.last_problem and time.monotonic() - self.last_problem[0] < window:
            return f"degraded: {self.last_problem[1]}"
        return "ok"

    def post(self, method: str, *args: Any) -> None:
        """Queue a call nobody waits for (``finish``/``release``); sent by :meth:`flush`
        or before the next waited call, so calls keep their order."""
        self._outbox.append((method, args))

    def flush(self) -> None:
        """Hand queued calls to the worker in one go; problems are logged and counted."""
        if self._outbox:
            posts, self._outbox = self._outbox, []
            self._worker.submit(self._run_posts, posts)

    def stop(self) -> None:
        self.flush()
        self._worker.stop()

    def _run_posts(self, posts: list[tuple[str, tuple[Any, ...]]]) -> None:
        for method, args in posts:
            self._timed(method, args)

    def _run_batch(self, method: str, calls: list[tuple[Any, ...]], batch: _Batch) -> None:
        """Runs on the worker: each call in turn until done or cancelled."""
        try:
            for i, args in enumerate(calls):
                with batch.lock:
                    if batch.cancelled:
                        break
                    batch.running = i
                result = self._timed(method, args)
                with batch.lock:
                    batch.running = None
                    if batch.abandoned != i:
                        batch.results[i] = result
                        continue
                if result.ok and batch.on_late is not None:
                    batch.on_late(i, result.value)
                break
        finally:
            batch.done.set()

    def _timed(self, method: str, args: tuple[Any, ...]) -> CallResult:
        """Runs on the worker thread: call, time, and turn exceptions into results."""
        stats = self._record(method)
        start = time.perf_counter()
        try:
            value = getattr(self.target, method)(*args)
            result = CallResult(True, value)
        except Exception as exc:  # noqa: BLE001 - a provider must never crash the agent
            stats.errors += 1
            result = CallResult(False, error=f"{method} raised {type(exc).__name__}: {exc}")
            self.last_problem = (time.monotonic(), result.error or "")
            self._log.warning(("error", method), "provider call raised", provider=self.name,
                              method=method, error=repr(exc), exc_info=True)
        elapsed = time.perf_counter() - start
        result.seconds = elapsed
        stats.calls += 1
        stats.total_seconds += elapsed
        stats.max_seconds = max(stats.max_seconds, elapsed)
        if elapsed >= self.slow:
            stats.slow += 1
            self.last_problem = (time.monotonic(), f"{method} took {elapsed:.3f}s")
            self._log.warning(("slow", method), "slow provider call", provider=self.name,
                              method=method, seconds=round(elapsed, 3), slow_s=self.slow)
        return result

    def _record(self, method: str) -> CallStats:
        return self.stats.setdefault(method, CallStats())
