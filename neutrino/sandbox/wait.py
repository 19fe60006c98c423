"""Polling waits with one clear timeout message: daemons become ready asynchronously."""
from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from neutrino.sandbox.errors import SandboxError

T = TypeVar("T")


def wait_for(predicate: Callable[[], T], timeout: float, what: str,
             interval: float = 0.05) -> T:
    """Return the first truthy value of ``predicate()``; raise after ``timeout`` seconds.

    Exceptions from ``predicate`` count as "not yet" (a daemon that is still
    starting refuses connections), and the last one is chained to the error.
    """
    deadline = time.monotonic() + timeout
    last_exc: Exception | None = None
    while True:
        try:
            value = predicate()
            if value:
                return value
        except Exception as exc:  # noqa: BLE001 - any failure means "not ready yet"
            last_exc = exc
        if time.monotonic() >= deadline:
            raise SandboxError(f"timed out after {timeout}s waiting for {what}") from last_exc
        time.sleep(interval)
