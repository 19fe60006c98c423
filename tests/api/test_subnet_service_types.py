"""``subnet-service-types``: a subnet with ``service_types`` gives addresses only to ports
of those device owners (DHCP ports to any with DHCP on), as Neutron's IPAM; over REST, on
both databases, each refusal writing nothing."""
from __future__ import annotations

import ipaddress
from typing import Any

import pytest

from tests.api.conftest import Api, assert_error


def addresses(port: dict[str, Any]) -> list[tuple[str, str]]:
    return [(ip["subnet_id"], ip["ip_address"]) for ip in port["fixed_ips"]]


@pytest.fixture
def network(api: Api) -> dict[str, Any]:
    return api.network(name="typed")


def test_each_kind_of_port_takes_its_address_from_its_subnets(api: Api,
                                                              network: dict[str, Any]) -> None:
    """As OpenStack's ``test_allocate_ips_are_from_correct_subnet``, and the subnets named
    for a device owner before those for every port (Neutron's priority)."""
    one = api.subnet(network, "192.168.1.0/24", service_types=["test:type_1",
                                                                "network:distributed"])
    two = api.subnet(network, "192.168.2.0/24", service_types=["test:type_2"])
    assert one["service_types"] == ["test:type_1", "network:distributed"]
    assert api.show("subnets", one["id"])["service_types"] == one["service_types"]
    first = api.port(network, device_owner="test:type_1")
    second = api.port(network, device_owner="test:type_2")
    assert [s for s, _ in addresses(first)] == [one["id"]]
    assert [s for s, _ in addresses(second)] == [two["id"]]
    assert ipaddress.ip_address(addresses(first)[0][1]) in ipaddress.ip_network(one["cidr"])
    anyone = api.subnet(network, "192.168.3.0/24")
    assert [s for s, _ in addresses(api.port(network, device_owner="test:type_2"))] == \
        [two["id"]], "its own subnet before the one for every port"
    assert [s for s, _ in addresses(api.port(network, device_owner="compute:nova"))] == \
        [anyone["id"]]
    dhcp = api.port(network, device_owner="network:dhcp")  # any subnet with DHCP on
    assert [s for s, _ in addresses(dhcp)] in ([one["id"]], [two["id"]])


def test_a_port_no_subnet_serves(api: Api, network: dict[str, Any]) -> None:
    """No subnet for the port's device owner: 409, whatever ``fixed_ips`` names (Neutron
    looks for candidate subnets first); with another subnet that serves it, a subnet or
    address of one that does not is refused as one of no subnet of the network."""
    typed = api.subnet(network, "10.1.0.0/24", service_types=["network:router_gateway"])
    before = api.rows()
    for fixed_ips in (None, [{"subnet_id": typed["id"]}], [{"ip_address": "10.1.0.9"}]):
        body = {"network_id": network["id"], "device_owner": "compute:a",
                **({"fixed_ips": fixed_ips} if fixed_ips else {})}
        assert_error(api.post("ports", body), 409, "IpAddressGenerationFailureNoMatchingSubnet",
                     "compute:a")
    assert api.rows() == before
    api.subnet(network, "10.9.0.0/24")
    before = api.rows()
    assert_error(api.post("ports", {"network_id": network["id"],
                                    "fixed_ips": [{"subnet_id": typed["id"]}]}),
                 400, "InvalidInput", "invalid subnet")
    assert_error(api.post("ports", {"network_id": network["id"],
                                    "fixed_ips": [{"ip_address": "10.1.0.9"}]}),
                 400, "InvalidIpForSubnet")
    assert api.rows() == before
    assert api.port(network, fixed_ips=[])["fixed_ips"] == []
    gateway = api.port(network, device_owner="network:router_gateway",
                       fixed_ips=[{"ip_address": "10.1.0.9"}])
    assert addresses(gateway) == [(typed["id"], "10.1.0.9")]


def test_service_types_are_updated_and_checked(api: Api, network: dict[str, Any]) -> None:
    sub = api.subnet(network, "10.2.0.0/24")
    assert sub["service_types"] == []
    port = api.port(network)
    updated = api.update("subnets", sub["id"], service_types=["network:floatingip"])
    assert (updated["service_types"], updated["revision_number"]) == (["network:floatingip"], 2)
    assert api.show("ports", port["id"]) == port, "an address given before stays"
    assert_error(api.post("ports", {"network_id": network["id"]}), 409,
                 "IpAddressGenerationFailureNoMatchingSubnet")
    before = api.rows()
    for bad in (["bogus:type"], ["network:dhcp", "xyz"]):
        assert_error(api.put("subnets", sub["id"], {"service_types": bad}), 400,
                     "InvalidSubnetServiceType", bad[-1])
        assert_error(api.post("subnets", {"network_id": network["id"], "cidr": "10.3.0.0/24",
                                          "service_types": bad}),
                     400, "InvalidSubnetServiceType")
    assert_error(api.post("subnets", {"network_id": network["id"], "cidr": "10.3.0.0/24",
                                      "service_types": [7]}), 400, "HTTPBadRequest")
    assert api.rows() == before
    assert api.update("subnets", sub["id"], service_types=[])["service_types"] == []
    assert api.port(network)["fixed_ips"][0]["subnet_id"] == sub["id"]


def test_a_slaac_subnet_addresses_only_the_ports_it_serves(api: Api,
                                                           network: dict[str, Any]) -> None:
    api.subnet(network, "10.4.0.0/24")
    vm = api.port(network, device_owner="compute:nova")
    gateway_port = api.port(network, device_owner="network:router_gateway")
    v6 = api.subnet(network, "2001:db8:4::/64", ipv6_address_mode="slaac",
                    ipv6_ra_mode="slaac", service_types=["network:router_gateway"])
    assert v6["id"] in {s for s, _ in addresses(api.show("ports", gateway_port["id"]))}
    assert v6["id"] not in {s for s, _ in addresses(api.show("ports", vm["id"]))}
    assert v6["id"] not in {s for s, _ in addresses(api.port(network,
                                                             device_owner="compute:nova"))}
    assert api.delete("subnets", v6["id"]).status_code == 204
