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
    # Its device_owner changed by an update, it is still the floating IP's (a fuzzer's
    # find: the delete was a 500 on PostgreSQL's foreign key).
    api.update("ports", fip_port["id"], device_owner="")
    assert_error(api.delete("ports", fip_port["id"]), 409, "ServicePortInUse")
    assert api.show("floatingips", fip["id"])["floating_ip_address"] == "172.24.4.77"


def test_update_keeps_or_clears_the_association_as_neutron(
        api: Api, external: dict[str, Any], net: dict[str, Any],  # noqa: F811
        routed: dict[str, Any]) -> None:
    """Another attribute alone keeps the association; an empty body clears it (Neutron
    kept this from when the association was a floating IP's only writable attribute)."""
    vm = api.port(net, name="vm")
    fip = api.create("floatingips", floating_network_id=external["id"], port_id=vm["id"],
                     description="d1")
    described = api.update("floatingips", fip["id"], description="d2")
    assert (described["description"], described["port_id"]) == ("d2", vm["id"])
    assert described["port_details"]["name"] == "vm"
    blank = api.put("floatingips", fip["id"], {})
    assert blank.status_code == 200, blank.text
    cleared = blank.json()["floatingip"]
    assert (cleared["port_id"], cleared["router_id"], cleared["port_details"]) == (
        None, None, None)
    assert cleared["description"] == "d2" and cleared["status"] == "DOWN"
    # The port is free again: another floating IP may take it.
    other = api.create("floatingips", floating_network_id=external["id"], port_id=vm["id"])
    assert other["router_id"] == routed["id"]


def test_deleting_an_external_network_deletes_its_unused_floating_ips(
        api: Api, external: dict[str, Any], net: dict[str, Any],  # noqa: F811
        routed: dict[str, Any]) -> None:
    """As Neutron: a floating IP without a port does not hold its network; an associated
    one does (its port makes the network in use), and nothing is deleted then."""
    vm = api.port(net)
    used = api.create("floatingips", floating_network_id=external["id"], port_id=vm["id"])
    unused = api.create("floatingips", floating_network_id=external["id"])
    assert_error(api.delete("networks", external["id"]), 409, "NetworkInUse")
    assert api.show("floatingips", used["id"])["port_id"] == vm["id"]
    assert api.client.get(f"/v2.0/floatingips/{unused['id']}").status_code == 404
    assert api.delete("floatingips", used["id"]).status_code == 204
    interface(api, routed["id"], "remove_router_interface", subnet_id=net["subnets"][0])
    api.update("routers", routed["id"], external_gateway_info=None)
    spare = api.create("floatingips", floating_network_id=external["id"])
    assert api.delete("networks", external["id"]).status_code == 204
    assert api.client.get(f"/v2.0/floatingips/{spare['id']}").status_code == 404
    assert api.rows()["floatingips"] == 0
    assert api.list("ports", {"device_owner": "network:floatingip"}) == []


def test_floating_ip_through_a_router_interface(api: Api, net: dict[str, Any],
                                                v4: dict[str, Any]) -> None:
    """``router-interface-fip``: a router with an interface on the external network (no
    gateway) serves floating IPs; that interface stays while one uses it."""
    outside = api.network(name="outside", **{"router:external": True})
    outside_v4 = api.subnet(outside, "192.2.2.0/24")
    router = api.create("routers", name="r")
    add(api, router["id"], subnet_id=v4["id"])
    add(api, router["id"], subnet_id=outside_v4["id"])
    vm = api.port(net)
    fip = api.create("floatingips", floating_network_id=outside["id"])
    associated = api.update("floatingips", fip["id"], port_id=vm["id"])
    assert associated["router_id"] == router["id"]
    assert associated["revision_number"] > fip["revision_number"]
    before = api.rows()
    assert_error(interface(api, router["id"], "remove_router_interface",
                           subnet_id=outside_v4["id"]), 409,
                 "RouterInterfaceInUseAsGatewayByFloatingIP", "as a gateway")
    assert_error(interface(api, router["id"], "remove_router_interface",
                           subnet_id=v4["id"]), 409, "RouterInterfaceInUseByFloatingIP")
    assert api.rows() == before
    cleared = api.update("floatingips", fip["id"], port_id=None)
    assert (cleared["port_id"], cleared["router_id"]) == (None, None)
    for subnet_id in (outside_v4["id"], v4["id"]):
        response = interface(api, router["id"], "remove_router_interface", subnet_id=subnet_id)
        assert response.status_code == 200, response.text


#: Bodies Neutron refuses (neutron-lib's ``fip_dns_host_name`` and ``dns_domain_name``
#: validators; its DNS integration's "both or neither"), each with a fragment of the
#: message.  The name must be relative: its domain is ``dns_domain``.
BAD_DNS: list[tuple[dict[str, str], str]] = [
    ({"dns_name": "web"}, "dns_name cannot be specified without a dns_domain"),
    ({"dns_domain": "example.org."}, "dns_domain cannot be specified without a dns_name"),
    ({"dns_name": "web.", "dns_domain": "example.org."}, "should be a relative domain name"),
    ({"dns_name": "web", "dns_domain": "example.org"}, "is not a FQDN"),
    ({"dns_name": "-web", "dns_domain": "example.org."}, "must not start or end with a hyphen"),
    ({"dns_name": "we_b", "dns_domain": "example.org."}, "1-63 characters long"),
    ({"dns_name": "web", "dns_domain": "example.123."}, "must not be all numeric"),
    ({"dns_name": "a" * 63 + ("." + "a" * 63) * 3, "dns_domain": "example.org."},
     "Adding a domain name will cause it to exceed"),
    ({"dns_name": "web", "dns_domain": "a" * 63 + ("." + "a" * 63) * 3 + "."},
     "Adding a sub-domain will cause it to exceed"),
]


def test_dns_name_and_domain(api: Api, external: dict[str, Any],  # noqa: F811
                             net: dict[str, Any], routed: dict[str, Any]) -> None:
    """``dns-integration`` on floating IPs: given together at create, lower-cased, shown
    everywhere, never changed; not list filters (Neutron's are not ``is_filter``)."""
    named = api.create("floatingips", floating_network_id=external["id"],
                       dns_name="WWW", dns_domain="Example.ORG.")
    assert (named["dns_name"], named["dns_domain"]) == ("www", "example.org.")
    assert api.show("floatingips", named["id"]) == named
    assert api.show("floatingips", named["id"], fields=["dns_name", "dns_domain"]) == {
        "dns_name": "www", "dns_domain": "example.org."}
    plain = api.create("floatingips", floating_network_id=external["id"])
    assert (plain["dns_name"], plain["dns_domain"]) == ("", "")
    assert {f["id"]: (f["dns_name"], f["dns_domain"]) for f in api.list("floatingips")} == {
        named["id"]: ("www", "example.org."), plain["id"]: ("", "")}

    before = api.rows()
    for body, fragment in BAD_DNS:
        assert_error(api.post("floatingips", {"floating_network_id": external["id"], **body}),
                     400, "BadRequest" if "specified without" in fragment else "HTTPBadRequest",
                     fragment)
    for attrs in ({"dns_name": "other"}, {"dns_domain": "other.org."}):
        assert_error(api.put("floatingips", named["id"], attrs), 400, "HTTPBadRequest",
                     f"Cannot update read-only attribute {next(iter(attrs))}")
    for key in ("dns_name", "dns_domain"):
        response = api.client.get("/v2.0/floatingips", params={key: "www"})
        assert_error(response, 400, "BadRequest", key)
    assert api.rows() == before
    assert api.show("floatingips", named["id"]) == named

    # A port's own name is the port's: the floating IP keeps its own (none, or its
    # given one) whatever port it serves.  (Neutron would publish an unnamed floating IP
    # under the port's name in its network's domain, through an external DNS service.)
    vm = api.port(net, dns_name="vm1")
    for fip in (plain, named):
        associated = api.update("floatingips", fip["id"], port_id=vm["id"])
        assert (associated["dns_name"], associated["dns_domain"]) == (
            fip["dns_name"], fip["dns_domain"])
        api.update("floatingips", fip["id"], port_id=None)
