"""ACL match strings of security group rules, in the form Neutron's OVN driver writes.

Operators' tooling (and their eyes, in ``ovn-nbctl acl-list``) expect exactly
these strings, e.g. ``outport == @pg_X && ip4 && ip4.src == 10.0.0.0/24 && tcp
&& tcp.dst == 22``: the direction's port group, the IP version, the remote
prefix or the remote group's address set (which ovn-northd generates for every
port group from its members' addresses), then protocol and ports (ICMP type and
code).  Pure functions of a rule dict, as the core normalised it.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from typing import Any

from neutrino.drivers import protocols
from neutrino.ovn import keys

INGRESS = "ingress"


def port_group_name(sg_id: str) -> str:
    """OVN names allow no ``-`` (``[a-zA-Z_.][a-zA-Z_.0-9]*``)."""
    return keys.PORT_GROUP_PREFIX + sg_id.replace("-", "_")


def direction(rule: Mapping[str, Any]) -> str:
    """Ingress rules filter what goes *to* the port, egress rules what comes from it."""
    return "to-lport" if rule["direction"] == INGRESS else "from-lport"


def _protocol(rule: Mapping[str, Any], icmp: str) -> str:
    number = protocols.number(rule.get("protocol"))
    if number is None:
        return ""
    low, high = rule.get("port_range_min"), rule.get("port_range_max")
    if number in protocols.MATCH_NAMES:
        name = protocols.MATCH_NAMES[number]
        if low is not None and low == high:
            return f" && {name} && {name}.dst == {low}"
        bounds = "".join(f" && {name}.dst {op} {port}"
                         for op, port in ((">=", low), ("<=", high)) if port is not None)
        return f" && {name}{bounds}"
    if number in protocols.ICMP:
        return (f" && {icmp}" + (f" && {icmp}.type == {low}" if low is not None else "")
                + (f" && {icmp}.code == {high}" if high is not None else ""))
    return f" && ip.proto == {number}"


def match(rule: Mapping[str, Any]) -> str:
    """The ACL match of *rule* in the port group of its security group."""
    port = "outport" if rule["direction"] == INGRESS else "inport"
    ip, icmp = ("ip4", "icmp4") if rule["ethertype"] == "IPv4" else ("ip6", "icmp6")
    remote = "src" if rule["direction"] == INGRESS else "dst"
    text = f"{port} == @{port_group_name(rule['security_group_id'])} && {ip}"
    if rule.get("remote_ip_prefix"):
        network = ipaddress.ip_network(rule["remote_ip_prefix"], strict=False)
        text += f" && {ip}.{remote} == {network}"
    if rule.get("remote_group_id"):
        text += f" && {ip}.{remote} == ${port_group_name(rule['remote_group_id'])}_{ip}"
    return text + _protocol(rule, icmp)


def drop_match(direction_: str) -> str:
    port = "outport" if direction_ == "to-lport" else "inport"
    return f"{port} == @{keys.DROP_GROUP} && ip"
