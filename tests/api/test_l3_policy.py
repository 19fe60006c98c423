"""Routers and floating IPs under Neutron's secure-RBAC defaults, as the real Keystone's
users: DEMO (member) routes its networks through ADMIN's external network, but only an
admin sets ``enable_snat`` or picks addresses; ALT sees nothing of DEMO's; DEMO_READER
only looks."""
from __future__ import annotations

from tests.api.conftest import assert_error
from tests.api.test_rbac_policies import (  # noqa: F401
    Callers,
    callers,
    created,
    network,
    policy_body,
)


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
    # Their own router and floating IP are theirs to tag, and only to read for READER.
    for path in (f"/v2.0/routers/{router['id']}", f"/v2.0/floatingips/{fip['id']}"):
        assert demo.put(f"{path}/tags/blue").status_code == 201
        assert demo.get(f"{path}/tags").json() == {"tags": ["blue"]}
        assert_error(reader.put(f"{path}/tags/red"), 403, "PolicyNotAuthorized", "tags")
        assert alt.put(f"{path}/tags/red").status_code == 404


def test_a_network_external_to_one_project_takes_its_gateway_and_floating_ips(
        callers: Callers) -> None:  # noqa: F811
    """An ``access_as_external`` policy for DEMO's project alone makes ADMIN's network
    external (``router:external``) to DEMO: DEMO routes through it and takes floating IPs
    on it; ALT, with no policy, does not see it; without the policy it is internal again
    (and the policy cannot go while DEMO's router uses it)."""
    admin, demo, alt = callers.admin, callers.demo, callers.alt
    ext = created(admin.post("/v2.0/networks", json={"network": {"name": "ext"}}), "network")
    created(admin.post("/v2.0/subnets", json={"subnet": {
        "network_id": ext["id"], "cidr": "172.25.0.0/24"}}), "subnet")
    policy = created(admin.post("/v2.0/rbac-policies", json=policy_body(
        ext, callers.demo_project, "access_as_external")), "rbac_policy")
    assert demo.get(f"/v2.0/networks/{ext['id']}").json()["network"]["router:external"] is True
    router = created(demo.post("/v2.0/routers", json={"router": {
        "name": "r", "external_gateway_info": {"network_id": ext["id"]}}}), "router")
    assert router["external_gateway_info"]["network_id"] == ext["id"]
    private = demo.get(f"/v2.0/networks/{network(demo)['id']}").json()["network"]
    assert demo.put(f"/v2.0/routers/{router['id']}/add_router_interface",
                    json={"subnet_id": private["subnets"][0]}).status_code == 200
    port = created(demo.post("/v2.0/ports", json={"port": {"network_id": private["id"]}}),
                   "port")
    fip = created(demo.post("/v2.0/floatingips", json={"floatingip": {
        "floating_network_id": ext["id"], "port_id": port["id"]}}), "floatingip")
    assert fip["floating_ip_address"].startswith("172.25.0.")
    assert fip["router_id"] == router["id"] and fip["project_id"] == callers.demo_project

    assert_error(alt.get(f"/v2.0/networks/{ext['id']}"), 404, "NetworkNotFound")
    assert_error(alt.post("/v2.0/routers", json={"router": {
        "name": "r", "external_gateway_info": {"network_id": ext["id"]}}}), 404,
        "NetworkNotFound")
    assert_error(alt.post("/v2.0/floatingips", json={"floatingip": {
        "floating_network_id": ext["id"]}}), 404, "NetworkNotFound")
    assert_error(admin.delete(f"/v2.0/rbac-policies/{policy['id']}"), 409, "RbacPolicyInUse")
    assert_error(admin.put(f"/v2.0/networks/{ext['id']}", json={"network": {
        "router:external": False}}), 409, "ExternalNetworkInUse")
    assert demo.delete(f"/v2.0/floatingips/{fip['id']}").status_code == 204
    assert demo.put(f"/v2.0/routers/{router['id']}", json={"router": {
        "external_gateway_info": None}}).status_code == 200
    assert admin.delete(f"/v2.0/rbac-policies/{policy['id']}").status_code == 204
    assert_error(demo.get(f"/v2.0/networks/{ext['id']}"), 404, "NetworkNotFound")


def test_subnets_of_external_networks_say_so_and_are_seen(
        callers: Callers) -> None:  # noqa: F811
    """``subnet-external-network``: a subnet shows its network's ``router:external``, is
    filterable on it, and the subnets of an external network are seen by every project
    (their addresses are what floating IPs and gateways get); other subnets stay hidden."""
    admin, demo, alt = callers.admin, callers.demo, callers.alt
    public = created(admin.post("/v2.0/networks", json={"network": {
        "name": "public", "router:external": True}}), "network")
    public_v4 = created(admin.post("/v2.0/subnets", json={"subnet": {
        "network_id": public["id"], "cidr": "172.24.4.0/24"}}), "subnet")
    assert public_v4["router:external"] is True
    private = demo.get(f"/v2.0/networks/{network(demo)['id']}").json()["network"]
    for caller in (demo, alt):
        listed = caller.get("/v2.0/subnets", params={"network_id": public["id"]}).json()
        assert [s["id"] for s in listed["subnets"]] == [public_v4["id"]]
        shown = caller.get(f"/v2.0/subnets/{public_v4['id']}").json()["subnet"]
        assert shown["router:external"] is True
    external = demo.get("/v2.0/subnets", params={"router:external": "true"}).json()
    assert [s["id"] for s in external["subnets"]] == [public_v4["id"]]
    internal = demo.get("/v2.0/subnets", params={"router:external": "false"}).json()
    assert [s["id"] for s in internal["subnets"]] == private["subnets"]
    assert [s["router:external"] for s in internal["subnets"]] == [False]
    assert alt.get("/v2.0/subnets", params={"router:external": "false"}).json() == {
        "subnets": []}
    assert_error(alt.get(f"/v2.0/subnets/{private['subnets'][0]}"), 404, "SubnetNotFound")
