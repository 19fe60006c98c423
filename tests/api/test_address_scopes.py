"""Address scopes over REST: bodies and errors (``noauth``), the pools that join them and
the networks that show them, then Neutron's default rules as the real Keystone's users."""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.sandbox.keystone import Keystone
from tests.api.conftest import Api, assert_error
from tests.api.test_auth import authtoken
from tests.api.test_rbac_policies import Callers, created, ids

SCOPE_KEYS = {"id", "name", "description", "project_id", "tenant_id", "revision_number",
              "created_at", "updated_at", "ip_version", "shared"}


def scope_body(**attrs: Any) -> dict[str, Any]:
    return {"address_scope": {"name": "s", "ip_version": 4, **attrs}}


@pytest.fixture
def scope(api: Api) -> dict[str, Any]:
    return api.create("address-scopes", name="s", ip_version=4)


def pool(api: Api, scope: dict[str, Any], *prefixes: str) -> Any:
    return api.client.post("/v2.0/subnetpools", json={"subnetpool": {
        "name": "p", "prefixes": list(prefixes), "address_scope_id": scope["id"],
        "default_prefixlen": 24}})


def test_extension_and_shape(api: Api, scope: dict[str, Any]) -> None:
    aliases = {e["alias"] for e in api.client.get("/v2.0/extensions").json()["extensions"]}
    assert {"address-scope", "rbac-address-scope"} <= aliases
    assert set(scope) == SCOPE_KEYS
    assert (scope["ip_version"], scope["shared"], scope["revision_number"]) == (4, False, 1)
    assert api.list("address-scopes", {"ip_version": 4}) == [scope]
    assert api.list("address-scopes", {"ip_version": 6}) == []


@pytest.mark.parametrize("attrs", [
    {"ip_version": 5}, {"ip_version": None}, {"ip_version": "four"}, {"tags": ["t"]},
    {"prefixes": ["10.0.0.0/8"]},
])
def test_malformed_scopes_are_refused_with_400(api: Api, attrs: dict[str, Any]) -> None:
    assert_error(api.client.post("/v2.0/address-scopes", json=scope_body(**attrs)), 400,
                 "HTTPBadRequest")
    assert api.list("address-scopes") == []


def test_updates(api: Api, scope: dict[str, Any]) -> None:
    path = f"/v2.0/address-scopes/{scope['id']}"
    assert_error(api.client.put(path, json={"address_scope": {"ip_version": 6}}), 400,
                 "HTTPBadRequest")
    shared = api.update("address-scopes", scope["id"], name="t", shared=True)
    assert (shared["name"], shared["shared"], shared["revision_number"]) == ("t", True, 2)
    assert_error(api.client.put(path, json={"address_scope": {"shared": False}}), 400,
                 "AddressScopeUpdateError", "can't be unshared")
    assert api.list("address-scopes", {"shared": "true"}) == [shared]


def test_pools_in_a_scope_do_not_overlap_and_hold_it(api: Api, scope: dict[str, Any]) -> None:
    first = pool(api, scope, "20.0.0.0/18", "30.0.0.0/18")
    assert first.status_code == 201, first.text
    assert_error(pool(api, scope, "40.0.0.0/18", "30.0.0.0/12"), 409,
                 "AddressScopePrefixConflict")
    v6 = api.create("address-scopes", name="six", ip_version=6)
    assert_error(pool(api, v6, "10.0.0.0/8"), 400,
                 "IllegalSubnetPoolIpVersionAssociationToAddressScope")
    assert_error(pool(api, {"id": "00000000-0000-4000-8000-000000000000"}, "10.0.0.0/8"), 404,
                 "AddressScopeNotFound")
    assert len(api.list("subnetpools")) == 1
    assert_error(api.delete("address-scopes", scope["id"]), 409, "AddressScopeInUse")
    pool_id = first.json()["subnetpool"]["id"]
    api.update("subnetpools", pool_id, address_scope_id=None)
    assert api.delete("address-scopes", scope["id"]).status_code == 204
    assert_error(api.client.get(f"/v2.0/address-scopes/{scope['id']}"), 404,
                 "AddressScopeNotFound")


def test_networks_show_their_address_scopes(api: Api, scope: dict[str, Any]) -> None:
    member = pool(api, scope, "10.0.0.0/16").json()["subnetpool"]
    net = api.network(name="n")
    assert (net["ipv4_address_scope"], net["ipv6_address_scope"]) == (None, None)
    api.create("subnets", network_id=net["id"], subnetpool_id=member["id"], ip_version=4)
    assert api.show("networks", net["id"])["ipv4_address_scope"] == scope["id"]
    assert api.list("networks")[0]["ipv4_address_scope"] == scope["id"]
    assert api.show("networks", net["id"])["ipv6_address_scope"] is None
    assert_error(api.client.post("/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": "192.168.0.0/24"}}), 400,
        "NetworkSubnetPoolAffinityError")


# -- Neutron's default rules, as the real Keystone's users --------------------------------

@pytest.fixture
def callers(make_plugin: Callable[..., Any], keystone: Keystone) -> Callers:
    client = TestClient(create_app(make_plugin(auth_strategy="keystone",
                                               keystone_authtoken=authtoken(keystone))))
    return Callers(client, keystone)


def test_another_projects_scope_is_not_found_anywhere(callers: Callers) -> None:
    scope = created(callers.demo.post("/v2.0/address-scopes", json=scope_body()),
                    "address_scope")
    path, alt = f"/v2.0/address-scopes/{scope['id']}", callers.alt
    assert_error(alt.get(path), 404, "AddressScopeNotFound")
    assert_error(alt.put(path, json={"address_scope": {"name": "x"}}), 404,
                 "AddressScopeNotFound")
    assert_error(alt.delete(path), 404, "AddressScopeNotFound")
    for params in ({}, {"id": scope["id"]}, {"fields": "id"}):
        assert ids(alt, "address-scopes", **params) == []
    assert_error(alt.post("/v2.0/subnetpools", json={"subnetpool": {
        "name": "p", "prefixes": ["10.0.0.0/16"], "address_scope_id": scope["id"]}}), 404,
        "AddressScopeNotFound")
    reader = callers.reader
    assert reader.get(path).status_code == 200
    assert_error(reader.put(path, json={"address_scope": {"name": "x"}}), 403,
                 "PolicyNotAuthorized")
    assert_error(reader.delete(path), 403, "PolicyNotAuthorized")


def test_only_admins_share_scopes_and_everyone_may_join_a_shared_one(callers: Callers) -> None:
    demo = callers.demo
    assert_error(demo.post("/v2.0/address-scopes", json=scope_body(shared=True)), 403,
                 "PolicyNotAuthorized")
    mine = created(demo.post("/v2.0/address-scopes", json=scope_body()), "address_scope")
    assert_error(demo.put(f"/v2.0/address-scopes/{mine['id']}",
                          json={"address_scope": {"shared": True}}), 403, "PolicyNotAuthorized")
    shared = created(callers.admin.post("/v2.0/address-scopes", json=scope_body(shared=True)),
                     "address_scope")
    assert demo.get(f"/v2.0/address-scopes/{shared['id']}").json()["address_scope"]["shared"]
    assert_error(demo.put(f"/v2.0/address-scopes/{shared['id']}",
                          json={"address_scope": {"name": "x"}}), 403, "PolicyNotAuthorized")
    joined = created(demo.post("/v2.0/subnetpools", json={"subnetpool": {
        "name": "p", "prefixes": ["10.0.0.0/16"], "address_scope_id": shared["id"]}}),
        "subnetpool")
    # The scope is the admin's: its pools' prefixes are the admin's to change (Neutron).
    assert_error(demo.put(f"/v2.0/subnetpools/{joined['id']}",
                          json={"subnetpool": {"prefixes": ["10.0.0.0/16", "10.1.0.0/16"]}}),
                 400, "IllegalSubnetPoolUpdate")
    assert sorted(ids(demo, "address-scopes")) == sorted([mine["id"], shared["id"]])
