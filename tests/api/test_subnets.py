"""Subnets over REST: IPv4 and IPv6, gateways, allocation pools, DNS, routes, overlap, in-use."""
from __future__ import annotations

import pytest

from tests.api.conftest import Api, assert_error


@pytest.fixture
def network(api: Api) -> dict:
    return api.network(name="n")


def test_ipv4_defaults(api: Api, network: dict) -> None:
    sub = api.subnet(network, "10.0.0.0/24", name="s", project_id="p1")
    assert sub["ip_version"] == 4 and sub["cidr"] == "10.0.0.0/24"
    assert sub["gateway_ip"] == "10.0.0.1"
    assert sub["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    assert sub["enable_dhcp"] is True
    assert sub["dns_nameservers"] == [] and sub["host_routes"] == []
    assert sub["network_id"] == network["id"] and sub["name"] == "s"
    assert sub["project_id"] == sub["tenant_id"] == "p1"
    assert sub["revision_number"] == 1
    assert api.show("subnets", sub["id"]) == sub


def test_ipv6_defaults(api: Api, network: dict) -> None:
    sub = api.subnet(network, "fd00:1::/64", ip_version=6, ipv6_address_mode="dhcpv6-stateful",
                     ipv6_ra_mode="dhcpv6-stateful")
    assert sub["ip_version"] == 6
    assert sub["gateway_ip"] == "fd00:1::1"
    assert sub["allocation_pools"] == [{"start": "fd00:1::2", "end": "fd00:1::ffff:ffff:ffff:ffff"}]
    assert sub["ipv6_address_mode"] == sub["ipv6_ra_mode"] == "dhcpv6-stateful"


def test_ipv6_addresses_near_zero_stay_ipv6(api: Api, network: dict) -> None:
    """Regression: integer arithmetic made the defaults of ``::/120`` IPv4 (0.0.0.1)."""
    sub = api.subnet(network, "::/120")
    assert sub["gateway_ip"] == "::1"
    assert sub["allocation_pools"] == [{"start": "::2", "end": "::ff"}]
    port = api.port(network)
    assert port["fixed_ips"][0]["ip_address"].startswith("::")


def test_ip_version_is_inferred_and_checked(api: Api, network: dict) -> None:
    assert api.subnet(network, "fd00:2::/64")["ip_version"] == 6
    before = api.rows()
    assert_error(api.post("subnets", {"network_id": network["id"], "cidr": "10.0.0.0/24",
                                      "ip_version": 6}), 400, "InvalidInput", "incompatible")
    assert api.rows() == before


def test_explicit_gateway_is_left_out_of_the_default_pool(api: Api, network: dict) -> None:
    sub = api.subnet(network, "10.0.0.0/24", gateway_ip="10.0.0.254")
    assert sub["gateway_ip"] == "10.0.0.254"
    assert sub["allocation_pools"] == [{"start": "10.0.0.1", "end": "10.0.0.253"}]


def test_gateway_in_the_middle_splits_the_default_pool(api: Api, network: dict) -> None:
    sub = api.subnet(network, "10.0.0.0/29", gateway_ip="10.0.0.3")
    assert sub["allocation_pools"] == [{"start": "10.0.0.1", "end": "10.0.0.2"},
                                       {"start": "10.0.0.4", "end": "10.0.0.6"}]


def test_null_gateway(api: Api, network: dict) -> None:
    sub = api.subnet(network, "10.0.0.0/24", gateway_ip=None)
    assert sub["gateway_ip"] is None
    assert sub["allocation_pools"] == [{"start": "10.0.0.1", "end": "10.0.0.254"}]


def test_explicit_allocation_pools(api: Api, network: dict) -> None:
    pools = [{"start": "10.0.0.10", "end": "10.0.0.19"},
             {"start": "10.0.0.100", "end": "10.0.0.100"}]
    sub = api.subnet(network, "10.0.0.0/24", allocation_pools=pools)
    assert sub["allocation_pools"] == pools
    assert api.port(network)["fixed_ips"][0]["ip_address"] in {f"10.0.0.{i}" for i in
                                                              [*range(10, 20), 100]}


@pytest.mark.parametrize("attrs, status, error_type, fragment", [
    ({"allocation_pools": [{"start": "10.0.0.2", "end": "10.0.1.5"}]},
     400, "OutOfBoundsAllocationPool", "spans beyond the subnet cidr"),
    ({"allocation_pools": [{"start": "10.0.0.0", "end": "10.0.0.5"}]},
     400, "OutOfBoundsAllocationPool", "10.0.0.0-10.0.0.5"),
    ({"allocation_pools": [{"start": "10.0.0.20", "end": "10.0.0.10"}]},
     400, "InvalidAllocationPool", "10.0.0.20-10.0.0.10"),
    ({"allocation_pools": [{"start": "fd00::2", "end": "fd00::9"}]},
     400, "InvalidAllocationPool", "fd00::2"),
    ({"allocation_pools": [{"start": "10.0.0.10", "end": "10.0.0.20"},
                           {"start": "10.0.0.15", "end": "10.0.0.30"}]},
     409, "OverlappingAllocationPools", "10.0.0.10-10.0.0.20"),
    ({"gateway_ip": "10.0.0.12", "allocation_pools": [{"start": "10.0.0.10", "end": "10.0.0.20"}]},
     409, "GatewayConflictWithAllocationPools", "10.0.0.12"),
    ({"gateway_ip": "10.0.1.1"}, 400, "InvalidInput", "not in subnet"),
    ({"gateway_ip": "10.0.0.255"}, 400, "InvalidInput", "broadcast"),
    ({"gateway_ip": "fd00::1"}, 400, "InvalidInput", "not in subnet"),
    ({"dns_nameservers": ["fd00::53"]}, 400, "InvalidInput", "dns_nameserver"),
    ({"host_routes": [{"destination": "fd00::/64", "nexthop": "10.0.0.1"}]},
     400, "InvalidInput", "host route"),
])
def test_invalid_subnet_is_refused_and_not_written(api: Api, network: dict, attrs: dict,
                                                   status: int, error_type: str,
                                                   fragment: str) -> None:
    before = api.rows()
    response = api.post("subnets", {"network_id": network["id"], "cidr": "10.0.0.0/24", **attrs})
    assert_error(response, status, error_type, fragment)
    assert api.rows() == before


@pytest.mark.parametrize("cidr, fragment", [
    ("10.0.0.5/24", "10.0.0.0/24"),   # host bits set: Neutron names the right cidr
    ("10.0.0.0", "cidr"),             # no prefix length
])
def test_cidr_must_name_a_network(api: Api, network: dict, cidr: str, fragment: str) -> None:
    response = api.post("subnets", {"network_id": network["id"], "cidr": cidr})
    assert_error(response, 400, "InvalidInput", fragment)


def test_dns_nameservers_and_host_routes(api: Api, network: dict) -> None:
    routes = [{"destination": "192.168.0.0/16", "nexthop": "10.0.0.5"}]
    sub = api.subnet(network, "10.0.0.0/24", dns_nameservers=["8.8.8.8", "1.1.1.1"],
                     host_routes=routes, enable_dhcp=False)
    assert sub["dns_nameservers"] == ["8.8.8.8", "1.1.1.1"]  # order is kept
    assert sub["host_routes"] == routes
    assert sub["enable_dhcp"] is False
    updated = api.update("subnets", sub["id"], dns_nameservers=["9.9.9.9"], host_routes=[],
                         enable_dhcp=True)
    assert updated["dns_nameservers"] == ["9.9.9.9"] and updated["host_routes"] == []
    assert updated["enable_dhcp"] is True and updated["revision_number"] == 2


def test_update_revision_and_no_op(api: Api, network: dict) -> None:
    sub = api.subnet(network, "10.0.0.0/24", name="a")
    assert api.update("subnets", sub["id"], name="a")["revision_number"] == 1
    assert api.update("subnets", sub["id"], name="b")["revision_number"] == 2
    assert api.update("subnets", sub["id"], gateway_ip=None)["revision_number"] == 3
    assert api.show("subnets", sub["id"])["gateway_ip"] is None


def test_update_gateway_into_a_pool_is_a_conflict(api: Api, network: dict) -> None:
    sub = api.subnet(network, "10.0.0.0/24")
    assert_error(api.put("subnets", sub["id"], {"gateway_ip": "10.0.0.7"}), 409,
                 "GatewayConflictWithAllocationPools", "10.0.0.7")
    assert api.show("subnets", sub["id"]) == sub


def test_update_allocation_pools(api: Api, network: dict) -> None:
    sub = api.subnet(network, "10.0.0.0/24")
    pools = [{"start": "10.0.0.50", "end": "10.0.0.60"}]
    assert api.update("subnets", sub["id"], allocation_pools=pools)["allocation_pools"] == pools
    assert api.port(network)["fixed_ips"][0]["ip_address"] in {f"10.0.0.{i}" for i in range(50, 61)}
    assert_error(api.put("subnets", sub["id"], {"allocation_pools": [
        {"start": "10.0.0.1", "end": "10.0.0.9"}]}), 409, "GatewayConflictWithAllocationPools")


def test_cidr_and_network_cannot_be_updated(api: Api, network: dict) -> None:
    sub = api.subnet(network, "10.0.0.0/24")
    assert_error(api.put("subnets", sub["id"], {"cidr": "10.1.0.0/24"}), 400,
                 "HTTPBadRequest", "cidr")


@pytest.mark.parametrize("second", ["10.0.0.0/24", "10.0.0.128/25", "10.0.0.0/16"])
def test_overlapping_subnets_on_one_network_are_refused(api: Api, network: dict,
                                                        second: str) -> None:
    api.subnet(network, "10.0.0.0/24")
    before = api.rows()
    assert_error(api.post("subnets", {"network_id": network["id"], "cidr": second}), 400,
                 "InvalidInput", "overlaps with another subnet")
    assert api.rows() == before


def test_same_cidr_on_other_networks_is_fine(api: Api, network: dict) -> None:
    api.subnet(network, "10.0.0.0/24")
    api.subnet(api.network(), "10.0.0.0/24")
    api.subnet(network, "10.0.1.0/24")


def test_subnet_on_missing_network(api: Api) -> None:
    response = api.post("subnets", {"network_id": "f" * 36, "cidr": "10.0.0.0/24"})
    assert_error(response, 404, "NetworkNotFound", "f" * 36)
    assert api.rows()["subnets"] == 0


def test_subnet_with_allocations_is_in_use(api: Api, network: dict) -> None:
    sub = api.subnet(network, "10.0.0.0/24")
    port = api.port(network)
    assert_error(api.delete("subnets", sub["id"]), 409, "SubnetInUse", sub["id"])
    assert api.show("subnets", sub["id"]) == sub
    assert len(api.allocations()) == 1
    api.delete("ports", port["id"])
    assert api.delete("subnets", sub["id"]).status_code == 204
    assert_error(api.client.get(f"/v2.0/subnets/{sub['id']}"), 404, "SubnetNotFound")
    assert api.show("networks", network["id"])["subnets"] == []


def test_adding_or_removing_a_subnet_is_a_new_revision_of_its_network(
        api: Api, network: dict) -> None:
    """The network's ``subnets`` changed, so its revision moves (as Neutron's)."""
    sub = api.subnet(network, "10.9.0.0/24")
    after_create = api.show("networks", network["id"])
    assert after_create["revision_number"] > network["revision_number"]
    assert after_create["subnets"] == [sub["id"]]
    api.client.put(f"/v2.0/subnets/{sub['id']}", json={"subnet": {"name": "renamed"}})
    assert api.show("networks", network["id"]) == after_create  # the network did not change
    assert api.client.delete(f"/v2.0/subnets/{sub['id']}").status_code == 204
    assert api.show("networks", network["id"])["revision_number"] > \
        after_create["revision_number"]
