"""Bulk create (``{"networks": [...]}``, ``{"subnets": [...]}``, ``{"ports": [...]}``,
``{"security_groups": [...]}``), as
Neutron's: every item in order or none, answered 201 with the list; a failing item gets
its own error and leaves nothing of the batch in SQL."""
from __future__ import annotations

from typing import Any

import httpx
import pytest

from neutrino.core.context import ADMIN
from neutrino.core.ipam import eui64
from tests.api.conftest import Api, assert_error
from tests.drivers import FAILING, RECORDER, RecordingDriver


def bulk(api: Api, collection: str, items: list[dict[str, Any]]) -> httpx.Response:
    return api.client.post(f"/v2.0/{collection}", json={collection: items})


def created(response: httpx.Response, collection: str) -> list[dict[str, Any]]:
    assert response.status_code == 201, response.text
    assert set(response.json()) == {collection}
    return response.json()[collection]


def test_each_collection_creates_all_items_in_order(api: Api) -> None:
    nets = created(bulk(api, "networks", [{"name": f"n{i}"} for i in range(3)]), "networks")
    assert [n["name"] for n in nets] == ["n0", "n1", "n2"]
    assert [n["status"] for n in nets] == ["ACTIVE"] * 3
    assert [api.show("networks", n["id"]) for n in nets] == nets, "answered as stored"
    subnets = created(bulk(api, "subnets", [
        {"network_id": nets[0]["id"], "cidr": "10.0.0.0/24", "name": "a"},
        {"network_id": nets[0]["id"], "cidr": "2001:db8::/64", "name": "b"},
        {"network_id": nets[1]["id"], "cidr": "10.0.0.0/24", "name": "c"}]), "subnets")
    assert [s["name"] for s in subnets] == ["a", "b", "c"]
    assert [api.show("subnets", s["id"]) for s in subnets] == subnets
    # A subnet moves its network's revision: a bulk of two, by two.
    assert api.show("networks", nets[0]["id"])["revision_number"] == \
        nets[0]["revision_number"] + 2
    ports = created(bulk(api, "ports", [{"network_id": nets[0]["id"], "name": f"p{i}"}
                                        for i in range(5)]), "ports")
    assert [p["name"] for p in ports] == [f"p{i}" for i in range(5)]
    assert [api.show("ports", p["id"]) for p in ports] == ports
    addresses = [ip["ip_address"] for p in ports for ip in p["fixed_ips"]]
    assert len(addresses) == 10 and len(set(addresses)) == 10, "one v4 and one v6 each"


def test_security_groups_in_bulk_all_or_none(api: Api) -> None:
    """As neutron-tempest-plugin's ``test_create_bulk_sec_groups``: each group with its
    egress rules, in order; a refused item (a second ``default``, or over the quota)
    leaves none of the batch."""
    groups = created(api.client.post("/v2.0/security-groups", json={"security_groups": [
        {"name": "a", "stateful": False},
        {"security_group": {"name": "b", "description": "bee"}}]}),  # wrapped, as tempest's
        "security_groups")
    assert [(g["name"], g["stateful"], g["description"]) for g in groups] == \
        [("a", False, ""), ("b", True, "bee")]
    assert [len(g["security_group_rules"]) for g in groups] == [2, 2]
    assert [api.show("security-groups", g["id"]) for g in groups] == groups
    names = sorted(g["name"] for g in api.list("security-groups"))
    assert names == ["a", "b", "default"]
    assert_error(api.client.post("/v2.0/security-groups", json={"security_groups": [
        {"name": "c"}, {"name": "default"}]}), 409, "SecurityGroupDefaultAlreadyExists")
    api.plugin.update_quota("fake_project_id", {"security_group": 5})
    assert_error(api.client.post("/v2.0/security-groups", json={"security_groups": [
        {"name": f"q{i}"} for i in range(3)]}), 409, "OverQuota", "security_group")
    assert sorted(g["name"] for g in api.list("security-groups")) == names


def test_a_single_body_is_still_answered_with_one_resource(api: Api) -> None:
    response = api.client.post("/v2.0/networks", json={"network": {"name": "one"}})
    assert response.status_code == 201 and response.json()["network"]["name"] == "one"


@pytest.mark.parametrize(("body", "message"), [
    pytest.param({"networks": []}, "Resources required", id="empty list"),
    pytest.param({}, "Resource body required: 'network' is missing", id="no body"),
    pytest.param({"network": {"name": "a"}, "networks": [{"name": "b"}]},
                 "either 'network' or 'networks', not both", id="both"),
    pytest.param({"networks": [{"name": "a"}, {"mtu": "big"}]},
                 "Invalid input for mtu. Reason:", id="second item's type"),
    pytest.param({"networks": [{"name": "a"}, {"colour": "red"}]},
                 "Unrecognized attribute(s) 'colour'", id="second item's unknown attribute"),
    pytest.param({"networks": [{"name": "a"}, None]}, "Invalid input for networks",
                 id="an item that is no object"),
    pytest.param({"networks": {"name": "a"}}, "Invalid input for networks", id="not a list"),
])
def test_malformed_bulk_bodies_are_400_and_write_nothing(api: Api, body: dict[str, Any],
                                                         message: str) -> None:
    before = api.rows()
    assert_error(api.client.post("/v2.0/networks", json=body), 400, "HTTPBadRequest", message)
    assert api.rows() == before


def test_a_failing_port_leaves_nothing_of_the_batch(api: Api, net: dict[str, Any],
                                                    v4: dict[str, Any]) -> None:
    taken = api.port(net, fixed_ips=[{"ip_address": "10.0.0.50"}])
    before, allocations = api.rows(), api.allocations()
    response = bulk(api, "ports", [{"network_id": net["id"], "name": "first"},
                                   {"network_id": net["id"], "mac_address": "fa:16:3e:00:00:01"},
                                   {"network_id": net["id"],
                                    "fixed_ips": [{"ip_address": "10.0.0.50"}]}])
    assert_error(response, 409, "IpAddressAlreadyAllocated", "10.0.0.50")
    assert api.rows() == before and api.allocations() == allocations
    assert api.ids("ports") == [taken["id"]]


def test_items_of_one_batch_conflict_with_each_other(api: Api, net: dict[str, Any]) -> None:
    """Each item sees the items before it: a MAC, a subnet, a VLAN taken by an earlier one."""
    before = api.rows()
    mac = "fa:16:3e:00:00:02"
    assert_error(bulk(api, "ports", [{"network_id": net["id"], "mac_address": mac},
                                     {"network_id": net["id"], "mac_address": mac}]),
                 409, "MacAddressInUse", mac)
    assert_error(bulk(api, "subnets", [{"network_id": net["id"], "cidr": "10.9.0.0/24"},
                                       {"network_id": net["id"], "cidr": "10.9.0.128/25"}]),
                 400, "InvalidInput", "overlaps with another subnet")
    vlan = {"provider:network_type": "vlan", "provider:physical_network": "physnet1",
            "provider:segmentation_id": 105}
    assert_error(bulk(api, "networks", [dict(vlan, name="a"), dict(vlan, name="b")]),
                 409, "SegmentationIdInUse", "105")
    assert api.rows() == before
    # Allocated ones are distinct: ten VLANs of physnet1's ten.
    nets = created(bulk(api, "networks", [
        {"provider:network_type": "vlan", "provider:physical_network": "physnet1"}] * 10),
        "networks")
    assert sorted(n["provider:segmentation_id"] for n in nets) == list(range(100, 110))
    assert_error(bulk(api, "networks", [{"name": "fits"}, {
        "provider:network_type": "vlan", "provider:physical_network": "physnet1"}]),
        503, "NoNetworkAvailable")
    assert len(api.list("networks")) == 11


def test_quota_counts_the_whole_batch(api: Api) -> None:
    api.plugin.update_quota("p", {"network": 3})
    before = api.rows()
    assert_error(bulk(api, "networks", [{"project_id": "p"}] * 4), 409, "OverQuota", "network")
    assert api.rows() == before
    assert len(created(bulk(api, "networks", [{"project_id": "p"}] * 3), "networks")) == 3
    assert_error(bulk(api, "networks", [{"project_id": "q"}, {"project_id": "p"}]),
                 409, "OverQuota", "network")
    assert api.rows() == {**before, "networks": 3, "segments": 3}


def test_a_backend_failing_one_item_undoes_the_batch(make_api) -> None:
    api = make_api(mechanism_drivers=[FAILING])
    before = api.rows()
    assert_error(bulk(api, "networks", [{"name": "fine"}, {"name": "refuse-post"},
                                        {"name": "fine too"}]),
                 500, "MechanismDriverError", "create_network_postcommit")
    assert api.rows() == before and api.list("networks") == []
    assert_error(bulk(api, "networks", [{"name": "fine"}, {"name": "refuse-pre"}]),
                 409, "DriverError", "refused by policy")
    assert api.rows() == before


def test_each_port_of_a_batch_is_bound_outside_the_transaction(make_api) -> None:
    api = make_api(mechanism_drivers=[RECORDER])
    driver = api.plugin.mech.drivers[0]
    assert isinstance(driver, RecordingDriver)
    net = api.network()
    api.subnet(net, "10.0.0.0/24")
    ports = created(bulk(api, "ports", [
        {"network_id": net["id"], "binding:host_id": "hv1"},
        {"network_id": net["id"]},
        {"network_id": net["id"], "binding:host_id": "nowhere"},
        {"network_id": net["id"], "binding:host_id": "hv2"}]), "ports")
    assert [p["binding:vif_type"] for p in ports] == ["ovs", "unbound", "binding_failed", "ovs"]
    assert [p["binding:host_id"] for p in ports] == ["hv1", "", "nowhere", "hv2"]
    binds = driver.calls("bind_port")
    assert [b.current["id"] for b in binds] == [ports[i]["id"] for i in (0, 2, 3)]
    assert not any(b.in_transaction for b in binds)
    assert [c.current["id"] for c in driver.calls("create_port_postcommit")] == \
        [p["id"] for p in ports]
    assert api.plugin.get_port(ADMIN, ports[3]["id"])["binding:vif_type"] == "ovs"


def test_auto_address_subnets_of_a_batch_address_every_port(api: Api) -> None:
    """Each SLAAC subnet of a batch gives the network's ports their EUI-64 address on it;
    the ports hear of it once, after the batch (their drivers' update)."""
    net = api.network()
    api.subnet(net, "10.0.0.0/24")
    ports = [api.port(net) for _ in range(2)]
    created(bulk(api, "subnets", [
        {"network_id": net["id"], "cidr": f"fd00:{i}::/64", "ipv6_address_mode": "slaac",
         "ipv6_ra_mode": "slaac"} for i in (1, 2)]), "subnets")
    for port in ports:
        shown = api.show("ports", port["id"])
        assert sorted(ip["ip_address"] for ip in shown["fixed_ips"]
                      if ":" in ip["ip_address"]) == \
            [eui64(f"fd00:{i}::/64", port["mac_address"]) for i in (1, 2)]
        assert shown["revision_number"] > port["revision_number"]
