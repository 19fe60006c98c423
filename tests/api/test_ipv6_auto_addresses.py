"""IPv6 auto-addressing over REST: on SLAAC and DHCPv6-stateless subnets every port but
a router interface has the address its host forms from its MAC (EUI-64), which follows
the MAC, comes with the subnet and goes with it; no other address can be given there."""
from __future__ import annotations

from typing import Any

import pytest

from neutrino.core.ipam import eui64
from tests.api.conftest import Api, assert_error

ROUTER_INTERFACE = "network:router_interface"


@pytest.fixture
def dual(api: Api) -> dict[str, Any]:
    """A network with an IPv4 subnet and a SLAAC one."""
    network = api.network(name="dual")
    api.subnet(network, "10.0.0.0/24")
    api.subnet(network, "fd00:1::/64", ipv6_address_mode="slaac", ipv6_ra_mode="slaac")
    return api.show("networks", network["id"])


def v6_of(port: dict[str, Any]) -> list[str]:
    return [ip["ip_address"] for ip in port["fixed_ips"] if ":" in ip["ip_address"]]


def test_the_eui64_address_is_the_one_rfc_4291_gives() -> None:
    assert eui64("2001:db8::/64", "00:16:3e:33:44:55") == "2001:db8::216:3eff:fe33:4455"
    assert eui64("fd00:1::/64", "fa:16:3e:00:00:01") == "fd00:1::f816:3eff:fe00:1"


@pytest.mark.parametrize("mode", ["slaac", "dhcpv6-stateless"])
def test_a_port_gets_its_eui64_address_whatever_it_asks_for(api: Api, mode: str) -> None:
    network = api.network()
    v4 = api.subnet(network, "10.0.0.0/24")
    api.subnet(network, "fd00:1::/64", ipv6_address_mode=mode)
    default = api.port(network)
    assert v6_of(default) == [eui64("fd00:1::/64", default["mac_address"])]
    assert len(default["fixed_ips"]) == 2
    only_v4 = api.port(network, fixed_ips=[{"subnet_id": v4["id"]}])
    assert v6_of(only_v4) == [eui64("fd00:1::/64", only_v4["mac_address"])]


def test_no_other_address_can_be_given_on_an_auto_address_subnet(api: Api,
                                                                   dual: dict) -> None:
    [slaac] = [s for s in dual["subnets"]
               if api.show("subnets", s)["ipv6_address_mode"] == "slaac"]
    before = api.rows()
    assert_error(api.post("ports", {"network_id": dual["id"], "fixed_ips": [
        {"subnet_id": slaac, "ip_address": "fd00:1::99"}]}), 400, "InvalidInput",
        "automatic addresses")
    assert api.rows() == before
    port = api.port(dual)
    # Sending its addresses back (as clients that PUT what they read do) changes nothing.
    same = api.update("ports", port["id"], fixed_ips=port["fixed_ips"])
    assert sorted(v6_of(same) + [ip["ip_address"] for ip in same["fixed_ips"]]) == \
        sorted(v6_of(port) + [ip["ip_address"] for ip in port["fixed_ips"]])
    # Leaving the EUI-64 address out does not take it away either (Neutron's).
    v4_only = [ip for ip in port["fixed_ips"] if ":" not in ip["ip_address"]]
    assert v6_of(api.update("ports", port["id"], fixed_ips=v4_only)) == v6_of(port)


def test_a_router_interface_takes_an_address_like_on_any_subnet(api: Api, dual: dict) -> None:
    slaac = next(s for s in dual["subnets"]
                 if api.show("subnets", s)["ipv6_address_mode"] == "slaac")
    router_port = api.port(dual, device_owner=ROUTER_INTERFACE,
                           fixed_ips=[{"subnet_id": slaac, "ip_address": "fd00:1::1"}])
    assert v6_of(router_port) == ["fd00:1::1"]
    assert api.port(dual, device_owner=ROUTER_INTERFACE, fixed_ips=[])["fixed_ips"] == []


def test_a_new_mac_moves_the_eui64_address(api: Api, dual: dict) -> None:
    port = api.port(dual)
    moved = api.update("ports", port["id"], mac_address="fa:16:3e:12:34:56")
    assert v6_of(moved) == [eui64("fd00:1::/64", "fa:16:3e:12:34:56")]
    assert [ip for ip in moved["fixed_ips"] if ":" not in ip["ip_address"]] == \
        [ip for ip in port["fixed_ips"] if ":" not in ip["ip_address"]]
    regenerated = api.update("ports", port["id"], mac_address=None)  # a new generated MAC
    assert regenerated["mac_address"] != moved["mac_address"]
    assert v6_of(regenerated) == [eui64("fd00:1::/64", regenerated["mac_address"])]


def test_the_addresses_come_with_a_new_subnet_and_go_with_it(api: Api) -> None:
    network = api.network()
    api.subnet(network, "10.0.0.0/24")
    host = api.port(network)
    router_port = api.port(network, device_owner=ROUTER_INTERFACE)
    slaac = api.subnet(network, "fd00:1::/64", ipv6_address_mode="slaac")
    after = api.show("ports", host["id"])
    assert v6_of(after) == [eui64("fd00:1::/64", host["mac_address"])]
    assert after["revision_number"] > host["revision_number"]
    assert v6_of(api.show("ports", router_port["id"])) == []

    assert api.delete("subnets", slaac["id"]).status_code == 204
    gone = api.show("ports", host["id"])
    assert v6_of(gone) == [] and len(gone["fixed_ips"]) == 1
    assert gone["revision_number"] > after["revision_number"]


def test_a_router_interface_on_the_subnet_keeps_it_in_use(api: Api, dual: dict) -> None:
    slaac = next(s for s in dual["subnets"]
                 if api.show("subnets", s)["ipv6_address_mode"] == "slaac")
    host = api.port(dual)
    api.port(dual, device_owner=ROUTER_INTERFACE,
             fixed_ips=[{"subnet_id": slaac, "ip_address": "fd00:1::1"}])
    before = api.allocations()
    assert_error(api.delete("subnets", slaac), 409, "SubnetInUse")
    assert api.allocations() == before, "the refused delete took no host's address"
    assert v6_of(api.show("ports", host["id"]))


@pytest.mark.parametrize("mode", ["slaac", "dhcpv6-stateless"])
def test_an_auto_address_subnet_must_be_a_64(api: Api, mode: str) -> None:
    network = api.network()
    before = api.rows()
    assert_error(api.post("subnets", {"network_id": network["id"], "cidr": "fd00:1::/80",
                                      "ipv6_ra_mode": mode}), 400, "InvalidInput", "/64")
    assert api.rows() == before
    assert api.subnet(network, "fd00:2::/80", ipv6_address_mode="dhcpv6-stateful")
