"""Routers and floating IPs in NB (issue 16): one transaction per API change writes the
router whole — Logical_Router, router ports and their router-type switch ends, the
gateway's HA_Chassis_Group, SNAT, default and extra routes, floating IP NAT."""
from __future__ import annotations

import sys
import threading
from typing import Any

from neutrino.core.context import ADMIN
from neutrino.core.events import EventFeed
from neutrino.core.plugin import Plugin
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from tests.ovn.conftest import CoreFactory, local_repairs, ovn_driver
from tests.ovn.l3 import Routed, routed
from tests.ovn.nb import lsp, nb_row, nb_rows


def _uuids(value: Any) -> list[str]:
    return value if isinstance(value, list) else [value]


def router_rows(sandbox: Sandbox, router_id: str) -> dict[str, Any] | None:
    """The router's rows as ovn-nbctl shows them: NAT and routes as sets of tuples."""
    lr = nb_row(sandbox, "Logical_Router", f"neutron-{router_id}")
    if lr is None:
        return None

    def of(table: str, column: str) -> list[dict[str, Any]]:
        return [r for r in nb_rows(sandbox, table) if r["_uuid"] in _uuids(lr[column])]
    group = nb_row(sandbox, "HA_Chassis_Group", f"neutron-{router_id}")
    members = [] if group is None else [r for r in nb_rows(sandbox, "HA_Chassis")
                                        if r["_uuid"] in _uuids(group["ha_chassis"])]
    return {
        "router": lr,
        "ports": {p["name"]: p for p in of("Logical_Router_Port", "ports")},
        "nat": {(n["type"], n["external_ip"], n["logical_ip"], n["logical_port"] or None)
                for n in of("NAT", "nat")},
        "routes": {(r["ip_prefix"], r["nexthop"]) for r in of("Logical_Router_Static_Route",
                                                               "static_routes")},
        "group": group,
        "chassis": {m["chassis_name"]: m["priority"] for m in members},
    }


def test_routed_topology_in_nb(sandbox: Sandbox, core: Plugin) -> None:
    sandbox.add_chassis("gw1", cms_options="enable-chassis-as-gw")
    sandbox.add_chassis("gw2", cms_options="enable-chassis-as-gw")
    sandbox.add_chassis("hv1")
    t = routed(core)
    rid = t.router["id"]
    interface, gateway = t.interface["port_id"], t.gateway_port["id"]
    gw_ip = t.gateway_port["fixed_ips"][0]["ip_address"]
    fip, fixed = t.floatingip["floating_ip_address"], t.vm["fixed_ips"][0]["ip_address"]
    rows = router_rows(sandbox, rid)
    assert rows is not None
    assert rows["router"]["enabled"] is True
    assert rows["router"]["external_ids"]["neutrino:router_id"] == rid
    # Status writes bump the SQL revision without an NB write, so NB may trail SQL.
    assert 0 < int(rows["router"]["external_ids"]["neutrino:revision_number"]) <= \
        core.get_router(ADMIN, rid)["revision_number"]
    assert set(rows["ports"]) == {f"lrp-{interface}", f"lrp-{gateway}"}
    assert rows["ports"][f"lrp-{interface}"]["networks"] == "10.6.0.1/24"
    assert rows["ports"][f"lrp-{interface}"]["mac"] == t.interface_port["mac_address"]
    assert rows["ports"][f"lrp-{gateway}"]["networks"] == f"{gw_ip}/24"
    assert rows["ports"][f"lrp-{gateway}"]["ha_chassis_group"] == rows["group"]["_uuid"]
    assert rows["ports"][f"lrp-{interface}"]["ha_chassis_group"] == []
    # Every gateway chassis, priorities from the top; not the chassis without the option.
    assert set(rows["chassis"]) == {"gw1", "gw2"}
    assert sorted(rows["chassis"].values()) == [32766, 32767]
    assert rows["nat"] == {("snat", gw_ip, "10.6.0.0/24", None),
                           ("dnat_and_snat", fip, fixed, t.vm["id"])}
    assert rows["routes"] == {("0.0.0.0/0", "172.24.4.1")}
    assert lsp(sandbox, interface)["type"] == "router"
    assert lsp(sandbox, gateway)["options"]["router-port"] == f"lrp-{gateway}"
    assert lsp(sandbox, t.floatingip_port["id"]) is None

    core.add_extraroutes(ADMIN, rid, [{"destination": "192.168.9.0/24",
                                       "nexthop": "10.6.0.50"}])
    assert router_rows(sandbox, rid)["routes"] == {("0.0.0.0/0", "172.24.4.1"),
                                                   ("192.168.9.0/24", "10.6.0.50")}
    core.update_floatingip(ADMIN, t.floatingip["id"], {"port_id": None})
    assert router_rows(sandbox, rid)["nat"] == {("snat", gw_ip, "10.6.0.0/24", None)}
    core.update_router(ADMIN, rid, {"external_gateway_info": {
        "network_id": t.external["id"], "enable_snat": False}})
    assert router_rows(sandbox, rid)["nat"] == set()
    core.update_router(ADMIN, rid, {"admin_state_up": False})
    assert router_rows(sandbox, rid)["router"]["enabled"] is False

    # Rows an operator added by hand (no mark) are left alone.
    sandbox.nbctl("lr-route-add", f"neutron-{rid}", "10.99.0.0/16", "10.6.0.60")
    core.remove_extraroutes(ADMIN, rid, [{"destination": "192.168.9.0/24",
                                          "nexthop": "10.6.0.50"}])
    assert router_rows(sandbox, rid)["routes"] == {("0.0.0.0/0", "172.24.4.1"),
                                                   ("10.99.0.0/16", "10.6.0.60")}

    core.update_router(ADMIN, rid, {"external_gateway_info": None})
    rows = router_rows(sandbox, rid)
    assert set(rows["ports"]) == {f"lrp-{interface}"}
    assert rows["group"] is None and lsp(sandbox, gateway) is None
    assert rows["routes"] == {("10.99.0.0/16", "10.6.0.60")}

    core.remove_router_interface(ADMIN, rid, {"subnet_id": t.subnet["id"]})
    assert router_rows(sandbox, rid)["ports"] == {} and lsp(sandbox, interface) is None
    core.delete_router(ADMIN, rid)
    assert router_rows(sandbox, rid) is None
    assert nb_rows(sandbox, "NAT") == [] and nb_rows(sandbox, "HA_Chassis") == []


def test_an_instance_port_added_as_interface_becomes_a_router_port(
        sandbox: Sandbox, core: Plugin) -> None:
    t = routed(core)
    port = core.create_port(ADMIN, {"network_id": t.network["id"], "fixed_ips": [
        {"subnet_id": t.subnet["id"], "ip_address": "10.6.0.254"}]})
    assert lsp(sandbox, port["id"])["type"] == ""
    other = core.create_network(ADMIN, {"name": "other"})
    subnet = core.create_subnet(ADMIN, {"network_id": other["id"], "cidr": "10.7.0.0/24",
                                        "ip_version": 4})
    port = core.create_port(ADMIN, {"network_id": other["id"], "fixed_ips": [
        {"subnet_id": subnet["id"], "ip_address": "10.7.0.254"}]})
    core.add_router_interface(ADMIN, t.router["id"], {"port_id": port["id"]})
    row = lsp(sandbox, port["id"])
    assert (row["type"], row["addresses"]) == ("router", "router")
    lrp = router_rows(sandbox, t.router["id"])["ports"][f"lrp-{port['id']}"]
    assert lrp["networks"] == "10.7.0.254/24"
    gw_ip = t.gateway_port["fixed_ips"][0]["ip_address"]
    assert ("snat", gw_ip, "10.7.0.0/24", None) in router_rows(sandbox, t.router["id"])["nat"]


def test_router_rows_edited_by_hand_are_repaired(sandbox: Sandbox,
                                                 make_core: CoreFactory) -> None:
    gw1 = sandbox.add_chassis("gw1", cms_options="enable-chassis-as-gw")
    core = make_core(maintenance_interval=0.5)
    t = routed(core)
    rid = t.router["id"]
    good = router_rows(sandbox, rid)
    assert good is not None and good["chassis"] == {"gw1": 32767}
    orphan = "0d8c5a4e-0000-4000-8000-000000000001"
    snat = next(n for n in nb_rows(sandbox, "NAT") if n["type"] == "snat")["_uuid"]
    sandbox.nbctl(
        "lr-route-del", f"neutron-{rid}", "0.0.0.0/0",
        "--", "remove", "Logical_Router", f"neutron-{rid}", "nat", snat,
        "--", "set", "Logical_Router_Port", f"lrp-{t.interface['port_id']}",
        "networks=\"10.6.0.77/24\"",
        "--", "lr-add", f"neutron-{orphan}",
        "--", "set", "Logical_Router", f"neutron-{orphan}",
        f"external_ids:neutrino\\:router_id={orphan}",
        "--", "lr-add", "foreign-router")

    def repaired() -> bool:
        rows = router_rows(sandbox, rid)
        return (rows is not None and rows["nat"] == good["nat"]
                and rows["routes"] == good["routes"]
                and rows["ports"][f"lrp-{t.interface['port_id']}"]["networks"] == "10.6.0.1/24"
                and router_rows(sandbox, orphan) is None)
    wait_for(repaired, 10, "router repaired")
    assert nb_row(sandbox, "Logical_Router", "foreign-router") is not None
    expected = {"logical_router.updated": 1, "logical_router.deleted": 1}
    wait_for(lambda: local_repairs(core) == expected, 5, f"repairs counted as {expected}")

    # Gateway chassis come and go: the group follows.
    sandbox.add_chassis("gw2", cms_options="enable-chassis-as-gw")
    wait_for(lambda: set(router_rows(sandbox, rid)["chassis"]) == {"gw1", "gw2"}, 10,
             "gw2 scheduled")
    gw1.vsctl("remove", "Open_vSwitch", ".", "external_ids", "ovn-cms-options")
    wait_for(lambda: set(router_rows(sandbox, rid)["chassis"]) == {"gw2"}, 10,
             "gw1 unscheduled")
    assert router_rows(sandbox, rid)["chassis"] == {"gw2": 32767}


def statuses(core: Plugin, t: Routed) -> tuple[tuple[str, str | None], tuple[str, str | None]]:
    router = core.get_router(ADMIN, t.router["id"])
    fip = core.get_floatingip(ADMIN, t.floatingip["id"])
    return (router["status"], router["status_reason"]), (fip["status"], fip["status_reason"])


def test_statuses_follow_the_gateway_chassis(sandbox: Sandbox, make_core: CoreFactory,
                                             fast_heartbeat: None) -> None:
    """ACTIVE only once a live chassis has claimed the gateway (SB), with reasons else."""
    core = make_core()
    t = routed(core)
    rid = t.router["id"]
    down = f"router {rid} is not active: "
    wait_for(lambda: statuses(core, t) == (("DOWN", "no gateway chassis"),
                                           ("DOWN", down + "no gateway chassis")),
             10, "no gateway chassis")
    alone = core.create_router(ADMIN, {"name": "no-gateway"})
    wait_for(lambda: core.get_router(ADMIN, alone["id"])["status"] == "ACTIVE", 10,
             "a router without gateway forwards east-west")

    gw1 = sandbox.add_chassis("gw1", cms_options="enable-chassis-as-gw")
    wait_for(lambda: statuses(core, t) == (("ACTIVE", None), ("ACTIVE", None)), 20,
             "gateway claimed by gw1")
    gw1.kill("controller")
    gone = "gateway chassis gw1 is down"
    wait_for(lambda: statuses(core, t) == (("DOWN", gone), ("DOWN", down + gone)), 10,
             "gw1 down")
    gw1.restart("controller")
    wait_for(lambda: statuses(core, t) == (("ACTIVE", None), ("ACTIVE", None)), 20,
             "gw1 back")
    core.update_floatingip(ADMIN, t.floatingip["id"], {"port_id": None})
    assert statuses(core, t)[1] == ("DOWN", "not associated with a port")


def test_concurrent_floating_ip_changes_on_one_router_leave_no_stale_nat(
        sandbox: Sandbox, make_core: CoreFactory) -> None:
    """A router's NB rows are written whole: floating IP changes on it at once, through
    two API workers (two cores, each its own NB connection), must not let an older
    picture of the router land last (a NAT row left, or one missing, until the next
    full sync)."""
    core = make_core()
    cores = [core, make_core(workers=False)]
    t = routed(core)
    rid = t.router["id"]
    pairs = [(t.floatingip, t.vm)]
    for i in range(3):
        vm = core.create_port(ADMIN, {"network_id": t.network["id"], "name": f"vm{i}",
                                      "project_id": "p1"})
        pairs.append((core.create_floatingip(ADMIN, {"floating_network_id": t.external["id"],
                                                     "project_id": "p1"}), vm))

    # Threads switch often, so one is often held between its commit and its NB write.
    switch_interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        flip_concurrently(sandbox, cores, rid, pairs)
    finally:
        sys.setswitchinterval(switch_interval)


def flip_concurrently(sandbox: Sandbox, cores: list[Plugin], rid: str,
                      pairs: list[tuple[dict[str, Any], dict[str, Any]]]) -> None:
    """Associate, then disassociate, every floating IP at once, 30 times; after each
    round NB's NAT is SQL's."""
    def nat_in_sql() -> set[tuple[str, str, str, str | None]]:
        return {("dnat_and_snat", f["floating_ip_address"], f["fixed_ip_address"],
                 f["port_id"]) for f in cores[0].list_floatingips(ADMIN)[0] if f["port_id"]}

    def flip(barrier: threading.Barrier, core: Plugin, fip: dict[str, Any],
             port_id: str | None) -> None:
        barrier.wait()
        core.update_floatingip(ADMIN, fip["id"], {"port_id": port_id})

    for round_ in range(30):
        barrier = threading.Barrier(len(pairs))
        threads = [threading.Thread(target=flip, args=(
            barrier, cores[i % len(cores)], fip, port["id"] if round_ % 2 else None))
            for i, (fip, port) in enumerate(pairs)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        # Every postcommit has returned: NB holds what SQL says, with no repair pass run.
        rows = router_rows(sandbox, rid)
        assert rows is not None
        assert {n for n in rows["nat"] if n[0] == "dnat_and_snat"} == nat_in_sql(), round_


def test_repair_forces_a_router_row_ahead_of_sql(sandbox: Sandbox,
                                                make_core: CoreFactory) -> None:
    """A Logical_Router from a revision SQL never reached (SQL rolled back, or an edit)
    is left one pass, in case its postcommit is landing, then written back whole."""
    sandbox.add_chassis("gw1", cms_options="enable-chassis-as-gw")
    core = make_core(maintenance_interval=0.5)
    t = routed(core)
    rid = t.router["id"]
    good = router_rows(sandbox, rid)
    assert good is not None
    snat = next(n for n in nb_rows(sandbox, "NAT") if n["type"] == "snat")["_uuid"]
    sandbox.nbctl("remove", "Logical_Router", f"neutron-{rid}", "nat", snat,
                  "--", "set", "Logical_Router", f"neutron-{rid}",
                  "external_ids:neutrino\\:revision_number=999")
    wait_for(lambda: router_rows(sandbox, rid)["nat"] == good["nat"], 10, "SNAT back")
    row = router_rows(sandbox, rid)["router"]
    # SQL's revision again (status writes may have moved SQL's on since).
    assert int(row["external_ids"]["neutrino:revision_number"]) <= \
        core.get_router(ADMIN, rid)["revision_number"]
    wait_for(lambda: local_repairs(core).get("logical_router.updated") == 1, 5,
             "the router's repair counted")


def test_a_floating_ip_through_a_router_interface_is_down_with_why_at_commit(
        sandbox: Sandbox, make_core: CoreFactory) -> None:
    """``router-interface-fip``: the API associates it as Neutron does, but OVN translates
    only on a gateway port; the status says so instead of waiting for a NAT row forever.
    The driver knows it at commit: the answer to the association is what a show right
    after gives (tempest compares them), and the status worker, event-driven and in its
    full syncs, writes no status event over it."""
    core = make_core(maintenance_interval=0.5)
    worker = ovn_driver(core).worker
    assert worker is not None
    outside = core.create_network(ADMIN, {"name": "outside", "external": True})
    outside_v4 = core.create_subnet(ADMIN, {"network_id": outside["id"],
                                            "cidr": "192.2.2.0/24", "ip_version": 4})
    inside = core.create_network(ADMIN, {"name": "inside", "project_id": "p1"})
    inside_v4 = core.create_subnet(ADMIN, {"network_id": inside["id"], "cidr": "10.7.0.0/24",
                                           "ip_version": 4})
    router = core.create_router(ADMIN, {"name": "r", "project_id": "p1"})
    for subnet in (inside_v4, outside_v4):
        core.add_router_interface(ADMIN, router["id"], {"subnet_id": subnet["id"]})
    vm = core.create_port(ADMIN, {"network_id": inside["id"], "project_id": "p1"})
    # The port's own status shows in the floating IP (``port_details``): let the worker
    # settle it first (BUILD, then DOWN unbound), so that only the floating IP can move.
    wait_for(lambda: core.get_port(ADMIN, vm["id"])["status"] == "DOWN", 10, "port settled")
    why = (f"router {router['id']} has no gateway port, the only place OVN translates "
           "floating IPs")
    feed = EventFeed(core.db)
    fip = core.create_floatingip(ADMIN, {"floating_network_id": outside["id"],
                                         "project_id": "p1", "port_id": vm["id"]})
    assert (fip["router_id"], fip["status"], fip["status_reason"]) == (
        router["id"], "DOWN", why)
    assert core.get_floatingip(ADMIN, fip["id"]) == fip
    cleared = core.update_floatingip(ADMIN, fip["id"], {"port_id": None})
    assert (cleared["status"], cleared["status_reason"]) == ("DOWN", "not associated with a port")
    answer = core.update_floatingip(ADMIN, fip["id"], {"port_id": vm["id"]})
    assert (answer["status"], answer["status_reason"]) == ("DOWN", why)
    assert core.get_floatingip(ADMIN, fip["id"]) == answer
    # The router as the last change left it is in NB, and two full syncs have passed
    # since: whatever the worker would write, it has written.
    wait_for(lambda: router_rows(sandbox, router["id"]) is not None, 10, "router in NB")
    syncs = worker.stats["full_syncs"]
    wait_for(lambda: worker.stats["full_syncs"] >= syncs + 2, 10, "two full syncs")
    assert [e for e in feed.poll() if e["resource_id"] == fip["id"]] == []
    assert core.get_floatingip(ADMIN, fip["id"]) == answer
    rows = router_rows(sandbox, router["id"])
    assert rows is not None and rows["nat"] == set()
    assert core.get_router(ADMIN, router["id"])["status"] == "ACTIVE"


def status_events(feed: EventFeed, t: Routed) -> list[tuple[str, str, str | None]]:
    """The router's and floating IP's events the feed has not handed out yet."""
    ids = {t.router["id"]: "router", t.floatingip["id"]: "floatingip"}
    return [(ids[e["resource_id"]], e["status"], e["status_reason"]) for e in feed.poll()
            if e["resource_id"] in ids]


def test_the_gateway_fails_over_by_priority_and_comes_back(
        sandbox: Sandbox, make_core: CoreFactory, fast_heartbeat: None) -> None:
    """Three gateway chassis elect over BFD (the sandbox's underlay). The one holding the
    gateway loses its ovn-controller (its switch still answers BFD, so OVN moves
    nothing): DOWN, naming it. Then the whole node dies: the next chassis by priority
    claims, ACTIVE again. It comes back and, OVN's default, takes the gateway back."""
    for name in ("gw1", "gw2", "gw3"):
        sandbox.add_chassis(name, cms_options="enable-chassis-as-gw")
    core = make_core()
    t = routed(core)
    rid, cr_lrp = t.router["id"], f"cr-lrp-{t.gateway_port['id']}"
    before = router_rows(sandbox, rid)
    assert before is not None
    first, second, _ = sorted(before["chassis"], key=before["chassis"].__getitem__,
                              reverse=True)
    # Until every chassis sees the others over BFD, one may claim and release again.
    wait_for(lambda: all(sorted(c.bfd_states().values()) == ["up", "up"]
                         for c in sandbox.chassis.values()),
             20, "BFD up between the gateway chassis")
    wait_for(lambda: statuses(core, t) == (("ACTIVE", None), ("ACTIVE", None)), 20,
             "router and floating IP ACTIVE")
    wait_for(lambda: sandbox.bound_chassis(cr_lrp) == first, 10, f"{first} claims")
    feed = EventFeed(core.db)

    sandbox.chassis[first].kill("controller")
    gone, down = f"gateway chassis {first} is down", f"router {rid} is not active: "
    wait_for(lambda: statuses(core, t) == (("DOWN", gone), ("DOWN", down + gone)), 10,
             f"{first} down")
    assert sandbox.bound_chassis(cr_lrp) == first
    sandbox.chassis[first].kill("vswitchd")
    wait_for(lambda: sandbox.bound_chassis(cr_lrp) == second, 20, f"{second} claims")
    wait_for(lambda: statuses(core, t) == (("ACTIVE", None), ("ACTIVE", None)), 10,
             "ACTIVE on the next chassis")
    assert sorted(status_events(feed, t)) == sorted([
        ("router", "DOWN", gone), ("floatingip", "DOWN", down + gone),
        ("router", "ACTIVE", None), ("floatingip", "ACTIVE", None)])

    sandbox.chassis[first].start(("vswitchd", "controller"))
    wait_for(lambda: sandbox.bound_chassis(cr_lrp) == first, 20, f"{first} claims back")
    wait_for(lambda: statuses(core, t) == (("ACTIVE", None), ("ACTIVE", None)), 10,
             "ACTIVE on the first chassis again")
    # The chassis hand over in two SB writes (one releases, the other claims), so the
    # router may be seen without a gateway in between; never with the old reason.
    none = "no gateway chassis"
    assert set(status_events(feed, t)) <= {
        ("router", "DOWN", none), ("floatingip", "DOWN", down + none),
        ("router", "ACTIVE", None), ("floatingip", "ACTIVE", None)}
    # Nothing lost on the way: the router's rows, the floating IP's association.
    assert router_rows(sandbox, rid) == before
    fip = core.get_floatingip(ADMIN, t.floatingip["id"])
    assert (fip["port_id"], fip["fixed_ip_address"]) == (
        t.vm["id"], t.vm["fixed_ips"][0]["ip_address"])
