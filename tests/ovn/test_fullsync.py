"""The full sync leaves a network without its switch alone for one pass: its create call
writes the switch just after the commit, and a sync reading between the two must not
answer the create BUILD (seen in CI: ``test_network_lifecycle_in_nb``); a network still
without one at the next pass is BUILD."""
from __future__ import annotations

from neutrino.ovn.fullsync import SwitchlessNetworks


def test_a_network_is_reported_switchless_at_the_second_pass_in_a_row() -> None:
    switchless = SwitchlessNetworks()
    assert switchless.confirmed({"new"}) == set(), "the first pass leaves it alone"
    assert switchless.confirmed({"new", "newer"}) == {"new"}
    assert switchless.confirmed({"newer"}) == {"newer"}


def test_a_switch_seen_in_between_starts_the_count_again() -> None:
    switchless = SwitchlessNetworks()
    switchless.confirmed({"net"})
    switchless.confirmed(set())  # its switch came
    assert switchless.confirmed({"net"}) == set(), "lost again: left alone one pass more"
    assert switchless.confirmed({"net"}) == {"net"}
