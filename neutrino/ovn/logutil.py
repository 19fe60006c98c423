"""Rate-limited warnings: a backend that is down must not flood the log.

A warning with the same key is emitted at most once per interval; the next
emission says how many were suppressed meanwhile, so nothing is silently lost.
"""
from __future__ import annotations

import logging
import threading
import time


class RateLimitedLog:
    def __init__(self, logger: logging.Logger, interval: float = 30.0) -> None:
        self.logger = logger
        self.interval = interval
        self._lock = threading.Lock()
        self._last: dict[str, tuple[float, int]] = {}

    def warning(self, key: str, msg: str, *args: object) -> None:
        self._log(logging.WARNING, key, msg, args)

    def error(self, key: str, msg: str, *args: object) -> None:
        self._log(logging.ERROR, key, msg, args)

    def _log(self, level: int, key: str, msg: str, args: tuple) -> None:
        now = time.monotonic()
        with self._lock:
            last, suppressed = self._last.get(key, (None, 0))
            if last is not None and now - last < self.interval:
                self._last[key] = (last, suppressed + 1)
                return
            self._last[key] = (now, 0)
        if suppressed:
            msg += " (%d similar messages suppressed)"
            args = (*args, suppressed)
        self.logger.log(level, msg, *args)
