"""B1: PortContext gives drivers exactly the values of docs/behaviour.md's table (3a-3d, 4a, 5).

Each row is its own test and checks all six context fields.
"""
from __future__ import annotations

import pytest

from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from tests.drivers import RECORDER, RecordingDriver


@pytest.fixture
def plugin(make_plugin) -> Plugin:
    return make_plugin(mechanism_drivers=[RECORDER])


@pytest.fixture
def driver(plugin: Plugin) -> RecordingDriver:
    return plugin.mech.drivers[0]


@pytest.fixture
def net(plugin: Plugin) -> dict:
    network = plugin.create_network(ADMIN, {"name": "n"})
    plugin.create_subnet(ADMIN, {"network_id": network["id"], "cidr": "10.1.0.0/24"})
    return plugin.get_network(ADMIN, network["id"])


def test_3a_create_without_host(plugin: Plugin, driver: RecordingDriver, net: dict) -> None:
    plugin.create_port(ADMIN, {"network_id": net["id"]})
    for seen in driver.calls("create_port_precommit") + driver.calls("create_port_postcommit"):
        assert seen.original is None
        assert seen.original_bound_segment is None
        assert seen.original_bound_driver is None
        assert seen.current["binding:host_id"] == ""
        assert seen.current["binding:vif_type"] == "unbound"
        assert seen.bound_segment is None
        assert seen.bound_driver is None
    assert driver.calls("create_port_precommit")[0].in_transaction
    assert not driver.calls("create_port_postcommit")[0].in_transaction


def test_3a_create_with_host(plugin: Plugin, driver: RecordingDriver, net: dict) -> None:
    plugin.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    (pre,) = driver.calls("create_port_precommit")
    assert pre.original is None
    assert pre.original_bound_segment is None and pre.original_bound_driver is None
    assert pre.current["binding:host_id"] == "hv1"
    assert pre.current["binding:vif_type"] == "unbound"
    assert pre.bound_segment is None and pre.bound_driver is None


def test_3b_update_of_unbound_port(plugin: Plugin, driver: RecordingDriver, net: dict) -> None:
    port = plugin.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "nowhere"})
    assert port["binding:vif_type"] == "binding_failed"
    driver.seen.clear()
    plugin.update_port(ADMIN, port["id"], {"binding:host_id": "hv2"})
    first = driver.calls("update_port_precommit")[0]
    assert first.original["binding:host_id"] == "nowhere"
    assert first.original["binding:vif_type"] == "binding_failed"
    assert first.original_bound_segment is None
    assert first.original_bound_driver is None
    assert first.current["binding:host_id"] == "hv2"
    assert first.current["binding:vif_type"] == "unbound"
    assert first.bound_segment is None
    assert first.bound_driver is None


def test_3c_update_keeping_binding(plugin: Plugin, driver: RecordingDriver, net: dict) -> None:
    port = plugin.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    bound = driver.calls("update_port_precommit")[-1]
    driver.seen.clear()
    plugin.update_port(ADMIN, port["id"], {"name": "renamed"})
    (seen,) = driver.calls("update_port_precommit")
    assert seen.original["binding:host_id"] == "hv1"
    assert seen.original["binding:vif_type"] == "ovs"
    assert seen.original_bound_segment == bound.bound_segment is not None
    assert seen.original_bound_driver == bound.bound_driver
    assert seen.current["binding:host_id"] == "hv1"
    assert seen.current["binding:vif_type"] == "ovs"
    assert seen.bound_segment == bound.bound_segment
    assert seen.bound_driver == bound.bound_driver
    assert driver.bind_calls == 1  # no rebinding


def test_3d_update_that_rebinds(plugin: Plugin, driver: RecordingDriver, net: dict) -> None:
    port = plugin.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    bound = driver.calls("update_port_precommit")[-1]
    driver.seen.clear()
    plugin.update_port(ADMIN, port["id"], {"binding:host_id": "hv2"})
    seen = driver.calls("update_port_precommit")[0]
    assert seen.original["binding:host_id"] == "hv1"
    assert seen.original["binding:vif_type"] == "ovs"
    assert seen.original_bound_segment == bound.bound_segment is not None
    assert seen.original_bound_driver == bound.bound_driver is not None
    assert seen.current["binding:host_id"] == "hv2"
    assert seen.current["binding:vif_type"] == "unbound"
    assert seen.bound_segment is None
    assert seen.bound_driver is None


def test_3d_unbinding_is_an_update(plugin: Plugin, driver: RecordingDriver, net: dict) -> None:
    """B5: clearing the host is an update whose new bound segment is empty."""
    port = plugin.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    bound = driver.calls("update_port_precommit")[-1]
    driver.seen.clear()
    result = plugin.update_port(ADMIN, port["id"], {"binding:host_id": ""})
    (seen,) = driver.calls("update_port_precommit")
    assert seen.original_bound_segment == bound.bound_segment is not None
    assert seen.original_bound_driver == bound.bound_driver
    assert seen.bound_segment is None and seen.bound_driver is None
    assert seen.current["binding:vif_type"] == "unbound"
    assert result["status_reason"].startswith("no host")
    assert driver.bind_calls == 1


def test_4a_commit_of_new_binding(plugin: Plugin, driver: RecordingDriver, net: dict) -> None:
    plugin.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    (seen,) = driver.calls("update_port_precommit")
    assert seen.original["binding:host_id"] == "hv1"
    assert seen.original["binding:vif_type"] == "unbound"
    assert seen.original_bound_segment is None
    assert seen.original_bound_driver is None
    assert seen.current["binding:host_id"] == "hv1"
    assert seen.current["binding:vif_type"] == "ovs"
    assert seen.bound_segment["network_type"] == net["provider:network_type"]
    assert seen.bound_segment["segmentation_id"] == net["provider:segmentation_id"]
    assert seen.bound_driver == "RecordingDriver"
    (bind,) = driver.calls("bind_port")
    assert not bind.in_transaction  # B2


def test_5_delete(plugin: Plugin, driver: RecordingDriver, net: dict) -> None:
    port = plugin.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    bound = driver.calls("update_port_precommit")[-1]
    driver.seen.clear()
    plugin.delete_port(ADMIN, port["id"])
    for seen in driver.calls("delete_port_precommit") + driver.calls("delete_port_postcommit"):
        assert seen.original is None
        assert seen.original_bound_segment is None
        assert seen.original_bound_driver is None
        assert seen.current["binding:host_id"] == "hv1"
        assert seen.current["binding:vif_type"] == "ovs"
        assert seen.bound_segment == bound.bound_segment is not None
        assert seen.bound_driver == bound.bound_driver
