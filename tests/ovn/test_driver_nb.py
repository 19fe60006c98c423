"""Networks, subnets and ports are mirrored into OVN NB exactly (issue 3 item 2), checked
with ovn-nbctl against a real ovsdb-server."""
from __future__ import annotations

import pytest

from neutrino.core import exceptions as exc
from neutrino.core import ipam
from neutrino.core.context import ADMIN, Context
from neutrino.core.plugin import Plugin
from neutrino.ovn import commands, desired
from neutrino.sandbox.sandbox import Sandbox
from tests.ovn.conftest import CoreFactory, ovn_driver
from tests.ovn.l3 import routed
from tests.ovn.nb import lsp, nb_row, nb_rows, one, switch, switch_port_names, wait_network

SEGMENTS = {
    "local": {"network_type": "local"},
    "geneve": {"network_type": "geneve"},
    "flat": {"network_type": "flat", "physical_network": "physnet2"},
    "vlan": {"network_type": "vlan", "physical_network": "physnet1", "segmentation_id": 120},
}


@pytest.mark.parametrize("kind", list(SEGMENTS))
def test_network_lifecycle_in_nb(sandbox: Sandbox, core: Plugin, kind: str) -> None:
    net = core.create_network(ADMIN, {"name": f"net-{kind}", "segments": [SEGMENTS[kind]]})
    # Written inside the create call: ACTIVE in the answer, as Neutron's (S1).
    assert (net["status"], net["status_reason"], net["revision_number"]) == ("ACTIVE", None, 1)
    ls = switch(sandbox, net["id"])
    assert ls is not None
    assert ls["external_ids"] == {"neutrino:network_id": net["id"],
                                  "neutrino:network_name": f"net-{kind}",
                                  "neutrino:mtu": str(net["mtu"]),
                                  "neutrino:revision_number": str(net["revision_number"])}
    ports = switch_port_names(sandbox, net["id"])
    if kind in ("flat", "vlan"):
        physnet = SEGMENTS[kind]["physical_network"]
        (name,) = ports
        localnet = lsp(sandbox, name)
        assert localnet["type"] == "localnet"
        assert localnet["options"] == {"network_name": physnet}
        assert one(localnet["tag"]) == (120 if kind == "vlan" else None)
    else:
        assert ports == set()
    wait_network(core, net["id"], "ACTIVE")  # the status worker agrees
    assert core.get_network(ADMIN, net["id"])["revision_number"] == 1

    updated = core.update_network(ADMIN, net["id"], {"name": "renamed"})
    ls = switch(sandbox, net["id"])
    assert ls["external_ids"]["neutrino:network_name"] == "renamed"
    assert ls["external_ids"]["neutrino:revision_number"] == str(updated["revision_number"])

    core.delete_network(ADMIN, net["id"])
    assert switch(sandbox, net["id"]) is None
    assert nb_rows(sandbox, "Logical_Switch_Port") == []


def test_subnet_dhcp_options_and_port_attachment(sandbox: Sandbox, core: Plugin) -> None:
    net = core.create_network(ADMIN, {"name": "n"})
    v4 = core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.1.0.0/24",
                                    "ip_version": 4, "dns_nameservers": ["10.1.0.53"]})
    v6 = core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "2001:db8:1::/64",
                                    "ip_version": 6, "ipv6_address_mode": "dhcpv6-stateful"})
    dhcp4 = nb_row(sandbox, "DHCP_Options", v4["id"])
    assert dhcp4["cidr"] == "10.1.0.0/24"
    assert dhcp4["options"] == {"server_id": "10.1.0.1", "router": "10.1.0.1",
                                "lease_time": "43200", "mtu": str(net["mtu"]),
                                "server_mac": desired.dhcp_server_mac(v4["id"]),
                                "dns_server": "{10.1.0.53}"}
    dhcp6 = nb_row(sandbox, "DHCP_Options", v6["id"])
    assert dhcp6["options"] == {"server_id": desired.dhcp_server_mac(v6["id"])}

    port = core.create_port(ADMIN, {"network_id": net["id"]})
    row = lsp(sandbox, port["id"])
    assert one(row["dhcpv4_options"]) == dhcp4["_uuid"]
    assert one(row["dhcpv6_options"]) == dhcp6["_uuid"]

    core.update_subnet(ADMIN, v4["id"], {"enable_dhcp": False})
    assert nb_row(sandbox, "DHCP_Options", v4["id"]) is None
    assert one(lsp(sandbox, port["id"])["dhcpv4_options"]) is None

    core.update_subnet(ADMIN, v4["id"], {"enable_dhcp": True})
    dhcp4 = nb_row(sandbox, "DHCP_Options", v4["id"])
    assert one(lsp(sandbox, port["id"])["dhcpv4_options"]) == dhcp4["_uuid"], \
        "re-enabling DHCP attaches the options to the subnet's existing ports"

    core.delete_port(ADMIN, port["id"])
    core.delete_subnet(ADMIN, v6["id"])
    assert nb_row(sandbox, "DHCP_Options", v6["id"]) is None
    core.delete_network(ADMIN, net["id"])
    assert nb_rows(sandbox, "DHCP_Options") == []


def test_a_new_mtu_reaches_the_switch_and_dhcp_options(sandbox: Sandbox,
                                                        core: Plugin) -> None:
    """``net-mtu-writable``: instances learn the MTU from DHCP, so the options of every
    DHCP subnet of the network follow in the update's NB transaction; they stay the rows
    the ports point at."""
    net = core.create_network(ADMIN, {"name": "n"})
    v4 = core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.1.0.0/24",
                                    "ip_version": 4})
    quiet = core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.2.0.0/24",
                                       "ip_version": 4, "enable_dhcp": False})
    port = core.create_port(ADMIN, {"network_id": net["id"],
                                    "fixed_ips": [{"subnet_id": v4["id"]}]})
    before = nb_row(sandbox, "DHCP_Options", v4["id"])
    assert before["options"]["mtu"] == str(net["mtu"])

    core.update_network(ADMIN, net["id"], {"mtu": 1300})
    assert switch(sandbox, net["id"])["external_ids"]["neutrino:mtu"] == "1300"
    after = nb_row(sandbox, "DHCP_Options", v4["id"])
    assert after["options"] == {**before["options"], "mtu": "1300"}
    assert after["_uuid"] == before["_uuid"] == one(lsp(sandbox, port["id"])["dhcpv4_options"])
    assert nb_row(sandbox, "DHCP_Options", quiet["id"]) is None


def test_port_lifecycle_in_nb(sandbox: Sandbox, core: Plugin) -> None:
    sandbox.add_chassis("hv1")
    net = core.create_network(ADMIN, {"name": "n"})
    core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.2.0.0/24", "ip_version": 4})
    port = core.create_port(ADMIN, {"network_id": net["id"], "name": "vm1", "device_id": "d1",
                             "binding:host_id": "hv1"})
    row = lsp(sandbox, port["id"])
    ip = port["fixed_ips"][0]["ip_address"]
    assert row["addresses"] == f"{port['mac_address']} {ip}"
    assert row["port_security"] == f"{port['mac_address']} {ip}"
    assert row["enabled"] is True
    assert row["type"] == ""
    assert row["options"] == {"requested-chassis": "hv1"}
    ext = row["external_ids"]
    assert ext["neutrino:port_id"] == port["id"]
    assert ext["neutrino:network_id"] == net["id"]
    assert ext["neutrino:port_name"] == "vm1"
    assert ext["neutrino:device_id"] == "d1"
    assert ext["neutrino:vif_type"] == "ovs"
    # Written once, at create, as the binding leaves it: the binding's own revision
    # changed nothing NB holds, so NB keeps the create's (unless a status write in
    # between made the binding's update write its revision).
    assert int(ext["neutrino:revision_number"]) in (port["revision_number"] - 1,
                                                    port["revision_number"])
    assert port["id"] in switch_port_names(sandbox, net["id"])

    updated = core.update_port(ADMIN, port["id"], {"admin_state_up": False, "name": "vm1b"})
    row = lsp(sandbox, port["id"])
    assert row["enabled"] is False
    assert row["external_ids"]["neutrino:port_name"] == "vm1b"
    assert row["external_ids"]["neutrino:revision_number"] == str(updated["revision_number"])

    core.update_port(ADMIN, port["id"], {"binding:host_id": ""})
    assert lsp(sandbox, port["id"])["options"] == {}

    core.delete_port(ADMIN, port["id"])
    assert lsp(sandbox, port["id"]) is None
    assert switch_port_names(sandbox, net["id"]) == set()


def test_deleting_a_port_deletes_the_nat_translating_for_it(sandbox: Sandbox,
                                                           core: Plugin) -> None:
    """The core disassociates a deleted port's floating IPs; NB must not keep sending the
    floating address to the fixed one (the next port on the subnet may get it)."""
    t = routed(core)
    vm, other = t.vm["id"], core.create_port(ADMIN, {"network_id": t.network["id"]})["id"]
    sandbox.nbctl("lr-add", "r-by-hand")
    for port_id, ip in ((vm, "172.24.4.50"), (other, "172.24.4.51")):
        sandbox.nbctl("--id=@nat", "create", "NAT", "type=dnat_and_snat",
                      f"external_ip={ip}", "logical_ip=10.6.0.99", f"logical_port={port_id}",
                      "--", "add", "Logical_Router", "r-by-hand", "nat", "@nat")
    core.delete_port(ADMIN, vm)
    assert [n["logical_port"] for n in nb_rows(sandbox, "NAT")
            if n["external_ip"] in ("172.24.4.50", "172.24.4.51")] == [other]
    assert nb_row(sandbox, "Logical_Router", "r-by-hand") is not None
    assert core.get_floatingip(ADMIN, t.floatingip["id"])["port_id"] is None


def test_a_stale_write_never_overwrites_a_newer_one(sandbox: Sandbox,
                                                    make_core: CoreFactory) -> None:
    core = make_core(workers=False)
    nb = ovn_driver(core).nb
    net = core.create_network(ADMIN, {"name": "n"})
    port = core.create_port(ADMIN, {"network_id": net["id"], "name": "new"})
    old = desired.port_spec({**port, "name": "old", "revision_number": port["revision_number"] - 1},
                            net)
    with nb.transaction(check_error=True) as txn:
        stale = txn.add(commands.EnsurePort(nb, old))
    assert stale.result == commands.STALE
    assert lsp(sandbox, port["id"])["external_ids"]["neutrino:port_name"] == "new"

    same = desired.port_spec(port, net)
    with nb.transaction(check_error=True) as txn:
        again = txn.add(commands.EnsurePort(nb, same))
    assert again.result == commands.UNCHANGED, "an ensure of a correct row writes nothing"


def test_creates_over_quota_reach_no_nb(sandbox: Sandbox, core: Plugin) -> None:
    """A create refused by its project's quota rolls back before any postcommit: no
    switch, DHCP options or port appears in NB."""
    ctx = Context(user_id="u", project_id="p", roles=frozenset({"member"}))
    core.update_quota("p", {"network": 1, "subnet": 1, "port": 1})
    net = core.create_network(ctx, {"name": "n"})
    core.create_subnet(ctx, {"network_id": net["id"], "cidr": "10.3.0.0/24"})
    port = core.create_port(ctx, {"network_id": net["id"]})
    tables = ("Logical_Switch", "Logical_Switch_Port", "DHCP_Options")
    before = {table: {row["_uuid"] for row in nb_rows(sandbox, table)} for table in tables}
    for create in (lambda: core.create_network(ctx, {"name": "n2"}),
                   lambda: core.create_subnet(ctx, {"network_id": net["id"],
                                                    "cidr": "10.4.0.0/24"}),
                   lambda: core.create_port(ctx, {"network_id": net["id"]})):
        with pytest.raises(exc.OverQuota):
            create()
    assert {table: {row["_uuid"] for row in nb_rows(sandbox, table)} for table in tables} \
        == before
    assert switch_port_names(sandbox, net["id"]) == {port["id"]}


def test_a_bulk_create_is_one_nb_transaction_all_or_nothing(
        sandbox: Sandbox, make_core: CoreFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    core = make_core(workers=False,
                     mechanism_drivers="ovn,tests.drivers:FailingDriver")
    nb = ovn_driver(core).nb
    transactions: list[int] = []
    real = nb.transaction

    def counted(*args, **kwargs):
        transactions.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(nb, "transaction", counted)
    nets = core.create_network_bulk(ADMIN, [{"name": f"n{i}"} for i in range(3)])
    assert len(transactions) == 1
    assert all(switch(sandbox, n["id"]) is not None for n in nets)
    assert [n["status"] for n in nets] == ["ACTIVE"] * 3

    transactions.clear()
    net = nets[0]
    subnets = core.create_subnet_bulk(ADMIN, [
        {"network_id": net["id"], "cidr": "10.7.0.0/24"},
        {"network_id": net["id"], "cidr": "2001:db8:7::/64"}])
    assert len(transactions) == 1
    assert all(nb_row(sandbox, "DHCP_Options", s["id"]) is not None for s in subnets)
    # The switch was ensured once, from the network's newest revision (two subnets later).
    assert switch(sandbox, net["id"])["external_ids"]["neutrino:revision_number"] == \
        str(core.get_network(ADMIN, net["id"])["revision_number"]) == \
        str(net["revision_number"] + 2)

    first = core.create_port(ADMIN, {"network_id": net["id"]})  # the default and drop groups
    transactions.clear()
    ports = core.create_port_bulk(ADMIN, [{"network_id": net["id"], "name": f"p{i}"}
                                          for i in range(20)])
    assert len(transactions) == 1
    assert switch_port_names(sandbox, net["id"]) == {first["id"], *(p["id"] for p in ports)}
    assert all(lsp(sandbox, p["id"])["dhcpv4_options"] for p in ports)

    # A failing item: nothing of its batch in SQL or NB, whether SQL refused it (no NB
    # transaction at all) or a backend's postcommit did (the batch is undone).
    tables = ("Logical_Switch", "Logical_Switch_Port", "DHCP_Options")
    before = {table: {row["_uuid"] for row in nb_rows(sandbox, table)} for table in tables}
    count = {"networks": 3, "ports": 21}
    transactions.clear()
    with pytest.raises(exc.IpAddressAlreadyAllocated):
        core.create_port_bulk(ADMIN, [{"network_id": net["id"]}, {
            "network_id": net["id"], "fixed_ips": [first["fixed_ips"][0]]}])
    assert transactions == []
    with pytest.raises(exc.MechanismDriverError):
        core.create_network_bulk(ADMIN, [{"name": "a"}, {"name": "refuse-post"}])
    assert {table: {row["_uuid"] for row in nb_rows(sandbox, table)} for table in tables} \
        == before
    assert {"networks": len(core.list_networks(ADMIN)[0]),
            "ports": len(core.list_ports(ADMIN)[0])} == count


def test_a_slaac_subnet_readdresses_existing_ports_in_nb(sandbox: Sandbox, core: Plugin) -> None:
    """The EUI-64 addresses a SLAAC subnet gives existing ports (and takes with it)
    reach their LSPs at once, not at the next repair."""
    net = core.create_network(ADMIN, {"name": "n"})
    core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.3.0.0/24", "ip_version": 4})
    port = core.create_port(ADMIN, {"network_id": net["id"]})
    ip4 = port["fixed_ips"][0]["ip_address"]
    slaac = core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "fd00:3::/64",
                                       "ip_version": 6, "ipv6_address_mode": "slaac"})
    ip6 = ipam.eui64("fd00:3::/64", port["mac_address"])
    assert lsp(sandbox, port["id"])["addresses"] == f"{port['mac_address']} {ip4} {ip6}"
    core.delete_subnet(ADMIN, slaac["id"])
    assert lsp(sandbox, port["id"])["addresses"] == f"{port['mac_address']} {ip4}"


def test_a_port_on_a_network_whose_switch_is_gone_brings_both_back(
        sandbox: Sandbox, make_core: CoreFactory) -> None:
    """A network whose switch NB lost (its create found NB unreachable, or a hand
    deleted it): the next port's write inserts the switch and the port on it in one
    transaction: the port finds the switch that transaction inserts, or only the switch
    would come back and the port would wait for the repair (none runs here)."""
    core = make_core(workers=False)
    net = core.create_network(ADMIN, {"name": "lost"})
    sandbox.nbctl("ls-del", desired.switch_name(net["id"]))
    assert switch(sandbox, net["id"]) is None
    port = core.create_port(ADMIN, {"network_id": net["id"]})
    assert switch(sandbox, net["id"]) is not None
    assert switch_port_names(sandbox, net["id"]) == {port["id"]}
    assert lsp(sandbox, port["id"]) is not None
