"""Routers and floating IPs under Neutron's secure-RBAC defaults, as the real Keystone's
users: DEMO (member) routes its networks through ADMIN's external network, but only an
admin sets ``enable_snat`` or picks addresses; ALT sees nothing of DEMO's; DEMO_READER
only looks."""
from __future__ import annotations

from tests.api.conftest import assert_error
from tests.api.test_rbac_policies import Callers, callers, created, network  # noqa: F401


def test_member_routes_through_an_external_network_within_its_rights(
        callers: Callers) -> None:  # noqa: F811
    admin, demo, alt, reader = callers.admin, callers.demo, callers.alt, callers.reader
    public = created(admin.post("/v2.0/networks", json={"network": {
        "name": "public", "router:external": True}}), "network")
    created(admin.post("/v2.0/subnets", json={"subnet": {
        "network_id": public["id"], "cidr": "172.24.4.0/24"}}), "subnet")
    assert_error(demo.post("/v2.0/routers", json={"router": {"name": "r",
                 "external_gateway_info": {"network_id": public["id"], "enable_snat": False}}}),
                 403, "PolicyNotAuthorized", "external_gateway_info:enable_snat")
    router = created(demo.post("/v2.0/routers", json={"router": {
        "name": "r", "external_gateway_info": {"network_id": public["id"]}}}), "router")
    assert router["project_id"] == callers.demo_project
    assert_error(demo.put(f"/v2.0/routers/{router['id']}", json={"router": {
        "external_gateway_info": {"network_id": public["id"], "external_fixed_ips": [
            {"ip_address": "172.24.4.99"}]}}}), 403, "PolicyNotAuthorized",
        "external_fixed_ips")
    private = demo.get(f"/v2.0/networks/{network(demo)['id']}").json()["network"]
    info = demo.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                    json={"subnet_id": private["subnets"][0]})
    assert info.status_code == 200, info.text

    for path in (f"/v2.0/routers/{router['id']}",):
        assert_error(alt.get(path), 404, "RouterNotFound")
    assert alt.get("/v2.0/routers").json()["routers"] == []
    assert_error(alt.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                         json={"subnet_id": private["subnets"][0]}), 404, "RouterNotFound")
    assert reader.get(f"/v2.0/routers/{router['id']}").status_code == 200
    assert_error(reader.put(f"/v2.0/routers/{router['id']}/remove_router_interface",
                            json={"subnet_id": private["subnets"][0]}), 403,
                 "PolicyNotAuthorized", "remove_router_interface")

    port = created(demo.post("/v2.0/ports", json={"port": {"network_id": private["id"]}}),
                   "port")
    assert_error(demo.post("/v2.0/floatingips", json={"floatingip": {
        "floating_network_id": public["id"], "floating_ip_address": "172.24.4.50"}}),
        403, "PolicyNotAuthorized", "floating_ip_address")
    fip = created(demo.post("/v2.0/floatingips", json={"floatingip": {
        "floating_network_id": public["id"], "port_id": port["id"]}}), "floatingip")
    assert fip["router_id"] == router["id"]
    assert_error(alt.get(f"/v2.0/floatingips/{fip['id']}"), 404, "FloatingIPNotFound")
    assert alt.get("/v2.0/floatingips").json()["floatingips"] == []
    assert_error(alt.delete(f"/v2.0/floatingips/{fip['id']}"), 404, "FloatingIPNotFound")
    # The gateway and floating IP ports belong to no project: DEMO does not see them.
    owners = {p["device_owner"] for p in demo.get("/v2.0/ports").json()["ports"]}
    assert owners == {"", "network:router_interface"}
