"""Type drivers over REST: provider validation, allocation, exhaustion and release.

Tiny VLAN and VNI ranges (settings) make exhaustion a few requests away.
Every refusal must be a clean Neutron error and leave no segment behind.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from neutrino.api.app import create_app
from neutrino.core.plugin import Plugin
from neutrino.db.models import NetworkSegment
from tests.api.conftest import assert_error

MAX_VNI = 2**24 - 1


class Networks:
    """POST/DELETE networks over the real app, with counts of segments in SQL."""

    def __init__(self, plugin: Plugin):
        self.plugin = plugin
        self.client = TestClient(create_app(plugin))

    def post(self, **attrs: Any) -> httpx.Response:
        return self.client.post("/v2.0/networks", json={"network": {"name": "n", **attrs}})

    def create(self, **attrs: Any) -> dict[str, Any]:
        response = self.post(**attrs)
        assert response.status_code == 201, response.text
        return response.json()["network"]

    def provider(self, network_type: str, physnet: str | None = None,
                 segmentation_id: int | None = None) -> httpx.Response:
        attrs: dict[str, Any] = {"provider:network_type": network_type}
        if physnet is not None:
            attrs["provider:physical_network"] = physnet
        if segmentation_id is not None:
            attrs["provider:segmentation_id"] = segmentation_id
        return self.post(**attrs)

    def delete(self, network: dict[str, Any]) -> None:
        assert self.client.delete(f"/v2.0/networks/{network['id']}").status_code == 204

    def segments(self) -> int:
        with self.plugin.db.read() as session:
            return session.scalar(select(func.count()).select_from(NetworkSegment))


@pytest.fixture
def make_networks(make_plugin: Callable[..., Plugin]) -> Callable[..., Networks]:
    """Networks API of a plugin with these settings (defaults: VLANs physnet1:100:109, physnet2)."""
    return lambda **settings: Networks(make_plugin(**settings))


@pytest.fixture
def nets(make_networks: Callable[..., Networks]) -> Networks:
    return make_networks()


def segment(net: dict[str, Any]) -> tuple[str, str | None, int | None]:
    return (net["provider:network_type"], net["provider:physical_network"],
            net["provider:segmentation_id"])


# ---------------------------------------------------------------- local


def test_local_takes_nothing_and_can_repeat(nets: Networks) -> None:
    for _ in range(2):
        assert segment(nets.create(**{"provider:network_type": "local"})) == ("local", None, None)


@pytest.mark.parametrize("attrs, prohibited", [
    ({"provider:physical_network": "physnet1"}, "physical_network"),
    ({"provider:segmentation_id": 5}, "segmentation_id"),
])
def test_local_refuses_physnet_and_segmentation_id(nets: Networks, attrs: dict,
                                                   prohibited: str) -> None:
    assert_error(nets.post(**{"provider:network_type": "local"}, **attrs), 400, "InvalidInput",
                 f"{prohibited} prohibited for local provider network")
    assert nets.segments() == 0


# ---------------------------------------------------------------- flat


def test_flat_needs_a_physnet_and_refuses_a_segmentation_id(nets: Networks) -> None:
    assert_error(nets.provider("flat"), 400, "InvalidInput",
                 "physical_network required for flat provider network")
    assert_error(nets.provider("flat", "physnet1", 10), 400, "InvalidInput",
                 "segmentation_id prohibited for flat provider network")
    assert nets.segments() == 0


def test_flat_only_on_allowed_physnets(make_networks: Callable[..., Networks]) -> None:
    nets = make_networks(flat_networks=["physnet1"])
    assert_error(nets.provider("flat", "physnet9"), 400, "InvalidInput",
                 "physical_network 'physnet9' unknown for flat provider network")
    assert segment(nets.create(**{"provider:network_type": "flat",
                                  "provider:physical_network": "physnet1"})) == \
        ("flat", "physnet1", None)


def test_flat_network_in_use_until_deleted(nets: Networks) -> None:
    first = nets.provider("flat", "physnet1").json()["network"]
    assert_error(nets.provider("flat", "physnet1"), 409, "FlatNetworkInUse", "physnet1")
    assert nets.provider("flat", "physnet2").status_code == 201  # another physnet is free
    nets.delete(first)
    assert nets.provider("flat", "physnet1").status_code == 201


# ---------------------------------------------------------------- vlan


def test_vlan_needs_a_known_physnet(nets: Networks) -> None:
    assert_error(nets.provider("vlan", segmentation_id=100), 400, "InvalidInput",
                 "physical_network required for VLAN provider network")
    assert_error(nets.provider("vlan", "physnet9", 100), 400, "InvalidInput",
                 "physical_network 'physnet9' unknown for VLAN provider network")
    assert nets.segments() == 0


@pytest.mark.parametrize("vlan", [0, 4095, 100000])
def test_vlan_out_of_range(nets: Networks, vlan: int) -> None:
    assert_error(nets.provider("vlan", "physnet1", vlan), 400, "InvalidInput",
                 "segmentation_id out of range (1 through 4094)")
    assert nets.segments() == 0


@pytest.mark.parametrize("vlan", [1, 4094])
def test_vlan_range_ends_are_valid(nets: Networks, vlan: int) -> None:
    assert segment(nets.provider("vlan", "physnet1", vlan).json()["network"]) == \
        ("vlan", "physnet1", vlan)


def test_vlan_segmentation_id_in_use(nets: Networks) -> None:
    nets.provider("vlan", "physnet1", 200)
    assert_error(nets.provider("vlan", "physnet1", 200), 409, "SegmentationIdInUse",
                 "vlan segment 200", "physnet1")
    # The same id on another physical network is another segment.
    assert segment(nets.provider("vlan", "physnet2", 200).json()["network"]) == \
        ("vlan", "physnet2", 200)
    assert nets.segments() == 2


def test_vlan_without_id_is_allocated_from_the_physnet_range(nets: Networks) -> None:
    net = nets.provider("vlan", "physnet1").json()["network"]
    assert net["provider:physical_network"] == "physnet1"
    assert 100 <= net["provider:segmentation_id"] <= 109
    # physnet2 is known but has no range: nothing to allocate from.
    assert_error(nets.provider("vlan", "physnet2"), 503, "NoNetworkAvailable")


def test_vlan_range_exhaustion_and_release(make_networks: Callable[..., Networks]) -> None:
    nets = make_networks(tenant_network_types=["vlan"], network_vlan_ranges=["physnet1:100:102"])
    taken = [nets.create() for _ in range(3)]
    assert sorted(segment(n) for n in taken) == [("vlan", "physnet1", v) for v in (100, 101, 102)]
    assert_error(nets.post(), 503, "NoNetworkAvailable")
    assert_error(nets.provider("vlan", "physnet1"), 503, "NoNetworkAvailable")
    assert nets.segments() == 3

    released = next(n for n in taken if n["provider:segmentation_id"] == 101)
    nets.delete(released)
    assert segment(nets.create()) == ("vlan", "physnet1", 101)
    assert_error(nets.post(), 503, "NoNetworkAvailable")


def test_provider_vlan_inside_the_tenant_range_leaves_the_pool(
        make_networks: Callable[..., Networks]) -> None:
    nets = make_networks(tenant_network_types=["vlan"], network_vlan_ranges=["physnet1:100:102"])
    nets.provider("vlan", "physnet1", 101)
    assert sorted(nets.create()["provider:segmentation_id"] for _ in range(2)) == [100, 102]
    assert_error(nets.post(), 503, "NoNetworkAvailable")


# ---------------------------------------------------------------- geneve


def test_geneve_refuses_a_physnet(nets: Networks) -> None:
    assert_error(nets.provider("geneve", "physnet1", 10), 400, "InvalidInput",
                 "physical_network prohibited for geneve provider network")


@pytest.mark.parametrize("vni", [0, 2**24])
def test_geneve_vni_out_of_range(nets: Networks, vni: int) -> None:
    assert_error(nets.provider("geneve", segmentation_id=vni), 400, "InvalidInput",
                 f"segmentation_id out of range (1 through {MAX_VNI})")
    assert nets.segments() == 0


def test_geneve_vni_in_use_and_range_end(nets: Networks) -> None:
    net = nets.provider("geneve", segmentation_id=MAX_VNI).json()["network"]
    assert segment(net) == ("geneve", None, MAX_VNI)
    assert net["mtu"] == 1500 - 58  # geneve's overhead over the physical MTU
    assert_error(nets.provider("geneve", segmentation_id=MAX_VNI), 409, "SegmentationIdInUse",
                 f"geneve segment {MAX_VNI}")


def test_vni_range_exhaustion_and_release(make_networks: Callable[..., Networks]) -> None:
    nets = make_networks(tenant_network_types=["geneve"], geneve_vni_ranges=["7:8"])
    taken = [nets.create() for _ in range(2)]
    assert sorted(segment(n) for n in taken) == [("geneve", None, 7), ("geneve", None, 8)]
    assert_error(nets.post(), 503, "NoNetworkAvailable")
    assert_error(nets.provider("geneve"), 503, "NoNetworkAvailable")
    nets.delete(taken[0])
    assert segment(nets.create()) == segment(taken[0])


def test_a_provider_vni_outside_the_ranges_is_allowed(
        make_networks: Callable[..., Networks]) -> None:
    nets = make_networks(tenant_network_types=["geneve"], geneve_vni_ranges=["7:8"])
    assert segment(nets.provider("geneve", segmentation_id=5000).json()["network"]) == \
        ("geneve", None, 5000)
    assert len({nets.create()["provider:segmentation_id"] for _ in range(2)}) == 2


# ---------------------------------------------------------------- tenant types and segments


def test_tenant_network_types_in_order_of_preference(
        make_networks: Callable[..., Networks]) -> None:
    nets = make_networks(tenant_network_types=["vlan", "geneve"],
                         network_vlan_ranges=["physnet1:100:100"], geneve_vni_ranges=["1:1"])
    first = nets.create()
    assert segment(first) == ("vlan", "physnet1", 100)
    assert first["mtu"] == 1500
    assert segment(nets.create()) == ("geneve", None, 1)  # VLANs are used up: the next type
    assert_error(nets.post(), 503, "NoNetworkAvailable")
    nets.delete(first)
    assert segment(nets.create()) == ("vlan", "physnet1", 100)  # preferred again once free

    reversed_order = make_networks(tenant_network_types=["geneve", "vlan"])
    assert reversed_order.create()["provider:network_type"] == "geneve"


def test_a_tenant_type_without_a_driver_is_a_configuration_error(
        make_plugin: Callable[..., Plugin]) -> None:
    with pytest.raises(ValueError, match="tenant network type 'vxlan' has no type driver"):
        make_plugin(tenant_network_types=["vxlan"])


def test_refused_multi_segment_request_reserves_nothing(nets: Networks) -> None:
    nets.provider("vlan", "physnet1", 200)
    segments = [{"provider:network_type": "vlan", "provider:physical_network": "physnet1",
                 "provider:segmentation_id": vid} for vid in (300, 200)]
    assert_error(nets.post(segments=segments), 409, "SegmentationIdInUse")
    assert_error(nets.post(segments=[segments[0], segments[0]]), 400, "InvalidInput",
                 "Duplicate segment entry")
    assert nets.segments() == 1
    assert nets.provider("vlan", "physnet1", 300).status_code == 201  # 300 was not kept
