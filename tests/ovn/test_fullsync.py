"""The full sync leaves a brand-new network without its switch alone: its create call
writes the switch just after the commit, and a sync reading between the two must not
answer the create BUILD (seen in CI: ``test_network_lifecycle_in_nb``)."""
from __future__ import annotations

import time
from datetime import UTC, datetime

from neutrino.ovn.fullsync import NEW_NETWORK_GRACE, _is_new


def created(seconds_ago: float) -> dict:
    at = datetime.fromtimestamp(time.time() - seconds_ago, tz=UTC)
    return {"created_at": at.strftime("%Y-%m-%dT%H:%M:%SZ")}


def test_a_network_is_new_for_the_grace_only() -> None:
    now = time.time()
    assert _is_new(created(0), now)
    assert _is_new(created(NEW_NETWORK_GRACE / 2), now)
    assert not _is_new(created(NEW_NETWORK_GRACE + 2), now)
    assert not _is_new({}, now), "a network of unknown age is judged at once"
