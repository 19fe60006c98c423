"""``rbac-policies``, shared and external networks through the API, as the real
Keystone's users: DEMO (member of demo) shares with ALT (member of alt), DEMO_READER
(reader of demo) only looks, ADMIN may do what Neutron lets admins do."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from keystoneauth1 import session
from keystoneauth1.identity import v3

from neutrino.api.app import create_app
from neutrino.sandbox.keystone import ADMIN, ALT, DEMO, DEMO_READER, Keystone, User
from tests.api.conftest import assert_error
from tests.api.test_auth import authtoken
from tests.api.test_policy import As

POLICY_KEYS = {"id", "project_id", "tenant_id", "object_type", "object_id", "action",
               "target_tenant"}
_projects: dict[tuple[str, str], str] = {}


def project_of(keystone: Keystone, user: User) -> str:
    key = (keystone.auth_url, user.name)
    if key not in _projects:
        _projects[key] = session.Session(auth=v3.Password(**keystone.auth(user))).get_project_id()
    return _projects[key]


class Callers:
    def __init__(self, client: TestClient, keystone: Keystone):
        self.admin, self.demo, self.reader, self.alt = (
            As(client, keystone, user) for user in (ADMIN, DEMO, DEMO_READER, ALT))
        self.alt_project = project_of(keystone, ALT)
        self.demo_project = project_of(keystone, DEMO)
        self.admin_project = project_of(keystone, ADMIN)


@pytest.fixture
def callers(make_plugin: Callable[..., Any], keystone: Keystone) -> Callers:
    client = TestClient(create_app(make_plugin(auth_strategy="keystone",
                                               keystone_authtoken=authtoken(keystone))))
    return Callers(client, keystone)


def created(response: Any, key: str) -> dict[str, Any]:
    assert response.status_code == 201, response.text
    return response.json()[key]


def network(caller: As, **attrs: Any) -> dict[str, Any]:
    net = created(caller.post("/v2.0/networks", json={"network": {"name": "n", **attrs}}),
                  "network")
    created(caller.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"],
                                                          "cidr": "10.9.0.0/24"}}), "subnet")
    return net


def policy_body(net: dict[str, Any], target: str, action: str = "access_as_shared",
                **attrs: Any) -> dict[str, Any]:
    return {"rbac_policy": {"object_type": "network", "object_id": net["id"], "action": action,
                            "target_tenant": target, **attrs}}


def ids(caller: As, collection: str, **params: Any) -> list[str]:
    response = caller.get(f"/v2.0/{collection}", params=params)
    assert response.status_code == 200, response.text
    return [item["id"] for item in response.json()[collection.replace("-", "_")]]


def test_sharing_with_one_project_lets_it_see_and_use_the_network_until_revoked(
        callers: Callers) -> None:
    demo, alt = callers.demo, callers.alt
    net = network(demo)
    assert_error(alt.get(f"/v2.0/networks/{net['id']}"), 404, "NetworkNotFound")
    policy = created(demo.post("/v2.0/rbac-policies", json=policy_body(net, callers.alt_project)),
                     "rbac_policy")
    assert set(policy) == POLICY_KEYS
    assert (policy["project_id"], policy["object_id"], policy["target_tenant"]) == (
        callers.demo_project, net["id"], callers.alt_project)
    assert demo.get(f"/v2.0/rbac-policies/{policy['id']}").json() == {"rbac_policy": policy}

    seen = alt.get(f"/v2.0/networks/{net['id']}").json()["network"]
    assert seen["shared"] is True  # shared with ALT's project, as Neutron says it to ALT
    assert demo.get(f"/v2.0/networks/{net['id']}").json()["network"]["shared"] is False
    assert ids(alt, "networks") == [net["id"]] and ids(alt, "networks", shared=True) == [net["id"]]
    assert ids(alt, "subnets") == seen["subnets"]
    port = created(alt.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), "port")
    assert port["project_id"] == callers.alt_project
    assert ids(demo, "ports") == [port["id"]]  # the network's owner sees ports on it

    assert_error(demo.delete(f"/v2.0/rbac-policies/{policy['id']}"), 409, "RbacPolicyInUse",
                 f"RBAC policy on object {net['id']} cannot be removed")
    assert_error(demo.put(f"/v2.0/rbac-policies/{policy['id']}", json={
        "rbac_policy": {"target_tenant": callers.demo_project}}), 409, "RbacPolicyInUse")
    assert alt.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    assert demo.delete(f"/v2.0/rbac-policies/{policy['id']}").status_code == 204

    assert_error(alt.get(f"/v2.0/networks/{net['id']}"), 404, "NetworkNotFound")
    assert_error(alt.get(f"/v2.0/subnets/{seen['subnets'][0]}"), 404, "SubnetNotFound")
    for collection in ("networks", "subnets", "ports", "rbac-policies"):
        assert ids(alt, collection) == []
    assert_error(alt.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 404,
                 "NetworkNotFound")
    assert_error(demo.get(f"/v2.0/rbac-policies/{policy['id']}"), 404, "RbacPolicyNotFound")


def test_policies_are_their_project_s_readers_see_them_and_only_members_change_them(
        callers: Callers) -> None:
    demo, reader, alt = callers.demo, callers.reader, callers.alt
    net = network(demo)
    policy = created(demo.post("/v2.0/rbac-policies", json=policy_body(net, callers.alt_project)),
                     "rbac_policy")
    path = f"/v2.0/rbac-policies/{policy['id']}"
    assert reader.get(path).json() == {"rbac_policy": policy}
    assert_error(reader.post("/v2.0/rbac-policies", json=policy_body(net, "*")), 403,
                 "PolicyNotAuthorized", "create_rbac_policy")
    assert_error(reader.put(path, json={"rbac_policy": {"target_tenant": "x"}}), 403,
                 "PolicyNotAuthorized", "update_rbac_policy")
    assert_error(reader.delete(path), 403, "PolicyNotAuthorized", "delete_rbac_policy")
    assert_error(reader.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), 403,
                 "PolicyNotAuthorized", "create_port")
    # The policy is DEMO's: ALT, whom it lets in, does not see it, in any way.
    for call in (alt.get(path), alt.put(path, json={"rbac_policy": {"target_tenant": "x"}}),
                 alt.delete(path)):
        assert_error(call, 404, "RbacPolicyNotFound", f"with ID {policy['id']} not found")
    for params in ({}, {"id": policy["id"]}, {"object_id": net["id"]},
                   {"target_tenant": callers.alt_project}, {"fields": "id"}):
        assert ids(alt, "rbac-policies", **params) == []
    # ALT may not share a network it was given.
    assert_error(alt.post("/v2.0/rbac-policies", json=policy_body(net, callers.alt_project)),
                 400, "InvalidInput", "Only admins can manipulate policies on networks")
    assert_error(demo.post("/v2.0/rbac-policies", json=policy_body(
        {"id": "11111111-2222-3333-4444-555555555555"}, callers.alt_project)), 400,
        "InvalidInput", "Network 11111111-2222-3333-4444-555555555555 could not be found")
    listed = demo.get("/v2.0/rbac-policies", params={"fields": ["id", "action"]}).json()
    assert listed == {"rbac_policies": [{"id": policy["id"], "action": "access_as_shared"}]}
    assert ids(demo, "rbac-policies", target_tenant=callers.alt_project) == [policy["id"]]
    assert ids(demo, "rbac-policies", action="access_as_external") == []


def test_only_an_admin_shares_with_everyone(callers: Callers) -> None:
    admin, demo, alt = callers.admin, callers.demo, callers.alt
    net = network(demo)
    assert_error(demo.post("/v2.0/rbac-policies", json=policy_body(net, "*")), 403,
                 "PolicyNotAuthorized", "create_rbac_policy:target_tenant")
    assert_error(demo.put(f"/v2.0/networks/{net['id']}", json={"network": {"shared": True}}),
                 403, "PolicyNotAuthorized", "update_network:shared")
    policy = created(demo.post("/v2.0/rbac-policies", json=policy_body(net, callers.alt_project)),
                     "rbac_policy")
    assert_error(demo.put(f"/v2.0/rbac-policies/{policy['id']}", json={
        "rbac_policy": {"target_tenant": "*"}}), 403, "PolicyNotAuthorized",
        "update_rbac_policy:target_tenant")
    wildcard = created(admin.post("/v2.0/rbac-policies", json=policy_body(net, "*")),
                       "rbac_policy")
    assert wildcard["project_id"] == callers.admin_project
    assert demo.get(f"/v2.0/networks/{net['id']}").json()["network"]["shared"] is True
    assert_error(admin.post("/v2.0/rbac-policies", json=policy_body(net, "*")), 409,
                 "DuplicateRbacPolicy", "An RBAC policy already exists with those values.")
    # Retargeting ALT's policy to DEMO itself is fine: the wildcard lets ALT in.
    port = created(alt.post("/v2.0/ports", json={"port": {"network_id": net["id"]}}), "port")
    moved = demo.put(f"/v2.0/rbac-policies/{policy['id']}", json={
        "rbac_policy": {"target_tenant": callers.demo_project}})
    assert moved.json()["rbac_policy"] == {**policy, "target_tenant": callers.demo_project}
    assert_error(admin.delete(f"/v2.0/rbac-policies/{wildcard['id']}"), 409, "RbacPolicyInUse")
    assert_error(admin.put(f"/v2.0/networks/{net['id']}", json={"network": {"shared": False}}),
                 409, "InvalidSharedSetting")
    assert alt.delete(f"/v2.0/ports/{port['id']}").status_code == 204
    unshared = admin.put(f"/v2.0/networks/{net['id']}", json={"network": {"shared": False}})
    assert unshared.status_code == 200, unshared.text
    assert_error(admin.get(f"/v2.0/rbac-policies/{wildcard['id']}"), 404, "RbacPolicyNotFound")


def test_external_networks_are_seen_by_all_and_used_by_none_but_their_owner(
        callers: Callers) -> None:
    admin, demo, alt = callers.admin, callers.demo, callers.alt
    assert_error(demo.post("/v2.0/networks", json={"network": {"router:external": True}}), 403,
                 "PolicyNotAuthorized", "create_network:router:external")
    ext = network(admin, **{"router:external": True})
    assert ext["router:external"] is True and ext["shared"] is False
    (policy,) = admin.get("/v2.0/rbac-policies", params={"object_id": ext["id"]}).json()[
        "rbac_policies"]
    assert (policy["action"], policy["target_tenant"]) == ("access_as_external", "*")
    seen = alt.get(f"/v2.0/networks/{ext['id']}").json()["network"]
    assert seen["router:external"] is True and seen["shared"] is False
    assert ids(alt, "networks", **{"router:external": "True"}) == [ext["id"]]
    assert ids(alt, "networks", **{"router:external": "False"}) == []
    assert ids(alt, "subnets") == seen["subnets"]
    assert_error(alt.post("/v2.0/ports", json={"port": {"network_id": ext["id"]}}), 403,
                 "PolicyNotAuthorized", "create_port")
    assert_error(alt.put(f"/v2.0/networks/{ext['id']}", json={"network": {"name": "x"}}), 403,
                 "PolicyNotAuthorized", "update_network")
    internal = admin.put(f"/v2.0/networks/{ext['id']}",
                         json={"network": {"router:external": False}})
    assert internal.json()["network"]["router:external"] is False
    assert_error(alt.get(f"/v2.0/networks/{ext['id']}"), 404, "NetworkNotFound")
    assert admin.get("/v2.0/rbac-policies").json() == {"rbac_policies": []}


@pytest.mark.parametrize(("body", "status", "error_type", "fragment"), [
    ({"target_tenant": "1234" * 100}, 400, "HTTPBadRequest", "target_tenant"),
    ({"target_tenant": None}, 400, "HTTPBadRequest", "target_tenant"),
    ({"target_tenant": ""}, 400, "HTTPBadRequest", "target_tenant"),
    ({"object_type": "router"}, 400, "InvalidInput", "'router' is not a valid RBAC object type"),
    ({"action": "access_as_readonly"}, 400, "InvalidInput", "Invalid action"),
    ({"target_project": "x"}, 400, "HTTPBadRequest", "target_project"),
])
def test_bad_policies_are_refused_and_write_nothing(callers: Callers, body: dict[str, Any],
                                                    status: int, error_type: str,
                                                    fragment: str) -> None:
    net = network(callers.demo)
    request = policy_body(net, callers.alt_project)
    request["rbac_policy"].update(body)
    assert_error(callers.demo.post("/v2.0/rbac-policies", json=request), status, error_type,
                 fragment)
    assert callers.admin.get("/v2.0/rbac-policies").json() == {"rbac_policies": []}


def test_only_the_target_changes(callers: Callers) -> None:
    net = network(callers.demo)
    policy = created(callers.demo.post("/v2.0/rbac-policies",
                                       json=policy_body(net, callers.alt_project)), "rbac_policy")
    assert_error(callers.demo.put(f"/v2.0/rbac-policies/{policy['id']}", json={
        "rbac_policy": {"action": "access_as_external"}}), 400, "HTTPBadRequest", "action")


def test_extensions_announce_rbac_and_external_networks(callers: Callers) -> None:
    aliases = {e["alias"] for e in callers.demo.get("/v2.0/extensions").json()["extensions"]}
    assert {"rbac-policies", "external-net"} <= aliases
    assert {a for a in aliases if a.startswith("rbac-") and a != "rbac-policies"} == \
        {"rbac-subnetpool", "rbac-address-scope"}
