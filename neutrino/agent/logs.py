"""Structured, rate-limited logging for the agent.

Messages are an event text followed by ``key=value`` fields, so they can be
grepped and parsed. Conditions that persist (an unknown provider type, a foreign
interface) are re-evaluated on every pass; a per-key rate limit keeps them from
flooding the log while still showing how often they were suppressed.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Hashable
from typing import Any


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
