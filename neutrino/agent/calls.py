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
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass
from typing import Any

from neutrino.agent.logs import RateLimitedLog

LOG = logging.getLogger(__name__)


@dataclass
class CallResult:
    """Outcome of one provider call: ``ok`` with ``value``, or an ``error`` text."""

    ok: bool
    value: Any = None
    error: str | None = None
    seconds: float = 0.0


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


class ContainedCaller:
    """Calls methods of one object on its worker, with deadlines and statistics.

    While a call is overdue the caller is *busy*: further waited calls fail at
    once instead of queueing behind the stuck one, so the agent keeps serving
    other providers' ports.
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
        if self.busy:
            return CallResult(False, error=f"provider {self.name} is still busy with an "
                                           "earlier call that overran its deadline")
        deadline = self.timeout if timeout is None else timeout
        future = self._submit(method, args)
        try:
            return future.result(timeout=deadline)
        except FutureTimeout:
            self._overdue = future
            self._record(method).timeouts += 1
            problem = f"{method} did not return within {deadline:g}s"
            self.last_problem = (time.monotonic(), problem)
            self._log.warning(("timeout", method), "provider call overran its deadline",
                              provider=self.name, method=method, deadline_s=deadline)
            if on_late is not None:
                future.add_done_callback(lambda f: self._late(f, on_late))
            return CallResult(False, error=problem, seconds=deadline)

    def health(self, window: float = 300.0) -> str:
        """``ok``, ``busy: ...`` or ``degraded: <last problem>`` (within ``window`` s)."""
        if self.busy:
            return "busy: a call overran its deadline and has not returned"
        if self.last_problem and time.monotonic() - self.last_problem[0] < window:
            return f"degraded: {self.last_problem[1]}"
        return "ok"

    def post(self, method: str, *args: Any) -> None:
        """Call without waiting (``finish``/``release``); problems are logged and counted."""
        self._submit(method, args)

    def stop(self) -> None:
        self._worker.stop()

    def _submit(self, method: str, args: tuple[Any, ...]) -> Future[CallResult]:
        return self._worker.submit(self._timed, method, args)

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
            self.last_problem = (time.monotonic(), result.error)
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

    @staticmethod
    def _late(future: Future[CallResult], on_late: Callable[[Any], None]) -> None:
        result = future.result()
        if result.ok:
            on_late(result.value)
