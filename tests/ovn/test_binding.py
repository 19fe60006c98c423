"""Binding with the chassis directory (issue 3 item 3, S5), against real chassis in SB."""
from __future__ import annotations

from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from tests.ovn.nb import lsp, wait_port
from tests.ovn.test_desired import REMOTE_PROFILE

OVS_DETAILS = {"port_filter": True, "connectivity": "l2", "bridge_name": "br-int",
               "datapath_type": "dummy", "ovs_create_tap": True}


def vlan_network(core: Plugin, physnet: str = "physnet1") -> dict:
    net = core.create_network(ADMIN, {"name": "v", "segments": [
        {"network_type": "vlan", "physical_network": physnet}]})
    core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.3.0.0/24", "ip_version": 4})
    return net


def test_normal_port_binds_to_chassis_by_hostname_or_name(sandbox: Sandbox, core: Plugin) -> None:
    sandbox.add_chassis("hv1", hostname="host-1", bridge_mappings="physnet1:br-ex")
    net = vlan_network(core)
    for host in ("host-1", "hv1"):
        port = core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": host})
        assert port["binding:vif_type"] == "ovs"
        assert port["binding:vif_details"] == OVS_DETAILS
        assert lsp(sandbox, port["id"])["options"] == {"requested-chassis": host}


def test_unknown_host_fails_with_reason_and_binds_when_the_chassis_appears(
        sandbox: Sandbox, core: Plugin) -> None:
    net = core.create_network(ADMIN, {"name": "g"})
    port = core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv9"})
    assert port["binding:vif_type"] == "binding_failed"
    assert port["status"] == "DOWN"
    assert port["status_reason"] == "binding failed: no chassis with hostname or name 'hv9'"

    sandbox.add_chassis("hv9")
    wait_port(core, port["id"], "DOWN", "interface not present on chassis 'hv9'")
    assert core.port_without_binding(port["id"])["binding:vif_type"] == "ovs"


def test_a_chassis_that_stopped_answering_still_binds_and_the_status_says_why(
        sandbox: Sandbox, fast_heartbeat: None, core: Plugin) -> None:
    """A chassis judged down may only be late (under load ovn-controller answers the
    heartbeat late): the port binds, so a client such as Nova does not see a failed
    create, and its status tells the truth until the chassis answers."""
    hv1 = sandbox.add_chassis("hv1")
    net = core.create_network(ADMIN, {"name": "g"})
    hv1.kill("controller")
    wait_for(lambda: not core.list_agents()[0]["alive"], 10, "hv1 judged down")

    port = core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    assert port["binding:vif_type"] == "ovs"
    assert lsp(sandbox, port["id"])["options"] == {"requested-chassis": "hv1"}
    wait_port(core, port["id"], "DOWN", "chassis 'hv1' is down", timeout=10)

    hv1.start(("controller",))
    wait_port(core, port["id"], "DOWN", "interface not present on chassis 'hv1'", timeout=10)


def test_physnet_must_be_mapped_by_the_chassis(sandbox: Sandbox, core: Plugin) -> None:
    sandbox.add_chassis("hv2")
    net = vlan_network(core)
    port = core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv2"})
    assert port["binding:vif_type"] == "binding_failed"
    assert port["status_reason"] == ("binding failed: chassis 'hv2' has no bridge mapping "
                                     "for physical network 'physnet1'")


def test_physnet_of_a_chassis_is_accepted_without_configuration(
        sandbox: Sandbox, core: Plugin) -> None:
    client = TestClient(create_app(core))
    body = {"network": {"name": "p", "provider:network_type": "vlan",
                        "provider:physical_network": "datacentre",
                        "provider:segmentation_id": 10}}
    assert client.post("/v2.0/networks", json=body).status_code == 400
    sandbox.add_chassis("hv1", bridge_mappings="datacentre:br-ex")
    # The chassis is in SB; the server learns of it from its own SB replica.
    wait_for(lambda: core.mech.physnet_known("datacentre"), 10,
             "the server's chassis directory to map physnet 'datacentre'")
    assert client.post("/v2.0/networks", json=body).status_code == 201


def test_remote_managed_port_is_bound_for_the_dpu_with_its_card_serial(
        sandbox: Sandbox, core: Plugin) -> None:
    sandbox.add_chassis("dpu1", hostname="dpu-host-1",
                        cms_options="enable-chassis-as-gw,card-serial-number=SN-1")
    net = core.create_network(ADMIN, {"name": "g"})
    client = TestClient(create_app(core))
    response = client.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "binding:host_id": "hypervisor-1",
        "binding:vnic_type": "remote-managed", "binding:profile": REMOTE_PROFILE}})
    assert response.status_code == 201, response.text
    port = response.json()["port"]
    assert port["binding:host_id"] == "hypervisor-1"
    assert port["binding:vif_type"] == "ovs"
    assert port["binding:vif_details"] == OVS_DETAILS
    assert lsp(sandbox, port["id"])["options"] == {
        "requested-chassis": "dpu-host-1", "vif-plug-type": "representor",
        "vif-plug:representor:pf-mac": REMOTE_PROFILE["pf_mac_address"],
        "vif-plug:representor:vf-num": str(REMOTE_PROFILE["vf_num"]),
        "vif-plug-mtu-request": str(net["mtu"])}


def test_remote_managed_port_without_its_dpu_and_with_a_bad_profile(
        sandbox: Sandbox, core: Plugin) -> None:
    net = core.create_network(ADMIN, {"name": "g"})
    client = TestClient(create_app(core))
    response = client.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "binding:host_id": "hypervisor-1",
        "binding:vnic_type": "remote-managed",
        "binding:profile": {**REMOTE_PROFILE, "card_serial_number": "NOPE"}}})
    assert response.status_code == 201, "an unknown card serial is not the client's error"
    port = response.json()["port"]
    assert port["binding:vif_type"] == "binding_failed"
    assert port["status_reason"] == "binding failed: no chassis with card-serial-number 'NOPE'"

    response = client.post("/v2.0/ports", json={"port": {
        "network_id": net["id"], "binding:host_id": "hypervisor-1",
        "binding:vnic_type": "remote-managed",
        "binding:profile": {"card_serial_number": "SN-1", "vf_num": 1}}})
    assert response.status_code == 400
    error = response.json()["NeutronError"]
    assert error["type"] == "InvalidInput"
    assert "pci_vendor_info, pci_slot, physical_network, card_serial_number, pf_mac_address, " \
           "vf_num are all required" in error["message"]
    assert len(client.get("/v2.0/ports").json()["ports"]) == 1, "the bad request left nothing"


def test_dummy_vif_plug_port_is_plugged_by_ovn_and_goes_active(
        sandbox: Sandbox, core: Plugin) -> None:
    sandbox.add_chassis("hv1", dummy_vif_plug=True)
    net = core.create_network(ADMIN, {"name": "g"})
    port = core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1",
                             "binding:profile": {"vif_plug_type": "dummy",
                                                 "vif_plug:dummy-option": "value"}})
    options = lsp(sandbox, port["id"])["options"]
    assert options["vif-plug-type"] == "dummy"
    assert options["vif-plug:dummy-option"] == "value"
    wait_port(core, port["id"], "ACTIVE")
