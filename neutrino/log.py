"""Structured logging: one JSON object per line, repeated warnings rate-limited.

Two levels of rate limiting: :class:`RateLimitedLog` for conditions a loop
re-evaluates on every pass (keyed per condition, e.g. per logical port), and
the :class:`RateLimit` handler filter as a catch-all for any other warning
repeated verbatim.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Hashable
from typing import Any


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry = {"ts": round(record.created, 3), "level": record.levelname,
                 "logger": record.name, "pid": record.process, "msg": record.getMessage()}
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry)


class RateLimit(logging.Filter):
    """Let the same warning (by format string and logger) through once per *interval*.

    The next one let through says how many were suppressed meanwhile.
    """

    def __init__(self, interval: float = 10.0):
        super().__init__()
        self.interval = interval
        self._last: dict[tuple[str, str], tuple[float, int]] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno < logging.WARNING:
            return True
        key = (record.name, str(record.msg))
        now = time.monotonic()
        last, suppressed = self._last.get(key, (0.0, 0))
        if now - last < self.interval:
            self._last[key] = (last, suppressed + 1)
            return False
        self._last[key] = (now, 0)
        if suppressed:
            record.msg = f"{record.msg} [{suppressed} similar messages suppressed]"
        return True


def fmt(event: str, **fields: Any) -> str:
    """``event k1=v1 k2=v2`` with values quoted when they contain spaces."""
    parts = [event]
    for key, value in fields.items():
        text = str(value)
        if not text or any(c.isspace() for c in text) or '"' in text:
            text = '"' + text.replace('\\', '\\\\').replace('"', '\\"') + '"'
        parts.append(f"{key}={text}")
    return " ".join(parts)


class RateLimitedLog:
    """Log each key at most once per ``interval`` seconds, counting the rest."""

    def __init__(self, logger: logging.Logger, interval: float = 30.0) -> None:
        self.logger = logger
        self.interval = interval
        self._last: dict[Hashable, tuple[float, int]] = {}

    def log(self, level: int, key: Hashable, event: str, exc_info: bool = False,
            **fields: Any) -> bool:
        """Log unless ``key`` was logged less than ``interval`` ago; True if logged."""
        now = time.monotonic()
        last, suppressed = self._last.get(key, (float("-inf"), 0))
        if now - last < self.interval:
            self._last[key] = (last, suppressed + 1)
            return False
        if suppressed:
            fields["suppressed"] = suppressed
        self._last[key] = (now, 0)
        self.logger.log(level, fmt(event, **fields), exc_info=exc_info)
        return True

    def warning(self, key: Hashable, event: str, exc_info: bool = False, **fields: Any) -> bool:
        return self.log(logging.WARNING, key, event, exc_info=exc_info, **fields)

    def info(self, key: Hashable, event: str, **fields: Any) -> bool:
        return self.log(logging.INFO, key, event, **fields)

    def forget(self, key: Hashable) -> None:
        """Drop a key whose condition cleared, so a recurrence is logged at once."""
        self._last.pop(key, None)


def setup(level: str | None = None) -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(RateLimit())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level or os.environ.get("NEUTRINO_LOG_LEVEL", "INFO"))
