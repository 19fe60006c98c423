"""Networks over REST: attributes, provider segments, multi-segment networks, revisions."""
from __future__ import annotations

import re

import pytest

from neutrino.core.type_drivers import GENEVE_OVERHEAD
from tests.api.conftest import Api, assert_error
from tests.drivers import FAILING

TIMESTAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")


def test_create_fills_every_attribute(api: Api) -> None:
    """S1: a network without a backend reporting status is ACTIVE, with no reason."""
    net = api.network(name="web", description="front end", project_id="p1")
    assert net["name"] == "web" and net["description"] == "front end"
    assert net["project_id"] == net["tenant_id"] == "p1"
    assert net["admin_state_up"] is True and net["shared"] is False
    assert net["status"] == "ACTIVE" and net["status_reason"] is None
    assert net["subnets"] == [] and net["revision_number"] == 1
    assert TIMESTAMP.match(net["created_at"]) and TIMESTAMP.match(net["updated_at"])
    # A tenant network is geneve (tenant_network_types default), with a VNI from the range.
    assert net["provider:network_type"] == "geneve"
    assert net["provider:physical_network"] is None
    assert 1 <= net["provider:segmentation_id"] <= 65535
    assert net["mtu"] == 1500 - GENEVE_OVERHEAD
    assert "segments" not in net


def test_show_and_list_render_like_create(api: Api) -> None:
    net = api.network(name="a", admin_state_up=False, shared=True)
    assert api.show("networks", net["id"]) == net
    assert api.list("networks") == [net]


def test_tenant_id_is_an_alias_of_project_id(api: Api) -> None:
    net = api.network(tenant_id="t1")
    assert net["project_id"] == net["tenant_id"] == "t1"
    assert api.network(tenant_id="t2", project_id="t2")["project_id"] == "t2"
    assert_error(api.post("networks", {"tenant_id": "t1", "project_id": "t2"}), 400,
                 "BadRequest", "do not match")


@pytest.mark.parametrize("provider, expected_mtu", [
    ({"provider:network_type": "local"}, 1500),
    ({"provider:network_type": "flat", "provider:physical_network": "physnet1"}, 1500),
    ({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
      "provider:segmentation_id": 105}, 1500),
    ({"provider:network_type": "vlan", "provider:physical_network": "physnet2",
      "provider:segmentation_id": 4094}, 1500),
    ({"provider:network_type": "geneve", "provider:segmentation_id": 5000},
     1500 - GENEVE_OVERHEAD),
])
def test_provider_network(api: Api, provider: dict, expected_mtu: int) -> None:
    net = api.network(**provider)
    expected = {"provider:physical_network": None, "provider:segmentation_id": None, **provider}
    assert {k: net[k] for k in expected} == expected
    assert net["mtu"] == expected_mtu
    assert api.show("networks", net["id"]) == net


def test_vlan_without_id_gets_one_from_the_physnet_range(api: Api) -> None:
    net = api.network(**{"provider:network_type": "vlan", "provider:physical_network": "physnet1"})
    assert 100 <= net["provider:segmentation_id"] <= 109


def test_geneve_without_id_gets_a_vni(api: Api) -> None:
    a = api.network(**{"provider:network_type": "geneve"})
    b = api.network(**{"provider:network_type": "geneve"})
    assert a["provider:segmentation_id"] != b["provider:segmentation_id"]


def test_multi_segment_network(api: Api) -> None:
    segments = [
        {"provider:network_type": "vlan", "provider:physical_network": "physnet1",
         "provider:segmentation_id": 101},
        {"provider:network_type": "geneve", "provider:physical_network": None,
         "provider:segmentation_id": 7000},
        {"provider:network_type": "flat", "provider:physical_network": "physnet3",
         "provider:segmentation_id": None},
    ]
    net = api.network(segments=segments)
    assert net["segments"] == segments
    assert not any(k.startswith("provider:") for k in net)
    assert net["mtu"] == 1500 - GENEVE_OVERHEAD  # the smallest of its segments
    assert api.show("networks", net["id"])["segments"] == segments


def test_provider_and_segments_together_are_refused(api: Api) -> None:
    response = api.post("networks", {"provider:network_type": "local",
                                     "segments": [{"provider:network_type": "local"}]})
    assert_error(response, 400, "HTTPBadRequest", "cannot be used together")


@pytest.mark.parametrize("segment", [
    {"provider:network_type": "vlan", "provider:physical_network": "physnet1",
     "provider:segmentation_id": 103},
    {"provider:network_type": "geneve", "provider:segmentation_id": 42},
])
def test_segment_in_use_until_its_network_is_deleted(api: Api, segment: dict) -> None:
    first = api.network(**segment)
    before = api.rows()
    assert_error(api.post("networks", segment), 409, "SegmentationIdInUse",
                 str(segment["provider:segmentation_id"]))
    assert api.rows() == before
    assert api.delete("networks", first["id"]).status_code == 204
    assert api.network(**segment)["provider:segmentation_id"] == segment["provider:segmentation_id"]


def test_flat_physnet_in_use(api: Api) -> None:
    flat = {"provider:network_type": "flat", "provider:physical_network": "physnet1"}
    api.network(**flat)
    assert_error(api.post("networks", flat), 409, "FlatNetworkInUse", "physnet1")


def test_vlan_range_exhaustion_and_release(api: Api) -> None:
    """physnet1 has VLANs 100-109: the eleventh network gets a clear 503, a delete frees one."""
    vlan = {"provider:network_type": "vlan", "provider:physical_network": "physnet1"}
    nets = [api.network(**vlan) for _ in range(10)]
    assert sorted(n["provider:segmentation_id"] for n in nets) == list(range(100, 110))
    before = api.rows()
    assert_error(api.post("networks", vlan), 503, "NoNetworkAvailable")
    assert api.rows() == before
    api.delete("networks", nets[3]["id"])
    assert api.network(**vlan)["provider:segmentation_id"] == nets[3]["provider:segmentation_id"]


def test_update_changes_attributes_and_revision(api: Api) -> None:
    net = api.network(name="a")
    updated = api.update("networks", net["id"], name="b", description="d", admin_state_up=False,
                         shared=True, mtu=1400)
    assert (updated["name"], updated["description"], updated["admin_state_up"],
            updated["shared"], updated["mtu"]) == ("b", "d", False, True, 1400)
    assert updated["revision_number"] == 2
    assert updated["updated_at"] >= net["updated_at"]
    assert updated["created_at"] == net["created_at"]
    assert api.update("networks", net["id"], name="c")["revision_number"] == 3
    assert api.show("networks", net["id"])["name"] == "c"


def test_update_that_changes_nothing_keeps_the_revision(api: Api) -> None:
    net = api.network(name="same")
    assert api.update("networks", net["id"], name="same")["revision_number"] == 1


def test_adding_a_subnet_lists_it_on_the_network(api: Api) -> None:
    net = api.network()
    sub = api.subnet(net, "10.9.0.0/24")
    assert api.show("networks", net["id"])["subnets"] == [sub["id"]]


def test_mtu_above_the_segment_maximum_is_refused(api: Api) -> None:
    assert_error(api.post("networks", {"mtu": 1500}), 400, "InvalidInput", "MTU")
    net = api.network()
    assert_error(api.put("networks", net["id"], {"mtu": 9000}), 400, "InvalidInput", "MTU")
    assert api.show("networks", net["id"])["revision_number"] == 1


@pytest.mark.parametrize(("version", "cidr", "minimum"), [
    (4, "10.0.0.0/24", 68), (6, "2001:db8:0:1::/64", 1280)])
def test_mtu_too_small_for_a_subnet_is_a_conflict(api: Api, version: int, cidr: str,
                                                  minimum: int) -> None:
    """As Neutron: a network may have any MTU up to its segments' maximum; a subnet of a
    version needing more is refused (409), and so is lowering the MTU below what the
    network's subnets need."""
    small = api.network(mtu=minimum - 1)
    assert_error(api.post("subnets", {"network_id": small["id"], "cidr": cidr,
                                      "ip_version": version}), 409, "Conflict", "MTU")
    assert api.show("networks", small["id"])["subnets"] == []
    fits = api.network(mtu=1280)
    api.subnet(fits, cidr, ip_version=version)
    assert_error(api.put("networks", fits["id"], {"mtu": minimum - 1}), 409, "Conflict",
                 f"IPv{version}")
    assert api.show("networks", fits["id"])["mtu"] == 1280


def test_provider_attributes_cannot_be_updated(api: Api) -> None:
    net = api.network()
    assert_error(api.put("networks", net["id"], {"provider:segmentation_id": 9}), 400,
                 "HTTPBadRequest", "provider:segmentation_id")


def test_delete_takes_its_subnets_along(api: Api) -> None:
    net = api.network()
    api.subnet(net, "10.0.0.0/24")
    assert api.delete("networks", net["id"]).status_code == 204
    assert_error(api.client.get(f"/v2.0/networks/{net['id']}"), 404, "NetworkNotFound", net["id"])
    assert api.rows() == {"networks": 0, "subnets": 0, "ports": 0, "ip_allocations": 0,
                          "segments": 0, "routers": 0, "floatingips": 0}


def test_network_with_ports_is_in_use(api: Api, net: dict) -> None:
    port = api.port(net)
    assert_error(api.delete("networks", net["id"]), 409, "NetworkInUse", net["id"])
    assert api.show("networks", net["id"])["subnets"] == net["subnets"]
    api.delete("ports", port["id"])
    assert api.delete("networks", net["id"]).status_code == 204


def test_precommit_failure_rolls_everything_back(make_api) -> None:
    api = make_api(mechanism_drivers=[FAILING])
    before = api.rows()
    assert_error(api.post("networks", {"name": "refuse-pre",
                                       "provider:network_type": "geneve",
                                       "provider:segmentation_id": 77}),
                 409, "DriverError", "refused by policy")
    assert api.rows() == before
    # The VNI was not kept either.
    assert api.network(**{"provider:network_type": "geneve",
                          "provider:segmentation_id": 77})["provider:segmentation_id"] == 77


def test_postcommit_failure_of_a_create_undoes_it(make_api) -> None:
    api = make_api(mechanism_drivers=[FAILING])
    before = api.rows()
    assert_error(api.post("networks", {"name": "refuse-post",
                                       "provider:network_type": "geneve",
                                       "provider:segmentation_id": 78}),
                 500, "MechanismDriverError", "create_network_postcommit")
    assert api.rows() == before
    assert api.list("networks") == []
    assert api.network(**{"provider:network_type": "geneve",
                          "provider:segmentation_id": 78})["provider:segmentation_id"] == 78


def test_null_provider_attributes_mean_a_tenant_network(api: Api) -> None:
    """Regression (found by the fuzzer): only nulls under provider:* was a 500."""
    net = api.network(**{"provider:physical_network": None, "provider:segmentation_id": None})
    assert net["provider:network_type"] == "geneve"


def test_segments_allocated_in_one_request_are_distinct(api: Api) -> None:
    """Regression: two allocated VLANs of one network could pick the same id (a random 400)."""
    vlan = {"provider:network_type": "vlan", "provider:physical_network": "physnet1"}
    nets = [api.network(segments=[vlan, vlan]) for _ in range(5)]  # physnet1 has 10 VLANs
    ids = [s["provider:segmentation_id"] for n in nets for s in n["segments"]]
    assert sorted(ids) == list(range(100, 110))
    assert_error(api.post("networks", {"segments": [vlan]}), 503, "NoNetworkAvailable")


def test_allocated_segment_leaves_the_requested_id_alone(make_api) -> None:
    api = make_api(network_vlan_ranges=["physnet1:100:101"])
    vlan = {"provider:network_type": "vlan", "provider:physical_network": "physnet1"}
    net = api.network(segments=[vlan, dict(vlan, **{"provider:segmentation_id": 100})])
    assert [s["provider:segmentation_id"] for s in net["segments"]] == [101, 100]


def test_duplicate_segments_in_one_request(api: Api) -> None:
    vlan = {"provider:network_type": "vlan", "provider:physical_network": "physnet1",
            "provider:segmentation_id": 104}
    assert_error(api.post("networks", {"segments": [vlan, vlan]}), 400, "InvalidInput",
                 "Duplicate segment")
    assert api.rows()["segments"] == 0


def test_one_external_network_is_the_default(api: Api) -> None:
    """``is_default`` (``auto-allocated-topology``): set on an external network, shown and
    filterable; a second default is 409 naming the first; an internal network is none
    (400 to make it one; making the default internal forgets it, as Neutron); the default's
    ``*`` access_as_external policy stays (409), so every project reaches it."""
    public = api.network(name="public", **{"router:external": True}, is_default=True)
    assert public["is_default"] is True
    other = api.network(name="other", **{"router:external": True})
    internal = api.network(name="internal")
    assert (other["is_default"], internal["is_default"]) == (False, False)
    assert api.ids("networks", {"is_default": "true"}) == [public["id"]]
    assert set(api.ids("networks", {"is_default": "false"})) == {other["id"], internal["id"]}
    for response in (api.put("networks", other["id"], {"is_default": True}),
                     api.post("networks", {"router:external": True, "is_default": True})):
        assert_error(response, 409, "DefaultExternalNetworkExists",
                     f"A default external network already exists: {public['id']}.")
    assert_error(api.put("networks", internal["id"], {"is_default": True}), 400,
                 "InvalidInput", "external networks only")
    assert_error(api.post("networks", {"name": "x", "is_default": True}), 400,
                 "InvalidInput", "external networks only")
    assert api.ids("networks", {"name": "x"}) == []

    [wildcard] = api.list("rbac-policies", {"object_id": public["id"],
                                            "action": "access_as_external"})
    for response in (api.client.delete(f"/v2.0/rbac-policies/{wildcard['id']}"),
                     api.client.put(f"/v2.0/rbac-policies/{wildcard['id']}", json={
                         "rbac_policy": {"target_tenant": "p1"}})):
        assert_error(response, 409, "RbacPolicyInUse",
                     "Default external networks must be shared to everyone.")
    # Updates that do not name it keep it; the same value again changes nothing.
    kept = api.update("networks", public["id"], description="gman")
    assert kept["is_default"] is True
    assert api.update("networks", public["id"], is_default=True)["revision_number"] == \
        kept["revision_number"]
    # Internal, it is the default no more, and another may be.
    internal_now = api.update("networks", public["id"], **{"router:external": False})
    assert internal_now["is_default"] is False
    assert internal_now["revision_number"] == kept["revision_number"] + 1
    assert api.update("networks", other["id"], is_default=True)["is_default"] is True
    assert api.update("networks", other["id"], is_default=False)["is_default"] is False
    assert api.ids("networks", {"is_default": "true"}) == []
