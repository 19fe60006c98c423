"""Validating a subnet's attributes against its CIDR (pure)."""
from __future__ import annotations

import ipaddress
from types import SimpleNamespace
from typing import Any

import pytest

from neutrino.core import exceptions as exc
from neutrino.core.subnets import validate

NET = ipaddress.ip_network("10.0.0.0/24")
POOLS = [{"start": "10.0.0.2", "end": "10.0.0.254"}]
CURRENT = SimpleNamespace(gateway_ip="10.0.0.1", allocation_pools=POOLS, ipv6_ra_mode=None,
                          ipv6_address_mode=None)
NET6 = ipaddress.ip_network("fd00::/64")
CURRENT6 = SimpleNamespace(gateway_ip="fd00::1", allocation_pools=[
    {"start": "fd00::2", "end": "fd00::ffff:ffff:ffff:ffff"}], ipv6_ra_mode="slaac",
    ipv6_address_mode="slaac")


@pytest.mark.parametrize(("attrs", "current", "error"), [
    pytest.param({"gateway_ip": "10.0.0.1", "allocation_pools": POOLS}, None, None, id="new"),
    pytest.param({"gateway_ip": None, "allocation_pools": POOLS}, None, None, id="no gateway"),
    pytest.param({}, CURRENT, None, id="update changing nothing checked"),
    pytest.param({"dns_nameservers": ["10.0.0.53"]}, CURRENT, None, id="v4 nameserver"),
    pytest.param({"dns_nameservers": ["fd00::53"]}, CURRENT, exc.InvalidInput,
                 id="nameserver of the other IP version"),
    pytest.param({"dns_nameservers": ["10.0.0.53", "10.0.0.54", "10.0.0.53"]}, CURRENT,
                 exc.InvalidInput, id="duplicate nameserver"),
    pytest.param({"ipv6_address_mode": "slaac"}, CURRENT, exc.InvalidInput,
                 id="an IPv6 mode on an IPv4 subnet"),
    pytest.param({"host_routes": [{"destination": "10.9.0.0/16", "nexthop": "10.0.0.9"}]},
                 CURRENT, None, id="host route"),
    pytest.param({"host_routes": [{"destination": "fd09::/64", "nexthop": "10.0.0.9"}]},
                 CURRENT, exc.InvalidInput, id="host route to the other IP version"),
    pytest.param({"host_routes": [{"destination": "10.9.0.0/16", "nexthop": "fd00::9"}]},
                 CURRENT, exc.InvalidInput, id="host route via the other IP version"),
    pytest.param({"gateway_ip": "10.1.0.1"}, CURRENT, exc.InvalidInput,
                 id="gateway outside the subnet"),
    pytest.param({"gateway_ip": "10.0.0.100"}, CURRENT, exc.GatewayConflictWithAllocationPools,
                 id="gateway inside the current pools"),
    pytest.param({"allocation_pools": [{"start": "10.0.0.1", "end": "10.0.0.10"}]}, CURRENT,
                 exc.GatewayConflictWithAllocationPools, id="pools over the current gateway"),
])
def test_validate(attrs: dict[str, Any], current: Any, error: type[Exception] | None) -> None:
    if error is None:
        validate(NET, attrs, current)
    else:
        with pytest.raises(error):
            validate(NET, attrs, current)


@pytest.mark.parametrize(("attrs", "error"), [
    pytest.param({}, None, id="both slaac"),
    pytest.param({"ipv6_ra_mode": "dhcpv6-stateful", "ipv6_address_mode": "dhcpv6-stateful"},
                 None, id="both changed alike"),
    pytest.param({"ipv6_ra_mode": "dhcpv6-stateless"}, exc.InvalidInput,
                 id="ra mode no longer the address mode"),
    pytest.param({"ipv6_ra_mode": None, "ipv6_address_mode": "dhcpv6-stateless"}, None,
                 id="only the address mode set"),
    pytest.param({"dns_nameservers": ["fd00::53", "fd00:0::53"]}, exc.InvalidInput,
                 id="duplicate nameserver, written differently"),
])
def test_validate_ipv6(attrs: dict[str, Any], error: type[Exception] | None) -> None:
    if error is None:
        validate(NET6, attrs, CURRENT6)
    else:
        with pytest.raises(error):
            validate(NET6, attrs, CURRENT6)
