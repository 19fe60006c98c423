"""Status writes' decisions (pure); writing them is covered with real databases by
test_notifier.py and the API's metrics tests."""
from __future__ import annotations

import pytest

from neutrino.core.statuses import first_actives_since_binding, stored_reason
from neutrino.drivers.status import ACTIVE, BUILD, DOWN, bound


@pytest.mark.parametrize(("status", "reason", "expected"), [
    pytest.param(ACTIVE, None, None, id="active"),
    pytest.param(ACTIVE, "left over", None, id="active has no reason to give"),
    pytest.param(DOWN, "interface not present", "interface not present", id="down"),
    pytest.param(BUILD, None, None, id="build without reason"),
])
def test_stored_reason(status: str, reason: str | None, expected: str | None) -> None:
    assert stored_reason(status, reason) == expected


BOUND = bound("hv1")


@pytest.mark.parametrize(("events", "expected"), [
    pytest.param([("p", 1.0, DOWN, BOUND), ("p", 2.0, ACTIVE, None)], {"p": 1.0},
                 id="the first ACTIVE since binding"),
    pytest.param([("p", 1.0, DOWN, BOUND), ("p", 2.0, ACTIVE, None), ("p", 3.0, DOWN, "gone"),
                  ("p", 4.0, ACTIVE, None)], {}, id="a later ACTIVE, after a flap"),
    pytest.param([("p", 1.0, DOWN, BOUND), ("p", 2.0, ACTIVE, None), ("p", 5.0, DOWN, BOUND),
                  ("p", 6.0, ACTIVE, None)], {"p": 5.0}, id="the first since a new binding"),
    pytest.param([("p", 2.0, ACTIVE, None)], {}, id="never bound (no event of it)"),
    pytest.param([("p", 1.0, DOWN, BOUND)], {}, id="bound, not ACTIVE yet"),
    pytest.param([("p", 1.0, DOWN, BOUND), ("q", 1.5, DOWN, BOUND), ("q", 2.0, ACTIVE, None),
                  ("p", 2.5, ACTIVE, None), ("p", 3.0, ACTIVE, None)], {"q": 1.5},
                 id="each port on its own"),
])
def test_first_actives_since_binding(events: list[tuple[str, float, str, str | None]],
                                     expected: dict[str, float]) -> None:
    assert first_actives_since_binding(events) == expected
