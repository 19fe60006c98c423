"""A routed topology built through the core, for the OVN tests of routers and floating IPs."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin


@dataclass
class Routed:
    """An external network, a tenant network behind a router with a gateway on it, an
    instance port on the tenant network and a floating IP for it."""

    external: dict[str, Any]
    external_subnet: dict[str, Any]
    network: dict[str, Any]
    subnet: dict[str, Any]
    router: dict[str, Any]
    interface: dict[str, Any]
    vm: dict[str, Any]
    floatingip: dict[str, Any]
    #: The router's interface and gateway ports and the floating IP's port.
    interface_port: dict[str, Any]
    gateway_port: dict[str, Any]
    floatingip_port: dict[str, Any]


PROJECT = "p1"


def routed(core: Plugin) -> Routed:
    external = core.create_network(ADMIN, {"name": "public", "external": True})
    external_subnet = core.create_subnet(ADMIN, {
        "network_id": external["id"], "cidr": "172.24.4.0/24", "ip_version": 4})
    network = core.create_network(ADMIN, {"name": "private", "project_id": PROJECT})
    subnet = core.create_subnet(ADMIN, {"network_id": network["id"], "cidr": "10.6.0.0/24",
                                        "ip_version": 4})
    router = core.create_router(ADMIN, {"name": "r", "project_id": PROJECT,
                                        "external_gateway_info": {
        "network_id": external["id"]}})
    interface = core.add_router_interface(ADMIN, router["id"], {"subnet_id": subnet["id"]})
    vm = core.create_port(ADMIN, {"network_id": network["id"], "name": "vm",
                                  "project_id": PROJECT})
    floatingip = core.create_floatingip(ADMIN, {"floating_network_id": external["id"],
                                                "project_id": PROJECT,
                                                "port_id": vm["id"]})
    owned = {p["device_owner"]: p for p in core.list_all_ports()}
    return Routed(external, external_subnet, network, subnet,
                  core.get_router(ADMIN, router["id"]), interface, vm, floatingip,
                  owned["network:router_interface"], owned["network:router_gateway"],
                  owned["network:floatingip"])
