"""Quotas in the core, on both databases: limits and defaults, the check every create
passes at the end of its transaction, and that check under 16 concurrent creators."""
from __future__ import annotations

import dataclasses
import inspect
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import func, select

from neutrino.config import Settings
from neutrino.core import exceptions as exc
from neutrino.core.context import ADMIN, Context
from neutrino.core.plugin import Plugin
from neutrino.core.quotas import COUNTED, lock_key
from neutrino.db.models import IPAllocation, Network, Port, Quota, Subnet, Tag
from tests.drivers import RECORDER

#: Neutron's default limits (neutron/conf/quota.py), also of resources still to land.
GROUPS = {"security_group": 10, "security_group_rule": 100}
NEUTRON_DEFAULTS = {"network": 100, "subnet": 100, "port": 500, "security_group": 10,
                    "security_group_rule": 100, "router": 10, "floatingip": 50,
                    "rbac_policy": 10, "subnetpool": -1}


def member(project_id: str) -> Context:
    return Context(user_id=f"user-of-{project_id}", project_id=project_id,
                   roles=frozenset({"member", "reader"}))


def network_with_subnet(plugin: Plugin, ctx: Context, cidr: str = "10.0.0.0/24",
                        ) -> dict[str, Any]:
    net = plugin.create_network(ctx, {"name": "n"})
    plugin.create_subnet(ctx, {"network_id": net["id"], "cidr": cidr})
    return net


def count(plugin: Plugin, model: Any, **where: Any) -> int:
    with plugin.db.read() as session:
        stmt = select(func.count()).select_from(model)
        for column, value in where.items():
            stmt = stmt.where(getattr(model, column) == value)
        return session.scalar(stmt)


def test_neutrons_default_limits_are_settings() -> None:
    settings = Settings()
    assert {name: getattr(settings, f"quota_{name}") for name in NEUTRON_DEFAULTS} == \
        NEUTRON_DEFAULTS


def test_every_resource_the_core_creates_is_counted() -> None:
    """A resource that lands with a ``create_<name>`` (and ``create_<name>_bulk``) must be
    in COUNTED (else its creates would escape quotas), and have its default limit among
    the settings."""
    created = {name.removeprefix("create_").removesuffix("_bulk") for name, _ in
               inspect.getmembers(Plugin, inspect.isfunction) if name.startswith("create_")}
    assert created == set(COUNTED)
    settings = {f.name for f in dataclasses.fields(Settings)}
    assert {f"quota_{name}" for name in COUNTED} <= settings


def test_limits_are_the_defaults_until_a_project_has_its_own(make_plugin) -> None:
    plugin = make_plugin(quota_port=7)
    defaults = {"network": 100, "subnet": 100, "port": 7, "rbac_policy": 10, **GROUPS,
                "router": 10, "floatingip": 50}
    assert plugin.get_default_quota() == defaults
    assert plugin.get_quota("p") == defaults
    assert plugin.update_quota("p", {"network": 3, "port": -1}) == \
        {**defaults, "network": 3, "port": -1}
    assert plugin.get_quota("p") == {**defaults, "network": 3, "port": -1}
    assert plugin.get_quota("other") == defaults
    assert plugin.update_quota("p", {"network": 4}) == {**defaults, "network": 4, "port": -1}
    plugin.delete_quota("p")
    assert plugin.get_quota("p") == plugin.get_default_quota()
    with pytest.raises(exc.TenantQuotaNotFound, match="Quota for project p could not be found"):
        plugin.delete_quota("p")


def test_over_quota_create_is_refused_and_leaves_nothing(make_plugin) -> None:
    plugin = make_plugin(mechanism_drivers=[RECORDER])
    recorder = plugin.mech.drivers[0]
    ctx = member("p")
    net = network_with_subnet(plugin, ctx)
    plugin.update_quota("p", {"port": 2})
    for _ in range(2):
        plugin.create_port(ctx, {"network_id": net["id"], "tags": ["t"]})
    before = {model: count(plugin, model) for model in (Port, IPAllocation, Tag)}
    postcommits = len(recorder.calls("create_port_postcommit"))
    with pytest.raises(exc.OverQuota, match=r"^Quota exceeded for resources: \['port'\]\.$"):
        plugin.create_port(ctx, {"network_id": net["id"], "tags": ["t"]})
    assert {model: count(plugin, model) for model in (Port, IPAllocation, Tag)} == before
    # The drivers' precommit ran in the transaction that rolled back; no postcommit did.
    assert len(recorder.calls("create_port_postcommit")) == postcommits
    assert len(recorder.calls("create_port_precommit")) == postcommits + 1


@pytest.mark.parametrize(("resource", "create"), [
    ("network", lambda plugin, ctx, net: plugin.create_network(ctx, {"name": "more"})),
    ("subnet", lambda plugin, ctx, net: plugin.create_subnet(
        ctx, {"network_id": net["id"], "cidr": "10.9.0.0/24"})),
])
def test_networks_and_subnets_have_quotas_too(plugin: Plugin, resource: str, create) -> None:
    ctx = member("p")
    net = network_with_subnet(plugin, ctx)
    plugin.update_quota("p", {resource: 1})
    with pytest.raises(exc.OverQuota, match=rf"\['{resource}'\]"):
        create(plugin, ctx, net)
    assert count(plugin, Network) == count(plugin, Subnet) == 1


def test_a_create_counts_against_the_project_that_owns_it(plugin: Plugin) -> None:
    """An admin creating in project p (a port on p's network, or naming p) uses p's quota,
    not its own; other projects are not affected."""
    net = network_with_subnet(plugin, member("p"))
    plugin.update_quota("p", {"port": 2})
    plugin.create_port(ADMIN, {"network_id": net["id"]})  # owned by the network's project
    admin = Context(user_id="admin", project_id="admin", roles=frozenset({"admin"}),
                    is_admin=True)
    plugin.create_port(admin, {"network_id": net["id"], "project_id": "p"})
    with pytest.raises(exc.OverQuota):
        plugin.create_port(admin, {"network_id": net["id"], "project_id": "p"})
    plugin.update_quota("admin", {"port": 0}, force=True)
    plugin.update_quota("q", {"port": 1})
    plugin.create_port(ADMIN, {"network_id": net["id"], "project_id": "q"})
    assert plugin.get_quota_details("p")["port"] == {"limit": 2, "used": 2, "reserved": 0}
    assert plugin.get_quota_details("q")["port"] == {"limit": 1, "used": 1, "reserved": 0}
    assert plugin.get_quota_details("admin")["port"] == {"limit": 0, "used": 0, "reserved": 0}


def test_rows_of_no_project_and_unlimited_quotas_are_not_limited(make_plugin) -> None:
    plugin = make_plugin(quota_network=0)
    plugin.create_network(ADMIN, {"name": "the core's own"})  # project ""
    with pytest.raises(exc.OverQuota):
        plugin.create_network(member("p"), {"name": "n"})
    plugin.update_quota("p", {"network": -1})
    for _ in range(3):
        plugin.create_network(member("p"), {"name": "n"})
    assert count(plugin, Network, project_id="p") == 3


def test_a_limit_below_usage_needs_force_and_then_blocks_creates(plugin: Plugin) -> None:
    ctx = member("p")
    net = network_with_subnet(plugin, ctx)
    ports = [plugin.create_port(ctx, {"network_id": net["id"]}) for _ in range(3)]
    with pytest.raises(exc.QuotaBelowUsage) as refused:
        plugin.update_quota("p", {"network": 5, "port": 1})
    assert refused.value.type == "HTTPBadRequest"
    assert str(refused.value) == \
        "Quota limit 1 for port must be greater than or equal to already used 3"
    assert plugin.get_quota("p")["network"] == 100  # nothing of the refused update
    plugin.update_quota("p", {"port": 3})  # equal to usage is fine
    assert plugin.update_quota("p", {"port": 1}, force=True)["port"] == 1
    with pytest.raises(exc.OverQuota):
        plugin.create_port(ctx, {"network_id": net["id"]})
    for port in ports[:2]:
        plugin.delete_port(ctx, port["id"])
    with pytest.raises(exc.OverQuota):  # one left, and one allowed: still no room
        plugin.create_port(ctx, {"network_id": net["id"]})
    plugin.delete_port(ctx, ports[2]["id"])
    plugin.create_port(ctx, {"network_id": net["id"]})


def test_deleting_a_network_frees_its_subnets_quota(plugin: Plugin) -> None:
    ctx = member("p")
    plugin.update_quota("p", {"subnet": 2})
    net = network_with_subnet(plugin, ctx)
    plugin.create_subnet(ctx, {"network_id": net["id"], "cidr": "10.1.0.0/24"})
    plugin.delete_network(ctx, net["id"])  # takes its subnets along
    other = network_with_subnet(plugin, ctx)
    plugin.create_subnet(ctx, {"network_id": other["id"], "cidr": "10.1.0.0/24"})
    assert plugin.get_quota_details("p")["subnet"]["used"] == 2


def test_list_shows_projects_with_limits_of_their_own(plugin: Plugin) -> None:
    plugin.update_quota("b", {"port": 5})
    plugin.update_quota("a", {"network": 1, "subnet": 100})  # the default, still its own
    defaults = plugin.get_default_quota()
    assert plugin.list_quotas(ADMIN) == [
        {**defaults, "network": 1, "project_id": "a", "tenant_id": "a"},
        {**defaults, "port": 5, "project_id": "b", "tenant_id": "b"}]
    assert plugin.list_quotas(member("b")) == [
        {**defaults, "port": 5, "project_id": "b", "tenant_id": "b"}]
    assert plugin.list_quotas(member("c")) == []
    plugin.delete_quota("a")
    assert [q["project_id"] for q in plugin.list_quotas(ADMIN)] == ["b"]


def test_lock_keys_are_stable_64_bit_and_apart() -> None:
    key = lock_key("port", "p")
    assert key == lock_key("port", "p") and -2**63 <= key < 2**63
    assert len({key, lock_key("network", "p"), lock_key("port", "q"),
                lock_key("port", "p\0")}) == 4


@pytest.mark.parametrize("limit", [1, 5])
def test_16_concurrent_creators_never_exceed_the_limit(plugin: Plugin, limit: int) -> None:
    """16 threads (each its own connection) create ports in one project at once, three
    rounds each: exactly *limit* succeed, every other create is OverQuota, and nothing
    else goes wrong (no deadlock, no retry exhausted, no other error)."""
    ctx = member("p")
    net = network_with_subnet(plugin, ctx, "10.0.0.0/22")
    plugin.update_quota("p", {"port": limit})
    start = threading.Barrier(16)

    def creator(_: int) -> list[str]:
        outcomes = []
        start.wait()
        for _ in range(3):
            try:
                plugin.create_port(ctx, {"network_id": net["id"]})
                outcomes.append("created")
            except exc.OverQuota:
                outcomes.append("OverQuota")
        return outcomes

    with ThreadPoolExecutor(16) as pool:
        outcomes = Counter(o for result in pool.map(creator, range(16)) for o in result)
    assert outcomes == {"created": limit, "OverQuota": 48 - limit}
    assert count(plugin, Port, project_id="p") == limit
    assert count(plugin, IPAllocation) == limit


def test_concurrent_creates_and_a_lowered_limit(plugin: Plugin) -> None:
    """A limit lowered (without force) while 16 threads create: either the update saw
    the usage and refused, or the creates after it saw the new limit; never more than
    the limit in force at the end."""
    ctx = member("p")
    net = network_with_subnet(plugin, ctx, "10.0.0.0/22")
    plugin.update_quota("p", {"port": 20})
    start = threading.Barrier(17)

    def creator(_: int) -> int:
        start.wait()
        made = 0
        for _ in range(2):
            try:
                plugin.create_port(ctx, {"network_id": net["id"]})
                made += 1
            except exc.OverQuota:
                pass
        return made

    def lower() -> bool:
        start.wait()
        try:
            plugin.update_quota("p", {"port": 8})
            return True
        except exc.QuotaBelowUsage:
            return False

    with ThreadPoolExecutor(17) as pool:
        lowered = pool.submit(lower)
        made = sum(pool.map(creator, range(16)))
    used = count(plugin, Port, project_id="p")
    assert used == made
    if lowered.result():
        assert used <= 8 and plugin.get_quota("p")["port"] == 8
    else:
        assert used <= 20 and plugin.get_quota("p")["port"] == 20
    with plugin.db.read() as session:
        assert session.scalars(select(Quota.limit).where(Quota.project_id == "p")).all() \
            in ([8], [20])
