"""Choosing a free address and reading fixed_ips (pure logic; the API tests cover
allocation in SQL)."""
from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pytest

from neutrino.core import exceptions as exc
from neutrino.core import ipam

SMALL = [{"start": "10.0.0.2", "end": "10.0.0.62"}]
LARGE = [{"start": "10.0.0.2", "end": "10.0.255.254"}]


def _never(*_args: object) -> object:
    raise AssertionError("must not be called")


def test_small_pool_picks_among_the_lowest_free_addresses() -> None:
    taken = [f"10.0.0.{i}" for i in range(2, 12)]
    ip = ipam.choose_free(SMALL, {"10.0.0.12"}, is_taken=_never, all_taken=lambda: taken)
    assert ip is not None and ip not in taken and ip != "10.0.0.12"
    assert 13 <= int(ip.rsplit(".", 1)[1]) < 13 + 16


def test_large_pool_looks_up_single_addresses_instead_of_reading_all() -> None:
    looked_up: list[str] = []

    def is_taken(ip: str) -> bool:
        looked_up.append(ip)
        return len(looked_up) < 3  # the first two are taken

    ip = ipam.choose_free(LARGE, set(), is_taken=is_taken, all_taken=_never)
    assert ip == looked_up[-1] and len(looked_up) == 3
    assert ipaddress.ip_address(ip) in ipaddress.ip_network("10.0.0.0/16")


def test_large_pool_whose_probes_all_hit_taken_addresses_is_read_whole() -> None:
    probes: list[str] = []
    ip = ipam.choose_free(LARGE, set(), is_taken=lambda ip: probes.append(ip) or True,
                          all_taken=lambda: ["10.0.0.2"])
    assert len(probes) == ipam.PROBES
    assert ip is not None and ip != "10.0.0.2"


def test_full_pool_gives_none() -> None:
    taken = [str(ipaddress.ip_address("10.0.0.2") + i) for i in range(61)]
    assert ipam.choose_free(SMALL, set(), is_taken=_never, all_taken=lambda: taken) is None


# -- reading a port's fixed_ips (pure; allocate() is covered by the API tests, in SQL)

@dataclass(frozen=True)
class Sub:
    id: str
    cidr: str
    ip_version: int
    ipv6_address_mode: str | None = None
    ipv6_ra_mode: str | None = None
    service_types: tuple[str, ...] = ()
    enable_dhcp: bool = True


V4, V4B, V6 = Sub("v4", "10.0.0.0/24", 4), Sub("v4b", "10.1.0.0/24", 4), Sub("v6", "fd00::/64", 6)
SUBNETS = [V4, V4B, V6]
SLAAC = Sub("slaac", "fd00:5::/64", 6, ipv6_ra_mode="slaac")
MAC = "fa:16:3e:00:00:01"
MINE = ipam.FixedAddress(SLAAC, "fd00:5::f816:3eff:fe00:1")


@pytest.mark.parametrize(("subnets", "fixed_ips", "expected"), [
    pytest.param(SUBNETS, None,
                 [ipam.AnyAddress((V4, V4B), keeps_current=False),
                  ipam.AnyAddress((V6,), keeps_current=False)],
                 id="default: one of each IP version, from any subnet of it"),
    pytest.param([V6], None, [ipam.AnyAddress((V6,), keeps_current=False)], id="default v6 only"),
    pytest.param([], None, [], id="default without subnets: none"),
    pytest.param(SUBNETS, [], [], id="explicitly none"),
    pytest.param(SUBNETS, [{"subnet_id": "v4b"}], [ipam.AnyAddress((V4B,), keeps_current=True)],
                 id="any address of a subnet"),
    pytest.param(SUBNETS, [{"ip_address": "10.1.0.7"}], [ipam.FixedAddress(V4B, "10.1.0.7")],
                 id="address: its subnet is found"),
    pytest.param(SUBNETS, [{"subnet_id": "v6", "ip_address": "fd00:0::5"}],
                 [ipam.FixedAddress(V6, "fd00::5")], id="address on a subnet, normalised"),
    pytest.param(SUBNETS, [{"ip_address": "10.0.0.9"}, {"subnet_id": "v6"}],
                 [ipam.FixedAddress(V4, "10.0.0.9"), ipam.AnyAddress((V6,), keeps_current=True)],
                 id="in the order asked"),
    pytest.param(SUBNETS + [SLAAC], None,
                 [ipam.AnyAddress((V4, V4B), keeps_current=False),
                  ipam.AnyAddress((V6,), keeps_current=False), MINE],
                 id="default: and the EUI-64 address on an auto-address subnet"),
    pytest.param(SUBNETS + [SLAAC], [{"ip_address": "10.0.0.9"}],
                 [ipam.FixedAddress(V4, "10.0.0.9"), MINE],
                 id="explicit: the EUI-64 address all the same"),
    pytest.param(SUBNETS + [SLAAC], [{"subnet_id": "slaac"}], [MINE],
                 id="the auto-address subnet named: its EUI-64 address, once"),
    pytest.param(SUBNETS + [SLAAC], [{"ip_address": MINE.ip}], [MINE],
                 id="the EUI-64 address sent back: once"),
])
def test_requested_addresses(subnets: list[Sub], fixed_ips: list[dict] | None,
                             expected: list[ipam.AddressRequest]) -> None:
    assert ipam.requested_addresses("net", subnets, fixed_ips, MAC, "compute:nova") == expected


def test_a_router_interface_asks_like_on_any_subnet() -> None:
    owner = "network:router_interface"
    assert ipam.requested_addresses("net", [SLAAC], None, MAC, owner) == [
        ipam.AnyAddress((SLAAC,), keeps_current=False)]
    assert ipam.requested_addresses("net", [SLAAC], [{"ip_address": "fd00:5::1"}], MAC,
                                    owner) == [ipam.FixedAddress(SLAAC, "fd00:5::1")]


@pytest.mark.parametrize(("fixed_ips", "error"), [
    pytest.param([{"subnet_id": "elsewhere"}], exc.InvalidInput, id="subnet of another network"),
    pytest.param([{"ip_address": "192.168.0.1"}], exc.InvalidIpForSubnet, id="in no subnet"),
    pytest.param([{"subnet_id": "v4", "ip_address": "10.1.0.7"}], exc.InvalidIpForSubnet,
                 id="not in the subnet named"),
    pytest.param([{"ip_address": "10.0.0.0"}], exc.InvalidIpForSubnet, id="network address"),
    pytest.param([{"ip_address": "10.0.0.255"}], exc.InvalidIpForSubnet, id="broadcast address"),
    pytest.param([{"ip_address": "fd00:5::9"}], exc.InvalidInput,
                 id="another address on an auto-address subnet"),
])
def test_requested_addresses_refused(fixed_ips: list[dict], error: type[Exception]) -> None:
    with pytest.raises(error):
        ipam.requested_addresses("net", SUBNETS + [SLAAC], fixed_ips, MAC, "")


@pytest.mark.parametrize(("subnet", "owner", "served"), [
    (Sub("any", "10.0.0.0/24", 4), "compute:nova", True),
    (Sub("gw", "10.0.0.0/24", 4, service_types=("network:router_gateway",)), "compute:nova",
     False),
    (Sub("gw", "10.0.0.0/24", 4, service_types=("network:router_gateway",)),
     "network:router_gateway", True),
    (Sub("gw", "10.0.0.0/24", 4, service_types=("network:router_gateway",)), "network:dhcp",
     True),
    (Sub("gw", "10.0.0.0/24", 4, service_types=("network:router_gateway",),
         enable_dhcp=False), "network:dhcp", False),
])
def test_a_subnet_serves_the_device_owners_it_names(subnet: Sub, owner: str,
                                                    served: bool) -> None:
    assert ipam.serves(subnet, owner) is served


def test_subnets_naming_the_owner_come_first() -> None:
    typed = Sub("typed", "10.2.0.0/24", 4, service_types=("compute:nova",))
    [first] = ipam.requested_addresses("net", [V4, typed], None, MAC, "compute:nova")
    assert isinstance(first, ipam.AnyAddress) and first.subnets == (typed, V4)
    with pytest.raises(exc.IpAddressGenerationFailureNoMatchingSubnet):
        ipam.requested_addresses("net", [typed], None, MAC, "compute:other")
    assert ipam.requested_addresses("net", [typed], [], MAC, "compute:other") == []
