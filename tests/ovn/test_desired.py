"""What the driver writes for each resource, and which binding:profiles it refuses (pure logic)."""
from __future__ import annotations

import pytest

from neutrino.drivers.api import InvalidInput
from neutrino.ovn import binding, desired, keys
from neutrino.ovn.chassis import parse_mappings

NET = {"id": "n1", "name": "net", "mtu": 1442, "revision_number": 4}
REMOTE_PROFILE = {"pci_vendor_info": "15b3:101e", "pci_slot": "0000:03:00.2",
                  "physical_network": None, "card_serial_number": "SN-1",
                  "pf_mac_address": "00:53:00:00:00:42", "vf_num": 3}


def port(**extra):
    return {"id": "p1", "network_id": "n1", "mac_address": "fa:16:3e:00:00:01",
            "fixed_ips": [{"subnet_id": "s4", "ip_address": "10.0.0.5"},
                          {"subnet_id": "s6", "ip_address": "2001:db8::5"}],
            "admin_state_up": True, "revision_number": 7, **extra}


@pytest.mark.parametrize("segment, localnet", [
    ({"network_type": "geneve", "segmentation_id": 5}, None),
    ({"network_type": "local"}, None),
    ({"network_type": "flat", "physical_network": "physnet1"}, ("physnet1", [])),
    ({"network_type": "vlan", "physical_network": "physnet1", "segmentation_id": 101},
     ("physnet1", [101])),
])
def test_switch_has_a_localnet_port_only_for_physical_networks(segment, localnet) -> None:
    spec = desired.switch_spec(NET, [segment])
    assert spec.name == "neutrino-n1"
    assert spec.columns["external_ids"] == {keys.NETWORK_ID: "n1", keys.NETWORK_NAME: "net",
                                            keys.MTU: "1442", keys.REVISION: "4"}
    if localnet is None:
        assert spec.localnets == ()
    else:
        (ln,) = spec.localnets
        assert ln.columns["type"] == "localnet"
        assert ln.columns["options"] == {"network_name": localnet[0]}
        assert ln.columns["tag"] == localnet[1]
        assert ln.columns["external_ids"][keys.LOCALNET_OF] == "n1"


def test_network_segments_from_provider_attributes_and_segments_list() -> None:
    single = {**NET, "provider:network_type": "vlan", "provider:physical_network": "p",
              "provider:segmentation_id": 7}
    assert desired.network_segments(single) == [
        {"network_type": "vlan", "physical_network": "p", "segmentation_id": 7}]
    multi = {**NET, "segments": [{"provider:network_type": "flat",
                                  "provider:physical_network": "a",
                                  "provider:segmentation_id": None}]}
    assert desired.network_segments(multi)[0]["physical_network"] == "a"


def test_dhcpv4_options_follow_the_subnet() -> None:
    subnet = {"id": "s4", "network_id": "n1", "cidr": "10.0.0.0/24", "ip_version": 4,
              "enable_dhcp": True, "gateway_ip": "10.0.0.1",
              "dns_nameservers": ["8.8.8.8", "1.1.1.1"],
              "host_routes": [{"destination": "192.168.0.0/16", "nexthop": "10.0.0.254"}],
              "revision_number": 2}
    spec = desired.dhcp_spec(subnet, NET)
    assert spec is not None
    assert spec.columns["cidr"] == "10.0.0.0/24"
    assert spec.columns["options"] == {
        "server_id": "10.0.0.1", "router": "10.0.0.1", "lease_time": "43200", "mtu": "1442",
        "server_mac": desired.dhcp_server_mac("s4"), "dns_server": "{8.8.8.8, 1.1.1.1}",
        "classless_static_route": "{192.168.0.0/16,10.0.0.254, 0.0.0.0/0,10.0.0.1}"}
    assert spec.columns["external_ids"] == {keys.SUBNET_ID: "s4", keys.NETWORK_ID: "n1",
                                            keys.REVISION: "2"}
    # The responder MAC is stable, so a repaired row keeps the MAC clients learned.
    assert desired.dhcp_server_mac("s4") == desired.dhcp_server_mac("s4")
    assert desired.dhcp_server_mac("s4") != desired.dhcp_server_mac("s5")


def test_dhcp_without_gateway_disabled_and_ipv6() -> None:
    base = {"id": "s", "network_id": "n1", "cidr": "10.0.0.0/24", "ip_version": 4}
    assert desired.dhcp_spec({**base, "enable_dhcp": False}, NET) is None
    assert desired.dhcp_spec({**base, "enable_dhcp": True, "gateway_ip": None},
                             NET).columns["options"] == {}
    v6 = {"id": "s6", "network_id": "n1", "cidr": "2001:db8::/64", "ip_version": 6,
          "enable_dhcp": True, "dns_nameservers": ["2001:db8::53"]}
    stateless = desired.dhcp_spec({**v6, "ipv6_address_mode": "dhcpv6-stateless"}, NET)
    stateful = desired.dhcp_spec({**v6, "ipv6_address_mode": "dhcpv6-stateful"}, NET)
    assert stateless.columns["options"] == {"server_id": desired.dhcp_server_mac("s6"),
                                            "dns_server": "{2001:db8::53}",
                                            "dhcpv6_stateless": "true"}
    assert "dhcpv6_stateless" not in stateful.columns["options"]


def test_port_addresses_security_and_dhcp_subnets() -> None:
    spec = desired.port_spec(port(**{"binding:host_id": "hv1"}), NET)
    assert spec.columns["addresses"] == ["fa:16:3e:00:00:01 10.0.0.5 2001:db8::5"]
    assert spec.columns["port_security"] == spec.columns["addresses"]
    assert spec.columns["enabled"] == [True]
    assert spec.columns["options"] == {"requested-chassis": "hv1"}
    assert spec.dhcp_subnets == {4: "s4", 6: "s6"}
    assert spec.revision == 7
    insecure = desired.port_spec(port(port_security_enabled=False, admin_state_up=False), NET)
    assert insecure.columns["addresses"] == ["fa:16:3e:00:00:01 10.0.0.5 2001:db8::5", "unknown"]
    assert insecure.columns["port_security"] == []
    assert insecure.columns["enabled"] == [False]
    pairs = desired.port_spec(port(allowed_address_pairs=[
        {"ip_address": "10.0.0.99", "mac_address": "fa:16:3e:00:00:01"},
        {"ip_address": "10.1.0.0/24", "mac_address": "fa:16:3e:00:00:02"}]), NET)
    # As Neutron: pairs of the port's MAC join its entry, others are entries of their own.
    assert pairs.columns["port_security"] == [
        "fa:16:3e:00:00:01 10.0.0.5 2001:db8::5 10.0.0.99", "fa:16:3e:00:00:02 10.1.0.0/24"]


@pytest.mark.parametrize(("attrs", "groups"), [
    ({"security_groups": ["b-1", "a-2"]}, "neutron_pg_drop pg_a_2 pg_b_1"),
    ({"security_groups": []}, "neutron_pg_drop"),
    ({"security_groups": ["a-2"], "port_security_enabled": False}, ""),
    ({"security_groups": ["a-2"], "device_owner": "network:dhcp"}, ""),
])
def test_a_port_s_port_groups(attrs: dict, groups: str) -> None:
    assert desired.port_spec(port(**attrs), NET).columns["external_ids"][keys.PORT_GROUPS] == \
        groups


SG = "2f6c1a8e-7b1d-4c2e-9f00-000000000001"
OTHER = "2f6c1a8e-7b1d-4c2e-9f00-000000000002"
PG, OTHER_PG = "pg_" + SG.replace("-", "_"), "pg_" + OTHER.replace("-", "_")


@pytest.mark.parametrize(("rule", "match"), [
    ({"direction": "ingress", "ethertype": "IPv4", "protocol": "tcp", "port_range_min": 22,
      "port_range_max": 22, "remote_ip_prefix": "0.0.0.0/0"},
     f"outport == @{PG} && ip4 && ip4.src == 0.0.0.0/0 && tcp && tcp.dst == 22"),
    ({"direction": "egress", "ethertype": "IPv4"}, f"inport == @{PG} && ip4"),
    ({"direction": "ingress", "ethertype": "IPv6", "remote_group_id": SG},
     f"outport == @{PG} && ip6 && ip6.src == ${PG}_ip6"),
    ({"direction": "ingress", "ethertype": "IPv4", "protocol": "icmp", "port_range_min": 8,
      "remote_group_id": OTHER},
     f"outport == @{PG} && ip4 && ip4.src == ${OTHER_PG}_ip4 && icmp4 && icmp4.type == 8"),
    ({"direction": "ingress", "ethertype": "IPv6", "protocol": "58", "port_range_min": 128,
      "port_range_max": 0}, f"outport == @{PG} && ip6 && icmp6 && icmp6.type == 128 && "
                            "icmp6.code == 0"),
    ({"direction": "egress", "ethertype": "IPv4", "protocol": "17", "port_range_min": 1000,
      "port_range_max": 2000, "remote_ip_prefix": "10.0.0.5/24"},
     f"inport == @{PG} && ip4 && ip4.dst == 10.0.0.0/24 && udp && udp.dst >= 1000 && "
     "udp.dst <= 2000"),
    ({"direction": "ingress", "ethertype": "IPv4", "protocol": "gre"},
     f"outport == @{PG} && ip4 && ip.proto == 47"),
    ({"direction": "ingress", "ethertype": "IPv4", "protocol": "sctp"},
     f"outport == @{PG} && ip4 && sctp"),
])
def test_acl_matches_are_neutron_s(rule: dict, match: str) -> None:
    group = {"id": SG, "revision_number": 3, "stateful": True,
             "security_group_rules": [{"id": "r1", "security_group_id": SG, **rule}]}
    spec = desired.port_group_spec(group)
    assert spec.name == PG
    assert spec.columns["external_ids"] == {keys.SECURITY_GROUP_ID: SG, keys.REVISION: "3"}
    (acl,) = spec.acls
    assert acl.columns == {
        "direction": "to-lport" if rule["direction"] == "ingress" else "from-lport",
        "priority": 1002, "match": match, "action": "allow-related", "log": False,
        "external_ids": {keys.SECURITY_GROUP_RULE_ID: "r1"}}
    stateless = desired.port_group_spec({**group, "stateful": False})
    assert stateless.acls[0].columns["action"] == "allow-stateless"


def test_the_drop_group_drops_ip_both_ways() -> None:
    spec = desired.drop_group_spec()
    assert spec.name == "neutron_pg_drop"
    assert {(a.columns["direction"], a.columns["priority"], a.columns["match"],
             a.columns["action"]) for a in spec.acls} == {
        ("from-lport", 1001, "inport == @neutron_pg_drop && ip", "drop"),
        ("to-lport", 1001, "outport == @neutron_pg_drop && ip", "drop")}


def test_remote_managed_port_options_follow_neutron() -> None:
    spec = desired.port_spec(port(**{"binding:host_id": "hypervisor",
                                     "binding:vnic_type": "remote-managed",
                                     "binding:profile": REMOTE_PROFILE}), NET, "dpu-host")
    assert spec.columns["options"] == {
        "requested-chassis": "dpu-host", "vif-plug-type": "representor",
        "vif-plug:representor:pf-mac": "00:53:00:00:00:42",
        "vif-plug:representor:vf-num": "3", "vif-plug-mtu-request": "1442"}
    assert spec.columns["external_ids"][keys.HOST_ID] == "hypervisor"


def test_vif_plug_profile_becomes_plug_options() -> None:
    spec = desired.port_spec(port(**{"binding:host_id": "hv1", "binding:profile": {
        "vif_plug_type": "dummy", "vif_plug:dummy-option": "value", "other": "x"}}), NET)
    assert spec.columns["options"] == {"requested-chassis": "hv1", "vif-plug-type": "dummy",
                                       "vif-plug:dummy-option": "value",
                                       "vif-plug-mtu-request": "1442"}


@pytest.mark.parametrize("profile, message", [
    ({"card_serial_number": "SN"}, "are all required"),
    ({**REMOTE_PROFILE, "vf_num": "3"}, "vf_num '3' value invalid type"),
    ({**REMOTE_PROFILE, "pci_slot": None}, "pci_slot None value invalid type"),
])
def test_incomplete_remote_managed_profile_is_invalid_input(profile, message) -> None:
    with pytest.raises(InvalidInput, match=message) as raised:
        binding.validate_profile(port(**{"binding:vnic_type": "remote-managed",
                                         "binding:profile": profile}))
    assert raised.value.status_code == 400


def test_valid_profiles_pass() -> None:
    binding.validate_profile(port(**{"binding:vnic_type": "remote-managed",
                                     "binding:profile": {}}))
    binding.validate_profile(port(**{"binding:vnic_type": "remote-managed",
                                     "binding:profile": REMOTE_PROFILE}))
    binding.validate_profile(port(**{"binding:profile": {"vif_plug_type": "dummy"}}))
    with pytest.raises(InvalidInput):
        binding.validate_profile(port(**{"binding:profile": {"vif_plug_type": ""}}))
    with pytest.raises(InvalidInput):
        binding.validate_profile(port(**{"binding:profile": {"vif_plug:x": {"a": 1}}}))


def test_bridge_mappings_parse() -> None:
    assert parse_mappings("physnet1:br-ex, physnet2:br-vlan,bad,") == {
        "physnet1": "br-ex", "physnet2": "br-vlan"}
