"""Neutron's default rules through the API, as the demo member (project demo) and the
admin (project admin) of the real Keystone: 404 for what another project owns, 403
for forbidden writes on what is visible, restricted attributes hidden and unfilterable."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.sandbox.keystone import ADMIN, DEMO, Keystone, User
from tests.api.conftest import assert_error
from tests.api.test_auth import authtoken, token


class As:
    """The API as one Keystone user."""

    def __init__(self, client: TestClient, keystone: Keystone, user: User):
        self.client, self.headers = client, {"X-Auth-Token": token(keystone, user)}

    def __getattr__(self, method: str) -> Callable[..., Any]:
        call = getattr(self.client, method)
        return lambda path, **kw: call(path, headers=self.headers, **kw)


@pytest.fixture
def users(make_plugin: Callable[..., Any], keystone: Keystone) -> tuple[As, As]:
    client = TestClient(create_app(make_plugin(auth_strategy="keystone",
                                               keystone_authtoken=authtoken(keystone))))
    return As(client, keystone, ADMIN), As(client, keystone, DEMO)


def test_another_projects_network_is_not_found_and_absent_from_lists(users: tuple[As, As]) -> None:
    admin, demo = users
    private = admin.post("/v2.0/networks", json={"network": {"name": "private"}}).json()["network"]
    admin.post("/v2.0/subnets", json={"subnet": {"network_id": private["id"],
                                                 "cidr": "10.1.0.0/24"}})
    port = admin.post("/v2.0/ports", json={"port": {"network_id": private["id"]}}).json()["port"]
    assert_error(demo.get(f"/v2.0/networks/{private['id']}"), 404, "NetworkNotFound")
    assert_error(demo.get(f"/v2.0/ports/{port['id']}"), 404, "PortNotFound")
    assert_error(demo.put(f"/v2.0/networks/{private['id']}", json={"network": {"name": "x"}}),
                 404, "NetworkNotFound")
    assert_error(demo.delete(f"/v2.0/ports/{port['id']}"), 404, "PortNotFound")
    for collection in ("networks", "subnets", "ports"):
        for params in ({}, {"name": "private"}, {"id": private["id"]}, {"fields": "id"}):
            assert demo.get(f"/v2.0/{collection}", params=params).json()[collection] == []
    assert_error(demo.post("/v2.0/ports", json={"port": {"network_id": private["id"]}}),
                 404, "NetworkNotFound")
    assert admin.get(f"/v2.0/networks/{private['id']}").status_code == 200


def test_shared_network_is_visible_but_not_writable(users: tuple[As, As]) -> None:
    admin, demo = users
    shared = admin.post("/v2.0/networks", json={"network": {"name": "pub", "shared": True}}
                        ).json()["network"]
    admin.post("/v2.0/subnets", json={"subnet": {"network_id": shared["id"],
                                                 "cidr": "10.2.0.0/24"}})
    seen = demo.get(f"/v2.0/networks/{shared['id']}").json()["network"]
    assert seen["shared"] is True and "provider:network_type" not in seen
    assert [n["id"] for n in demo.get("/v2.0/networks").json()["networks"]] == [shared["id"]]
    assert len(demo.get("/v2.0/subnets").json()["subnets"]) == 1
    assert_error(demo.put(f"/v2.0/networks/{shared['id']}", json={"network": {"name": "x"}}),
                 403, "PolicyNotAuthorized", "update_network")
    assert_error(demo.delete(f"/v2.0/networks/{shared['id']}"), 403, "PolicyNotAuthorized")
    assert_error(demo.post("/v2.0/subnets", json={"subnet": {
        "network_id": shared["id"], "cidr": "10.3.0.0/24"}}), 403, "PolicyNotAuthorized",
        "create_subnet")
    mine = demo.post("/v2.0/ports", json={"port": {"network_id": shared["id"]}})
    assert mine.status_code == 201, mine.text
    assert_error(demo.post("/v2.0/ports", json={"port": {
        "network_id": shared["id"], "fixed_ips": [{"ip_address": "10.2.0.50"}]}}),
        403, "PolicyNotAuthorized", "create_port:fixed_ips:ip_address")


@pytest.mark.parametrize(("collection", "attrs", "status", "error", "fragment"), [
    ("networks", {"shared": True}, 403, "PolicyNotAuthorized", "create_network:shared"),
    ("networks", {"provider:network_type": "local"}, 403, "PolicyNotAuthorized",
     "create_network:provider:network_type"),
    # neutron-lib's _validate_privileges, before any rule.
    ("networks", {"project_id": "someone-else"}, 400, "HTTPBadRequest",
     "Specifying 'project_id' other than the authenticated project"),
    ("ports", {"network_id": "any", "tenant_id": "someone-else"}, 400, "HTTPBadRequest",
     "not allowed for the current user"),
])
def test_member_may_not_create_restricted(users: tuple[As, As], collection: str,
                                          attrs: dict[str, Any], status: int, error: str,
                                          fragment: str) -> None:
    _, demo = users
    assert_error(demo.post(f"/v2.0/{collection}", json={collection[:-1]: attrs}),
                 status, error, fragment)
    assert demo.get(f"/v2.0/{collection}").json()[collection] == []


def test_binding_attributes_are_for_admins_and_services(users: tuple[As, As]) -> None:
    admin, demo = users
    net = demo.post("/v2.0/networks", json={"network": {"name": "own"}}).json()["network"]
    assert "provider:segmentation_id" not in net
    assert_error(demo.post("/v2.0/ports", json={"port": {"network_id": net["id"],
                                                         "binding:host_id": "hv1"}}),
                 403, "PolicyNotAuthorized", "create_port:binding:host_id")
    port = demo.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}).json()["port"]
    assert "binding:vnic_type" in port
    assert not {"binding:host_id", "binding:vif_type", "binding:vif_details",
                "binding:profile"} & set(port)
    listed = demo.get("/v2.0/ports", params={"fields": ["id", "binding:host_id"]}).json()
    assert listed["ports"] == [{"id": port["id"]}]
    for host in ("hv1", ""):  # a filter on a hidden attribute is ignored: no answer tells
        assert [p["id"] for p in demo.get("/v2.0/ports", params={
            "binding:host_id": host}).json()["ports"]] == [port["id"]]
    assert_error(demo.get("/v2.0/ports", params={"sort_key": "binding:host_id"}), 400,
                 "BadRequest", "'binding:host_id' is not a valid sort key")
    assert_error(admin.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "binding:profile": {"a": 1}}}), 403, "PolicyNotAuthorized",
        "binding:profile")
    seen = admin.get(f"/v2.0/ports/{port['id']}").json()["port"]
    assert seen["binding:host_id"] == "" and seen["project_id"] == net["project_id"]
    assert demo.get("/v2.0/agents").json() == {"agents": []}


def test_a_member_s_provider_filters_are_ignored_not_applied(users: tuple[As, As]) -> None:
    """Neutron applies them (neutron-tempest-plugin's
    ``test_list_network_filter_provider_attributes`` lists a member's VLAN networks that
    way); Neutrino ignores a filter on what the caller may not read, so the answer is the
    same whatever value is asked for, and the count and limit still hold."""
    admin, demo = users
    own = demo.post("/v2.0/networks", json={"network": {"name": "own"}}).json()["network"]
    vlan = admin.post("/v2.0/networks", json={"network": {
        "name": "vlan", "project_id": own["project_id"], "provider:network_type": "vlan",
        "provider:physical_network": "physnet1"}}).json()["network"]
    both = sorted([own["id"], vlan["id"]])
    for params in ({"provider:network_type": "vlan"}, {"provider:network_type": "geneve"},
                   {"provider:physical_network": "nowhere"},
                   {"provider:segmentation_id": [str(vlan["provider:segmentation_id"]), "7"]}):
        listed = demo.get("/v2.0/networks", params=params).json()["networks"]
        assert sorted(n["id"] for n in listed) == both, params
        assert not any("provider:network_type" in n for n in listed)
        assert len(demo.get("/v2.0/networks", params={**params, "limit": 1}
                            ).json()["networks"]) == 1
    assert [n["id"] for n in admin.get("/v2.0/networks", params={
        "provider:network_type": "vlan"}).json()["networks"]] == [vlan["id"]]


def test_tags_follow_the_resource_s_own_rules(users: tuple[As, As]) -> None:
    """Reading tags needs get_<resource> (404 across projects), changing them
    update_<resource> (403 on a shared network the caller sees but does not own)."""
    admin, demo = users
    private = admin.post("/v2.0/networks", json={"network": {"name": "p", "tags": ["a"]}}
                         ).json()["network"]
    shared = admin.post("/v2.0/networks", json={"network": {"name": "s", "shared": True,
                                                            "tags": ["b"]}}).json()["network"]
    for method, suffix in (("get", "tags"), ("get", "tags/a"), ("put", "tags/x"),
                           ("delete", "tags/a"), ("delete", "tags")):
        assert_error(getattr(demo, method)(f"/v2.0/networks/{private['id']}/{suffix}"),
                     404, "NetworkNotFound")
    assert demo.get(f"/v2.0/networks/{shared['id']}/tags").json() == {"tags": ["b"]}
    assert demo.get(f"/v2.0/networks/{shared['id']}/tags/b").status_code == 204
    assert_error(demo.put(f"/v2.0/networks/{shared['id']}/tags/x"), 403,
                 "PolicyNotAuthorized", "update_network")
    assert_error(demo.put(f"/v2.0/networks/{shared['id']}/tags", json={"tags": []}), 403,
                 "PolicyNotAuthorized", "update_network")
    assert admin.get(f"/v2.0/networks/{private['id']}/tags").json() == {"tags": ["a"]}
    assert admin.get(f"/v2.0/networks/{shared['id']}/tags").json() == {"tags": ["b"]}
    mine = demo.post("/v2.0/networks", json={"network": {"name": "m"}}).json()["network"]
    assert demo.put(f"/v2.0/networks/{mine['id']}/tags/x").status_code == 201
    assert demo.get(f"/v2.0/networks/{mine['id']}/tags").json() == {"tags": ["x"]}


def test_network_ip_availability_is_for_admins_only(users: tuple[As, As]) -> None:
    """get_network_ip_availability is admin only: a member lists none, its own network's
    included, and gets 404 for it, as for a network it may not see."""
    admin, demo = users
    mine = demo.post("/v2.0/networks", json={"network": {"name": "mine"}}).json()["network"]
    demo.post("/v2.0/subnets", json={"subnet": {"network_id": mine["id"],
                                                "cidr": "10.5.0.0/24"}})
    demo.post("/v2.0/ports", json={"port": {"network_id": mine["id"]}})
    assert demo.get("/v2.0/network-ip-availabilities").json() == {
        "network_ip_availabilities": []}
    assert_error(demo.get(f"/v2.0/network-ip-availabilities/{mine['id']}"), 404,
                 "NetworkNotFound")
    listed = admin.get("/v2.0/network-ip-availabilities").json()["network_ip_availabilities"]
    assert [(a["network_id"], a["used_ips"]) for a in listed] == [(mine["id"], 1)]
    shown = admin.get(f"/v2.0/network-ip-availabilities/{mine['id']}").json()
    assert shown["network_ip_availability"]["total_ips"] == 253
