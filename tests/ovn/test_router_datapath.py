"""What OVN does with the NB rows of routers and floating IPs, decided by ``ovn-trace`` on
the southbound flows ovn-northd computed (issue 16): east-west through the router, SNAT
to the gateway address, a floating IP both ways, no path without the router."""
from __future__ import annotations

import pytest

from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from neutrino.sandbox.sandbox import Sandbox
from tests.ovn.l3 import PROJECT, Routed, routed


def ip(port: dict) -> str:
    return str(port["fixed_ips"][0]["ip_address"])


def send(sandbox: Sandbox, src: dict, dst_mac: str, dst_ip: str) -> str:
    """The trace of an IPv4 packet from instance port *src* to *dst_ip* via *dst_mac*."""
    flow = (f'inport == "{src["id"]}" && eth.src == {src["mac_address"]} && '
            f'eth.dst == {dst_mac} && ip4.src == {ip(src)} && ip4.dst == {dst_ip} && '
            f'ip.ttl == 64 && icmp4.type == 8')
    return sandbox.trace(f"neutrino-{src['network_id']}", flow, "--no-friendly-names")


@pytest.fixture
def topology(sandbox: Sandbox, core: Plugin) -> tuple[Routed, dict, dict]:
    """``routed`` plus a second subnet on the router with an instance, and a host on the
    external network (unfiltered: port security off)."""
    sandbox.add_chassis("gw1", cms_options="enable-chassis-as-gw")
    t = routed(core)
    net2 = core.create_network(ADMIN, {"name": "second", "project_id": PROJECT})
    subnet2 = core.create_subnet(ADMIN, {"network_id": net2["id"], "cidr": "10.8.0.0/24",
                                         "ip_version": 4})
    core.add_router_interface(ADMIN, t.router["id"], {"subnet_id": subnet2["id"]})
    vm2 = core.create_port(ADMIN, {"network_id": net2["id"], "project_id": PROJECT})
    outside = core.create_port(ADMIN, {"network_id": t.external["id"], "fixed_ips": [
        {"subnet_id": t.external_subnet["id"], "ip_address": "172.24.4.100"}],
        "port_security_enabled": False})
    return t, vm2, outside


def output(port: dict) -> str:
    return f'output("{port["id"]}")'


def test_east_west_through_the_router(sandbox: Sandbox, core: Plugin,
                                      topology: tuple[Routed, dict, dict]) -> None:
    t, vm2, _ = topology
    trace = send(sandbox, t.vm, t.interface_port["mac_address"], ip(vm2))
    assert "ip.ttl--;" in trace and output(vm2) in trace
    assert f"eth.dst = {vm2['mac_address']};" in trace


def test_no_path_without_the_router(sandbox: Sandbox, core: Plugin,
                                    topology: tuple[Routed, dict, dict]) -> None:
    t, vm2, _ = topology
    core.remove_router_interface(ADMIN, t.router["id"], {"subnet_id": vm2["fixed_ips"][0][
        "subnet_id"]})
    # The router knows no route to it (it asks its default gateway at most).
    assert output(vm2) not in send(sandbox, t.vm, t.interface_port["mac_address"], ip(vm2))
    core.update_floatingip(ADMIN, t.floatingip["id"], {"port_id": None})
    core.remove_router_interface(ADMIN, t.router["id"], {"subnet_id": t.subnet["id"]})
    trace = send(sandbox, t.vm, t.interface_port["mac_address"], ip(vm2))
    assert "output(" not in trace, "nothing answers for the router's MAC any more"


def test_snat_to_the_gateway_address(sandbox: Sandbox, core: Plugin,
                                     topology: tuple[Routed, dict, dict]) -> None:
    t, vm2, outside = topology
    router_mac = core.list_all_ports()  # the second interface's MAC, by its subnet
    mac = next(p["mac_address"] for p in router_mac
               if p["device_owner"] == "network:router_interface"
               and p["network_id"] == vm2["network_id"])
    trace = send(sandbox, vm2, mac, ip(outside))
    assert f"ip4.src={ip(t.gateway_port)}" in trace and output(outside) in trace
    core.update_router(ADMIN, t.router["id"], {"external_gateway_info": {
        "network_id": t.external["id"], "enable_snat": False}})
    trace = send(sandbox, vm2, mac, ip(outside))
    assert "ip4.src=" not in trace and output(outside) in trace, "routed, not translated"


def test_floating_ip_both_ways(sandbox: Sandbox, core: Plugin,
                               topology: tuple[Routed, dict, dict]) -> None:
    """Inbound through the floating IP passes the instance's security groups: its project's
    default group admits only its members until a rule lets ICMP in."""
    t, _, outside = topology
    fip = t.floatingip["floating_ip_address"]
    inbound = send(sandbox, outside, t.gateway_port["mac_address"], fip)
    assert f"ip4.dst={ip(t.vm)}" in inbound and output(t.vm) not in inbound
    core.create_security_group_rule(ADMIN, {"security_group_id": t.vm["security_groups"][0],
                                            "direction": "ingress", "ethertype": "IPv4",
                                            "protocol": "icmp"})
    inbound = send(sandbox, outside, t.gateway_port["mac_address"], fip)
    assert f"ip4.dst={ip(t.vm)}" in inbound and output(t.vm) in inbound
    outbound = send(sandbox, t.vm, t.interface_port["mac_address"], ip(outside))
    assert f"ip4.src={fip}" in outbound and output(outside) in outbound
    core.update_floatingip(ADMIN, t.floatingip["id"], {"port_id": None})
    assert output(t.vm) not in send(sandbox, outside, t.gateway_port["mac_address"], fip)
    outbound = send(sandbox, t.vm, t.interface_port["mac_address"], ip(outside))
    assert f"ip4.src={ip(t.gateway_port)}" in outbound, "back to the router's SNAT"


def test_extra_routes_are_followed(sandbox: Sandbox, core: Plugin,
                                   topology: tuple[Routed, dict, dict]) -> None:
    """The router forwards to the route's nexthop (vm2's MAC); vm2's port security, which
    admits only vm2's own address, then drops it, so the trace ends at the rewrite."""
    t, vm2, _ = topology
    behind_vm2, to_vm2 = "192.168.50.7", f"eth.dst = {vm2['mac_address']};"
    assert to_vm2 not in send(sandbox, t.vm, t.interface_port["mac_address"], behind_vm2)
    core.add_extraroutes(ADMIN, t.router["id"], [{"destination": "192.168.50.0/24",
                                                  "nexthop": ip(vm2)}])
    trace = send(sandbox, t.vm, t.interface_port["mac_address"], behind_vm2)
    assert "ip.ttl--;" in trace and to_vm2 in trace
