"""Security groups, their rules, and ports' port security through the REST API.

Neutron's shapes, its normalisation of rules and its errors (each failed request
shown to have written nothing), the project's ``default`` group, and the rules
of Neutron's secure-RBAC defaults as real Keystone users see them; on both databases.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from neutrino.api.app import create_app
from neutrino.db.models import PortSecurityGroup, SecurityGroup, SecurityGroupRule, Tag
from neutrino.sandbox.keystone import ADMIN, ALT, DEMO, DEMO_READER, NOVA, Keystone
from tests.api.conftest import Api, assert_error
from tests.api.test_auth import authtoken
from tests.api.test_policy import As

RULES = "security-group-rules"
GROUPS = "security-groups"


def rows(api: Api) -> dict[str, int]:
    """How many rows each table holds, the security groups' included."""
    with api.plugin.db.read() as session:
        return {**api.rows(), **{model.__tablename__: session.scalar(
            select(func.count()).select_from(model))
            for model in (SecurityGroup, SecurityGroupRule, PortSecurityGroup)}}


def group(api: Api, **attrs: Any) -> dict[str, Any]:
    return api.create(GROUPS, **attrs)


def rule(api: Api, sg: dict[str, Any], **attrs: Any) -> dict[str, Any]:
    return api.create(RULES, security_group_id=sg["id"], **attrs)


def shape(r: dict[str, Any]) -> tuple:
    return (r["direction"], r["ethertype"], r["protocol"], r["remote_ip_prefix"],
            r["remote_group_id"])


# ------------------------------------------------------------------ groups


def test_first_listing_creates_the_default_group_once(api: Api) -> None:
    [default] = api.list(GROUPS)
    assert default["name"] == "default" and default["stateful"] is True
    assert default["shared"] is False and default["project_id"] == "fake_project_id"
    assert sorted(shape(r) for r in default["security_group_rules"]) == [
        ("egress", "IPv4", None, None, None), ("egress", "IPv6", None, None, None),
        ("ingress", "IPv4", None, None, default["id"]),
        ("ingress", "IPv6", None, None, default["id"])]
    assert all(r["belongs_to_default_sg"] for r in default["security_group_rules"])
    assert api.ids(GROUPS) == [default["id"]]
    assert rows(api)["security_groups"] == 1


def test_a_new_group_has_the_egress_rules_and_standard_attributes(api: Api) -> None:
    sg = group(api, name="web", description="d", tags=["a"])
    assert sorted(shape(r) for r in sg["security_group_rules"]) == [
        ("egress", "IPv4", None, None, None), ("egress", "IPv6", None, None, None)]
    assert {"revision_number", "created_at", "updated_at", "description", "tags"} <= set(sg)
    assert sg["tags"] == ["a"] and sg["revision_number"] == 1
    assert api.list(GROUPS, {"tags": "a"}) == [api.show(GROUPS, sg["id"])]
    renamed = api.update(GROUPS, sg["id"], name="web2", stateful=False)
    assert (renamed["name"], renamed["stateful"], renamed["revision_number"]) == ("web2", False, 2)
    assert {g["name"] for g in api.list(GROUPS)} == {"default", "web2"}


def test_groups_carry_tags_that_go_with_them(api: Api) -> None:
    sg = group(api, name="web")
    assert api.client.put(f"/v2.0/{GROUPS}/{sg['id']}/tags/blue").status_code == 201
    assert api.client.get(f"/v2.0/{GROUPS}/{sg['id']}/tags").json() == {"tags": ["blue"]}
    assert api.show(GROUPS, sg["id"])["revision_number"] == 2
    assert api.ids(GROUPS, {"not-tags": "blue"}) == [g["id"] for g in api.list(GROUPS)
                                                     if g["id"] != sg["id"]]
    assert api.delete(GROUPS, sg["id"]).status_code == 204
    assert_error(api.client.get(f"/v2.0/{GROUPS}/{sg['id']}/tags"), 404, "SecurityGroupNotFound")
    with api.plugin.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Tag)) == 0


def test_the_default_group_is_not_renamable_and_default_is_reserved(api: Api) -> None:
    [default] = api.list(GROUPS)
    assert_error(api.put(GROUPS, default["id"], {"name": "x"}), 409,
                 "SecurityGroupCannotUpdateDefault")
    assert api.update(GROUPS, default["id"], description="mine")["description"] == "mine"
    assert_error(api.post(GROUPS, {"name": "default"}), 409, "SecurityGroupDefaultAlreadyExists")
    sg = group(api, name="x")
    assert_error(api.put(GROUPS, sg["id"], {"name": "default"}), 409,
                 "SecurityGroupDefaultAlreadyExists")
    assert rows(api)["security_groups"] == 2


def test_a_group_in_use_is_not_deleted(api: Api, net: dict) -> None:
    sg = group(api, name="web")
    port = api.port(net, security_groups=[sg["id"]])
    before = rows(api)
    assert_error(api.delete(GROUPS, sg["id"]), 409, "SecurityGroupInUse", sg["id"])
    assert rows(api) == before
    api.update("ports", port["id"], security_groups=[])
    assert api.delete(GROUPS, sg["id"]).status_code == 204
    assert_error(api.client.get(f"/v2.0/{GROUPS}/{sg['id']}"), 404, "SecurityGroupNotFound")


def test_deleting_a_group_deletes_the_rules_naming_it_as_remote(api: Api) -> None:
    a, b = group(api, name="a"), group(api, name="b")
    kept = rule(api, a, direction="ingress", protocol="tcp", port_range_min=80,
                port_range_max=80)
    gone = rule(api, a, direction="ingress", remote_group_id=b["id"])
    assert api.delete(GROUPS, b["id"]).status_code == 204
    assert kept["id"] in api.ids(RULES) and gone["id"] not in api.ids(RULES)
    after = api.show(GROUPS, a["id"])
    assert after["revision_number"] > a["revision_number"] + 1


# ------------------------------------------------------------------ rules


@pytest.mark.parametrize(("attrs", "stored"), [
    ({"protocol": "TCP", "port_range_min": 22, "port_range_max": 22},
     {"protocol": "tcp", "ethertype": "IPv4"}),
    ({"protocol": 6, "port_range_min": 1000, "port_range_max": 2000}, {"protocol": "6"}),
    ({"protocol": "icmp", "port_range_min": 8, "port_range_max": 0},
     {"port_range_min": 8, "port_range_max": 0}),
    ({"protocol": "ipv6-icmp", "ethertype": "ipv6", "port_range_min": 128},
     {"ethertype": "IPv6", "port_range_max": None}),
    ({"remote_ip_prefix": "10.0.0.5/24"},
     {"remote_ip_prefix": "10.0.0.5/24", "normalized_cidr": "10.0.0.0/24"}),
    ({"remote_ip_prefix": "10.1.2.3"},
     {"remote_ip_prefix": "10.1.2.3/32", "normalized_cidr": "10.1.2.3/32"}),
    ({"protocol": "any"}, {"protocol": None}),
    ({"protocol": "112", "port_range_min": 5, "port_range_max": 5}, {"protocol": "112"}),
])
def test_rules_are_normalised_as_neutron(api: Api, attrs: dict, stored: dict) -> None:
    sg = group(api, name="web")
    created = rule(api, sg, direction="ingress", **attrs)
    assert {k: created[k] for k in stored} == stored
    assert created["project_id"] == sg["project_id"] and created["remote_address_group_id"] is None
    assert api.show(RULES, created["id"]) == created
    assert api.show(GROUPS, sg["id"])["revision_number"] == 2


@pytest.mark.parametrize(("attrs", "status", "error"), [
    ({"protocol": "bogus"}, 400, "SecurityGroupRuleInvalidProtocol"),
    ({"protocol": 256}, 400, "SecurityGroupRuleInvalidProtocol"),
    ({"port_range_min": 22, "port_range_max": 22}, 400, "SecurityGroupProtocolRequiredWithPorts"),
    ({"protocol": "tcp", "port_range_min": 30, "port_range_max": 20}, 400,
     "SecurityGroupInvalidPortRange"),
    ({"protocol": "tcp", "port_range_min": 22}, 400, "SecurityGroupInvalidPortRange"),
    ({"protocol": "tcp", "port_range_min": 0, "port_range_max": 5}, 400,
     "SecurityGroupInvalidPortValue"),
    ({"protocol": "udp", "port_range_min": 1, "port_range_max": 70000}, 400,
     "SecurityGroupInvalidPortValue"),
    ({"protocol": "icmp", "port_range_min": 256}, 400, "SecurityGroupInvalidIcmpValue"),
    ({"protocol": "icmp", "port_range_max": 3}, 400, "SecurityGroupMissingIcmpType"),
    ({"protocol": "gre", "port_range_min": 1, "port_range_max": 2}, 400,
     "SecurityGroupInvalidProtoForPortRange"),
    ({"protocol": "ipv6-icmp"}, 400, "SecurityGroupEthertypeConflictWithProtocol"),
    ({"remote_ip_prefix": "2001:db8::/64"}, 400, "SecurityGroupRuleParameterConflict"),
    ({"remote_ip_prefix": "10.0.0.0/33"}, 400, "HTTPBadRequest"),
    ({"remote_ip_prefix": "10.0.0.0/8", "remote_group_id": "SELF"}, 400,
     "SecurityGroupMultipleRemoteEntites"),
    ({"remote_group_id": "00000000-0000-0000-0000-000000000000"}, 404, "SecurityGroupNotFound"),
    ({"direction": "sideways"}, 400, "HTTPBadRequest"),
    ({"ethertype": "IPv5"}, 400, "HTTPBadRequest"),
])
def test_invalid_rules_are_refused_and_write_nothing(api: Api, attrs: dict, status: int,
                                                     error: str) -> None:
    sg = group(api, name="web")
    if attrs.get("remote_group_id") == "SELF":
        attrs = {**attrs, "remote_group_id": sg["id"]}
    before = rows(api)
    body = {"security_group_id": sg["id"], "direction": "ingress", **attrs}
    assert_error(api.post(RULES, body), status, error)
    assert rows(api) == before
    assert api.show(GROUPS, sg["id"])["revision_number"] == 1


@pytest.mark.parametrize("twin", [
    {"protocol": "6", "port_range_min": 22, "port_range_max": 22,
     "remote_ip_prefix": "10.0.0.0/24"},
    {"protocol": "tcp", "port_range_min": 22, "port_range_max": 22,
     "remote_ip_prefix": "10.0.0.9/24", "description": "other words"},
])
def test_a_duplicate_rule_is_a_conflict_naming_the_rule(api: Api, twin: dict) -> None:
    sg = group(api, name="web")
    first = rule(api, sg, direction="ingress", protocol="tcp", port_range_min=22,
                 port_range_max=22, remote_ip_prefix="10.0.0.0/24")
    before = rows(api)
    assert_error(api.post(RULES, {"security_group_id": sg["id"], "direction": "ingress", **twin}),
                 409, "SecurityGroupRuleExists", first["id"])
    assert rows(api) == before


def test_rules_list_filter_and_delete(api: Api) -> None:
    sg = group(api, name="web")
    ssh = rule(api, sg, direction="ingress", protocol="tcp", port_range_min=22,
               port_range_max=22)
    assert api.ids(RULES, {"security_group_id": sg["id"], "direction": "ingress"}) == [ssh["id"]]
    assert len(api.list(RULES, {"security_group_id": sg["id"]})) == 3
    assert api.delete(RULES, ssh["id"]).status_code == 204
    assert_error(api.delete(RULES, ssh["id"]), 404, "SecurityGroupRuleNotFound")
    assert api.show(GROUPS, sg["id"])["revision_number"] == 3
    assert api.client.put(f"/v2.0/{RULES}/{ssh['id']}", json={}).status_code == 405


# ------------------------------------------------------------------ ports


def test_a_port_gets_the_default_group_or_the_groups_asked_for(api: Api, net: dict) -> None:
    port = api.port(net)
    [default] = api.list(GROUPS)
    assert port["security_groups"] == [default["id"]] and port["port_security_enabled"] is True
    sg = group(api, name="web")
    assert api.port(net, security_groups=[sg["id"]])["security_groups"] == [sg["id"]]
    assert api.port(net, security_groups=[])["security_groups"] == []
    router = api.port(net, device_owner="network:router_interface")
    assert router["security_groups"] == []
    assert api.ids("ports", {"id": port["id"]}) == [port["id"]]
    assert api.list("ports", {"id": port["id"]})[0]["security_groups"] == [default["id"]]


def test_a_deleted_default_group_is_made_again_by_the_next_port(api: Api, net: dict) -> None:
    """As Neutron: a project whose default group an admin deleted gets a new one with its
    next port, which is in it; the port's first try, which found no group, wrote nothing."""
    first = api.port(net)
    [old] = api.list(GROUPS)
    api.update("ports", first["id"], security_groups=[])
    assert api.delete(GROUPS, old["id"]).status_code == 204
    before = rows(api)
    port = api.port(net)
    [new] = api.list(GROUPS)
    assert new["name"] == "default" and new["id"] != old["id"]
    assert port["security_groups"] == [new["id"]]
    assert len(new["security_group_rules"]) == 4
    assert rows(api) == {**before, "ports": before["ports"] + 1,
                         "ip_allocations": before["ip_allocations"] + 1,
                         "security_groups": before["security_groups"] + 1,
                         "security_group_rules": before["security_group_rules"] + 4,
                         "port_security_groups": before["port_security_groups"] + 1}


def test_port_security_follows_the_network(api: Api) -> None:
    insecure = api.network(name="open", port_security_enabled=False)
    assert insecure["port_security_enabled"] is False
    api.subnet(insecure, "10.9.0.0/24")
    port = api.port(insecure)
    assert (port["port_security_enabled"], port["security_groups"]) == (False, [])
    assert api.list("networks", {"port_security_enabled": "false"})[0]["id"] == insecure["id"]
    assert api.update("networks", insecure["id"],
                      port_security_enabled=True)["port_security_enabled"] is True
    assert api.port(insecure)["port_security_enabled"] is True


def test_allowed_address_pairs_take_the_port_mac_by_default(api: Api, net: dict) -> None:
    port = api.port(net, allowed_address_pairs=[
        {"ip_address": "10.0.0.200"}, {"ip_address": "10.1.0.0/24",
                                       "mac_address": "fa:16:3e:00:00:01"}])
    assert port["allowed_address_pairs"] == [
        {"ip_address": "10.0.0.200", "mac_address": port["mac_address"]},
        {"ip_address": "10.1.0.0/24", "mac_address": "fa:16:3e:00:00:01"}]
    assert api.update("ports", port["id"], allowed_address_pairs=[])["allowed_address_pairs"] == []


def test_a_port_without_addresses_still_gets_its_groups(api: Api, net: dict) -> None:
    """As in ML2, port security alone decides whether a port is filtered: a port
    created before its subnet has groups that apply to the address it gets later."""
    sg = group(api, name="web")
    named = api.port(net, fixed_ips=[], security_groups=[sg["id"]])
    assert named["fixed_ips"] == [] and named["security_groups"] == [sg["id"]]
    defaulted = api.port(net, fixed_ips=[])
    assert defaulted["security_groups"] == [
        g["id"] for g in api.list(GROUPS) if g["name"] == "default"]
    updated = api.update("ports", defaulted["id"], security_groups=[sg["id"]])
    assert updated["security_groups"] == [sg["id"]]


@pytest.mark.parametrize(("create", "update", "status", "error"), [
    ({"port_security_enabled": False, "security_groups": ["SG"]}, None, 400,
     "PortSecurityAndIPRequiredForSecurityGroups"),
    ({"port_security_enabled": False, "allowed_address_pairs": [{"ip_address": "10.0.0.9"}]},
     None, 409, "AddressPairAndPortSecurityRequired"),
    ({"security_groups": ["00000000-0000-0000-0000-000000000000"]}, None, 404,
     "SecurityGroupNotFound"),
    ({"allowed_address_pairs": [{"ip_address": "10.0.0.9"}] * 2}, None, 400, "HTTPBadRequest"),
    # neutron-lib's uuid_list: a group named twice is refused, on create and on update.
    ({"security_groups": ["SG", "SG"]}, None, 400, "HTTPBadRequest"),
    ({}, {"security_groups": ["SG", "SG"]}, 400, "HTTPBadRequest"),
    ({"allowed_address_pairs": [{"ip_address": "nope"}]}, None, 400, "HTTPBadRequest"),
    ({}, {"port_security_enabled": False}, 409, "PortSecurityPortHasSecurityGroup"),
    ({"security_groups": []}, {"port_security_enabled": False, "security_groups": ["SG"]}, 400,
     "PortSecurityAndIPRequiredForSecurityGroups"),
    ({"security_groups": [], "allowed_address_pairs": [{"ip_address": "10.0.0.9"}]},
     {"port_security_enabled": False}, 409, "AddressPairAndPortSecurityRequired"),
])
def test_port_security_errors_write_nothing(api: Api, net: dict, create: dict,
                                            update: dict | None, status: int,
                                            error: str) -> None:
    sg = group(api, name="web")

    def named(attrs: dict) -> dict:
        if set(attrs.get("security_groups") or []) == {"SG"}:
            return {**attrs, "security_groups": [sg["id"]] * len(attrs["security_groups"])}
        return attrs

    if update is None:
        before = rows(api)
        assert_error(api.post("ports", {"network_id": net["id"], **named(create)}), status, error)
        assert rows(api) == before
        return
    port = api.port(net, **create)
    assert_error(api.put("ports", port["id"], named(update)), status, error)
    assert api.show("ports", port["id"]) == port


def test_port_security_off_with_the_groups_removed_in_the_same_request(api: Api,
                                                                        net: dict) -> None:
    port = api.port(net)
    off = api.update("ports", port["id"], port_security_enabled=False, security_groups=[])
    assert (off["port_security_enabled"], off["security_groups"]) == (False, [])


# ------------------------------------------------------------------ policy


@pytest.fixture
def people(make_plugin: Callable[..., Any], keystone: Keystone) -> dict[str, As]:
    client = TestClient(create_app(make_plugin(auth_strategy="keystone",
                                               keystone_authtoken=authtoken(keystone))))
    return {u.name: As(client, keystone, u) for u in (ADMIN, DEMO, DEMO_READER, ALT, NOVA)}


def body(response: Any, key: str) -> dict[str, Any]:
    assert response.status_code in (200, 201), response.text
    return response.json()[key]


def test_groups_and_rules_are_their_project_s(people: dict[str, As]) -> None:
    demo, reader, alt, admin = (people[n] for n in (DEMO.name, DEMO_READER.name, ALT.name,
                                                    ADMIN.name))
    sg = body(demo.post(f"/v2.0/{GROUPS}", json={"security_group": {"name": "web"}}),
              "security_group")
    ssh = body(demo.post(f"/v2.0/{RULES}", json={"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress", "protocol": "tcp",
        "port_range_min": 22, "port_range_max": 22}}), "security_group_rule")
    # Another project: not found, and absent from lists and filters.
    assert_error(alt.get(f"/v2.0/{GROUPS}/{sg['id']}"), 404, "SecurityGroupNotFound")
    assert_error(alt.get(f"/v2.0/{RULES}/{ssh['id']}"), 404, "SecurityGroupRuleNotFound")
    assert sg["id"] not in [g["id"] for g in body(alt.get(f"/v2.0/{GROUPS}"), "security_groups")]
    assert body(alt.get(f"/v2.0/{RULES}", params={"security_group_id": sg["id"]}),
                "security_group_rules") == []
    assert_error(alt.post(f"/v2.0/{RULES}", json={"security_group_rule": {
        "security_group_id": sg["id"], "direction": "ingress"}}), 404, "SecurityGroupNotFound")
    assert_error(alt.delete(f"/v2.0/{RULES}/{ssh['id']}"), 404, "SecurityGroupRuleNotFound")
    # The project's reader sees, may not write.
    assert body(reader.get(f"/v2.0/{RULES}/{ssh['id']}"), "security_group_rule") == ssh
    assert_error(reader.delete(f"/v2.0/{RULES}/{ssh['id']}"), 403, "PolicyNotAuthorized")
    assert_error(reader.put(f"/v2.0/{GROUPS}/{sg['id']}",
                            json={"security_group": {"name": "x"}}), 403, "PolicyNotAuthorized")
    # The member may not delete its default group; the admin may.
    default = next(g for g in body(demo.get(f"/v2.0/{GROUPS}"), "security_groups")
                   if g["name"] == "default")
    assert_error(demo.delete(f"/v2.0/{GROUPS}/{default['id']}"), 409,
                 "SecurityGroupCannotRemoveDefault")
    assert admin.delete(f"/v2.0/{GROUPS}/{default['id']}").status_code == 204
    # The admin manages the demo group's rules, which stay demo's.
    made = body(admin.post(f"/v2.0/{RULES}", json={"security_group_rule": {
        "security_group_id": sg["id"], "direction": "egress", "protocol": "udp",
        "port_range_min": 53, "port_range_max": 53}}), "security_group_rule")
    assert made["project_id"] == sg["project_id"]


def test_lists_show_what_shows_show(people: dict[str, As]) -> None:
    """``get_security_group`` and ``get_security_group_rule`` do not name the ``service``
    role: a service caller (Nova) neither shows nor lists another project's groups and
    rules, nor its own project's without the reader role, as in Neutron; a reader lists
    what it shows."""
    demo, reader, nova = people[DEMO.name], people[DEMO_READER.name], people[NOVA.name]
    sg = body(demo.post(f"/v2.0/{GROUPS}", json={"security_group": {"name": "web"}}),
              "security_group")
    assert_error(nova.get(f"/v2.0/{GROUPS}/{sg['id']}"), 404, "SecurityGroupNotFound")
    rule_id = sg["security_group_rules"][0]["id"]
    assert_error(nova.get(f"/v2.0/{RULES}/{rule_id}"), 404, "SecurityGroupRuleNotFound")
    for params in ({}, {"id": sg["id"]}, {"name": "web"}, {"project_id": sg["project_id"]}):
        assert body(nova.get(f"/v2.0/{GROUPS}", params=params), "security_groups") == []
    for params in ({}, {"id": rule_id}, {"security_group_id": sg["id"]}):
        assert body(nova.get(f"/v2.0/{RULES}", params=params), "security_group_rules") == []
    listed = body(reader.get(f"/v2.0/{GROUPS}"), "security_groups")
    assert sorted(g["name"] for g in listed) == ["default", "web"]
    assert all(body(reader.get(f"/v2.0/{GROUPS}/{g['id']}"), "security_group") == g
               for g in listed)


def test_a_port_cannot_use_another_project_s_group(people: dict[str, As]) -> None:
    demo, alt = people[DEMO.name], people[ALT.name]
    theirs = body(alt.post(f"/v2.0/{GROUPS}", json={"security_group": {"name": "t"}}),
                  "security_group")
    net = body(demo.post("/v2.0/networks", json={"network": {"name": "n"}}), "network")
    demo.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": "10.0.0.0/24"}})
    assert_error(demo.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "security_groups": [theirs["id"]]}}), 404,
        "SecurityGroupNotFound")


def test_groups_and_rules_count_against_their_quotas(api: Api) -> None:
    sg = group(api, name="web")  # with the project's default group: 2 groups, 6 rules
    api.client.put("/v2.0/quotas/fake_project_id",
                   json={"quota": {"security_group": 2, "security_group_rule": 7}})
    before = rows(api)
    assert_error(api.post(GROUPS, {"name": "third"}), 409, "OverQuota", "security_group")
    rule(api, sg, direction="ingress", protocol="tcp", port_range_min=22, port_range_max=22)
    assert_error(api.post(RULES, {"security_group_id": sg["id"], "direction": "ingress",
                                  "protocol": "udp"}), 409, "OverQuota", "security_group_rule")
    assert rows(api)["security_groups"] == before["security_groups"]
    assert rows(api)["security_group_rules"] == before["security_group_rules"] + 1
    assert api.show(GROUPS, sg["id"])["revision_number"] == 2


def test_a_groups_own_egress_rules_count_against_the_rule_quota(api: Api) -> None:
    group(api, name="web")  # with the default group: 6 rules
    api.client.put("/v2.0/quotas/fake_project_id", json={"quota": {"security_group_rule": 7}})
    before = rows(api)
    assert_error(api.post(GROUPS, {"name": "two egress rules, one left"}), 409, "OverQuota",
                 "security_group_rule")
    assert rows(api) == before


def test_the_default_group_is_made_even_at_a_zero_group_quota(api: Api, net: dict) -> None:
    """Made on the project's behalf, it counts in the usage but is never refused: a
    project with no room for groups still creates ports, in its default group."""
    api.client.put("/v2.0/quotas/other", json={"quota": {"security_group": 0}})
    port = api.port(net, project_id="other")
    [default] = api.list(GROUPS, {"project_id": "other"})
    assert port["security_groups"] == [default["id"]]
    details = api.client.get("/v2.0/quotas/other/details").json()["quota"]
    assert details["security_group"] == {"limit": 0, "used": 1, "reserved": 0}


def test_an_admin_listing_one_projects_groups_finds_its_default_group(api: Api) -> None:
    """As Neutron, so that a client counting a new project's groups before setting its
    quota counts the default group that the project's first port will make."""
    assert [g["name"] for g in api.list(GROUPS, {"project_id": "new"})] == ["default"]
    assert api.list(GROUPS, {"project_id": "new"})[0]["project_id"] == "new"


def test_a_port_cannot_mix_stateful_and_stateless_groups(api: Api, net: dict) -> None:
    """One port's ACLs are all stateful or all stateless: Neutron refuses a mix, and a
    change of ``stateful`` on a group in use."""
    stateful, stateless = group(api, name="full"), group(api, name="light", stateful=False)
    before = rows(api)
    assert_error(api.post("ports", {"network_id": net["id"], "security_groups": [
        stateful["id"], stateless["id"]]}), 409, "SecurityGroupConflict", "stateless")
    assert rows(api) == before
    port = api.port(net, security_groups=[stateless["id"]])
    assert_error(api.put("ports", port["id"], {"security_groups": [
        stateless["id"], stateful["id"]]}), 409, "SecurityGroupConflict")
    assert api.show("ports", port["id"])["security_groups"] == [stateless["id"]]
    assert_error(api.put(GROUPS, stateless["id"], {"stateful": True}), 409,
                 "SecurityGroupInUse")
    assert api.update(GROUPS, stateful["id"], stateful=False)["stateful"] is False
