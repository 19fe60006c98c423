"""The plug grace (neutrino/ovn/status_grace.py): what is held back, and for how long. Pure."""
from __future__ import annotations

import pytest

from neutrino.ovn.status_grace import PlugGrace

NOT_PRESENT = ("DOWN", "interface not present on chassis 'hv1'")

# A grace started at t=0 for 1 s; then hold(status) at time `now`: the seconds held back
# (None: send now), and whether a second "not present" right after is still held.
CASES = {
    "not present within the grace: held until it ends": (NOT_PRESENT, 0.25, 0.75, True),
    "not present after the grace: sent, grace over": (NOT_PRESENT, 1.0, None, False),
    "not plugged and installed yet (plug agent) within the grace: held": (
        ("DOWN", "waiting for the interface to be plugged and installed on chassis 'hv1'"),
        0.5, 0.5, True),
    "ACTIVE within the grace: sent, grace over": (("ACTIVE", None), 0.25, None, False),
    "another DOWN reason is never held": (("DOWN", "chassis 'hv1' is down"), 0.25, None, True),
    "BUILD is never held": (("BUILD", "waiting"), 0.25, None, True),
}


@pytest.mark.parametrize("status,now,held,still_in_grace", CASES.values(), ids=CASES.keys())
def test_hold(status: tuple[str, str | None], now: float, held: float | None,
              still_in_grace: bool) -> None:
    grace = PlugGrace()
    grace.start("p1", until=1.0)
    assert grace.hold("p1", *status, now) == (None if held is None else pytest.approx(held))
    assert (grace.hold("p1", *NOT_PRESENT, now) is not None) is (still_in_grace and now < 1.0)


def test_ports_without_grace_are_never_held() -> None:
    assert PlugGrace().hold("p1", *NOT_PRESENT, 0.0) is None


def test_restart_extends_stop_ends_prune_forgets_the_ended() -> None:
    grace = PlugGrace()
    grace.start("a", until=1.0)
    grace.start("b", until=2.0)
    grace.start("a", until=3.0)  # moved again: a new grace
    grace.prune(2.5)
    assert grace.hold("b", *NOT_PRESENT, 0.0) is None, "b's grace ended and was pruned"
    assert grace.hold("a", *NOT_PRESENT, 2.5) == pytest.approx(0.5)
    grace.stop("a")
    assert grace.hold("a", *NOT_PRESENT, 2.5) is None
