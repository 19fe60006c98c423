"""Subnet pools over REST: bodies and errors (``noauth``), then Neutron's default rules as
the real Keystone's users (DEMO, DEMO_READER, ALT, ADMIN), and subnets from pools."""
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

EXTENSIONS = {"subnet_allocation", "default-subnetpools", "subnetpool-prefix-ops",
              "rbac-subnetpool"}
POOL_KEYS = {"id", "name", "description", "project_id", "tenant_id", "revision_number", "tags",
             "created_at", "updated_at", "ip_version", "prefixes", "default_prefixlen",
             "min_prefixlen", "max_prefixlen", "is_default", "default_quota",
             "address_scope_id", "shared"}


def pool_body(**attrs: Any) -> dict[str, Any]:
    return {"subnetpool": {"name": "p", "prefixes": ["10.10.0.0/16"], **attrs}}


def subnet_body(net: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    return {"subnet": {"network_id": net["id"], "ip_version": 4, **attrs}}


@pytest.fixture
def pool(api: Api) -> dict[str, Any]:
    response = api.client.post("/v2.0/subnetpools", json=pool_body(default_prefixlen=24))
    assert response.status_code == 201, response.text
    return response.json()["subnetpool"]


# -- bodies and errors (noauth: an admin of fake_project_id) ------------------------------

def test_extensions_and_the_resource_are_announced(api: Api) -> None:
    aliases = {e["alias"] for e in api.client.get("/v2.0/extensions").json()["extensions"]}
    assert aliases >= EXTENSIONS
    assert api.client.get("/v2.0/extensions/subnetpool-prefix-ops").status_code == 200
    resources = api.client.get("/v2.0").json()["resources"]
    assert {"name": "subnetpool", "collection": "subnetpools"} in [
        {k: r[k] for k in ("name", "collection")} for r in resources]


def test_create_converts_numbers_as_neutron_and_shows_every_attribute(api: Api) -> None:
    response = api.client.post("/v2.0/subnetpools", json=pool_body(
        prefixes=["10.11.12.13/24", "10.11.13.0/24"], min_prefixlen="26", max_prefixlen=30,
        default_quota="512", tags=["a"]))
    assert response.status_code == 201, response.text
    pool = response.json()["subnetpool"]
    assert set(pool) == POOL_KEYS
    assert (pool["prefixes"], pool["min_prefixlen"], pool["default_prefixlen"],
            pool["max_prefixlen"], pool["default_quota"], pool["tags"]) == \
        (["10.11.12.0/23"], "26", "26", "30", 512, ["a"])  # Neutron's strings
    assert api.client.get(f"/v2.0/subnetpools/{pool['id']}",
                          params={"fields": ["prefixes", "ip_version"]}).json() == \
        {"subnetpool": {"prefixes": ["10.11.12.0/23"], "ip_version": 4}}


@pytest.mark.parametrize("attrs", [
    {"prefixes": ["10.0.0.0/33"]},
    {"prefixes": ["nonsense"]},
    {"prefixes": "10.0.0.0/8"},
    {"address_scope_id": "foo-addr-scope"},
    {"default_quota": -1},
    {"min_prefixlen": -1},
    {"is_default": "maybe"},
    {"ip_version": 4},             # derived, never given
    {"unknown": 1},
])
def test_malformed_pools_are_refused_with_400(api: Api, attrs: dict[str, Any]) -> None:
    assert_error(api.client.post("/v2.0/subnetpools", json=pool_body(**attrs)), 400,
                 "HTTPBadRequest")
    assert api.list("subnetpools") == []


@pytest.mark.parametrize(("attrs", "error_type"), [
    ({"shared": True}, "HTTPBadRequest"),          # fixed at create, as in Neutron
    ({"project_id": "other"}, "HTTPBadRequest"),
    ({"prefixes": ["10.10.0.0/24"]}, "IllegalSubnetPoolPrefixUpdate"),
    ({"min_prefixlen": 25}, "IllegalSubnetPoolPrefixBounds"),   # above default 24
    ({"max_prefixlen": 33}, "IllegalSubnetPoolPrefixBounds"),
])
def test_refused_updates_leave_the_pool_as_it_was(api: Api, pool: dict[str, Any],
                                                   attrs: dict[str, Any],
                                                   error_type: str) -> None:
    assert_error(api.client.put(f"/v2.0/subnetpools/{pool['id']}", json={"subnetpool": attrs}),
                 400, error_type)
    assert api.show("subnetpools", pool["id"]) == pool


def test_update_and_if_match(api: Api, pool: dict[str, Any]) -> None:
    path = f"/v2.0/subnetpools/{pool['id']}"
    assert_error(api.client.put(path, json={"subnetpool": {"name": "x"}},
                                headers={"If-Match": "revision_number=9"}), 412,
                 "PreconditionFailed")
    updated = api.client.put(path, json={"subnetpool": {"name": "x", "default_quota": None,
                                                        "max_prefixlen": 28}},
                             headers={"If-Match": "revision_number=1"}).json()["subnetpool"]
    assert (updated["name"], updated["max_prefixlen"], updated["revision_number"]) == \
        ("x", "28", 2)


def test_prefix_operations(api: Api, pool: dict[str, Any]) -> None:
    base = f"/v2.0/subnetpools/{pool['id']}"
    added = api.client.put(f"{base}/add_prefixes", json={"prefixes": ["10.11.0.0/16"]})
    assert added.status_code == 200, added.text
    assert added.json() == {"prefixes": ["10.10.0.0/15"]}
    removed = api.client.put(f"{base}/remove_prefixes", json={"prefixes": ["10.11.0.0/16"]})
    assert removed.json() == {"prefixes": ["10.10.0.0/16"]}
    assert api.show("subnetpools", pool["id"])["prefixes"] == ["10.10.0.0/16"]
    assert_error(api.client.put(f"{base}/add_prefixes", json={"prefixes": ["2001:db8::/64"]}),
                 400, "PrefixVersionMismatch")
    assert_error(api.client.put(f"{base}/add_prefixes", json={}), 400, "HTTPBadRequest")
    assert_error(api.client.put(f"{base}/add_prefixes", json={"prefixes": ["x"]}), 400,
                 "HTTPBadRequest")
    assert_error(api.client.put("/v2.0/subnetpools/nope/remove_prefixes",
                                json={"prefixes": ["10.10.0.0/24"]}), 404, "SubnetPoolNotFound")


def test_tags_and_filters(api: Api, pool: dict[str, Any]) -> None:
    v6 = api.client.post("/v2.0/subnetpools", json=pool_body(
        prefixes=["2001:db8::/48"], is_default=True)).json()["subnetpool"]
    assert api.client.put(f"/v2.0/subnetpools/{pool['id']}/tags/red").status_code == 201
    assert api.ids("subnetpools", {"tags": "red"}) == [pool["id"]]
    assert api.ids("subnetpools", {"ip_version": 6}) == [v6["id"]]
    assert api.ids("subnetpools", {"is_default": "true"}) == [v6["id"]]
    assert set(api.ids("subnetpools", {"shared": "false"})) == {pool["id"], v6["id"]}
    assert api.ids("subnetpools", {"default_prefixlen": 24}) == [pool["id"]]
    assert_error(api.client.get("/v2.0/subnetpools", params={"prefixes": "x"}), 400,
                 "BadRequest", "'prefixes' is not a valid filter")


def test_subnets_from_a_pool_over_rest(api: Api, pool: dict[str, Any]) -> None:
    net = api.network(name="n")
    sub = api.client.post("/v2.0/subnets", json=subnet_body(net, subnetpool_id=pool["id"]))
    assert sub.status_code == 201, sub.text
    assert (sub.json()["subnet"]["cidr"], sub.json()["subnet"]["subnetpool_id"]) == \
        ("10.10.0.0/24", pool["id"])
    assert api.ids("subnets", {"subnetpool_id": pool["id"]}) == [sub.json()["subnet"]["id"]]
    before = api.rows()
    for attrs, status, error_type in (
            ({"cidr": "10.10.9.0/24", "prefixlen": 24}, 400, "BadRequest"),
            ({"prefixlen": 4}, 400, "MinPrefixSubnetAllocationError"),
            ({"subnetpool_id": "not-a-uuid"}, 400, "HTTPBadRequest"),
            ({"prefixlen": 8}, 409, "SubnetAllocationError")):
        body = subnet_body(net, **{"subnetpool_id": pool["id"], **attrs})
        assert_error(api.client.post("/v2.0/subnets", json=body), status, error_type)
    assert api.rows() == before
    assert_error(api.delete("subnetpools", pool["id"]), 400, "SubnetPoolDeleteError")
    assert api.delete("subnets", sub.json()["subnet"]["id"]).status_code == 204
    assert api.delete("subnetpools", pool["id"]).status_code == 204
    assert_error(api.client.get(f"/v2.0/subnetpools/{pool['id']}"), 404, "SubnetPoolNotFound")


def test_quota_of_subnet_pools(api: Api) -> None:
    assert api.client.get("/v2.0/quotas/fake_project_id").json()["quota"]["subnetpool"] == -1
    assert api.client.put("/v2.0/quotas/fake_project_id",
                          json={"quota": {"subnetpool": 1}}).status_code == 200
    assert api.client.post("/v2.0/subnetpools", json=pool_body()).status_code == 201
    assert_error(api.client.post("/v2.0/subnetpools", json=pool_body(prefixes=["10.9.0.0/16"])),
                 409, "OverQuota", "subnetpool")
    assert len(api.list("subnetpools")) == 1


# -- Neutron's default rules, as the real Keystone's users --------------------------------

@pytest.fixture
def callers(make_plugin: Callable[..., Any], keystone: Keystone) -> Callers:
    client = TestClient(create_app(make_plugin(auth_strategy="keystone",
                                               keystone_authtoken=authtoken(keystone))))
    return Callers(client, keystone)


def test_another_projects_pool_is_not_found_anywhere(callers: Callers) -> None:
    pool = created(callers.demo.post("/v2.0/subnetpools", json=pool_body()), "subnetpool")
    path = f"/v2.0/subnetpools/{pool['id']}"
    alt = callers.alt
    assert_error(alt.get(path), 404, "SubnetPoolNotFound")
    assert_error(alt.put(path, json={"subnetpool": {"name": "x"}}), 404, "SubnetPoolNotFound")
    assert_error(alt.delete(path), 404, "SubnetPoolNotFound")
    assert_error(alt.put(f"{path}/add_prefixes", json={"prefixes": ["10.20.0.0/16"]}), 404,
                 "SubnetPoolNotFound")
    for params in ({}, {"id": pool["id"]}, {"name": "p"}, {"fields": "id"}):
        assert ids(alt, "subnetpools", **params) == []
    net = created(alt.post("/v2.0/networks", json={"network": {"name": "n"}}), "network")
    assert_error(alt.post("/v2.0/subnets", json=subnet_body(net, subnetpool_id=pool["id"],
                                                            prefixlen=24)),
                 404, "SubnetPoolNotFound")
    assert ids(callers.admin, "subnetpools", id=pool["id"]) == [pool["id"]]


def test_only_admins_share_pools_or_make_defaults(callers: Callers) -> None:
    for attrs in ({"shared": True}, {"is_default": True}):
        assert_error(callers.demo.post("/v2.0/subnetpools", json=pool_body(**attrs)), 403,
                     "PolicyNotAuthorized")
    pool = created(callers.demo.post("/v2.0/subnetpools", json=pool_body()), "subnetpool")
    assert_error(callers.demo.put(f"/v2.0/subnetpools/{pool['id']}",
                                  json={"subnetpool": {"is_default": True}}),
                 403, "PolicyNotAuthorized")
    assert ids(callers.admin, "subnetpools") == [pool["id"]]


def test_readers_read_members_write(callers: Callers) -> None:
    pool = created(callers.demo.post("/v2.0/subnetpools", json=pool_body()), "subnetpool")
    path, reader = f"/v2.0/subnetpools/{pool['id']}", callers.reader
    assert reader.get(path).json()["subnetpool"]["id"] == pool["id"]
    assert_error(reader.post("/v2.0/subnetpools", json=pool_body()), 403, "PolicyNotAuthorized")
    assert_error(reader.put(path, json={"subnetpool": {"name": "x"}}), 403,
                 "PolicyNotAuthorized")
    for action in ("add_prefixes", "remove_prefixes"):
        assert_error(reader.put(f"{path}/{action}", json={"prefixes": ["10.10.0.0/24"]}), 403,
                     "PolicyNotAuthorized", action)
    assert_error(reader.delete(path), 403, "PolicyNotAuthorized")
    assert callers.demo.put(f"{path}/add_prefixes",
                            json={"prefixes": ["10.30.0.0/16"]}).status_code == 200


def test_an_admins_shared_default_pool_serves_every_project(callers: Callers) -> None:
    pool = created(callers.admin.post("/v2.0/subnetpools", json=pool_body(
        shared=True, is_default=True, default_prefixlen=26)), "subnetpool")
    demo = callers.demo
    seen = demo.get(f"/v2.0/subnetpools/{pool['id']}").json()["subnetpool"]
    assert (seen["shared"], seen["is_default"]) == (True, True)
    net = created(demo.post("/v2.0/networks", json={"network": {"name": "n"}}), "network")
    sub = created(demo.post("/v2.0/subnets", json=subnet_body(
        net, use_default_subnetpool=True)), "subnet")
    assert (sub["subnetpool_id"], sub["cidr"], sub["project_id"]) == \
        (pool["id"], "10.10.0.0/26", callers.demo_project)
    assert_error(demo.put(f"/v2.0/subnetpools/{pool['id']}",
                          json={"subnetpool": {"name": "mine"}}), 403, "PolicyNotAuthorized")
    assert_error(demo.put(f"/v2.0/subnetpools/{pool['id']}/add_prefixes",
                          json={"prefixes": ["10.99.0.0/16"]}), 403, "PolicyNotAuthorized")
    assert_error(demo.delete(f"/v2.0/subnetpools/{pool['id']}"), 403, "PolicyNotAuthorized")


def test_a_pool_in_a_scope_is_shared_only_with_projects_that_see_the_scope(
        callers: Callers) -> None:
    """Neutron's ``validate_rbac_policy_create``: the target must see the pool's scope
    (shared with it or with everyone); a refused grant is 400 and writes no policy."""
    admin, demo = callers.admin, callers.demo
    scope = created(admin.post("/v2.0/address-scopes", json={"address_scope": {
        "name": "s", "ip_version": 4}}), "address_scope")

    def grant(caller: Any, object_type: str, object_id: str, target: str) -> Any:
        return caller.post("/v2.0/rbac-policies", json={"rbac_policy": {
            "object_type": object_type, "object_id": object_id,
            "action": "access_as_shared", "target_tenant": target}})

    created(grant(admin, "address_scope", scope["id"], callers.demo_project), "rbac_policy")
    pool = created(demo.post("/v2.0/subnetpools", json=pool_body(
        address_scope_id=scope["id"])), "subnetpool")
    assert_error(grant(demo, "subnetpool", pool["id"], callers.alt_project), 400,
                 "InvalidInput", "target project doesn't have access to associated address scope")
    assert ids(demo, "rbac-policies") == []
    assert ids(callers.alt, "subnetpools") == []
    created(grant(admin, "address_scope", scope["id"], callers.alt_project), "rbac_policy")
    created(grant(demo, "subnetpool", pool["id"], callers.alt_project), "rbac_policy")
    assert ids(callers.alt, "subnetpools") == [pool["id"]]
    mine = created(demo.post("/v2.0/subnetpools", json=pool_body(
        name="unscoped", prefixes=["10.20.0.0/16"])), "subnetpool")
    created(grant(demo, "subnetpool", mine["id"], callers.alt_project), "rbac_policy")
