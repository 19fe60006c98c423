"""``auto-allocated-topology``: a project's network, subnets from the default pools and
router to the default external network, made once, answered again, deleted whole; the
dry run and Neutron's errors; a failure half way leaves nothing; who may ask, with the
real Keystone's users; 16 clients at once against a real server on both databases."""
from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from neutrino.bench.server import ServerProcess
from neutrino.db.models import AutoAllocatedTopology, Network, Router, Subnet
from neutrino.db.session import Database
from tests.api.conftest import Api, assert_error
from tests.api.test_concurrency import burst, error_types, two_worker_server
from tests.api.test_rbac_policies import Callers, callers, created  # noqa: F401
from tests.conftest import BACKENDS
from tests.drivers import FAILING

PATH = "/v2.0/auto-allocated-topology/{}"
#: The request ``openstack network auto allocated topology create`` sends without --project.
MINE = PATH.format("None")


def deployment(post: Any) -> dict[str, Any]:
    """What an operator provides (*post*: ``(path, body) -> response``): the default
    external network with a subnet, and default IPv4 and IPv6 pools shared with everyone."""
    public = created(post("/v2.0/networks", {"network": {
        "name": "public", "router:external": True, "is_default": True}}), "network")
    created(post("/v2.0/subnets", {"subnet": {
        "network_id": public["id"], "cidr": "172.24.4.0/24"}}), "subnet")
    pools = [created(post("/v2.0/subnetpools", {"subnetpool": {
        "name": f"default-v{version}", "prefixes": [prefix], "default_prefixlen": length,
        "is_default": True, "shared": True}}), "subnetpool")
        for version, prefix, length in ((4, "10.100.0.0/16", 26), (6, "fd00:100::/48", 64))]
    return {"public": public, "pools": pools}


def api_post(api: Api) -> Any:
    return lambda path, body: api.client.post(path, json=body)


def topology(response: httpx.Response, project_id: str) -> str:
    """The network id of a topology answer, checked to be *project_id*'s."""
    assert response.status_code == 200, response.text
    body = response.json()["auto_allocated_topology"]
    assert body["project_id"] == body["tenant_id"] == project_id and set(body) == {
        "id", "project_id", "tenant_id"}
    return str(body["id"])


def table_rows(api: Api) -> dict[str, int]:
    rows = api.rows()
    with api.plugin.db.read() as session:
        rows["topologies"] = session.scalar(
            select(func.count()).select_from(AutoAllocatedTopology))
    return rows


def test_a_topology_is_made_once_answered_again_and_deleted_whole(api: Api) -> None:
    setup = deployment(api_post(api))
    before = table_rows(api)
    headers = {"X-Project-Id": "p1"}
    net_id = topology(api.client.get(MINE, headers=headers), "p1")

    net = api.show("networks", net_id)
    assert (net["name"], net["project_id"], net["admin_state_up"], net["status"]) == (
        "auto_allocated_network", "p1", True, "ACTIVE")
    subnets = sorted((api.show("subnets", s) for s in net["subnets"]),
                     key=lambda s: s["ip_version"])
    assert [(s["name"], s["subnetpool_id"], s["project_id"]) for s in subnets] == [
        ("auto_allocated_subnet_v4", setup["pools"][0]["id"], "p1"),
        ("auto_allocated_subnet_v6", setup["pools"][1]["id"], "p1")]
    assert [s["cidr"] for s in subnets] == ["10.100.0.0/26", "fd00:100::/64"]
    [router] = api.list("routers", {"name": "auto_allocated_router"})
    assert router["project_id"] == "p1" and router["admin_state_up"]
    assert router["external_gateway_info"]["network_id"] == setup["public"]["id"]
    interfaces = api.list("ports", {"device_id": router["id"],
                                    "device_owner": "network:router_interface"})
    assert sorted((p["fixed_ips"][0]["subnet_id"], p["fixed_ips"][0]["ip_address"])
                  for p in interfaces) == sorted((s["id"], s["gateway_ip"]) for s in subnets)
    made = table_rows(api)
    # a network, two subnets, a router, its gateway and two interfaces, the project's row
    assert {k: made[k] - before[k] for k in made} == {
        "networks": 1, "subnets": 2, "ports": 3, "ip_allocations": 3, "segments": 1,
        "routers": 1, "floatingips": 0, "topologies": 1}

    # Asked again (by id now, as an admin would): the same topology, nothing new.
    assert topology(api.client.get(PATH.format("p1")), "p1") == net_id
    assert table_rows(api) == made
    # Another project gets its own, from the next prefixes.
    other = topology(api.client.get(MINE, headers={"X-Project-Id": "p2"}), "p2")
    assert other != net_id
    assert {s["cidr"] for s in api.list("subnets", {"network_id": other})} == {
        "10.100.0.64/26", "fd00:100:0:1::/64"}
    both = table_rows(api)

    assert api.client.delete(MINE, headers=headers).status_code == 204
    after = table_rows(api)
    assert {k: both[k] - after[k] for k in made} == {
        "networks": 1, "subnets": 2, "ports": 3, "ip_allocations": 3, "segments": 1,
        "routers": 1, "floatingips": 0, "topologies": 1}
    assert api.client.get(f"/v2.0/networks/{net_id}").status_code == 404
    # Nothing left to delete: 204 again, as Neutron; and a new GET makes a new one.
    assert api.client.delete(MINE, headers=headers).status_code == 204
    assert topology(api.client.get(MINE, headers=headers), "p1") not in (net_id, other)


def test_dry_run_checks_the_requirements_and_makes_nothing(api: Api) -> None:
    headers = {"X-Project-Id": "p1"}
    dry_run = {"fields": "dry-run"}
    assert_error(api.client.get(MINE, params=dry_run, headers=headers), 409,
                 "AutoAllocationFailure", "Deployment error: No default router:external network.")
    assert_error(api.client.get(MINE, headers=headers), 409, "AutoAllocationFailure",
                 "No default router:external network")
    public = api.network(name="public", **{"router:external": True})
    api.subnet(public, "172.24.4.0/24")
    api.update("networks", public["id"], is_default=True)
    assert_error(api.client.get(MINE, params=dry_run, headers=headers), 409,
                 "AutoAllocationFailure", "Deployment error: No default subnetpools defined.")
    api.create("subnetpools", name="v4", prefixes=["10.100.0.0/16"], default_prefixlen=24,
               is_default=True)
    before = table_rows(api)
    response = api.client.get(MINE, params=dry_run, headers=headers)
    assert topology(response, "p1") == "dry-run=pass"
    assert_error(api.client.get(MINE, params={"fields": "id"}, headers=headers), 400,
                 "BadRequest", "Unrecognized field")
    assert_error(api.client.get(PATH.format("p" * 256)), 400, "InvalidInput",
                 "at most 255 characters")
    assert table_rows(api) == before
    # With one default pool (IPv4 only) the topology has one subnet.
    net_id = topology(api.client.get(MINE, headers=headers), "p1")
    assert [s["ip_version"] for s in api.list("subnets", {"network_id": net_id})] == [4]


def test_a_failure_half_way_leaves_nothing_behind(api: Api) -> None:
    """The pool has room for one /26 only, which the first project takes: the second
    project's topology fails at its subnet (Neutron's 409) with nothing written; the
    router cannot take a gateway on an external network without subnets: 409 again."""
    public = api.network(name="public", **{"router:external": True})
    api.subnet(public, "172.24.4.0/24")
    api.update("networks", public["id"], is_default=True)
    api.create("subnetpools", name="tiny", prefixes=["10.100.0.0/26"], default_prefixlen=26,
               is_default=True)
    topology(api.client.get(MINE, headers={"X-Project-Id": "p1"}), "p1")
    before = table_rows(api)
    assert_error(api.client.get(MINE, headers={"X-Project-Id": "p2"}), 409,
                 "AutoAllocationFailure", "Unable to provide tenant private network")
    assert table_rows(api) == before

    # Over the project's network quota: its error, nothing written.
    assert api.client.put("/v2.0/quotas/p3", json={"quota": {"network": 0}}).status_code == 200
    api.update("subnetpools", api.list("subnetpools")[0]["id"],
               prefixes=["10.100.0.0/26", "10.100.1.0/24"])
    assert_error(api.client.get(MINE, headers={"X-Project-Id": "p3"}), 409, "OverQuota")
    assert table_rows(api) == before


def test_a_backend_failing_the_topology_leaves_nothing_behind(make_api: Any) -> None:
    """The backend refuses the router, the last write: the topology is deleted again
    (network, subnets and their prefixes, router, the project's row) before the 500."""
    api = make_api(mechanism_drivers=[FAILING])
    deployment(api_post(api))
    before = table_rows(api)
    assert_error(api.client.get(MINE, headers={"X-Project-Id": "p1"}), 500,
                 "MechanismDriverError", "create_router_postcommit")
    assert table_rows(api) == before
    assert api.list("routers") == [] and api.list("networks", {"project_id": "p1"}) == []


def test_deleting_a_topology_with_an_instance_on_it_is_refused_whole(api: Api) -> None:
    deployment(api_post(api))
    headers = {"X-Project-Id": "p1"}
    net_id = topology(api.client.get(MINE, headers=headers), "p1")
    port = api.port({"id": net_id}, name="vm")
    before = table_rows(api)
    assert_error(api.client.delete(MINE, headers=headers), 409, "NetworkInUse", net_id)
    assert table_rows(api) == before
    assert topology(api.client.get(MINE, headers=headers), "p1") == net_id
    assert api.delete("ports", port["id"]).status_code == 204
    assert api.client.delete(MINE, headers=headers).status_code == 204
    assert api.list("routers") == []


def test_members_allocate_for_their_own_project_only(callers: Callers) -> None:  # noqa: F811
    admin, demo, reader, alt = callers.admin, callers.demo, callers.reader, callers.alt
    deployment(lambda path, body: admin.post(path, json=body))
    demo_net = topology(demo.get(MINE), callers.demo_project)
    assert topology(demo.get(PATH.format(callers.demo_project)),
                    callers.demo_project) == demo_net
    shown = demo.get(f"/v2.0/networks/{demo_net}").json()["network"]
    assert shown["project_id"] == callers.demo_project and shown["is_default"] is False

    # Another project's: 403 for a member, whatever the verb.
    for caller in (demo, reader):
        assert_error(caller.get(PATH.format(callers.alt_project)), 403, "NotAuthorized",
                     "Not authorized.")
        assert_error(caller.delete(PATH.format(callers.alt_project)), 403, "NotAuthorized")
    assert_error(alt.get(PATH.format(callers.demo_project)), 403, "NotAuthorized")
    # The reader reads its project's topology (Neutron's default), and deletes nothing.
    assert topology(reader.get(MINE), callers.demo_project) == demo_net
    assert_error(reader.delete(MINE), 403, "PolicyNotAuthorized",
                 "delete_auto_allocated_topology")
    # ALT's is its own, and it sees nothing of DEMO's.
    alt_net = topology(alt.get(MINE), callers.alt_project)
    assert alt_net != demo_net
    assert_error(alt.get(f"/v2.0/networks/{demo_net}"), 404, "NetworkNotFound")
    assert {n["name"] for n in alt.get("/v2.0/routers").json()["routers"]} == {
        "auto_allocated_router"}
    assert demo_net not in {n["id"] for n in alt.get("/v2.0/networks").json()["networks"]}
    # An admin acts for any project.
    assert topology(admin.get(PATH.format(callers.alt_project)),
                    callers.alt_project) == alt_net
    assert admin.delete(PATH.format(callers.demo_project)).status_code == 204
    assert_error(demo.get(f"/v2.0/networks/{demo_net}"), 404, "NetworkNotFound")
    assert demo.delete(MINE).status_code == 204  # nothing left: as Neutron


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[ServerProcess]:
    with two_worker_server(request, tmp_path_factory, "autoalloc") as srv:
        yield srv


def test_16_concurrent_requests_make_one_topology(server: ServerProcess) -> None:
    deployment(lambda path, body: httpx.post(server.url + path, json=body))
    responses = burst(server, [("GET", MINE, None)] * 16, headers={"X-Project-Id": "race"})
    assert error_types(responses) == {200: 16}, [r.text for r in responses]
    assert len({topology(r, "race") for r in responses}) == 1
    db = Database(server.database_url)
    try:
        with db.read() as session:
            counts = [session.scalar(select(func.count()).select_from(model).where(
                model.project_id == "race")) for model in (Network, Subnet, Router,
                                                           AutoAllocatedTopology)]
    finally:
        db.dispose()
    assert counts == [1, 2, 1, 1]
    deleted = burst(server, [("DELETE", MINE, None)] * 16, headers={"X-Project-Id": "race"})
    assert error_types(deleted) == {204: 16}, [r.text for r in deleted]
    assert httpx.get(server.url + "/v2.0/networks", params={"project_id": "race"}).json() == {
        "networks": []}
