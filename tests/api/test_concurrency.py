"""Allocation under concurrent requests, against a real ``neutrino server`` (issue item 5).

The server runs as a subprocess with two API worker processes on each
database, so requests race across processes as in production.  Races must
end in exactly one winner per value, clean 409s for the losers, and no
half-written rows; nothing may answer 5xx.
"""
from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from neutrino.bench.server import ServerProcess
from neutrino.db.models import IPAllocation, NetworkSegment, Port, Subnet, Tag
from neutrino.db.session import Database
from tests.conftest import BACKENDS

#: A tiny tenant VLAN pool, so exhausting it takes a handful of requests.
VLAN_IDS = range(100, 105)


@contextlib.contextmanager
def two_worker_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
                      name: str, env: dict[str, str] | None = None,
                      ) -> Iterator[ServerProcess]:
    """A real server on the database of ``request.param``, the pure core, with two API
    workers, so that concurrent requests race across processes as in production."""
    workdir = tmp_path_factory.mktemp(f"{name}-{request.param}")
    if request.param == "sqlite":
        url = f"sqlite:///{workdir / 'neutrino.db'}"
    else:
        url = request.getfixturevalue("pg_server").create_database(f"{name}{os.getpid()}")
    with ServerProcess(url, Path(workdir), workers=2,
                       env={"NEUTRINO_MECHANISM_DRIVERS": "", **(env or {})}) as srv:
        yield srv


@pytest.fixture(scope="module", params=BACKENDS)
def server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory,
           ) -> Iterator[ServerProcess]:
    """One server per database for the module: tenant networks on VLANs 100-104 of
    physnet1 (networks the other tests make are explicit)."""
    env = {"NEUTRINO_TENANT_NETWORK_TYPES": "vlan",
           "NEUTRINO_NETWORK_VLAN_RANGES": f"physnet1:{VLAN_IDS[0]}:{VLAN_IDS[-1]}"}
    with two_worker_server(request, tmp_path_factory, "conc", env) as srv:
        yield srv


def burst(server: ServerProcess, requests: list[tuple[str, str, dict[str, Any] | None]],
          headers: dict[str, str] | None = None) -> list[httpx.Response]:
    """Send all *requests* at once, each on its own connection; the responses in order."""
    async def run() -> list[httpx.Response]:
        limits = httpx.Limits(max_connections=len(requests))
        async with httpx.AsyncClient(base_url=server.url, limits=limits, timeout=120,
                                     headers=headers) as client:
            return list(await asyncio.gather(*(
                client.request(method, path, json=body) for method, path, body in requests)))
    return asyncio.run(run())


def create_ports(server: ServerProcess, count: int, **attrs: Any) -> list[httpx.Response]:
    return burst(server, [("POST", "/v2.0/ports", {"port": dict(attrs)})] * count)


def network(server: ServerProcess, cidr: str) -> tuple[dict, dict]:
    """A geneve network (not from the VLAN pool) with one subnet of *cidr*."""
    net = httpx.post(server.url + "/v2.0/networks", json={"network": {
        "name": "n", "provider:network_type": "geneve"}}).json()["network"]
    sub = httpx.post(server.url + "/v2.0/subnets", json={"subnet": {
        "network_id": net["id"], "cidr": cidr, "ip_version": 4}}).json()["subnet"]
    return net, sub


def error_types(responses: list[httpx.Response]) -> Counter:
    """How many responses of each status, and of each Neutron error type."""
    counts: Counter = Counter()
    for r in responses:
        counts[r.status_code] += 1
        if r.status_code >= 400:
            counts[r.json()["NeutronError"]["type"]] += 1
    return counts


def rows(server: ServerProcess, network_id: str) -> tuple[int, int]:
    """(ports, IP allocations) of *network_id*, read straight from SQL."""
    db = Database(server.database_url)
    try:
        with db.read() as session:
            ports = session.scalar(select(func.count()).select_from(Port)
                                   .where(Port.network_id == network_id))
            allocations = session.scalar(select(func.count()).select_from(IPAllocation)
                                         .where(IPAllocation.network_id == network_id))
    finally:
        db.dispose()
    return ports, allocations


def test_50_concurrent_creates_on_a_26_then_exhaustion(server: ServerProcess) -> None:
    net, sub = network(server, "10.26.0.0/26")  # 61 addresses after network, gateway, broadcast
    first = create_ports(server, 50, network_id=net["id"])
    assert error_types(first) == {201: 50}, [r.text for r in first if r.status_code != 201]
    ports = [r.json()["port"] for r in first]
    ips = [p["fixed_ips"][0]["ip_address"] for p in ports]
    assert all(len(p["fixed_ips"]) == 1 and p["fixed_ips"][0]["subnet_id"] == sub["id"]
               for p in ports)
    assert len(set(ips)) == 50
    assert len({p["mac_address"] for p in ports}) == 50
    assert sub["gateway_ip"] not in ips

    second = create_ports(server, 20, network_id=net["id"])
    counts = error_types(second)
    assert counts == {201: 11, 409: 9, "IpAddressGenerationFailure": 9}, \
        [r.text for r in second if r.status_code != 201]
    ips += [r.json()["port"]["fixed_ips"][0]["ip_address"] for r in second if r.status_code == 201]
    assert len(set(ips)) == 61
    assert rows(server, net["id"]) == (61, 61)


def test_16_concurrent_subnets_from_one_pool_get_disjoint_prefixes(server: ServerProcess) -> None:
    """16 clients at once, each a subnet on a network of its own (so only the pool keeps
    them apart), from a pool of twelve /24s: twelve get the twelve, four a clean 409."""
    pool = httpx.post(server.url + "/v2.0/subnetpools", json={"subnetpool": {
        "name": "race", "prefixes": ["10.200.0.0/21", "10.200.8.0/22"],
        "default_prefixlen": 24}}).json()["subnetpool"]
    nets = [httpx.post(server.url + "/v2.0/networks", json={"network": {
        "name": f"race{i}", "provider:network_type": "geneve"}}).json()["network"]
        for i in range(16)]
    responses = burst(server, [("POST", "/v2.0/subnets", {"subnet": {
        "network_id": net["id"], "subnetpool_id": pool["id"], "ip_version": 4}})
        for net in nets])
    assert error_types(responses) == {201: 12, 409: 4, "SubnetAllocationError": 4}, \
        [r.text for r in responses if r.status_code != 201]
    cidrs = sorted(ipaddress.ip_network(r.json()["subnet"]["cidr"])
                   for r in responses if r.status_code == 201)
    assert cidrs == [ipaddress.ip_network(f"10.200.{i}.0/24") for i in range(12)]
    db = Database(server.database_url)
    try:
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(Subnet).where(
                Subnet.subnetpool_id == pool["id"])) == 12
    finally:
        db.dispose()


def test_concurrent_tenant_networks_exhaust_a_small_vlan_range(server: ServerProcess) -> None:
    responses = burst(server, [("POST", "/v2.0/networks", {"network": {"name": "t"}})] * 12)
    counts = error_types(responses)
    assert counts == {201: 5, 503: 7, "NoNetworkAvailable": 7}, [r.text for r in responses]
    nets = [r.json()["network"] for r in responses if r.status_code == 201]
    assert sorted(n["provider:segmentation_id"] for n in nets) == list(VLAN_IDS)
    assert {n["provider:physical_network"] for n in nets} == {"physnet1"}

    # Releasing one VLAN makes exactly that one available again.
    freed = nets[0]
    assert httpx.delete(f"{server.url}/v2.0/networks/{freed['id']}").status_code == 204
    again = burst(server, [("POST", "/v2.0/networks", {"network": {"name": "t"}})] * 3)
    assert error_types(again) == {201: 1, 503: 2, "NoNetworkAvailable": 2}
    (new,) = [r.json()["network"] for r in again if r.status_code == 201]
    assert new["provider:segmentation_id"] == freed["provider:segmentation_id"]
    db = Database(server.database_url)
    try:
        with db.read() as session:
            vlan_segments = session.scalar(select(func.count()).select_from(NetworkSegment)
                                           .where(NetworkSegment.network_type == "vlan"))
    finally:
        db.dispose()
    assert vlan_segments == len(VLAN_IDS)
    for r in responses + again:
        if r.status_code == 201 and r.json()["network"]["id"] != freed["id"]:
            httpx.delete(f"{server.url}/v2.0/networks/{r.json()['network']['id']}")


def test_same_explicit_mac_one_winner(server: ServerProcess) -> None:
    net, _ = network(server, "10.27.0.0/24")
    responses = create_ports(server, 10, network_id=net["id"], mac_address="fa:16:3e:00:00:01")
    assert error_types(responses) == {201: 1, 409: 9, "MacAddressInUse": 9}
    assert rows(server, net["id"]) == (1, 1)


def test_same_explicit_ip_one_winner(server: ServerProcess) -> None:
    net, sub = network(server, "10.28.0.0/24")
    wanted = [{"subnet_id": sub["id"], "ip_address": "10.28.0.50"}]
    responses = create_ports(server, 10, network_id=net["id"], fixed_ips=wanted)
    assert error_types(responses) == {201: 1, 409: 9, "IpAddressAlreadyAllocated": 9}
    (winner,) = [r.json()["port"] for r in responses if r.status_code == 201]
    assert winner["fixed_ips"] == wanted
    assert rows(server, net["id"]) == (1, 1)


def test_concurrent_adds_of_one_tag_make_one_row_and_one_revision(server: ServerProcess) -> None:
    net = httpx.post(server.url + "/v2.0/networks", json={"network": {
        "name": "tagged", "provider:network_type": "geneve"}}).json()["network"]
    path = f"/v2.0/networks/{net['id']}/tags/same"
    responses = burst(server, [("PUT", path, None)] * 16)
    assert error_types(responses) == {201: 16}, [r.text for r in responses]
    shown = httpx.get(f"{server.url}/v2.0/networks/{net['id']}").json()["network"]
    assert shown["tags"] == ["same"] and shown["revision_number"] == net["revision_number"] + 1
    db = Database(server.database_url)
    try:
        with db.read() as session:
            assert session.scalar(select(func.count()).select_from(Tag).where(
                Tag.resource_id == net["id"])) == 1
    finally:
        db.dispose()


def test_concurrent_tag_changes_all_land(server: ServerProcess) -> None:
    """Different tags added at once: each request's change survives the others'."""
    net = httpx.post(server.url + "/v2.0/networks", json={"network": {
        "name": "tagged", "provider:network_type": "geneve"}}).json()["network"]
    responses = burst(server, [("PUT", f"/v2.0/networks/{net['id']}/tags/t{i:02}", None)
                               for i in range(16)])
    assert error_types(responses) == {201: 16}, [r.text for r in responses]
    shown = httpx.get(f"{server.url}/v2.0/networks/{net['id']}").json()["network"]
    assert shown["tags"] == [f"t{i:02}" for i in range(16)]
    assert shown["revision_number"] == net["revision_number"] + 16
