"""RBAC policies in the core, on both databases: who sees a shared network, who may
share it, and that no project loses an access it uses (Neutron's rules)."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from neutrino.core import exceptions as exc
from neutrino.core.context import Context
from neutrino.core.plugin import Plugin
from neutrino.core.query import ListQuery
from neutrino.db.models import RbacPolicy

MEMBER = frozenset({"member", "reader"})
DEMO = Context(user_id="u-demo", project_id="demo", roles=MEMBER)
ALT = Context(user_id="u-alt", project_id="alt", roles=MEMBER)
THIRD = Context(user_id="u-third", project_id="third", roles=MEMBER)
ADMIN = Context(user_id="u-admin", project_id="admin", roles=frozenset({"admin"}), is_admin=True)
SHARED, EXTERNAL = "access_as_shared", "access_as_external"


def share(plugin: Plugin, ctx: Context, net: dict[str, Any], target: str,
          action: str = SHARED) -> dict[str, Any]:
    return plugin.create_rbac_policy(ctx, {"object_type": "network", "object_id": net["id"],
                                           "action": action, "target_project": target})


def policies_in_sql(plugin: Plugin) -> int:
    with plugin.db.read() as session:
        return session.scalar(select(func.count()).select_from(RbacPolicy))


def visible(plugin: Plugin, ctx: Context) -> set[str]:
    return {n["id"] for n in plugin.list_networks(ctx)[0]}


@pytest.fixture
def demo_net(plugin: Plugin) -> dict[str, Any]:
    net = plugin.create_network(DEMO, {"name": "demo-net"})
    plugin.create_subnet(DEMO, {"network_id": net["id"], "cidr": "10.0.0.0/24"})
    return plugin.get_network(DEMO, net["id"])


def test_a_share_to_one_project_shows_it_that_network_and_its_subnets_only(
        plugin: Plugin, demo_net: dict[str, Any]) -> None:
    assert visible(plugin, ALT) == set()
    policy = share(plugin, DEMO, demo_net, "alt")
    assert policy == {"id": policy["id"], "project_id": "demo", "tenant_id": "demo",
                      "object_type": "network", "object_id": demo_net["id"],
                      "action": SHARED, "target_tenant": "alt"}
    assert visible(plugin, ALT) == {demo_net["id"]} and visible(plugin, THIRD) == set()
    # ``shared`` is as Neutron says it: shared with the caller's project (or everyone).
    assert plugin.get_network(ALT, demo_net["id"])["shared"] is True
    assert plugin.get_network(DEMO, demo_net["id"])["shared"] is False
    assert [s["id"] for s in plugin.list_subnets(ALT)[0]] == demo_net["subnets"]
    assert plugin.list_subnets(THIRD)[0] == []
    with pytest.raises(exc.NetworkNotFound):
        plugin.get_network(THIRD, demo_net["id"])
    with pytest.raises(exc.SubnetNotFound):
        plugin.get_subnet(THIRD, demo_net["subnets"][0])
    shared_for_alt = ListQuery(filters={"shared": ["true"]})
    assert [n["id"] for n in plugin.list_networks(ALT, shared_for_alt)[0]] == [demo_net["id"]]
    assert plugin.list_networks(DEMO, shared_for_alt)[0] == []
    assert [s["id"] for s in plugin.list_subnets(ALT, shared_for_alt)[0]] == demo_net["subnets"]


def test_a_policy_in_use_cannot_be_revoked_until_its_ports_are_gone(
        plugin: Plugin, demo_net: dict[str, Any]) -> None:
    policy = share(plugin, DEMO, demo_net, "alt")
    port = plugin.create_port(ALT, {"network_id": demo_net["id"]})
    assert port["project_id"] == "alt"
    with pytest.raises(exc.RbacPolicyInUse, match="alt use it"):
        plugin.delete_rbac_policy(DEMO, policy["id"])
    with pytest.raises(exc.RbacPolicyInUse):  # retargeting takes the access away as well
        plugin.update_rbac_policy(DEMO, policy["id"], {"target_project": "third"})
    assert plugin.get_rbac_policy(DEMO, policy["id"])["target_tenant"] == "alt"
    plugin.delete_port(ALT, port["id"])
    plugin.delete_rbac_policy(DEMO, policy["id"])
    assert visible(plugin, ALT) == set() and policies_in_sql(plugin) == 0
    with pytest.raises(exc.NetworkNotFound):
        plugin.create_port(ALT, {"network_id": demo_net["id"]})


def test_the_wildcard_is_kept_while_it_alone_lets_a_project_in(
        plugin: Plugin, demo_net: dict[str, Any]) -> None:
    wildcard = share(plugin, ADMIN, demo_net, "*")
    assert plugin.get_network(THIRD, demo_net["id"])["shared"] is True
    plugin.create_port(ALT, {"network_id": demo_net["id"]})
    plugin.create_port(DEMO, {"network_id": demo_net["id"]})  # the owner needs no policy
    with pytest.raises(exc.RbacPolicyInUse):
        plugin.delete_rbac_policy(ADMIN, wildcard["id"])
    with pytest.raises(exc.InvalidSharedSetting):  # shared=false is the same revocation
        plugin.update_network(DEMO, demo_net["id"], {"shared": False})
    # While the wildcard is there, ALT's own policy lets nobody in that it does not.
    own = share(plugin, DEMO, demo_net, "alt")
    plugin.delete_rbac_policy(DEMO, own["id"])
    own = share(plugin, DEMO, demo_net, "alt")
    # With a policy of its own, ALT keeps its access when the wildcard goes.
    plugin.delete_rbac_policy(ADMIN, wildcard["id"])
    assert visible(plugin, ALT) == {demo_net["id"]} and visible(plugin, THIRD) == set()
    assert plugin.get_network(DEMO, demo_net["id"])["shared"] is False
    with pytest.raises(exc.RbacPolicyInUse):
        plugin.delete_rbac_policy(DEMO, own["id"])


def test_shared_true_is_the_wildcard_policy_made_by_the_owner(plugin: Plugin) -> None:
    net = plugin.create_network(ADMIN, {"name": "pub", "project_id": "demo", "shared": True})
    assert net["shared"] is True and visible(plugin, THIRD) == {net["id"]}
    (policy,), _ = plugin.list_rbac_policies(ADMIN)
    assert (policy["project_id"], policy["action"], policy["target_tenant"]) == (
        "demo", SHARED, "*")
    assert plugin.list_rbac_policies(DEMO)[0] == [policy]  # the owner's, so the owner sees it
    assert plugin.list_rbac_policies(THIRD)[0] == []
    revision = net["revision_number"]
    unshared = plugin.update_network(DEMO, net["id"], {"shared": False})
    assert unshared["shared"] is False and unshared["revision_number"] == revision + 1
    assert policies_in_sql(plugin) == 0 and visible(plugin, THIRD) == set()
    reshared = plugin.update_network(DEMO, net["id"], {"shared": True})
    assert reshared["shared"] is True and reshared["revision_number"] == revision + 2
    plugin.delete_network(DEMO, net["id"])
    assert policies_in_sql(plugin) == 0  # a network's policies go with it


def test_policies_change_the_network_s_revision(plugin: Plugin, demo_net: dict[str, Any]) -> None:
    revision = demo_net["revision_number"]
    policy = share(plugin, DEMO, demo_net, "alt")
    plugin.update_rbac_policy(DEMO, policy["id"], {"target_project": "third"})
    plugin.delete_rbac_policy(DEMO, policy["id"])
    assert plugin.get_network(DEMO, demo_net["id"])["revision_number"] == revision + 3


def test_router_external_follows_the_access_as_external_policies(plugin: Plugin) -> None:
    ext = plugin.create_network(ADMIN, {"name": "ext", "external": True})
    assert ext["router:external"] is True and ext["shared"] is False
    # An external network is visible to every project, but not shared with any.
    seen = plugin.get_network(THIRD, ext["id"])
    assert seen["router:external"] is True and seen["shared"] is False
    external = ListQuery(filters={"router:external": ["true"]})
    assert [n["id"] for n in plugin.list_networks(THIRD, external)[0]] == [ext["id"]]
    plugin.update_network(ADMIN, ext["id"], {"external": False})
    assert policies_in_sql(plugin) == 0 and visible(plugin, THIRD) == set()
    # A policy to one project makes a network external, for that project only.
    policy = share(plugin, ADMIN, ext, "alt", EXTERNAL)
    assert plugin.get_network(ALT, ext["id"])["router:external"] is True
    assert visible(plugin, ALT) == {ext["id"]} and visible(plugin, THIRD) == set()
    plugin.delete_rbac_policy(ADMIN, policy["id"])
    assert plugin.get_network(ADMIN, ext["id"])["router:external"] is False


def test_only_the_owner_or_an_admin_shares_and_hidden_objects_are_not_revealed(
        plugin: Plugin, demo_net: dict[str, Any]) -> None:
    share(plugin, DEMO, demo_net, "alt")
    with pytest.raises(exc.InvalidInput, match="Only admins can manipulate policies on networks"):
        share(plugin, ALT, demo_net, "third")  # ALT sees it, but does not own it
    # A network THIRD does not see is answered as one that does not exist.
    missing = {"id": "00000000-0000-0000-0000-000000000000"}
    for net in (demo_net, missing):
        with pytest.raises(exc.InvalidInput) as caught:
            share(plugin, THIRD, net, "third")
        assert caught.value.msg == (
            f"Invalid input for operation: Network {net['id']} could not be found.")
    assert share(plugin, ADMIN, demo_net, "third")["project_id"] == "admin"


@pytest.mark.parametrize(("attrs", "message"), [
    ({"object_type": "router"}, "'router' is not a valid RBAC object type"),
    ({"action": "access_as_readonly"},
     "Invalid action 'access_as_readonly' for object type 'network'"),
])
def test_unknown_object_types_and_actions_are_refused(
        plugin: Plugin, demo_net: dict[str, Any], attrs: dict[str, str], message: str) -> None:
    body = {"object_type": "network", "object_id": demo_net["id"], "action": SHARED,
            "target_project": "alt", **attrs}
    with pytest.raises(exc.InvalidInput, match=message):
        plugin.create_rbac_policy(DEMO, body)
    assert policies_in_sql(plugin) == 0


def test_duplicates_are_refused_on_create_and_update(plugin: Plugin,
                                                     demo_net: dict[str, Any]) -> None:
    share(plugin, DEMO, demo_net, "alt")
    other = share(plugin, DEMO, demo_net, "third")
    share(plugin, DEMO, demo_net, "alt", EXTERNAL)  # another action is another grant
    with pytest.raises(exc.DuplicateRbacPolicy):
        share(plugin, DEMO, demo_net, "alt")
    with pytest.raises(exc.DuplicateRbacPolicy):
        plugin.update_rbac_policy(DEMO, other["id"], {"target_project": "alt"})
    assert policies_in_sql(plugin) == 3


def test_a_self_share_may_be_retargeted_and_revoked_with_the_owner_s_ports(
        plugin: Plugin, demo_net: dict[str, Any]) -> None:
    own = share(plugin, DEMO, demo_net, "demo")
    assert plugin.get_network(DEMO, demo_net["id"])["shared"] is True
    plugin.create_port(DEMO, {"network_id": demo_net["id"]})
    assert plugin.update_rbac_policy(DEMO, own["id"], {"target_project": "alt"})[
        "target_tenant"] == "alt"
    plugin.delete_rbac_policy(DEMO, own["id"])


def test_other_projects_policies_are_not_found(plugin: Plugin, demo_net: dict[str, Any]) -> None:
    policy = share(plugin, DEMO, demo_net, "alt")
    for call in (lambda: plugin.get_rbac_policy(ALT, policy["id"]),
                 lambda: plugin.update_rbac_policy(ALT, policy["id"], {"target_project": "x"}),
                 lambda: plugin.delete_rbac_policy(ALT, policy["id"])):
        with pytest.raises(exc.RbacPolicyNotFound, match=f"type unknown with ID {policy['id']}"):
            call()
    for filters in ({}, {"id": [policy["id"]]}, {"object_id": [demo_net["id"]]},
                    {"target_tenant": ["alt"]}):
        assert plugin.list_rbac_policies(ALT, ListQuery(filters=filters))[0] == []
    assert plugin.list_rbac_policies(DEMO, ListQuery(filters={"target_tenant": ["alt"]}))[0] == [
        policy]


def test_policies_count_against_their_project_s_quota(make_plugin: Any) -> None:
    plugin = make_plugin(quota_rbac_policy=2)
    net = plugin.create_network(DEMO, {"name": "n"})
    share(plugin, DEMO, net, "alt")
    share(plugin, DEMO, net, "third")
    with pytest.raises(exc.OverQuota, match=r"\['rbac_policy'\]"):
        share(plugin, DEMO, net, "fourth")
    assert policies_in_sql(plugin) == 2
    assert plugin.get_network(DEMO, net["id"])["revision_number"] == 3  # the refusal wrote nothing
    share(plugin, ADMIN, net, "fourth")  # the admin's own project has room
