"""An auto-allocated topology in OVN: its switch, its subnets' DHCP options and its
router (gateway on the default external network, an interface per subnet, SNAT) reach
NB in the allocating call; an instance on the allocated network reaches the external
network through the router's SNAT (``ovn-trace`` on the flows ovn-northd computed);
deleting the topology takes it all out of NB."""
from __future__ import annotations

from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from neutrino.sandbox.sandbox import Sandbox
from tests.ovn.nb import nb_row, switch
from tests.ovn.test_router_datapath import ip, output, send
from tests.ovn.test_routers import router_rows

PROJECT = "p1"


def test_allocated_topology_in_nb_and_through_its_snat(sandbox: Sandbox, core: Plugin) -> None:
    sandbox.add_chassis("gw1", cms_options="enable-chassis-as-gw")
    public = core.create_network(ADMIN, {"name": "public", "external": True,
                                         "is_default": True})
    external_subnet = core.create_subnet(ADMIN, {"network_id": public["id"],
                                                 "cidr": "172.24.4.0/24", "ip_version": 4})
    for prefix, length in (("10.100.0.0/16", 26), ("fd00:100::/48", 64)):
        core.create_subnetpool(ADMIN, {"name": "default", "prefixes": [prefix],
                                       "default_prefixlen": length, "is_default": True})
    net_id = core.get_auto_allocated_topology(ADMIN, PROJECT)

    assert switch(sandbox, net_id) is not None
    subnets = core.list_subnets(ADMIN)[0]
    mine = [s for s in subnets if s["network_id"] == net_id]
    assert sorted(s["cidr"] for s in mine) == ["10.100.0.0/26", "fd00:100::/64"]
    for subnet in mine:
        assert nb_row(sandbox, "DHCP_Options", subnet["id"]) is not None
    [router] = [r for r in core.list_routers(ADMIN)[0] if r["project_id"] == PROJECT]
    ports = {p["id"]: p for p in core.list_all_ports() if p["device_id"] == router["id"]}
    gateway = next(p for p in ports.values() if p["device_owner"] == "network:router_gateway")
    interface4 = next(p for p in ports.values()
                      if p["device_owner"] == "network:router_interface"
                      and p["fixed_ips"][0]["ip_address"] == "10.100.0.1")
    rows = router_rows(sandbox, router["id"])
    assert rows is not None
    assert set(rows["ports"]) == {f"lrp-{p}" for p in ports}
    assert rows["nat"] == {("snat", ip(gateway), "10.100.0.0/26", None)}
    assert rows["routes"] == {("0.0.0.0/0", "172.24.4.1")}

    vm = core.create_port(ADMIN, {"network_id": net_id, "name": "vm", "project_id": PROJECT})
    outside = core.create_port(ADMIN, {"network_id": public["id"], "fixed_ips": [
        {"subnet_id": external_subnet["id"], "ip_address": "172.24.4.100"}],
        "port_security_enabled": False})
    trace = send(sandbox, vm, interface4["mac_address"], ip(outside))
    assert f"ip4.src={ip(gateway)}" in trace and output(outside) in trace

    core.delete_port(ADMIN, vm["id"])
    core.delete_auto_allocated_topology(ADMIN, PROJECT)
    assert router_rows(sandbox, router["id"]) is None
    assert switch(sandbox, net_id) is None
    assert all(nb_row(sandbox, "DHCP_Options", s["id"]) is None for s in mine)
