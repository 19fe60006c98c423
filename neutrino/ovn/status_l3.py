"""What a router's and a floating IP's status is, from what OVN did (issue 16): a pure
decision table, like :mod:`neutrino.ovn.status_rules` for ports.

A router with a gateway forwards to the outside only once a chassis has claimed the
gateway's chassis-redirect port (SB ``Port_Binding`` ``cr-lrp-<gateway port id>``) and
that chassis is alive; a floating IP works once its NAT row is in NB and its router does.
Neutron's driver reports a floating IP ACTIVE as soon as it has written the NAT.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from neutrino.drivers.api import RouterContext
from neutrino.drivers.status import ACTIVE, BUILD, DOWN, NO_GATEWAY_CHASSIS
from neutrino.ovn.status_rules import SB_UNKNOWN, Status

WAITING_FOR_ROUTER = "waiting for OVN northbound to create the logical router"
WAITING_FOR_NAT = "waiting for OVN northbound to create the NAT rule"


def gateway_down(chassis: str) -> str:
    return f"gateway chassis {chassis} is down"


def router_down(router_id: str, reason: str | None) -> str:
    return f"router {router_id} is not active: {reason}"


def no_gateway_port(router_id: str) -> str:
    return (f"router {router_id} has no gateway port, the only place OVN translates "
            "floating IPs")


def router_status(context: RouterContext, in_nb: bool, synced: bool,
                  claimed_by: str | None, alive: Callable[[str], bool]) -> Status:
    """*claimed_by*: the chassis holding the gateway's chassis-redirect port (None: none)."""
    if not in_nb:
        return BUILD, WAITING_FOR_ROUTER
    if context.gateway is None:
        return ACTIVE, None
    if not synced:
        return BUILD, SB_UNKNOWN
    if claimed_by is None:
        return DOWN, NO_GATEWAY_CHASSIS
    if not alive(claimed_by):
        return DOWN, gateway_down(claimed_by)
    return ACTIVE, None


def without_gateway(router: RouterContext) -> Status | None:
    """Of an associated floating IP whose router has no gateway port: one reaching its
    network through a router interface (``router-interface-fip``) is accepted by the API
    as Neutron's, but OVN has nowhere to put its NAT (None: the router has a gateway)."""
    return (DOWN, no_gateway_port(router.current["id"])) if router.gateway is None else None


def floatingip_status(fip: Mapping[str, Any], router: Status, nat_in_nb: bool) -> Status:
    """Of an associated floating IP (the core reports the others DOWN, not associated)
    whose router has a gateway."""
    if router[0] != ACTIVE:
        return DOWN, router_down(fip["router_id"], router[1])
    if not nat_in_nb:
        return BUILD, WAITING_FOR_NAT
    return ACTIVE, None
