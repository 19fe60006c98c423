"""The binder's decisions (pure): what a binding depends on, and what committing an
attempt does to the port as it is now (docs/behaviour.md B3, 4a/4b/4c).  The concurrency
tests stage each outcome with real databases."""
from __future__ import annotations

from typing import Any

import pytest

from neutrino.core.binding import Outcome, binding_key, failure_reason, outcome
from neutrino.drivers.status import BINDING_FAILED_PREFIX, NO_DRIVER_COULD_BIND, REASON_MAX_LENGTH


def port(**changes: Any) -> dict[str, Any]:
    return {"binding:host_id": "hv1", "binding:vnic_type": "normal",
            "binding:profile": {"a": 1, "b": 2}, "binding:vif_type": "unbound",
            "status_reason": "binding pending", **changes}


KEY = binding_key(port())


@pytest.mark.parametrize(("changes", "same"), [
    pytest.param({}, True, id="unchanged"),
    pytest.param({"binding:profile": {"b": 2, "a": 1}}, True, id="profile in another order"),
    pytest.param({"name": "renamed", "binding:vif_type": "ovs"}, True, id="other attributes"),
    pytest.param({"binding:host_id": "hv2"}, False, id="host"),
    pytest.param({"binding:vnic_type": "direct"}, False, id="vnic type"),
    pytest.param({"binding:profile": {"a": 1}}, False, id="profile"),
    pytest.param({"binding:profile": None}, False, id="profile gone"),
])
def test_binding_key(changes: dict[str, Any], same: bool) -> None:
    assert (binding_key(port(**changes)) == KEY) is same


@pytest.mark.parametrize(("driver_reasons", "expected"), [
    pytest.param([], BINDING_FAILED_PREFIX + NO_DRIVER_COULD_BIND, id="no driver said why"),
    pytest.param(["ovn: no chassis"], BINDING_FAILED_PREFIX + "ovn: no chassis", id="one"),
    pytest.param(["a: x", "b: y"], BINDING_FAILED_PREFIX + "a: x; b: y", id="several, joined"),
])
def test_failure_reason(driver_reasons: list[str], expected: str) -> None:
    assert failure_reason(driver_reasons) == expected


def test_failure_reason_fits_the_column() -> None:
    assert len(failure_reason(["x" * 300])) == REASON_MAX_LENGTH


FAILED = failure_reason(["ovn: no chassis"])


@pytest.mark.parametrize(("now", "failed_with", "expected"), [
    pytest.param(None, None, Outcome.GONE, id="deleted meanwhile"),
    pytest.param(port(**{"binding:vif_type": "ovs"}), None, Outcome.TAKEN,
                 id="4b: another attempt bound it"),
    pytest.param(port(**{"binding:vif_type": "ovs"}), FAILED, Outcome.TAKEN,
                 id="4b: bound by another although this attempt failed"),
    pytest.param(port(**{"binding:host_id": "hv2"}), None, Outcome.RETRY,
                 id="4c: host changed"),
    pytest.param(port(**{"binding:host_id": "hv2"}), FAILED, Outcome.RETRY,
                 id="4c: host changed, attempt failed"),
    pytest.param(port(), None, Outcome.COMMITTED, id="4a: bound"),
    pytest.param(port(), FAILED, Outcome.COMMITTED, id="4a: failure recorded"),
    pytest.param(port(**{"binding:vif_type": "binding_failed", "status_reason": FAILED}), FAILED,
                 Outcome.UNCHANGED, id="failed again, for the same reason: nothing to write"),
    pytest.param(port(**{"binding:vif_type": "binding_failed", "status_reason": "old"}), FAILED,
                 Outcome.COMMITTED, id="failed again, for another reason"),
    pytest.param(port(**{"binding:vif_type": "binding_failed", "status_reason": FAILED}), None,
                 Outcome.COMMITTED, id="failed before, bound now"),
])
def test_outcome(now: dict[str, Any] | None, failed_with: str | None, expected: Outcome) -> None:
    assert outcome(now, KEY, failed_with) is expected
