"""Ports over REST: MACs, fixed IPs, device attributes, binding attributes and status."""
from __future__ import annotations

import ipaddress

import pytest

from neutrino.api.schemas import VNIC_TYPES
from tests.api.conftest import Api, assert_error
from tests.drivers import RECORDER


def test_create_fills_every_attribute(api: Api, net: dict, v4: dict) -> None:
    """S1/S3: a new port without a host is DOWN and says why."""
    port = api.port(net, name="p", description="d", project_id="p1")
    assert port["network_id"] == net["id"]
    assert port["name"] == "p" and port["description"] == "d"
    assert port["project_id"] == port["tenant_id"] == "p1"
    assert port["mac_address"].startswith("fa:16:3e:")
    address = port["fixed_ips"][0]["ip_address"]
    assert port["fixed_ips"] == [{"subnet_id": v4["id"], "ip_address": address}]
    assert ipaddress.ip_address(address) in ipaddress.ip_network("10.0.0.0/24")
    assert port["admin_state_up"] is True
    assert port["device_id"] == "" and port["device_owner"] == ""
    assert port["status"] == "DOWN"
    assert port["status_reason"] == "no host: binding:host_id is not set"
    assert port["binding:host_id"] == "" and port["binding:vnic_type"] == "normal"
    assert port["binding:profile"] == {} and port["binding:vif_details"] == {}
    assert port["binding:vif_type"] == "unbound"
    assert port["revision_number"] == 1
    assert api.show("ports", port["id"]) == port


def test_port_gets_one_address_per_ip_version(api: Api, net: dict, v4: dict) -> None:
    v6 = api.subnet(net, "fd00::/64")
    api.subnet(net, "10.0.1.0/24")  # a second IPv4 subnet adds no second IPv4 address
    port = api.port(net)
    subnets = sorted(ip["subnet_id"] for ip in port["fixed_ips"])
    assert len(subnets) == 2 and v6["id"] in subnets


def test_port_on_network_without_subnets_has_no_address(api: Api) -> None:
    assert api.port(api.network())["fixed_ips"] == []


def test_generated_macs_are_unique(api: Api, net: dict) -> None:
    macs = [api.port(net)["mac_address"] for _ in range(30)]
    assert len(set(macs)) == 30


def test_given_mac_is_normalized(api: Api, net: dict) -> None:
    assert api.port(net, mac_address="FA-16-3E-AA-BB-CC")["mac_address"] == "fa:16:3e:aa:bb:cc"


def test_mac_is_unique_per_network_only(api: Api, net: dict) -> None:
    api.port(net, mac_address="fa:16:3e:00:00:01")
    api.port(api.network(), mac_address="fa:16:3e:00:00:01")  # another network: fine
    before, ips = api.rows(), api.allocations()
    assert_error(api.post("ports", {"network_id": net["id"], "mac_address": "FA:16:3E:00:00:01"}),
                 409, "MacAddressInUse", "fa:16:3e:00:00:01", net["id"])
    assert api.rows() == before and api.allocations() == ips


def test_mac_update_checks_uniqueness(api: Api, net: dict) -> None:
    a = api.port(net, mac_address="fa:16:3e:00:00:01")
    b = api.port(net)
    assert_error(api.put("ports", b["id"], {"mac_address": a["mac_address"]}), 409,
                 "MacAddressInUse")
    assert api.show("ports", b["id"]) == b
    assert api.update("ports", b["id"], mac_address="fa:16:3e:00:00:02")["mac_address"] == \
        "fa:16:3e:00:00:02"


@pytest.mark.parametrize("mac", ["zz", "fa:16:3e:00:00", "fa:16:3e:00:00:00:01",
                                 "01:00:5e:00:00:01", "ff:ff:ff:ff:ff:ff", "00:00:00:00:00:00",
                                 "fa163e000001"])
def test_invalid_mac_is_refused(api: Api, net: dict, mac: str) -> None:
    before = api.rows()
    assert_error(api.post("ports", {"network_id": net["id"], "mac_address": mac}), 400,
                 "HTTPBadRequest", "mac_address")
    assert api.rows() == before


def test_fixed_ip_by_subnet(api: Api, net: dict, v4: dict) -> None:
    other = api.subnet(net, "10.0.1.0/24")
    port = api.port(net, fixed_ips=[{"subnet_id": other["id"]}])
    assert [ip["subnet_id"] for ip in port["fixed_ips"]] == [other["id"]]
    assert port["fixed_ips"][0]["ip_address"].startswith("10.0.1.")


def test_fixed_ip_by_address(api: Api, net: dict, v4: dict) -> None:
    port = api.port(net, fixed_ips=[{"ip_address": "10.0.0.77"}])
    assert port["fixed_ips"] == [{"subnet_id": v4["id"], "ip_address": "10.0.0.77"}]


def test_fixed_ip_by_subnet_and_address(api: Api, net: dict, v4: dict) -> None:
    port = api.port(net, fixed_ips=[{"subnet_id": v4["id"], "ip_address": "10.0.0.78"}])
    assert port["fixed_ips"] == [{"subnet_id": v4["id"], "ip_address": "10.0.0.78"}]


def test_address_outside_the_pool_but_in_the_subnet_may_be_requested(api: Api, net: dict) -> None:
    sub = api.subnet(api.network(), "10.5.0.0/24",
                     allocation_pools=[{"start": "10.5.0.10", "end": "10.5.0.20"}])
    port = api.create("ports", network_id=sub["network_id"],
                      fixed_ips=[{"ip_address": "10.5.0.200"}])
    assert port["fixed_ips"][0]["ip_address"] == "10.5.0.200"


def test_two_addresses_from_one_subnet_are_distinct(api: Api, net: dict, v4: dict) -> None:
    """Regression: both picks could land on the same free address (then a spurious 400)."""
    for _ in range(5):
        port = api.port(net, fixed_ips=[{"subnet_id": v4["id"]}] * 3)
        assert len({ip["ip_address"] for ip in port["fixed_ips"]}) == 3


def test_several_addresses_explicit_and_allocated(api: Api, net: dict, v4: dict) -> None:
    port = api.port(net, fixed_ips=[{"subnet_id": v4["id"]}, {"ip_address": "10.0.0.2"}])
    addresses = sorted(ip["ip_address"] for ip in port["fixed_ips"])
    assert "10.0.0.2" in addresses and len(set(addresses)) == 2


def test_no_fixed_ips(api: Api, net: dict) -> None:
    assert api.port(net, fixed_ips=[])["fixed_ips"] == []


@pytest.mark.parametrize("fixed_ip, fragment", [
    ({"ip_address": "10.9.9.9"}, "10.9.9.9"),       # in no subnet of the network
    ({"ip_address": "10.0.0.0"}, "10.0.0.0"),       # network address
    ({"ip_address": "10.0.0.255"}, "10.0.0.255"),   # broadcast address
    ({"ip_address": "fd00::5"}, "fd00::5"),         # wrong version
])
def test_address_not_valid_for_the_subnet(api: Api, net: dict, fixed_ip: dict,
                                          fragment: str) -> None:
    before = api.rows()
    assert_error(api.post("ports", {"network_id": net["id"], "fixed_ips": [fixed_ip]}), 400,
                 "InvalidIpForSubnet", fragment)
    assert api.rows() == before


def test_address_of_another_subnet_than_named(api: Api, net: dict, v4: dict) -> None:
    api.subnet(net, "10.0.1.0/24")
    response = api.post("ports", {"network_id": net["id"],
                                  "fixed_ips": [{"subnet_id": v4["id"], "ip_address": "10.0.1.5"}]})
    assert_error(response, 400, "InvalidIpForSubnet", "10.0.1.5")


def test_unknown_subnet_in_fixed_ips(api: Api, net: dict) -> None:
    other = api.subnet(api.network(), "10.7.0.0/24")  # exists, but on another network
    before = api.rows()
    for subnet_id in (other["id"], "0" * 36):
        response = api.post("ports", {"network_id": net["id"],
                                      "fixed_ips": [{"subnet_id": subnet_id}]})
        assert_error(response, 400, "InvalidInput", subnet_id)
    assert api.rows() == before


def test_fixed_ip_entry_needs_subnet_or_address(api: Api, net: dict) -> None:
    assert_error(api.post("ports", {"network_id": net["id"], "fixed_ips": [{}]}), 400,
                 "HTTPBadRequest", "fixed_ips")


def test_address_in_use(api: Api, net: dict, v4: dict) -> None:
    api.port(net, fixed_ips=[{"ip_address": "10.0.0.9"}])
    before, ips = api.rows(), api.allocations()
    response = api.post("ports", {"network_id": net["id"], "fixed_ips": [
        {"subnet_id": v4["id"]}, {"ip_address": "10.0.0.9"}]})
    assert_error(response, 409, "IpAddressAlreadyAllocated", "10.0.0.9", v4["id"])
    assert api.rows() == before and api.allocations() == ips


def test_gateway_address_is_taken_except_for_router_ports(api: Api, net: dict) -> None:
    gateway = [{"ip_address": "10.0.0.1"}]
    assert_error(api.post("ports", {"network_id": net["id"], "fixed_ips": gateway}),
                 409, "IpAddressAlreadyAllocated", "10.0.0.1")
    port = api.port(net, device_owner="network:router_interface",
                    fixed_ips=[{"ip_address": "10.0.0.1"}])
    assert port["fixed_ips"][0]["ip_address"] == "10.0.0.1"


def test_exhausted_subnet(api: Api) -> None:
    network = api.network()
    api.subnet(network, "10.0.0.0/29")  # .2-.6 allocatable
    ports = [api.port(network) for _ in range(5)]
    assert len({p["fixed_ips"][0]["ip_address"] for p in ports}) == 5
    before, ips = api.rows(), api.allocations()
    assert_error(api.post("ports", {"network_id": network["id"]}), 409,
                 "IpAddressGenerationFailure", network["id"])
    assert api.rows() == before and api.allocations() == ips
    api.delete("ports", ports[2]["id"])
    assert api.port(network)["fixed_ips"] == ports[2]["fixed_ips"]  # released and reused


def test_update_fixed_ips_replaces_and_releases(api: Api, net: dict, v4: dict) -> None:
    port = api.port(net, fixed_ips=[{"ip_address": "10.0.0.10"}])
    updated = api.update("ports", port["id"], fixed_ips=[{"ip_address": "10.0.0.11"}])
    assert updated["fixed_ips"] == [{"subnet_id": v4["id"], "ip_address": "10.0.0.11"}]
    assert updated["revision_number"] == 2
    assert api.allocations() == {(v4["id"], "10.0.0.11")}
    api.port(net, fixed_ips=[{"ip_address": "10.0.0.10"}])  # free again


def test_update_asking_for_its_subnet_keeps_the_address(api: Api, net: dict, v4: dict) -> None:
    port = api.port(net)
    updated = api.update("ports", port["id"], fixed_ips=[{"subnet_id": v4["id"]}])
    assert updated["fixed_ips"] == port["fixed_ips"]


def test_update_adding_an_address(api: Api, net: dict, v4: dict) -> None:
    port = api.port(net)
    updated = api.update("ports", port["id"],
                         fixed_ips=port["fixed_ips"] + [{"subnet_id": v4["id"]}])
    assert len(updated["fixed_ips"]) == 2 and port["fixed_ips"][0] in updated["fixed_ips"]


def test_update_to_an_address_in_use_changes_nothing(api: Api, net: dict) -> None:
    api.port(net, fixed_ips=[{"ip_address": "10.0.0.20"}])
    port = api.port(net, fixed_ips=[{"ip_address": "10.0.0.21"}])
    ips = api.allocations()
    assert_error(api.put("ports", port["id"], {"fixed_ips": [{"ip_address": "10.0.0.20"}]}), 409,
                 "IpAddressAlreadyAllocated")
    assert api.allocations() == ips and api.show("ports", port["id"]) == port


def test_device_attributes(api: Api, net: dict) -> None:
    port = api.port(net, device_id="vm-1", device_owner="compute:nova", admin_state_up=False)
    assert (port["device_id"], port["device_owner"], port["admin_state_up"]) == \
        ("vm-1", "compute:nova", False)
    updated = api.update("ports", port["id"], device_id="vm-2", device_owner="", name="x",
                         admin_state_up=True)
    assert (updated["device_id"], updated["device_owner"], updated["name"],
            updated["admin_state_up"]) == ("vm-2", "", "x", True)
    assert updated["revision_number"] == 2


def test_port_on_missing_network(api: Api) -> None:
    before = api.rows()
    assert_error(api.post("ports", {"network_id": "e" * 36}), 404, "NetworkNotFound", "e" * 36)
    assert api.rows() == before


def test_delete_releases_address_and_mac(api: Api, net: dict) -> None:
    port = api.port(net)
    assert api.delete("ports", port["id"]).status_code == 204
    assert_error(api.client.get(f"/v2.0/ports/{port['id']}"), 404, "PortNotFound", port["id"])
    assert api.allocations() == set()
    again = api.port(net, mac_address=port["mac_address"], fixed_ips=port["fixed_ips"])
    assert again["fixed_ips"] == port["fixed_ips"]


# ------------------------------------------------------------------ binding attributes


@pytest.mark.parametrize("vnic_type", VNIC_TYPES)
def test_every_vnic_type(api: Api, net: dict, vnic_type: str) -> None:
    port = api.port(net, **{"binding:vnic_type": vnic_type})
    assert port["binding:vnic_type"] == vnic_type
    assert api.show("ports", port["id"])["binding:vnic_type"] == vnic_type


def test_vnic_type_list_is_neutrons() -> None:
    assert set(VNIC_TYPES) == {"normal", "direct", "macvtap", "baremetal", "direct-physical",
                               "virtio-forwarder", "smart-nic", "remote-managed"}


def test_unknown_vnic_type(api: Api, net: dict) -> None:
    assert_error(api.post("ports", {"network_id": net["id"], "binding:vnic_type": "vhost"}), 400,
                 "HTTPBadRequest", "binding:vnic_type")


def test_binding_profile_round_trips(api: Api, net: dict) -> None:
    profile = {"pci_slot": "0000:03:00.1", "capabilities": ["switchdev"],
               "card_serial_number": "MT0001", "pf_mac_address": "00:53:00:00:00:01",
               "vf_num": 3, "nested": {"a": [1, 2.5, None, True]}}
    port = api.port(net, **{"binding:profile": profile})
    assert port["binding:profile"] == profile
    assert api.update("ports", port["id"], **{"binding:profile": None})["binding:profile"] == {}


def test_binding_profile_must_be_an_object(api: Api, net: dict) -> None:
    assert_error(api.post("ports", {"network_id": net["id"], "binding:profile": ["x"]}), 400,
                 "HTTPBadRequest", "binding:profile")


def test_host_without_a_driver_fails_binding_and_says_why(api: Api, net: dict) -> None:
    """B6, S3: no mechanism driver could bind."""
    port = api.port(net, **{"binding:host_id": "hv1"})
    assert port["binding:host_id"] == "hv1"
    assert port["binding:vif_type"] == "binding_failed"
    assert port["status"] == "DOWN"
    assert port["status_reason"] == "binding failed: no mechanism driver could bind"


def test_binding_by_a_driver(make_api) -> None:
    """B3 4a over REST: the bound port shows the driver's vif type and details."""
    api = make_api(mechanism_drivers=[RECORDER])
    network = api.network()
    port = api.port(network, **{"binding:host_id": "hv1", "binding:vnic_type": "direct"})
    assert port["binding:vif_type"] == "ovs"
    assert port["binding:vif_details"] == {"port_filter": True, "host": "hv1"}
    assert port["status"] == "DOWN"
    assert port["status_reason"] == "bound to host 'hv1'; waiting for the port to come up"
    assert port["revision_number"] == 2  # create, then the binding's commit
    assert api.show("ports", port["id"]) == port


def test_driver_failure_reason_is_shown(make_api) -> None:
    """B6, S3: the reason a driver gives for not binding reaches the client."""
    api = make_api(mechanism_drivers=[RECORDER])
    port = api.port(api.network(), **{"binding:host_id": "nowhere"})
    assert port["binding:vif_type"] == "binding_failed"
    assert "host 'nowhere' is not served by recording driver" in port["status_reason"]


def test_rebind_and_unbind(make_api) -> None:
    """B5: clearing the host unbinds; setting another host binds again."""
    api = make_api(mechanism_drivers=[RECORDER])
    port = api.port(api.network(), **{"binding:host_id": "hv1"})
    moved = api.update("ports", port["id"], **{"binding:host_id": "hv2"})
    assert moved["binding:vif_type"] == "ovs" and moved["binding:vif_details"]["host"] == "hv2"
    unbound = api.update("ports", port["id"], **{"binding:host_id": None})
    assert unbound["binding:host_id"] == ""
    assert unbound["binding:vif_type"] == "unbound" and unbound["binding:vif_details"] == {}
    assert unbound["status_reason"] == "no host: binding:host_id is not set"
    assert unbound["revision_number"] > moved["revision_number"] > port["revision_number"]


def test_mac_of_a_bound_port_cannot_change(make_api) -> None:
    api = make_api(mechanism_drivers=[RECORDER])
    port = api.port(api.network(), **{"binding:host_id": "hv1"})
    for mac in ("fa:16:3e:12:34:56", None):  # a given one, a new generated one
        assert_error(api.put("ports", port["id"], {"mac_address": mac}), 409,
                     "PortBound", port["mac_address"])
    assert api.show("ports", port["id"]) == port


def test_a_null_mac_regenerates_it(api: Api, net: dict) -> None:
    """port-mac-address-regenerate: ``mac_address: null`` on update gives a new generated
    MAC, unique on the network; the port's LSP follows (an update as any other)."""
    port = api.port(net, mac_address="fa:16:3e:00:00:07")
    macs = {port["mac_address"]}
    for _ in range(5):
        updated = api.update("ports", port["id"], mac_address=None)
        assert updated["mac_address"].startswith("fa:16:3e:")
        assert updated["mac_address"] not in macs
        assert updated["revision_number"] == port["revision_number"] + len(macs)
        macs.add(updated["mac_address"])
    assert api.show("ports", port["id"])["mac_address"] == updated["mac_address"]
    assert_error(api.post("ports", {"network_id": net["id"], "mac_address": None}), 400,
                 "HTTPBadRequest", "mac_address")
