"""``/v2.0/network-ip-availabilities``: addresses each network's subnets have (their
pools) and use (their allocations), as Neutron counts them, with the details extension;
on both databases (who may ask: test_policy)."""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, assert_error

COLLECTION = "/v2.0/network-ip-availabilities"


def availabilities(api: Api, **params: Any) -> list[dict[str, Any]]:
    response = api.client.get(COLLECTION, params=params)
    assert response.status_code == 200, response.text
    return response.json()["network_ip_availabilities"]


def availability(api: Api, network_id: str, **params: Any) -> dict[str, Any]:
    response = api.client.get(f"{COLLECTION}/{network_id}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["network_ip_availability"]


@pytest.fixture
def world(api: Api) -> dict[str, Any]:
    """A dual-stack network with ports, a v4 network with narrow pools, an empty one."""
    dual = api.network(name="dual", project_id="p1")
    v4 = api.subnet(dual, "10.0.0.0/24", name="v4")  # pool .2-.254
    v6 = api.subnet(dual, "2001:db8::/64", name="v6")
    ports = [api.port(dual) for _ in range(3)]
    narrow = api.network(name="narrow", project_id="p2")
    pools = api.subnet(narrow, "10.1.0.0/24", name="pools", allocation_pools=[
        {"start": "10.1.0.10", "end": "10.1.0.19"}, {"start": "10.1.0.30", "end": "10.1.0.34"}])
    api.port(narrow, fixed_ips=[{"ip_address": "10.1.0.12"}])
    api.port(narrow, fixed_ips=[{"ip_address": "10.1.0.100"}])  # a host address, no pool's
    empty = api.network(name="empty", project_id="p2")
    return {"dual": dual, "v4": v4, "v6": v6, "ports": ports, "narrow": narrow,
            "pools": pools, "empty": empty}


def test_counts_per_network_and_subnet(api: Api, world: dict[str, Any]) -> None:
    dual = availability(api, world["dual"]["id"])
    v6_pool = 2**64 - 2  # less the subnet-router anycast address and the gateway
    assert {k: v for k, v in dual.items() if k not in ("subnet_ip_availability",
                                                       "ip_availability_details")} == {
        "network_id": world["dual"]["id"], "network_name": "dual", "project_id": "p1",
        "tenant_id": "p1", "total_ips": 253 + v6_pool, "used_ips": 6}
    assert sorted(dual["subnet_ip_availability"], key=lambda s: s["subnet_name"]) == [
        {"subnet_id": world["v4"]["id"], "subnet_name": "v4", "cidr": "10.0.0.0/24",
         "ip_version": 4, "total_ips": 253, "used_ips": 3,
         "ip_availability_details": {"total_ips_in_subnet": 254,
                                     "total_ips_in_allocation_pool": 253,
                                     "used_ips_in_subnet": 3,
                                     "used_ips_in_allocation_pool": 3}},
        {"subnet_id": world["v6"]["id"], "subnet_name": "v6", "cidr": "2001:db8::/64",
         "ip_version": 6, "total_ips": v6_pool, "used_ips": 3,
         "ip_availability_details": {"total_ips_in_subnet": 2**64,
                                     "total_ips_in_allocation_pool": v6_pool,
                                     "used_ips_in_subnet": 3,
                                     "used_ips_in_allocation_pool": 3}}]
    narrow = availability(api, world["narrow"]["id"])
    assert (narrow["total_ips"], narrow["used_ips"]) == (15, 2)
    assert narrow["ip_availability_details"] == {
        "total_ips_in_subnet": 254, "total_ips_in_allocation_pool": 15,
        "used_ips_in_subnet": 2, "used_ips_in_allocation_pool": 1}
    empty = availability(api, world["empty"]["id"])
    assert (empty["subnet_ip_availability"], empty["total_ips"], empty["used_ips"]) == \
        ([], 0, 0)
    # Freed addresses are available again.
    api.delete("ports", world["ports"][0]["id"])
    assert availability(api, world["dual"]["id"])["used_ips"] == 4


def test_list_filters_and_fields(api: Api, world: dict[str, Any]) -> None:
    def names(**params: Any) -> list[str]:
        return sorted(a["network_name"] for a in availabilities(api, **params))

    assert names() == ["dual", "empty", "narrow"]
    assert names(network_id=world["narrow"]["id"]) == ["narrow"]
    assert names(network_name=["dual", "empty"]) == ["dual", "empty"]
    assert names(project_id="p2") == names(tenant_id="p2") == ["empty", "narrow"]
    # ip_version picks subnets: networks with one of that version, those subnets only.
    (v6,) = availabilities(api, ip_version=6)
    assert [s["cidr"] for s in v6["subnet_ip_availability"]] == ["2001:db8::/64"]
    assert v6["used_ips"] == 3
    assert availabilities(api, fields=["network_id", "used_ips"],
                          network_name="narrow") == [
        {"network_id": world["narrow"]["id"], "used_ips": 2}]
    assert_error(api.client.get(COLLECTION, params={"colour": "red"}), 400, "BadRequest",
                 "colour")
    assert_error(api.client.get(COLLECTION, params={"ip_version": "x"}), 400, "InvalidInput",
                 "ip_version")


def test_a_missing_network_is_404(api: Api) -> None:
    assert_error(api.client.get(f"{COLLECTION}/nope"), 404, "NetworkNotFound", "nope")
