"""The worker's cache of validated Keystone tokens, shared by all its threads.

keystonemiddleware caches what Keystone said of a token for ``token_cache_time``
seconds.  Without ``memcached_servers`` it falls back to a pool of private
dictionaries, one per concurrent request: a token validated in one thread is
validated again in the next thread that has not seen it, every lookup scans the
whole dictionary to expire entries, and nothing bounds its size.  Its ``cache``
option instead takes a memcache-like object from the request's environ; this
is that object: one per worker, locked, expiring entries on read, and holding
at most ``max_bytes`` of token data (least recently used out first), so that a
warm token costs a dictionary lookup and never a call to Keystone.
"""
from __future__ import annotations

import threading
import time
from collections import OrderedDict
from typing import Any

#: The environ key keystonemiddleware is told to find the cache under (its ``cache``).
ENVIRON_KEY = "neutrino.token_cache"
#: Token data kept per worker: some hundreds to thousands of tokens (a token's data is
#: a few KB, more with a large service catalog).
MAX_BYTES = 8 * 1024 * 1024


class TokenCache:
    """The subset of a memcache client that keystonemiddleware's ``TokenCache`` calls."""

    def __init__(self, max_bytes: int = MAX_BYTES) -> None:
        self.max_bytes = max_bytes
        self._entries: OrderedDict[str, tuple[float, Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: str) -> Any:
        with self._lock:
            entry = self._entries.get(key)
            if entry is None:
                return None
            expires, value, _ = entry
            if expires and time.monotonic() >= expires:
                self._drop(key)
                return None
            self._entries.move_to_end(key)
            return value

    def set(self, key: str, value: Any, time: float = 0, min_compress_len: int = 0) -> bool:
        """Keep *value* for *time* seconds (0: until pushed out)."""
        size = len(value) if isinstance(value, (str, bytes)) else 1024
        if size > self.max_bytes:
            return False
        with self._lock:
            if key in self._entries:
                self._drop(key)
            self._entries[key] = (_deadline(time), value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                self._drop(next(iter(self._entries)))
        return True

    def __len__(self) -> int:
        return len(self._entries)

    def __bool__(self) -> bool:
        """Always true: keystonemiddleware takes the cache only ``if cache``, and an empty
        cache would otherwise be false."""
        return True

    def _drop(self, key: str) -> None:
        self._bytes -= self._entries.pop(key)[2]


def _deadline(seconds: float) -> float:
    return time.monotonic() + seconds if seconds else 0.0
