"""Routers, their interfaces, gateways and extra routes through the API, and Neutron's
errors for each misuse, with nothing written by a refused request."""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, assert_error


@pytest.fixture
def external(api: Api) -> dict[str, Any]:
    """An external network with an IPv4 subnet (gateway 172.24.4.1)."""
    network = api.network(name="public", **{"router:external": True})
    api.subnet(network, "172.24.4.0/24", name="public-v4")
    return api.show("networks", network["id"])


def interface(api: Api, router_id: str, action: str, **info: str) -> Any:
    return api.client.put(f"/v2.0/routers/{router_id}/{action}", json=info)


def add(api: Api, router_id: str, **info: str) -> dict[str, Any]:
    response = interface(api, router_id, "add_router_interface", **info)
    assert response.status_code == 200, response.text
    return response.json()


def test_router_with_gateway_and_interface(api: Api, external: dict[str, Any],
                                           net: dict[str, Any], v4: dict[str, Any]) -> None:
    router = api.create("routers", name="r", external_gateway_info={
        "network_id": external["id"]})
    gateway = router["external_gateway_info"]
    assert gateway["network_id"] == external["id"] and gateway["enable_snat"] is True
    [gw_ip] = gateway["external_fixed_ips"]
    assert gw_ip["ip_address"].startswith("172.24.4.")
    assert router["routes"] == [] and router["status"] == "ACTIVE"

    info = add(api, router["id"], subnet_id=v4["id"])
    assert info["subnet_id"] == v4["id"] and info["subnet_ids"] == [v4["id"]]
    assert info["network_id"] == net["id"] and info["id"] == router["id"]
    port = api.show("ports", info["port_id"])
    assert port["device_owner"] == "network:router_interface"
    assert port["device_id"] == router["id"]
    assert port["fixed_ips"] == [{"subnet_id": v4["id"], "ip_address": "10.0.0.1"}]
    # The gateway port belongs to no project; an interface to the router's.
    gw_port = api.list("ports", {"device_owner": "network:router_gateway"})[0]
    assert gw_port["project_id"] == "" and gw_port["device_id"] == router["id"]
    # Router ports are trusted, as in Neutron: no port security, no security groups.
    for owned in (port, gw_port):
        assert owned["port_security_enabled"] is False and owned["security_groups"] == []

    assert_error(api.delete("routers", router["id"]), 409, "RouterInUse", info["port_id"])
    assert_error(api.delete("ports", info["port_id"]), 409, "ServicePortInUse",
                 "network:router_interface")
    assert_error(api.delete("subnets", v4["id"]), 409, "SubnetInUse")
    assert_error(api.delete("networks", external["id"]), 409, "NetworkInUse")

    removed = interface(api, router["id"], "remove_router_interface", subnet_id=v4["id"])
    assert removed.status_code == 200 and removed.json()["port_id"] == info["port_id"]
    assert api.client.get(f"/v2.0/ports/{info['port_id']}").status_code == 404
    assert api.delete("routers", router["id"]).status_code == 204
    assert api.rows()["ports"] == 0 and api.rows()["routers"] == 0


def test_interface_errors_write_nothing(api: Api, external: dict[str, Any],
                                        net: dict[str, Any], v4: dict[str, Any]) -> None:
    router = api.create("routers", name="r")
    add(api, router["id"], subnet_id=v4["id"])
    before = api.rows()
    assert_error(interface(api, router["id"], "add_router_interface", subnet_id=v4["id"]),
                 400, "BadRequest", f"Router already has a port on subnet {v4['id']}")
    other = api.network(name="other")
    overlapping = api.subnet(other, "10.0.0.0/16")
    assert_error(interface(api, router["id"], "add_router_interface",
                           subnet_id=overlapping["id"]), 400, "BadRequest", "overlaps")
    assert_error(interface(api, router["id"], "add_router_interface"), 400, "BadRequest",
                 "Either subnet_id or port_id must be specified")
    assert_error(interface(api, router["id"], "add_router_interface", subnet_id=v4["id"],
                           port_id=v4["id"]), 400, "BadRequest", "Cannot specify both")
    used = api.port(net, device_id="vm-1")
    assert_error(interface(api, router["id"], "add_router_interface", port_id=used["id"]),
                 409, "PortInUse")
    no_gateway = api.subnet(api.network(name="n3"), "10.3.0.0/24", gateway_ip=None)
    assert_error(interface(api, router["id"], "add_router_interface",
                           subnet_id=no_gateway["id"]), 400, "BadRequest", "gateway IP")
    assert_error(interface(api, router["id"], "remove_router_interface",
                           port_id=used["id"]), 404, "RouterInterfaceNotFound")
    assert_error(interface(api, "no-such-router", "add_router_interface", subnet_id=v4["id"]),
                 404, "RouterNotFound")
    after = api.rows()
    assert {k: after[k] - before[k] for k in after} == {
        "networks": 2, "subnets": 2, "ports": 1, "ip_allocations": 1, "segments": 2,
        "routers": 0, "floatingips": 0}


def test_interface_by_port_and_gateway_rules(api: Api, external: dict[str, Any],
                                             net: dict[str, Any]) -> None:
    port = api.port(net)
    assert len(port["security_groups"]) == 1  # the project's default group
    router = api.create("routers", name="r")
    info = add(api, router["id"], port_id=port["id"])
    assert info["port_id"] == port["id"]
    taken = api.show("ports", port["id"])
    assert taken["device_owner"] == "network:router_interface"
    assert taken["security_groups"] == [], "a router's interface leaves its groups"
    assert_error(api.put("routers", router["id"], {"external_gateway_info": {
        "network_id": net["id"]}}), 400, "BadRequest", "is not an external network")
    updated = api.update("routers", router["id"], external_gateway_info={
        "network_id": external["id"], "enable_snat": False})
    assert updated["external_gateway_info"]["enable_snat"] is False
    assert updated["revision_number"] > router["revision_number"]
    cleared = api.update("routers", router["id"], external_gateway_info=None)
    assert cleared["external_gateway_info"] is None
    assert api.list("ports", {"device_owner": "network:router_gateway"}) == []


def test_extra_routes(api: Api, net: dict[str, Any], v4: dict[str, Any]) -> None:
    router = api.create("routers", name="r")
    add(api, router["id"], subnet_id=v4["id"])
    route = {"destination": "192.168.7.0/24", "nexthop": "10.0.0.9"}
    response = api.client.put(f"/v2.0/routers/{router['id']}/add_extraroutes",
                              json={"router": {"routes": [route, route]}})
    assert response.status_code == 200, response.text
    assert response.json()["router"]["routes"] == [route]
    bad = {"destination": "192.168.8.0/24", "nexthop": "10.9.0.1"}
    assert_error(api.client.put(f"/v2.0/routers/{router['id']}/add_extraroutes",
                                json={"router": {"routes": [bad]}}),
                 400, "InvalidInput", "nexthop is not connected")
    assert_error(api.put("routers", router["id"], {"routes": [bad]}), 400, "InvalidInput")
    response = api.client.put(f"/v2.0/routers/{router['id']}/remove_extraroutes",
                              json={"router": {"routes": [route]}})
    assert response.status_code == 200 and response.json()["router"]["routes"] == []
    assert api.update("routers", router["id"], routes=[route])["routes"] == [route]
    # null clears them, as neutron-lib's convert_none_to_empty_list (a fuzzer found a 500).
    assert api.update("routers", router["id"], routes=None)["routes"] == []


def test_an_empty_gateway_is_no_gateway(api: Api, external: dict[str, Any]) -> None:
    """``{}`` means none, as neutron-lib's ``dict_or_nodata`` (tempest sends it)."""
    router = api.create("routers", name="r", external_gateway_info={})
    assert router["external_gateway_info"] is None
    api.update("routers", router["id"], external_gateway_info={"network_id": external["id"]})
    cleared = api.update("routers", router["id"], external_gateway_info={})
    assert cleared["external_gateway_info"] is None
    assert api.list("ports", {"device_owner": "network:router_gateway"}) == []


def test_interface_ids_must_be_uuids(api: Api) -> None:
    """As Neutron's ``_validate_interface_info``: 400, not a 404 for a missing port."""
    router = api.create("routers", name="r")
    for action in ("add_router_interface", "remove_router_interface"):
        for key in ("port_id", "subnet_id"):
            assert_error(interface(api, router["id"], action, **{key: "tempest-port-1"}),
                         400, "HTTPBadRequest", key)


def test_a_router_port_holds_its_subnet_gateway_ip(api: Api) -> None:
    """The gateway IP moves or goes only while no router port has it (``GatewayIpInUse``);
    before the router comes, it may move."""
    v4 = api.subnet(api.network(name="n"), "10.0.0.0/24", allocation_pools=[
        {"start": "10.0.0.100", "end": "10.0.0.150"}])
    moved = api.update("subnets", v4["id"], gateway_ip="10.0.0.2")
    assert moved["gateway_ip"] == "10.0.0.2"
    router = api.create("routers", name="r")
    info = add(api, router["id"], subnet_id=v4["id"])
    assert api.show("ports", info["port_id"])["fixed_ips"][0]["ip_address"] == "10.0.0.2"
    for gateway in ("10.0.0.3", None):
        assert_error(api.put("subnets", v4["id"], {"gateway_ip": gateway}), 409,
                     "GatewayIpInUse", info["port_id"])
    assert api.show("subnets", v4["id"])["gateway_ip"] == "10.0.0.2"
    assert api.update("subnets", v4["id"], name="same gateway")["gateway_ip"] == "10.0.0.2"
    interface(api, router["id"], "remove_router_interface", subnet_id=v4["id"])
    assert api.update("subnets", v4["id"], gateway_ip=None)["gateway_ip"] is None
