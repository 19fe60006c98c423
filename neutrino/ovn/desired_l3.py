"""What the NB rows of a router and its floating IPs should contain.

Like :mod:`neutrino.ovn.desired`, pure functions the postcommits and the drift repair
share.  A router is written whole, from a :class:`RouterContext` (level-triggered):
its Logical_Router, one Logical_Router_Port per interface and for the gateway, the
router-type switch ports patched to them, the gateway's HA_Chassis_Group, SNAT,
floating IP NAT and static routes.  docs/ovn-backend.md has the table.
"""
from __future__ import annotations

import hashlib
import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from neutrino.drivers.api import RouterContext, RouterPortView
from neutrino.ovn import keys
from neutrino.ovn.chassis import ChassisInfo
from neutrino.ovn.desired import PortSpec, RowSpec, network_segments, port_spec, revision_of

#: Highest HA_Chassis priority (OVN's and Neutron's).
HA_PRIORITY_MAX = 32767
#: Logical_Router options, as Neutron sets them: no ARP-learning storm on big external
#: networks, and neighbours of other routers resolved on demand.
ROUTER_OPTIONS = {"always_learn_from_arp_request": "false", "dynamic_neigh_routers": "true"}


@dataclass(frozen=True)
class RouterSpec(RowSpec):
    """A Logical_Router and everything under it.  Child specs' ``name`` is how a row
    is recognised: the LRP's name, or for NAT and routes their defining columns
    (:func:`nat_key`, :func:`route_key`)."""

    router_id: str = ""
    switch_ports: tuple[PortSpec, ...] = ()
    router_ports: tuple[RowSpec, ...] = ()
    #: Name of the gateway's Logical_Router_Port (None: no gateway).
    gateway_port: str | None = None
    #: ``(chassis name, priority)`` of the gateway's HA_Chassis_Group; None: not known
    #: (SB not read yet), leave the group as it is.
    gateway_chassis: tuple[tuple[str, int], ...] | None = ()
    nat: tuple[RowSpec, ...] = ()
    routes: tuple[RowSpec, ...] = ()


def router_name(router_id: str) -> str:
    return keys.ROUTER_PREFIX + router_id


def nat_key(nat_type: str, external_ip: str, logical_ip: str) -> str:
    return f"{nat_type} {external_ip} {logical_ip}"


def route_key(ip_prefix: str, nexthop: str) -> str:
    return f"{ip_prefix} via {nexthop}"


def is_gateway_chassis(chassis: ChassisInfo, network: dict[str, Any]) -> bool:
    """Whether *chassis* may host a gateway on the external *network*: it says so in
    ovn-cms-options and, for a flat/vlan network, maps the physical network."""
    if keys.GATEWAY_CHASSIS_OPTION not in chassis.cms_options:
        return False
    physnets = {s["physical_network"] for s in network_segments(network)
                if s.get("physical_network")}
    return not physnets or bool(physnets & chassis.physnets)


def schedule(router_id: str, network: dict[str, Any],
             chassis: Sequence[ChassisInfo]) -> tuple[tuple[str, int], ...]:
    """Every fitting chassis, by priority.  The order is the sorted names rotated by a
    hash of the router id: deterministic (a repair pass computes the same), and the
    active gateways of many routers spread over the chassis."""
    names = sorted(c.name for c in chassis if is_gateway_chassis(c, network))
    if not names:
        return ()
    start = int.from_bytes(hashlib.sha256(router_id.encode()).digest()[:4], "big") % len(names)
    ordered = names[start:] + names[:start]
    return tuple((name, HA_PRIORITY_MAX - i) for i, name in enumerate(ordered))


def _networks(view: RouterPortView) -> list[str]:
    """``<ip>/<prefix length>`` of each fixed IP, its subnet's prefix length."""
    cidrs = {s["id"]: ipaddress.ip_network(s["cidr"]) for s in view.subnets}
    return [f"{ip['ip_address']}/{cidrs[ip['subnet_id']].prefixlen}"
            for ip in view.port.get("fixed_ips") or [] if ip["subnet_id"] in cidrs]


def _router_port(router_id: str, view: RouterPortView) -> RowSpec:
    name = keys.ROUTER_PORT_PREFIX + view.port["id"]
    return RowSpec(table="Logical_Router_Port", name=name, revision=revision_of(view.port),
                   columns={"name": name, "mac": view.port["mac_address"],
                            "networks": _networks(view),
                            "external_ids": {keys.ROUTER_ID: router_id}})


def _child(table: str, name: str, router_id: str, columns: dict[str, Any],
           **ids: str) -> RowSpec:
    return RowSpec(table=table, name=name, revision=0,
                   columns={**columns, "external_ids": {keys.ROUTER_ID: router_id, **ids}})


def _v4(ips: Sequence[dict[str, Any]]) -> list[str]:
    return [ip["ip_address"] for ip in ips
            if ipaddress.ip_address(ip["ip_address"]).version == 4]


def router_spec(context: RouterContext,
                chassis: Sequence[ChassisInfo] | None) -> RouterSpec:
    """The rows of a router; *chassis*: every chassis SB knows (None: not read yet)."""
    router = context.current
    rid = router["id"]
    views = [*context.interfaces, *([context.gateway] if context.gateway else [])]
    nat: list[RowSpec] = []
    routes: list[RowSpec] = []
    gateway_port = gateway_chassis = None
    if context.gateway is not None:
        gw = context.gateway
        gateway_port = keys.ROUTER_PORT_PREFIX + gw.port["id"]
        gateway_chassis = None if chassis is None else schedule(rid, gw.network, chassis)
        for subnet in gw.subnets:
            if subnet.get("gateway_ip") and subnet["ip_version"] == 4:
                prefix = "0.0.0.0/0"
                routes.append(_child("Logical_Router_Static_Route",
                                     route_key(prefix, subnet["gateway_ip"]), rid,
                                     {"ip_prefix": prefix, "nexthop": subnet["gateway_ip"]}))
        external_ips = _v4(gw.port.get("fixed_ips") or [])
        if (router.get("external_gateway_info") or {}).get("enable_snat") and external_ips:
            for view in context.interfaces:
                for subnet in view.subnets:
                    if subnet["ip_version"] == 4:
                        nat.append(_child("NAT", nat_key("snat", external_ips[0], subnet["cidr"]),
                                          rid, {"type": "snat", "external_ip": external_ips[0],
                                                "logical_ip": subnet["cidr"],
                                                "logical_port": []}))
        for fip in context.floatingips:
            if fip.get("port_id") and fip.get("fixed_ip_address"):
                key = nat_key("dnat_and_snat", fip["floating_ip_address"],
                              fip["fixed_ip_address"])
                # Centralized on the gateway chassis (no external_mac); logical_port
                # names the instance port so deleting it finds the row.
                nat.append(_child("NAT", key, rid, {
                    "type": "dnat_and_snat", "external_ip": fip["floating_ip_address"],
                    "logical_ip": fip["fixed_ip_address"], "logical_port": [fip["port_id"]]},
                    **{keys.FIP_ID: fip["id"]}))
    for route in router.get("routes") or []:
        routes.append(_child("Logical_Router_Static_Route",
                             route_key(route["destination"], route["nexthop"]), rid,
                             {"ip_prefix": route["destination"], "nexthop": route["nexthop"]}))
    revision = revision_of(router)
    return RouterSpec(
        table="Logical_Router", name=router_name(rid), revision=revision, router_id=rid,
        columns={"enabled": [router.get("admin_state_up", True) is not False],
                 "options": dict(ROUTER_OPTIONS),
                 "external_ids": {keys.ROUTER_ID: rid,
                                  keys.ROUTER_NAME: str(router.get("name") or ""),
                                  keys.REVISION: str(revision)}},
        switch_ports=tuple(port_spec(v.port, v.network) for v in views),
        router_ports=tuple(_router_port(rid, v) for v in views),
        gateway_port=gateway_port, gateway_chassis=gateway_chassis,
        nat=tuple(nat), routes=tuple(routes))
