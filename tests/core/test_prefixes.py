"""A subnet pool's prefix arithmetic (pure; tests/core/test_subnetpools.py covers it in SQL)."""
from __future__ import annotations

import ipaddress

import pytest

from neutrino.core import exceptions as exc
from neutrino.core import prefixes as px


@pytest.mark.parametrize(("given", "compacted"), [
    (["10.0.0.0/24"], ["10.0.0.0/24"]),
    (["10.0.1.0/24", "10.0.0.0/24"], ["10.0.0.0/23"]),            # adjacent halves merge
    (["10.0.0.0/16", "10.0.5.0/24"], ["10.0.0.0/16"]),            # contained ones vanish
    (["10.11.12.13/24"], ["10.11.12.0/24"]),                      # host bits cleared
    (["20.0.0.0/18", "10.0.0.0/8"], ["10.0.0.0/8", "20.0.0.0/18"]),  # by address
    (["2001:db8::/64", "2001:db8:0:1::/64"], ["2001:db8::/63"]),
])
def test_compact(given: list[str], compacted: list[str]) -> None:
    assert px.compact(given) == compacted


@pytest.mark.parametrize(("given", "error"), [
    ([], exc.EmptySubnetPoolPrefixList),
    (["10.0.0.0/24", "2001:db8::/64"], exc.PrefixVersionMismatch),
])
def test_compact_refuses(given: list[str], error: type[exc.NeutronError]) -> None:
    with pytest.raises(error):
        px.compact(given)


def test_any_allocation_takes_the_smallest_free_block_that_fits() -> None:
    prefixes = ["10.0.0.0/16", "10.1.0.0/24"]
    # The /24 prefix is the smallest block: a /26 comes from it, keeping the /16 whole.
    assert str(px.allocate_any(prefixes, [], 26)) == "10.1.0.0/26"
    assert str(px.allocate_any(prefixes, ["10.1.0.0/26"], 26)) == "10.1.0.64/26"
    # A /20 fits only the /16.
    assert str(px.allocate_any(prefixes, ["10.0.0.0/20"], 20)) == "10.0.16.0/20"
    # Holes left by deleted subnets are found again.
    assert str(px.allocate_any(["10.0.0.0/24"], ["10.0.0.0/26", "10.0.0.128/26"], 26)) == \
        "10.0.0.64/26"


def test_any_allocation_fails_when_no_block_is_large_enough() -> None:
    with pytest.raises(exc.SubnetAllocationError, match="Insufficient prefix space .*/24"):
        px.allocate_any(["10.0.0.0/24"], ["10.0.0.0/25"], 24)
    with pytest.raises(exc.SubnetAllocationError):
        px.allocate_any(["10.0.0.0/25", "10.0.0.128/25"], ["10.0.0.0/26", "10.0.0.192/26"], 25)


@pytest.mark.parametrize(("cidr", "free"), [
    ("10.0.0.64/26", True),
    ("10.0.0.0/26", False),     # taken
    ("10.0.0.0/24", False),     # contains a taken one
    ("10.0.1.0/26", False),     # outside the pool
    ("10.0.0.128/25", True),
])
def test_specific_allocation_needs_the_cidr_inside_one_free_block(cidr: str, free: bool) -> None:
    net = ipaddress.ip_network(cidr)
    if free:
        assert px.allocate_specific(["10.0.0.0/24"], ["10.0.0.0/26"], net) == net
    else:
        with pytest.raises(exc.SubnetAllocationError, match="Cannot allocate requested subnet"):
            px.allocate_specific(["10.0.0.0/24"], ["10.0.0.0/26"], net)


def test_remove_covers_and_overlaps() -> None:
    assert px.remove(["10.0.0.0/23"], ["10.0.1.0/24"]) == ["10.0.0.0/24"]
    assert px.remove(["10.0.0.0/24"], ["10.0.0.0/16"]) == []
    assert px.remove(["10.0.0.0/24"], ["2001:db8::/64"]) == ["10.0.0.0/24"]
    assert px.covers(["10.0.0.0/16"], ["10.0.5.0/24", "10.0.0.0/17"])
    assert not px.covers(["10.0.0.0/24"], ["10.0.0.0/23"])
    assert px.overlaps(["20.0.0.0/18", "30.0.0.0/18"], ["50.0.0.0/18", "30.0.0.0/12"])
    assert not px.overlaps(["20.0.0.0/18"], ["20.0.64.0/18"])


def test_quota_units_are_addresses_for_ipv4_and_64s_for_ipv6() -> None:
    assert px.quota_units(4, 24) == 256
    assert px.quota_units(4, 32) == 1
    assert px.quota_units(6, 64) == 1
    assert px.quota_units(6, 56) == 256
    assert px.quota_units(6, 80) == 1
