"""The worker's token cache: expiry, and a bound on the token data it holds."""
from __future__ import annotations

import time

from neutrino.api.tokencache import TokenCache


def test_an_entry_expires_after_its_time() -> None:
    cache = TokenCache()
    assert cache  # even empty: keystonemiddleware ignores a false cache
    cache.set("lasting", "a", time=300)
    cache.set("brief", "b", time=0.01)
    time.sleep(0.02)
    assert cache.get("lasting") == "a" and cache.get("brief") is None
    assert len(cache) == 1


def test_the_least_recently_used_go_first_when_full() -> None:
    cache = TokenCache(max_bytes=30)
    for key in ("a", "b", "c"):
        cache.set(key, "x" * 10, time=300)
    assert cache.get("a") == "x" * 10  # a is now the most recently used
    cache.set("d", "y" * 10, time=300)
    assert [k for k in "abcd" if cache.get(k) is not None] == ["a", "c", "d"]
    cache.set("a", "z" * 5, time=300)  # replacing frees the old value's room
    cache.set("e", "w" * 5, time=300)
    assert [k for k in "acde" if cache.get(k) is not None] == ["a", "c", "d", "e"]
    assert not cache.set("huge", "h" * 31) and cache.get("huge") is None
