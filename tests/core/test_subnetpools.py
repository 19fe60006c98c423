"""Subnet pools, address scopes and subnets allocated from pools, in the core, on both
databases (Neutron's rules; the API tests cover bodies, policy and HTTP codes)."""
from __future__ import annotations

import ipaddress
from typing import Any

import pytest
from sqlalchemy import func, select

from neutrino.core import exceptions as exc
from neutrino.core.context import Context
from neutrino.core.plugin import Plugin
from neutrino.core.query import ListQuery
from neutrino.db.models import Subnet, SubnetPool

MEMBER = frozenset({"member", "reader"})
DEMO = Context(user_id="u-demo", project_id="demo", roles=MEMBER)
ALT = Context(user_id="u-alt", project_id="alt", roles=MEMBER)
ADMIN = Context(user_id="u-admin", project_id="admin", roles=frozenset({"admin"}), is_admin=True)


def pool(plugin: Plugin, ctx: Context = DEMO, prefixes: tuple[str, ...] = ("10.10.0.0/16",),
         **attrs: Any) -> dict[str, Any]:
    return plugin.create_subnetpool(ctx, {"name": "p", "prefixes": list(prefixes), **attrs})


def network(plugin: Plugin, ctx: Context = DEMO) -> dict[str, Any]:
    return plugin.create_network(ctx, {"name": "n"})


def subnet(plugin: Plugin, net: dict[str, Any], ctx: Context = DEMO,
           **attrs: Any) -> dict[str, Any]:
    return plugin.create_subnet(ctx, {"network_id": net["id"], **attrs})


def pool_rows(plugin: Plugin) -> int:
    with plugin.db.read() as session:
        return session.scalar(select(func.count()).select_from(SubnetPool))


# -- pools -------------------------------------------------------------------------

def test_a_pool_is_created_with_compacted_prefixes_and_neutrons_defaults(plugin: Plugin) -> None:
    created = pool(plugin, prefixes=("10.0.1.0/24", "10.0.0.0/24", "10.0.0.128/25"),
                   description="d", tags=["t"])
    assert created == {
        "id": created["id"], "name": "p", "description": "d", "project_id": "demo",
        "tenant_id": "demo", "revision_number": 1, "tags": ["t"],
        "created_at": created["created_at"], "updated_at": created["updated_at"],
        "ip_version": 4, "prefixes": ["10.0.0.0/23"], "default_prefixlen": "8",
        "min_prefixlen": "8", "max_prefixlen": "32", "is_default": False, "default_quota": None,
        "address_scope_id": None, "shared": False}
    v6 = pool(plugin, prefixes=("2001:db8::/48",))
    assert (v6["ip_version"], v6["min_prefixlen"], v6["default_prefixlen"],
            v6["max_prefixlen"]) == (6, "64", "64", "128")
    assert plugin.get_subnetpool(DEMO, created["id"]) == created


@pytest.mark.parametrize(("attrs", "error", "message"), [
    ({"prefixes": []}, exc.EmptySubnetPoolPrefixList, "Empty subnet pool prefix list"),
    ({"prefixes": ["10.0.0.0/8", "2001:db8::/32"]}, exc.PrefixVersionMismatch, "Cannot mix"),
    ({"min_prefixlen": 25, "max_prefixlen": 24}, exc.IllegalSubnetPoolPrefixBounds,
     "min_prefixlen=25, max_prefixlen=24"),
    ({"max_prefixlen": 33}, exc.IllegalSubnetPoolPrefixBounds,
     "max_prefixlen=33, ip_version_max=32"),
    ({"min_prefixlen": 16, "default_prefixlen": 12}, exc.IllegalSubnetPoolPrefixBounds,
     "default_prefixlen=12, min_prefixlen=16"),
    ({"max_prefixlen": 24, "default_prefixlen": 28}, exc.IllegalSubnetPoolPrefixBounds,
     "default_prefixlen=28, max_prefixlen=24"),
])
def test_invalid_pools_are_refused_and_leave_nothing(plugin: Plugin, attrs: dict[str, Any],
                                                     error: type[exc.NeutronError],
                                                     message: str) -> None:
    body = {"name": "p", "prefixes": ["10.0.0.0/16"], **attrs}
    with pytest.raises(error, match=message) as raised:
        plugin.create_subnetpool(DEMO, body)
    assert raised.value.status_code == 400
    assert pool_rows(plugin) == 0


def test_one_default_pool_per_ip_version(plugin: Plugin) -> None:
    first = pool(plugin, ADMIN, is_default=True)
    pool(plugin, ADMIN, prefixes=("2001:db8::/48",), is_default=True)  # the other version
    with pytest.raises(exc.InvalidInput, match="A default subnetpool for this IP family"):
        pool(plugin, ADMIN, prefixes=("10.20.0.0/16",), is_default=True)
    other = pool(plugin, ADMIN, prefixes=("10.20.0.0/16",))
    with pytest.raises(exc.InvalidInput, match="already been set"):
        plugin.update_subnetpool(ADMIN, other["id"], {"is_default": True})
    plugin.update_subnetpool(ADMIN, first["id"], {"is_default": False})
    assert plugin.update_subnetpool(ADMIN, other["id"], {"is_default": True})["is_default"]


def test_another_projects_private_pool_is_not_found_a_shared_one_is_seen(plugin: Plugin) -> None:
    private = pool(plugin)
    shared = pool(plugin, ADMIN, prefixes=("10.30.0.0/16",), shared=True)
    for call in (plugin.get_subnetpool, plugin.delete_subnetpool):
        with pytest.raises(exc.SubnetPoolNotFound):
            call(ALT, private["id"])
    with pytest.raises(exc.SubnetPoolNotFound):
        plugin.add_prefixes(ALT, private["id"], ["10.11.0.0/16"])
    assert {p["id"] for p in plugin.list_subnetpools(ALT)[0]} == {shared["id"]}
    assert plugin.get_subnetpool(ALT, shared["id"])["shared"] is True
    assert {p["id"] for p in plugin.list_subnetpools(DEMO, ListQuery(
        filters={"shared": ["true"]}))[0]} == {shared["id"]}
    assert {p["id"] for p in plugin.list_subnetpools(ADMIN)[0]} == {private["id"], shared["id"]}
    # Nor can another project allocate from it.
    with pytest.raises(exc.SubnetPoolNotFound):
        subnet(plugin, network(plugin, ALT), ALT, subnetpool_id=private["id"], ip_version=4)


def test_a_pool_shared_with_one_project_through_rbac(plugin: Plugin) -> None:
    private = pool(plugin)
    plugin.create_rbac_policy(DEMO, {"object_type": "subnetpool", "object_id": private["id"],
                                     "action": "access_as_shared", "target_project": "alt"})
    assert plugin.get_subnetpool(ALT, private["id"])["shared"] is True
    assert plugin.get_subnetpool(DEMO, private["id"])["shared"] is False
    sub = subnet(plugin, network(plugin, ALT), ALT, subnetpool_id=private["id"], prefixlen=24)
    assert sub["project_id"] == "alt"
    policy_id = plugin.list_rbac_policies(DEMO)[0][0]["id"]
    with pytest.raises(exc.RbacPolicyInUse):  # alt uses it
        plugin.delete_rbac_policy(DEMO, policy_id)


def test_prefixes_grow_by_update_and_add_shrink_by_remove_unless_in_use(plugin: Plugin) -> None:
    created = pool(plugin, prefixes=("10.0.0.0/24",), default_prefixlen=26)
    with pytest.raises(exc.IllegalSubnetPoolPrefixUpdate, match="must be a subset"):
        plugin.update_subnetpool(DEMO, created["id"], {"prefixes": ["10.0.0.0/26"]})
    updated = plugin.update_subnetpool(DEMO, created["id"],
                                       {"prefixes": ["10.0.0.0/24", "10.0.1.0/24"]})
    assert updated["prefixes"] == ["10.0.0.0/23"] and updated["revision_number"] == 2
    assert plugin.add_prefixes(DEMO, created["id"], ["10.5.0.0/24", "10.0.0.0/25"]) == \
        ["10.0.0.0/23", "10.5.0.0/24"]
    assert plugin.add_prefixes(DEMO, created["id"], []) == ["10.0.0.0/23", "10.5.0.0/24"]
    with pytest.raises(exc.PrefixVersionMismatch):
        plugin.add_prefixes(DEMO, created["id"], ["2001:db8::/64"])
    sub = subnet(plugin, network(plugin), subnetpool_id=created["id"])
    assert sub["cidr"] == "10.5.0.0/26"  # the smallest block first
    with pytest.raises(exc.IllegalSubnetPoolPrefixUpdate, match="in use by a subnet"):
        plugin.remove_prefixes(DEMO, created["id"], ["10.5.0.0/24"])
    assert plugin.remove_prefixes(DEMO, created["id"], ["10.0.1.0/24", "10.9.0.0/16"]) == \
        ["10.0.0.0/24", "10.5.0.0/24"]
    assert plugin.get_subnetpool(DEMO, created["id"])["revision_number"] == 4
    plugin.delete_subnet(DEMO, sub["id"])
    assert plugin.remove_prefixes(DEMO, created["id"], ["10.5.0.0/24"]) == ["10.0.0.0/24"]
    assert plugin.remove_prefixes(DEMO, created["id"], ["10.0.0.0/8"]) == []
    with pytest.raises(exc.SubnetAllocationError):
        subnet(plugin, network(plugin), subnetpool_id=created["id"])
    with pytest.raises(exc.PrefixVersionMismatch):  # an empty pool keeps its version
        plugin.add_prefixes(DEMO, created["id"], ["2001:db8::/64"])
    assert plugin.add_prefixes(DEMO, created["id"], ["10.7.0.0/24"]) == ["10.7.0.0/24"]


def test_a_pool_with_subnets_cannot_be_deleted(plugin: Plugin) -> None:
    created = pool(plugin)
    sub = subnet(plugin, network(plugin), subnetpool_id=created["id"], prefixlen=24)
    with pytest.raises(exc.SubnetPoolDeleteError, match="existing allocations"):
        plugin.delete_subnetpool(DEMO, created["id"])
    plugin.delete_subnet(DEMO, sub["id"])
    plugin.delete_subnetpool(DEMO, created["id"])
    assert pool_rows(plugin) == 0


# -- subnets from pools ---------------------------------------------------------------

def test_subnets_take_free_prefixes_and_give_them_back(plugin: Plugin) -> None:
    created = pool(plugin, prefixes=("10.0.0.0/22",), default_prefixlen=24, min_prefixlen=23,
                   max_prefixlen=28)
    nets = [network(plugin) for _ in range(5)]
    first = subnet(plugin, nets[0], subnetpool_id=created["id"])
    assert (first["cidr"], first["gateway_ip"], first["subnetpool_id"]) == \
        ("10.0.0.0/24", "10.0.0.1", created["id"])
    assert first["allocation_pools"] == [{"start": "10.0.0.2", "end": "10.0.0.254"}]
    small = subnet(plugin, nets[1], subnetpool_id=created["id"], prefixlen=28,
                   gateway_ip=None)
    assert small["cidr"] == "10.0.1.0/28" and small["gateway_ip"] is None
    exact = subnet(plugin, nets[2], subnetpool_id=created["id"], cidr="10.0.2.0/23")
    assert exact["cidr"] == "10.0.2.0/23"
    for attrs, error, message in (
            ({"prefixlen": 22}, exc.MinPrefixSubnetAllocationError, "minimum allowed prefix"),
            ({"prefixlen": 29}, exc.MaxPrefixSubnetAllocationError, "maximum allowed prefix"),
            ({"prefixlen": 24}, exc.SubnetAllocationError, "Insufficient prefix space"),
            ({"cidr": "10.0.0.0/24"}, exc.SubnetAllocationError, "Cannot allocate requested"),
            ({"cidr": "10.9.0.0/24"}, exc.SubnetAllocationError, "Cannot allocate requested")):
        with pytest.raises(error, match=message):
            subnet(plugin, nets[3], subnetpool_id=created["id"], **attrs)
    plugin.delete_subnet(DEMO, first["id"])
    assert subnet(plugin, nets[3], subnetpool_id=created["id"])["cidr"] == "10.0.0.0/24"
    with plugin.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Subnet)) == 3


@pytest.mark.parametrize(("attrs", "message"), [
    ({"cidr": "10.0.0.0/24", "prefixlen": 24}, "cidr and prefixlen must not be supplied"),
    ({"use_default_subnetpool": True, "subnetpool_id": "x"}, "cannot both be specified"),
    ({}, "a subnetpool must be specified in the absence of a cidr"),
    ({"use_default_subnetpool": True}, "ip_version must be specified"),
    ({"use_default_subnetpool": True, "ip_version": 4}, "No default subnetpool found for IPv4"),
])
def test_pool_requests_neutron_refuses(plugin: Plugin, attrs: dict[str, Any],
                                       message: str) -> None:
    with pytest.raises(exc.BadRequest, match=message):
        subnet(plugin, network(plugin), **attrs)


def test_pool_requests_checked_against_the_pool(plugin: Plugin) -> None:
    created = pool(plugin)
    net = network(plugin)
    with pytest.raises(exc.BadRequest, match="Cannot allocate IPv6 subnet from IPv4 subnet"):
        subnet(plugin, net, subnetpool_id=created["id"], ip_version=6)
    with pytest.raises(exc.BadRequest, match="allocation_pools allowed only for specific"):
        subnet(plugin, net, subnetpool_id=created["id"],
               allocation_pools=[{"start": "10.10.0.5", "end": "10.10.0.9"}])
    with pytest.raises(exc.SubnetPoolNotFound):
        subnet(plugin, net, subnetpool_id="00000000-0000-0000-0000-000000000000")
    # A specific request may give its pools.
    sub = subnet(plugin, net, subnetpool_id=created["id"], cidr="10.10.7.0/24",
                 allocation_pools=[{"start": "10.10.7.5", "end": "10.10.7.9"}])
    assert sub["allocation_pools"] == [{"start": "10.10.7.5", "end": "10.10.7.9"}]


def test_use_default_subnetpool_takes_the_visible_default_of_the_version(plugin: Plugin) -> None:
    v4 = pool(plugin, ADMIN, prefixes=("10.40.0.0/16",), default_prefixlen=26, is_default=True,
              shared=True)
    pool(plugin, ADMIN, prefixes=("2001:db8::/48",), is_default=True)  # not shared
    net = network(plugin)
    sub = subnet(plugin, net, use_default_subnetpool=True, ip_version=4)
    assert (sub["subnetpool_id"], sub["cidr"]) == (v4["id"], "10.40.0.0/26")
    with pytest.raises(exc.BadRequest, match="No default subnetpool found for IPv6"):
        subnet(plugin, net, use_default_subnetpool=True, ip_version=6)


def test_default_quota_limits_each_projects_addresses(plugin: Plugin) -> None:
    created = pool(plugin, ADMIN, prefixes=("10.50.0.0/16",), default_prefixlen=26,
                   default_quota=128, shared=True)
    demo_net, alt_net = network(plugin), network(plugin, ALT)
    subnet(plugin, demo_net, subnetpool_id=created["id"])
    subnet(plugin, demo_net, subnetpool_id=created["id"])  # 128 addresses: the quota
    with pytest.raises(exc.SubnetPoolQuotaExceeded) as raised:
        subnet(plugin, demo_net, subnetpool_id=created["id"], prefixlen=32)
    assert raised.value.status_code == 409
    subnet(plugin, alt_net, ALT, subnetpool_id=created["id"])  # alt has its own 128
    plugin.update_subnetpool(ADMIN, created["id"], {"default_quota": 0})  # 0: no limit
    subnet(plugin, demo_net, subnetpool_id=created["id"], prefixlen=24)


def test_a_networks_subnets_of_one_version_come_from_one_pool(plugin: Plugin) -> None:
    first, second = pool(plugin), pool(plugin, prefixes=("10.20.0.0/16",))
    v6 = pool(plugin, prefixes=("2001:db8::/48",))
    net = network(plugin)
    subnet(plugin, net, subnetpool_id=first["id"], prefixlen=24)
    subnet(plugin, net, subnetpool_id=first["id"], prefixlen=24)
    subnet(plugin, net, subnetpool_id=v6["id"])  # another version, another pool
    with pytest.raises(exc.NetworkSubnetPoolAffinityError):
        subnet(plugin, net, subnetpool_id=second["id"], prefixlen=24)
    with pytest.raises(exc.NetworkSubnetPoolAffinityError):
        subnet(plugin, net, cidr="192.168.0.0/24")
    plain = network(plugin)
    subnet(plugin, plain, cidr="192.168.0.0/24")
    with pytest.raises(exc.NetworkSubnetPoolAffinityError):
        subnet(plugin, plain, subnetpool_id=first["id"], prefixlen=24)


# -- address scopes ------------------------------------------------------------------

def scope(plugin: Plugin, ctx: Context = DEMO, ip_version: int = 4,
          **attrs: Any) -> dict[str, Any]:
    return plugin.create_address_scope(ctx, {"name": "s", "ip_version": ip_version, **attrs})


def test_an_address_scope_and_its_pools(plugin: Plugin) -> None:
    created = scope(plugin)
    assert created == {"id": created["id"], "name": "s", "description": "",
                       "project_id": "demo", "tenant_id": "demo", "revision_number": 1,
                       "created_at": created["created_at"], "updated_at": created["updated_at"],
                       "ip_version": 4, "shared": False}
    member = pool(plugin, prefixes=("20.0.0.0/18", "30.0.0.0/18"),
                  address_scope_id=created["id"])
    assert member["address_scope_id"] == created["id"]
    with pytest.raises(exc.AddressScopePrefixConflict) as raised:
        pool(plugin, prefixes=("40.0.0.0/18", "30.0.0.0/12"), address_scope_id=created["id"])
    assert raised.value.status_code == 409
    other = pool(plugin, prefixes=("20.0.10.0/24",))
    with pytest.raises(exc.AddressScopePrefixConflict):
        plugin.update_subnetpool(DEMO, other["id"], {"address_scope_id": created["id"]})
    apart = pool(plugin, prefixes=("50.0.0.0/18",), address_scope_id=created["id"])
    with pytest.raises(exc.AddressScopePrefixConflict):  # growing into a neighbour
        plugin.update_subnetpool(DEMO, member["id"], {
            "prefixes": ["20.0.0.0/18", "30.0.0.0/18", "50.0.0.0/12"]})
    with pytest.raises(exc.AddressScopePrefixConflict):
        plugin.add_prefixes(DEMO, apart["id"], ["30.0.0.0/24"])
    assert plugin.get_subnetpool(DEMO, member["id"])["prefixes"] == \
        ["20.0.0.0/18", "30.0.0.0/18"]
    v6 = scope(plugin, ip_version=6)
    with pytest.raises(exc.IllegalSubnetPoolIpVersionAssociationToAddressScope):
        plugin.update_subnetpool(DEMO, other["id"], {"address_scope_id": v6["id"]})
    with pytest.raises(exc.AddressScopeNotFound):
        pool(plugin, prefixes=("60.0.0.0/18",),
             address_scope_id="00000000-0000-0000-0000-000000000000")
    with pytest.raises(exc.AddressScopeInUse) as in_use:
        plugin.delete_address_scope(DEMO, created["id"])
    assert in_use.value.status_code == 409
    for pool_id in (member["id"], apart["id"]):
        plugin.update_subnetpool(DEMO, pool_id, {"address_scope_id": None})
    plugin.delete_address_scope(DEMO, created["id"])
    with pytest.raises(exc.AddressScopeNotFound):
        plugin.get_address_scope(DEMO, created["id"])


def test_another_projects_scope_is_not_found_a_shared_one_may_be_joined(plugin: Plugin) -> None:
    private = scope(plugin, ADMIN)
    shared = scope(plugin, ADMIN, shared=True)
    with pytest.raises(exc.AddressScopeNotFound):
        plugin.get_address_scope(DEMO, private["id"])
    with pytest.raises(exc.AddressScopeNotFound):
        pool(plugin, address_scope_id=private["id"])
    assert [s["id"] for s in plugin.list_address_scopes(DEMO)[0]] == [shared["id"]]
    joined = pool(plugin, address_scope_id=shared["id"])
    # The scope is not the project's: only an admin changes the pool now (Neutron's rule).
    with pytest.raises(exc.IllegalSubnetPoolUpdate, match="shared address scope"):
        plugin.add_prefixes(DEMO, joined["id"], ["10.99.0.0/16"])
    assert plugin.add_prefixes(ADMIN, joined["id"], ["10.99.0.0/16"]) == \
        ["10.10.0.0/16", "10.99.0.0/16"]
    with pytest.raises(exc.AddressScopeUpdateError, match="can't be unshared"):
        plugin.update_address_scope(ADMIN, shared["id"], {"shared": False})
    assert plugin.update_address_scope(ADMIN, private["id"], {"shared": True})["shared"]
    assert len(plugin.list_address_scopes(DEMO)[0]) == 2


def test_networks_show_the_scope_of_their_subnets_and_keep_one_per_version(
        plugin: Plugin) -> None:
    v4, v6 = scope(plugin), scope(plugin, ip_version=6)
    in_v4 = pool(plugin, prefixes=("10.0.0.0/16",), address_scope_id=v4["id"])
    also_v4 = pool(plugin, prefixes=("10.1.0.0/16",), address_scope_id=v4["id"])
    unscoped = pool(plugin, prefixes=("10.2.0.0/16",))
    in_v6 = pool(plugin, prefixes=("2001:db8::/48",), address_scope_id=v6["id"])
    net = network(plugin)
    assert (net["ipv4_address_scope"], net["ipv6_address_scope"]) == (None, None)
    subnet(plugin, net, subnetpool_id=in_v4["id"], prefixlen=24)
    subnet(plugin, net, subnetpool_id=also_v4["id"], prefixlen=24)  # another pool, same scope
    elsewhere = pool(plugin, prefixes=("10.3.0.0/16",), address_scope_id=scope(plugin)["id"])
    with pytest.raises(exc.NetworkAddressScopeAffinityError):
        subnet(plugin, net, subnetpool_id=elsewhere["id"], prefixlen=24)
    with pytest.raises(exc.NetworkAddressScopeAffinityError):
        subnet(plugin, net, subnetpool_id=unscoped["id"], prefixlen=24)
    with pytest.raises(exc.NetworkSubnetPoolAffinityError):
        subnet(plugin, net, cidr="192.168.0.0/24")
    subnet(plugin, net, subnetpool_id=in_v6["id"])
    shown = plugin.get_network(DEMO, net["id"])
    assert (shown["ipv4_address_scope"], shown["ipv6_address_scope"]) == (v4["id"], v6["id"])
    listed = {n["id"]: n for n in plugin.list_networks(DEMO)[0]}[net["id"]]
    assert (listed["ipv4_address_scope"], listed["ipv6_address_scope"]) == (v4["id"], v6["id"])
    renamed = plugin.update_network(DEMO, net["id"], {"name": "m"})
    assert renamed["ipv4_address_scope"] == v4["id"]
    # Moving one of the v4 pools elsewhere would split the network's v4 subnets.
    with pytest.raises(exc.NetworkAddressScopeAffinityError):
        plugin.update_subnetpool(DEMO, in_v4["id"], {"address_scope_id": None})


def test_subnet_cidrs_from_a_pool_never_overlap_within_it(plugin: Plugin) -> None:
    """Many allocations of mixed sizes: every cidr inside the pool, none overlapping."""
    created = pool(plugin, prefixes=("10.0.0.0/20",), min_prefixlen=22, max_prefixlen=28)
    cidrs = []
    for i in range(8):
        net = network(plugin)
        cidrs.append(subnet(plugin, net, subnetpool_id=created["id"],
                            prefixlen=(22, 24, 26, 28)[i % 4])["cidr"])
    nets = [ipaddress.ip_network(c) for c in cidrs]
    assert all(n.subnet_of(ipaddress.ip_network("10.0.0.0/20")) for n in nets)  # type: ignore[arg-type]
    assert not any(a.overlaps(b) for i, a in enumerate(nets) for b in nets[i + 1:])
