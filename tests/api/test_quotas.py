"""The quota API and its enforcement over HTTP: Neutron's shapes and errors, Neutron's
policy with the real Keystone's callers, and 16 concurrent clients of a real server."""
from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from keystoneauth1 import session
from keystoneauth1.identity import v3

from neutrino.api.app import create_app
from neutrino.bench.server import ServerProcess
from neutrino.core.context import NOAUTH_PROJECT_ID
from neutrino.sandbox.keystone import ADMIN, ALT, DEMO, DEMO_READER, NOVA, Keystone, User
from tests.api.conftest import Api, assert_error
from tests.api.test_auth import authtoken
from tests.api.test_concurrency import error_types, rows, two_worker_server
from tests.api.test_policy import As
from tests.conftest import BACKENDS

GROUPS = {"security_group": 10, "security_group_rule": 100, "subnetpool": -1}
DEFAULTS = {"network": 100, "subnet": 100, "port": 500, "rbac_policy": 10, **GROUPS,
            "router": 10, "floatingip": 50}
QUOTA_EXTENSIONS = {"quotas", "quota_details", "quota-check-limit", "quota-check-limit-default"}
_projects: dict[tuple[str, str], str] = {}


def project_of(keystone: Keystone, user: User) -> str:
    key = (keystone.auth_url, user.name)
    if key not in _projects:
        _projects[key] = session.Session(auth=v3.Password(**keystone.auth(user))).get_project_id()
    return _projects[key]


def quota(client: Any, project_id: str, suffix: str = "") -> httpx.Response:
    return client.get(f"/v2.0/quotas/{project_id}{suffix}")


def set_quota(client: Any, project_id: str, **limits: Any) -> httpx.Response:
    return client.put(f"/v2.0/quotas/{project_id}", json={"quota": limits})


# -- shapes and errors (noauth: the caller is an admin of fake_project_id)

def test_extensions_are_announced(api: Api) -> None:
    aliases = {e["alias"] for e in api.client.get("/v2.0/extensions").json()["extensions"]}
    assert QUOTA_EXTENSIONS <= aliases


def test_show_default_details_update_list_reset(api: Api, net: dict[str, Any]) -> None:
    client, project = api.client, NOAUTH_PROJECT_ID
    assert quota(client, project).json() == {"quota": DEFAULTS}
    assert quota(client, "anyone", "/default").json() == {"quota": DEFAULTS}
    api.port(net)
    assert quota(client, project, "/details").json() == {"quota": {
        "network": {"limit": 100, "used": 1, "reserved": 0},
        "subnet": {"limit": 100, "used": 1, "reserved": 0},
        "port": {"limit": 500, "used": 1, "reserved": 0},
        "rbac_policy": {"limit": 10, "used": 0, "reserved": 0},
        "router": {"limit": 10, "used": 0, "reserved": 0},
        "floatingip": {"limit": 50, "used": 0, "reserved": 0},
        # The port's project's default group, made on its first port, with its 4 rules.
        "security_group": {"limit": 10, "used": 1, "reserved": 0},
        "security_group_rule": {"limit": 100, "used": 4, "reserved": 0},
        "subnetpool": {"limit": -1, "used": 0, "reserved": 0}}}
    assert client.get("/v2.0/quotas").json() == {"quotas": []}

    updated = set_quota(client, "other", network=5, port="7", check_limit=True)
    assert updated.status_code == 200, updated.text
    assert updated.json() == {"quota": {**DEFAULTS, "network": 5, "port": 7}}
    assert quota(client, "other").json() == updated.json()
    assert quota(client, "other", "/default").json() == {"quota": DEFAULTS}
    assert client.get("/v2.0/quotas").json() == {"quotas": [
        {"project_id": "other", "tenant_id": "other", **DEFAULTS, "network": 5, "port": 7}]}

    reset = client.delete("/v2.0/quotas/other")
    assert reset.status_code == 204 and reset.content == b""
    assert quota(client, "other").json() == {"quota": DEFAULTS}
    assert client.get("/v2.0/quotas").json() == {"quotas": []}
    assert_error(client.delete("/v2.0/quotas/other"), 404, "TenantQuotaNotFound",
                 "Quota for project other could not be found.")


@pytest.mark.parametrize(("body", "fragment"), [
    ({"quota": {"trunk": 1}}, "Unrecognized attribute(s) 'trunk'"),
    ({"quota": {"port": -2}}, "'-2' is not in range -1 through 2147483647"),
    ({"quota": {"port": 2**31}}, "is not in range -1 through 2147483647"),
    ({"quota": {"port": "many"}}, "Invalid input for port"),
    ({"quota": {"port": 1.5}}, "Invalid input for port"),
    ({"quota": {"port": None}}, "Invalid input for port"),
    ({"quota": {"force": "maybe"}}, "Invalid input for force"),
    ({"port": 1}, "Resource body required: 'quota'"),
])
def test_bad_updates_are_400_and_change_nothing(api: Api, body: dict[str, Any],
                                                fragment: str) -> None:
    assert_error(api.client.put("/v2.0/quotas/p", json=body), 400, "HTTPBadRequest", fragment)
    assert quota(api.client, "p").json() == {"quota": DEFAULTS}
    assert api.client.get("/v2.0/quotas").json() == {"quotas": []}


def test_project_ids_longer_than_neutrons_column_are_refused(api: Api) -> None:
    assert_error(set_quota(api.client, "x" * 256, port=1), 400, "InvalidInput", "255")
    assert set_quota(api.client, "x" * 255, port=1).status_code == 200


@pytest.mark.parametrize(("collection", "create"), [
    ("networks", lambda api, net: api.post("networks", {"name": "one too many"})),
    ("subnets", lambda api, net: api.post("subnets", {"network_id": net["id"],
                                                      "cidr": "10.5.0.0/24"})),
    ("ports", lambda api, net: api.post("ports", {"network_id": net["id"],
                                                  "tags": ["a", "b"]})),
])
def test_over_quota_is_409_with_neutrons_body_and_writes_nothing(
        api: Api, net: dict[str, Any], collection: str,
        create: Callable[[Api, dict[str, Any]], httpx.Response]) -> None:
    api.port(net)
    resource = collection[:-1]
    assert set_quota(api.client, NOAUTH_PROJECT_ID, **{resource: 1}).status_code == 200
    before = api.rows()
    refused = create(api, net)
    assert refused.json() == {"NeutronError": {
        "type": "OverQuota", "message": f"Quota exceeded for resources: ['{resource}'].",
        "detail": ""}}
    assert refused.status_code == 409
    assert api.rows() == before
    assert quota(api.client, NOAUTH_PROJECT_ID, "/details").json()["quota"][resource] == \
        {"limit": 1, "used": 1, "reserved": 0}


def test_lowering_below_usage_needs_force_and_then_blocks(api: Api,
                                                          net: dict[str, Any]) -> None:
    ports = [api.port(net) for _ in range(2)]
    assert_error(set_quota(api.client, NOAUTH_PROJECT_ID, port=1), 400, "HTTPBadRequest",
                 "Quota limit 1 for port must be greater than or equal to already used 2")
    assert_error(set_quota(api.client, NOAUTH_PROJECT_ID, port=1, force=False), 400,
                 "HTTPBadRequest")
    assert quota(api.client, NOAUTH_PROJECT_ID).json()["quota"]["port"] == 500
    forced = set_quota(api.client, NOAUTH_PROJECT_ID, port=1, force=True)
    assert forced.json()["quota"]["port"] == 1
    assert_error(api.post("ports", {"network_id": net["id"]}), 409, "OverQuota")
    assert api.delete("ports", ports[0]["id"]).status_code == 204
    assert_error(api.post("ports", {"network_id": net["id"]}), 409, "OverQuota")
    assert api.delete("ports", ports[1]["id"]).status_code == 204
    api.port(net)
    assert set_quota(api.client, NOAUTH_PROJECT_ID, port=-1).json()["quota"]["port"] == -1


# -- policy, with the real Keystone's callers

@pytest.fixture
def callers(make_plugin: Callable[..., Any], keystone: Keystone) -> dict[str, As]:
    client = TestClient(create_app(make_plugin(auth_strategy="keystone",
                                               keystone_authtoken=authtoken(keystone))))
    return {user.name: As(client, keystone, user)
            for user in (ADMIN, DEMO, DEMO_READER, ALT, NOVA)}


def test_anyone_in_a_project_reads_its_own_quota(callers: dict[str, As],
                                                 keystone: Keystone) -> None:
    demo_project = project_of(keystone, DEMO)
    admin = callers["admin"]
    assert set_quota(admin, demo_project, port=3).status_code == 200
    for name in ("demo", "demo-reader"):
        caller = callers[name]
        assert quota(caller, demo_project).json() == {"quota": {**DEFAULTS, "port": 3}}
        assert quota(caller, demo_project, "/default").json() == {"quota": DEFAULTS}
        details = quota(caller, demo_project, "/details")
        assert details.json()["quota"]["port"] == {"limit": 3, "used": 0, "reserved": 0}


def test_another_projects_quota_is_403_as_in_neutron(callers: dict[str, As],
                                                     keystone: Keystone) -> None:
    demo_project = project_of(keystone, DEMO)
    alt_project = project_of(keystone, ALT)
    for name, other in (("demo", alt_project), ("demo-reader", alt_project),
                        ("alt", demo_project), ("nova", demo_project)):
        caller = callers[name]
        for suffix in ("", "/default"):
            assert_error(quota(caller, other, suffix), 403, "PolicyNotAuthorized",
                         "rule:get_quota is disallowed by policy")
        assert_error(quota(caller, other, "/details"), 403, "AdminRequired",
                     "Only admin is authorized to access quotas for another project")
    admin = callers["admin"]
    assert quota(admin, alt_project).status_code == 200
    assert quota(admin, demo_project, "/details").status_code == 200


def test_only_admins_list_change_and_reset_quotas(callers: dict[str, As],
                                                  keystone: Keystone) -> None:
    demo_project = project_of(keystone, DEMO)
    admin = callers["admin"]
    for name in ("demo", "demo-reader", "alt", "nova"):
        caller = callers[name]
        assert_error(caller.get("/v2.0/quotas"), 403, "PolicyNotAuthorized", "rule:get_quota")
        assert_error(set_quota(caller, demo_project, port=1000), 403, "PolicyNotAuthorized",
                     "rule:update_quota")
        assert_error(caller.delete(f"/v2.0/quotas/{demo_project}"), 403,
                     "PolicyNotAuthorized", "rule:delete_quota")
    assert quota(admin, demo_project).json() == {"quota": DEFAULTS}
    assert set_quota(admin, demo_project, network=1).status_code == 200
    assert [q["project_id"] for q in admin.get("/v2.0/quotas").json()["quotas"]] == \
        [demo_project]
    assert admin.delete(f"/v2.0/quotas/{demo_project}").status_code == 204


def test_a_projects_limit_binds_its_members_and_admins_creating_for_it(
        callers: dict[str, As], keystone: Keystone) -> None:
    demo_project = project_of(keystone, DEMO)
    admin, demo, alt = callers["admin"], callers["demo"], callers["alt"]
    assert set_quota(admin, demo_project, network=2).status_code == 200
    assert demo.post("/v2.0/networks", json={"network": {"name": "a"}}).status_code == 201
    made = admin.post("/v2.0/networks", json={"network": {"name": "b",
                                                          "project_id": demo_project}})
    assert made.status_code == 201 and made.json()["network"]["project_id"] == demo_project
    for caller, body in ((demo, {"name": "c"}), (admin, {"name": "c",
                                                         "project_id": demo_project})):
        assert_error(caller.post("/v2.0/networks", json={"network": body}), 409, "OverQuota",
                     "['network']")
    # Other projects, the admin's own included, keep their limits.
    assert alt.post("/v2.0/networks", json={"network": {"name": "a"}}).status_code == 201
    assert admin.post("/v2.0/networks", json={"network": {"name": "a"}}).status_code == 201
    details = quota(demo, demo_project, "/details").json()["quota"]["network"]
    assert details == {"limit": 2, "used": 2, "reserved": 0}


# -- 16 concurrent clients against a real server (two worker processes)

@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[ServerProcess]:
    with two_worker_server(request, tmp_path_factory, "quota") as srv:
        yield srv


@pytest.mark.parametrize("limit", [1, 7])
def test_16_concurrent_clients_never_exceed_the_limit(server: ServerProcess,
                                                      limit: int) -> None:
    project = f"burst-{limit}"
    headers = {"X-Project-Id": project}
    with httpx.Client(base_url=server.url, headers=headers, timeout=60) as client:
        net = client.post("/v2.0/networks", json={"network": {
            "name": "n", "provider:network_type": "geneve"}}).json()["network"]
        client.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"],
                                                      "cidr": "10.40.0.0/22"}})
        assert set_quota(client, project, port=limit).status_code == 200
    start = threading.Barrier(16)

    def creator(_: int) -> list[httpx.Response]:
        with httpx.Client(base_url=server.url, headers=headers, timeout=120) as client:
            start.wait()
            return [client.post("/v2.0/ports", json={"port": {"network_id": net["id"]}})
                    for _ in range(3)]

    with ThreadPoolExecutor(16) as pool:
        responses = [r for batch in pool.map(creator, range(16)) for r in batch]
    assert error_types(responses) == Counter(
        {201: limit, 409: 48 - limit, "OverQuota": 48 - limit}), \
        [r.text for r in responses if r.status_code not in (201, 409)]
    assert rows(server, net["id"]) == (limit, limit)
    details = httpx.get(f"{server.url}/v2.0/quotas/{project}/details", headers=headers).json()
    assert details["quota"]["port"] == {"limit": limit, "used": limit, "reserved": 0}
