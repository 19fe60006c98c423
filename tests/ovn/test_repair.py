"""Drift repair (issue 3 item 6): rows deleted or altered by hand in NB are repaired, owned
leftovers removed, foreign rows left alone; every repair is counted and reported."""
from __future__ import annotations

import uuid

import pytest

from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from neutrino.ovn import commands, desired
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from tests.ovn.conftest import CoreFactory, local_repairs, ovn_driver
from tests.ovn.l3 import routed
from tests.ovn.nb import lsp, nb_row, nb_rows, one, switch, switch_port_names


def topology(core: Plugin) -> dict:
    vlan = core.create_network(ADMIN, {"name": "v", "segments": [
        {"network_type": "vlan", "physical_network": "physnet1", "segmentation_id": 150}]})
    geneve = core.create_network(ADMIN, {"name": "g"})
    subnet = core.create_subnet(ADMIN, {"network_id": geneve["id"], "cidr": "10.5.0.0/24",
                                 "ip_version": 4})
    ports = [core.create_port(ADMIN, {"network_id": geneve["id"], "name": f"p{i}"})
             for i in range(3)]
    vport = core.create_port(ADMIN, {"network_id": vlan["id"], "name": "vp"})
    return {"vlan": vlan, "geneve": geneve, "subnet": subnet, "ports": ports, "vport": vport}


def test_hand_edited_nb_is_repaired(sandbox: Sandbox, make_core: CoreFactory) -> None:
    core = make_core(maintenance_interval=1)
    t = topology(core)
    geneve, vlan, subnet = t["geneve"]["id"], t["vlan"]["id"], t["subnet"]["id"]
    p0, p1, p2 = (p["id"] for p in t["ports"])
    vport = t["vport"]["id"]
    localnet = next(iter(switch_port_names(sandbox, vlan) - {vport}))
    orphan_net, orphan_port = str(uuid.uuid4()), str(uuid.uuid4())
    dhcp = nb_row(sandbox, "DHCP_Options", subnet)["_uuid"]
    good_p1 = lsp(sandbox, p1)

    # One transaction, so no repair pass sees half of the damage.
    sandbox.nbctl(
        "lsp-del", p0,
        "--", "set", "Logical_Switch_Port", p1, "addresses=\"00:00:00:00:00:01 10.5.0.99\"",
        "enabled=false", "options:requested-chassis=elsewhere",
        "--", "destroy", "DHCP_Options", dhcp,
        "--", "lsp-del", localnet,
        "--", "ls-add", f"neutrino-{orphan_net}",
        "--", "set", "Logical_Switch", f"neutrino-{orphan_net}",
        f"external_ids:neutrino\\:network_id={orphan_net}",
        "--", "lsp-add", f"neutrino-{geneve}", orphan_port,
        "--", "set", "Logical_Switch_Port", orphan_port,
        f"external_ids:neutrino\\:port_id={orphan_port}",
        "--", "ls-add", "foreign", "--", "lsp-add", "foreign", "foreign-port")

    def repaired() -> bool:
        row1 = lsp(sandbox, p1)
        return (lsp(sandbox, p0) is not None
                and row1["addresses"] == good_p1["addresses"] and row1["enabled"] is True
                and row1["options"] == {}
                and nb_row(sandbox, "DHCP_Options", subnet) is not None
                and localnet in switch_port_names(sandbox, vlan)
                and switch(sandbox, orphan_net) is None and lsp(sandbox, orphan_port) is None)
    wait_for(repaired, 10, "NB repaired")
    new_dhcp = nb_row(sandbox, "DHCP_Options", subnet)["_uuid"]
    for port_id in (p0, p1, p2):
        assert one(lsp(sandbox, port_id)["dhcpv4_options"]) == new_dhcp
    assert lsp(sandbox, "foreign-port") is not None, "rows without the mark are not ours"

    expected = {"logical_switch_port.created": 1, "logical_switch_port.updated": 1,
                "logical_switch_port.deleted": 1, "dhcp_options.created": 1,
                "logical_switch.updated": 1, "logical_switch.deleted": 1}
    wait_for(lambda: local_repairs(core) == expected, 5, f"repairs counted as {expected}")
    wait_for(lambda: ovn_driver(core).health()["repairs"] == expected, 5,
             "repair counts published for every server")


def test_deleted_switch_comes_back_with_its_ports(sandbox: Sandbox, make_core: CoreFactory) -> None:
    core = make_core(maintenance_interval=1)
    t = topology(core)
    geneve = t["geneve"]["id"]
    sandbox.nbctl("ls-del", f"neutrino-{geneve}")
    wait_for(lambda: switch_port_names(sandbox, geneve) == {p["id"] for p in t["ports"]}, 10,
             "switch and ports recreated")
    expected = {"logical_switch.created": 1, "logical_switch_port.created": 3}
    wait_for(lambda: local_repairs(core) == expected, 5, f"repairs counted as {expected}")


def test_row_ahead_of_sql_is_overwritten_on_the_second_pass(
        sandbox: Sandbox, make_core: CoreFactory) -> None:
    """Newer-than-SQL rows are left alone once (a racing update would reach SQL too),
    then overwritten: SQL went back in time (a restored backup)."""
    core = make_core(maintenance_interval=0.5)
    t = topology(core)
    port = t["ports"][0]
    sandbox.nbctl("set", "Logical_Switch_Port", port["id"], "enabled=false",
                  "external_ids:neutrino\\:revision_number=999")
    wait_for(lambda: lsp(sandbox, port["id"])["enabled"] is True, 10, "row overwritten")
    # Status changes bump the SQL revision without an NB write, so NB may trail SQL.
    assert int(lsp(sandbox, port["id"])["external_ids"]["neutrino:revision_number"]) <= \
        core.port_without_binding(port["id"])["revision_number"]


def without_up(rows: list[dict]) -> list[dict]:
    return [{k: v for k, v in row.items() if k != "up"} for row in rows]


def test_nothing_to_repair_writes_nothing(sandbox: Sandbox, make_core: CoreFactory) -> None:
    core = make_core(maintenance_interval=0.3)
    topology(core)
    before = nb_rows(sandbox, "Logical_Switch_Port")
    worker = ovn_driver(core).worker
    syncs = worker.stats["full_syncs"]
    wait_for(lambda: worker.stats["full_syncs"] >= syncs + 3, 10, "three more passes")
    assert worker.health()["repairs"] == {}
    # ``up`` is ovn-northd's to write (it may set up=false on new rows meanwhile).
    assert without_up(nb_rows(sandbox, "Logical_Switch_Port")) == without_up(before)


def test_a_create_cut_short_before_its_binding_is_repaired(
        sandbox: Sandbox, make_core: CoreFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    """A bound port's LSP is written once, at create, as the binding will leave it.  If
    the process dies between the create's commit and the binding's, the repair makes NB
    match SQL (unbound), and the read that finishes the binding (B4) brings it up to date."""
    sandbox.add_chassis("hv1")
    core = make_core()
    worker = ovn_driver(core).worker
    wait_for(lambda: worker.stats["full_syncs"] >= 1, 10, "first full sync")
    net = core.create_network(ADMIN, {"name": "n"})

    def process_dies(port_id: str, snapshot: object = None) -> None:
        raise RuntimeError("killed before binding")
    monkeypatch.setattr(core.binder, "bind", process_dies)
    with pytest.raises(RuntimeError):
        core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1",
                          "binding:profile": {"vif_plug_type": "dummy"}})
    (port,) = core.list_all_ports()
    assert port["binding:vif_type"] == "unbound"
    row = lsp(sandbox, port["id"])
    assert row["options"] == {"requested-chassis": "hv1", "vif-plug-type": "dummy",
                              "vif-plug-mtu-request": str(net["mtu"])}
    assert row["external_ids"]["neutrino:vif_type"] == "ovs", "written as the binding would"
    assert port["id"] in switch_port_names(sandbox, net["id"])

    worker._request_full("test")
    wait_for(lambda: lsp(sandbox, port["id"])["external_ids"]["neutrino:vif_type"] == "unbound",
             10, "NB matches SQL")
    assert lsp(sandbox, port["id"])["options"] == row["options"]

    monkeypatch.undo()
    bound = core.get_port(ADMIN, port["id"])
    assert bound["binding:vif_type"] == "ovs"
    row = lsp(sandbox, port["id"])
    assert row["external_ids"]["neutrino:vif_type"] == "ovs"
    assert row["external_ids"]["neutrino:revision_number"] == str(bound["revision_number"])


def test_routers_ports_are_router_type_and_floating_ip_ports_have_none(
        sandbox: Sandbox, make_core: CoreFactory) -> None:
    """A router's ports are the switch ends of patches to its router ports, and a
    floating IP's port has no switch port at all: the repair must never turn them into
    instance ports (which would answer ARP for the router's and floating addresses)."""
    core = make_core(maintenance_interval=0.5)
    t = routed(core)
    interface, gateway = t.interface["port_id"], t.gateway_port["id"]

    def router_shaped() -> bool:
        rows = [lsp(sandbox, interface), lsp(sandbox, gateway)]
        return all(r is not None and r["type"] == "router" for r in rows)
    wait_for(router_shaped, 10, "router ports written")
    assert lsp(sandbox, interface)["addresses"] == "router"
    assert lsp(sandbox, interface)["options"] == {"router-port": f"lrp-{interface}"}
    assert lsp(sandbox, interface)["port_security"] == []
    assert lsp(sandbox, gateway)["options"] == {"router-port": f"lrp-{gateway}",
                                                "nat-addresses": "router"}
    assert interface in switch_port_names(sandbox, t.network["id"])
    assert gateway in switch_port_names(sandbox, t.external["id"])

    fip_port = t.floatingip_port["id"]
    sandbox.nbctl(
        "lsp-del", interface,
        "--", "set", "Logical_Switch_Port", gateway, "type=\"\"",
        f"addresses=\"{t.gateway_port['mac_address']} "
        f"{t.gateway_port['fixed_ips'][0]['ip_address']}\"",
        "--", "lsp-add", f"neutrino-{t.external['id']}", fip_port,
        "--", "set", "Logical_Switch_Port", fip_port,
        f"external_ids:neutrino\\:port_id={fip_port}")
    wait_for(lambda: router_shaped() and lsp(sandbox, fip_port) is None, 10, "NB repaired")
    assert lsp(sandbox, gateway)["addresses"] == "router"
    for _ in range(2):  # two more passes: nothing flips back
        syncs = ovn_driver(core).worker.stats["full_syncs"]
        wait_for(lambda s=syncs: ovn_driver(core).worker.stats["full_syncs"] > s, 10, "a pass")
    assert lsp(sandbox, fip_port) is None and router_shaped()
def test_port_groups_and_acls_are_repaired(sandbox: Sandbox, make_core: CoreFactory) -> None:
    core = make_core(maintenance_interval=1)
    net = core.create_network(ADMIN, {"name": "n"})
    core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.6.0.0/24", "ip_version": 4})
    group = core.create_security_group(ADMIN, {"name": "a"})
    core.create_security_group_rule(ADMIN, {"security_group_id": group["id"],
                                            "direction": "ingress", "protocol": "tcp",
                                            "port_range_min": 22, "port_range_max": 22})
    ports = {core.create_port(ADMIN, {"network_id": net["id"],
                                      "security_groups": [group["id"]]})["id"] for _ in range(2)}
    pg = "pg_" + group["id"].replace("-", "_")
    good = {(a["direction"], a["match"], a["action"]) for a in acls_of(sandbox, pg)}
    assert len(good) == 3
    first = sorted(ports)[0]
    worker = ovn_driver(core).worker
    syncs = worker.stats["full_syncs"]
    wait_for(lambda: worker.stats["full_syncs"] > syncs, 10, "a pass with everything written")
    before = dict(worker.health()["repairs"])  # the drop group may be the start's repair
    orphan = "pg_" + str(uuid.uuid4()).replace("-", "_")
    egress = next(a for a in acls_of(sandbox, pg) if a["direction"] == "from-lport")
    ingress = next(a for a in acls_of(sandbox, pg) if a["direction"] == "to-lport")
    sandbox.nbctl(
        "pg-del", "neutron_pg_drop",
        "--", "remove", "Port_Group", pg, "ports", lsp(sandbox, first)["_uuid"],
        "--", "remove", "Port_Group", pg, "acls", egress["_uuid"],
        "--", "set", "ACL", ingress["_uuid"], "action=allow",
        "--", "pg-add", orphan,
        "--", "set", "Port_Group", orphan, f"external_ids:neutrino\\:security_group_id={orphan}")

    def repaired() -> bool:
        drop = nb_row(sandbox, "Port_Group", "neutron_pg_drop")
        return (drop is not None and members(sandbox, "neutron_pg_drop") == ports
                and len(acls_of(sandbox, "neutron_pg_drop")) == 2
                and members(sandbox, pg) == ports
                and {(a["direction"], a["match"], a["action"])
                     for a in acls_of(sandbox, pg)} == good
                and nb_row(sandbox, "Port_Group", orphan) is None)
    wait_for(repaired, 10, "port groups repaired")
    after = worker.health()["repairs"]
    assert {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)} == {
        "port_group.created": 1, "port_group.updated": 1, "port_group.deleted": 1}


def test_a_member_removed_behind_neutrinos_back_is_put_back(sandbox: Sandbox,
                                                            make_core: CoreFactory) -> None:
    """Membership alone (the repair reads it from the IDL, not from its copy of NB)."""
    core = make_core(maintenance_interval=1)
    net = core.create_network(ADMIN, {"name": "n"})
    core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.6.0.0/24", "ip_version": 4})
    group = core.create_security_group(ADMIN, {"name": "a"})
    ports = {core.create_port(ADMIN, {"network_id": net["id"],
                                      "security_groups": [group["id"]]})["id"] for _ in range(3)}
    pg = "pg_" + group["id"].replace("-", "_")
    worker = ovn_driver(core).worker
    syncs = worker.stats["full_syncs"]
    wait_for(lambda: worker.stats["full_syncs"] > syncs, 10, "a pass with everything written")
    before = dict(worker.health()["repairs"])
    sandbox.nbctl("remove", "Port_Group", pg, "ports", lsp(sandbox, sorted(ports)[1])["_uuid"])
    assert members(sandbox, pg) == ports - {sorted(ports)[1]}
    wait_for(lambda: members(sandbox, pg) == ports, 10, "the member put back")
    after = worker.health()["repairs"]
    assert {k: v - before.get(k, 0) for k, v in after.items() if v != before.get(k, 0)} == {
        "port_group.updated": 1}


def acls_of(sandbox: Sandbox, group: str) -> list[dict]:
    row = nb_row(sandbox, "Port_Group", group)
    uuids = set(row["acls"] if isinstance(row["acls"], list) else [row["acls"]])
    return [a for a in nb_rows(sandbox, "ACL") if a["_uuid"] in uuids]


def members(sandbox: Sandbox, group: str) -> set[str]:
    row = nb_row(sandbox, "Port_Group", group)
    uuids = set(row["ports"] if isinstance(row["ports"], list) else [row["ports"]])
    return {p["name"] for p in nb_rows(sandbox, "Logical_Switch_Port") if p["_uuid"] in uuids}


def test_a_pass_never_undoes_membership_changes_that_raced_it(
        sandbox: Sandbox, make_core: CoreFactory) -> None:
    """A pass read SQL, then ports left and joined the group through the API before the
    pass wrote: the pass re-adds the member that drifted out of NB, and leaves the ports
    that changed since its read as their own writes left them."""
    core = make_core(maintenance_interval=3600)  # this test runs the pass itself
    worker = ovn_driver(core).worker
    wait_for(lambda: worker.stats["full_syncs"] >= 1, 10, "the start's full sync")
    repair = worker.repair
    assert repair is not None
    net = core.create_network(ADMIN, {"name": "n"})
    core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.6.0.0/24", "ip_version": 4})
    group = core.create_security_group(ADMIN, {"name": "a"})
    leaving, drifted = (core.create_port(ADMIN, {"network_id": net["id"],
                                                 "security_groups": [group["id"]]})["id"]
                        for _ in range(2))
    joining = core.create_port(ADMIN, {"network_id": net["id"], "security_groups": []})["id"]
    pg = "pg_" + group["id"].replace("-", "_")
    sandbox.nbctl("remove", "Port_Group", pg, "ports", lsp(sandbox, drifted)["_uuid"])
    wait_for(lambda: any(name == pg for _, name, _, _ in repair.plan()), 10,
             "the drift in the worker's copy of NB")
    plan = [item for item in repair.plan() if item[1] == pg]

    changed = {leaving: core.update_port(ADMIN, leaving, {"security_groups": []}),
               joining: core.update_port(ADMIN, joining, {"security_groups": [group["id"]]})}
    wait_for(lambda: all(
        desired.row_revision(commands.find_port(repair.nb, port_id)) == port["revision_number"]
        for port_id, port in changed.items()), 10, "the API's writes in the worker's copy")
    assert repair.apply(plan) == {"port_group.updated": 1}
    assert members(sandbox, pg) == {drifted, joining}
    assert members(sandbox, "neutron_pg_drop") == {leaving, drifted, joining}
