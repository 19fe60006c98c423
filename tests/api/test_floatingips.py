"""Floating IPs through the API: allocation on the external subnet, association through
the router that connects the port's subnet, and Neutron's errors (nothing half-written)."""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, assert_error
from tests.api.test_routers import add, external, interface  # noqa: F401 - a fixture


@pytest.fixture
def routed(api: Api, external: dict[str, Any], net: dict[str, Any],  # noqa: F811
           v4: dict[str, Any]) -> dict[str, Any]:
    """A router between ``net`` and ``external``."""
    router = api.create("routers", name="r", external_gateway_info={
        "network_id": external["id"]})
    add(api, router["id"], subnet_id=v4["id"])
    return router


def test_associate_move_disassociate(api: Api, external: dict[str, Any],  # noqa: F811
                                     net: dict[str, Any], routed: dict[str, Any]) -> None:
    vm = api.port(net, device_id="vm-1")
    fip = api.create("floatingips", floating_network_id=external["id"])
    assert fip["floating_ip_address"].startswith("172.24.4.")
    assert (fip["port_id"], fip["router_id"], fip["status"]) == (None, None, "DOWN")
    assert fip["port_details"] is None

    fip = api.update("floatingips", fip["id"], port_id=vm["id"])
    assert fip["router_id"] == routed["id"]
    assert fip["fixed_ip_address"] == vm["fixed_ips"][0]["ip_address"]
    assert fip["port_details"]["device_id"] == "vm-1"
    assert fip["port_details"]["mac_address"] == vm["mac_address"]

    other = api.create("floatingips", floating_network_id=external["id"])
    before = api.rows()
    assert_error(api.put("floatingips", other["id"], {"port_id": vm["id"]}), 409,
                 "FloatingIPPortAlreadyAssociated")
    assert_error(api.put("floatingips", other["id"], {"fixed_ip_address": "10.0.0.5"}), 400,
                 "BadRequest", "without a port_id")
    assert api.rows() == before
    # The interface the floating IP goes through stays while it does.
    assert_error(interface(api, routed["id"], "remove_router_interface",
                           subnet_id=net["subnets"][0]), 409,
                 "RouterInterfaceInUseByFloatingIP")
    assert_error(api.put("routers", routed["id"], {"external_gateway_info": None}), 409,
                 "RouterExternalGatewayInUseByFloatingIp")

    moved = api.update("floatingips", fip["id"], port_id=None)
    assert (moved["port_id"], moved["router_id"], moved["status"]) == (None, None, "DOWN")
    assert api.update("floatingips", other["id"], port_id=vm["id"])["router_id"] == routed["id"]
    # Deleting the port disassociates its floating IP (Neutron's disassociate_floatingips).
    assert api.delete("ports", vm["id"]).status_code == 204
    assert api.show("floatingips", other["id"])["port_id"] is None
    for item in (fip, other):
        assert api.delete("floatingips", item["id"]).status_code == 204
    assert api.list("ports", {"device_owner": "network:floatingip"}) == []


def test_floatingip_errors(api: Api, external: dict[str, Any],  # noqa: F811
                           net: dict[str, Any]) -> None:
    vm = api.port(net)
    before = api.rows()
    assert_error(api.post("floatingips", {"floating_network_id": net["id"]}), 400,
                 "BadRequest", "is not a valid external network")
    assert_error(api.post("floatingips", {"floating_network_id": external["id"],
                                          "port_id": vm["id"]}), 404,
                 "ExternalGatewayForFloatingIPNotFound", "is not reachable from subnet")
    assert_error(api.post("floatingips", {"floating_network_id": "missing"}), 404,
                 "NetworkNotFound")
    assert api.rows() == before
    fip = api.create("floatingips", floating_network_id=external["id"],
                     floating_ip_address="172.24.4.77")
    assert fip["floating_ip_address"] == "172.24.4.77"
    assert_error(api.post("floatingips", {"floating_network_id": external["id"],
                                          "floating_ip_address": "172.24.4.77"}), 409,
                 "IpAddressAlreadyAllocated")
    [fip_port] = api.list("ports", {"device_owner": "network:floatingip"})
    assert fip_port["port_security_enabled"] is False and fip_port["security_groups"] == []
    assert_error(api.delete("ports", fip_port["id"]), 409, "ServicePortInUse")
