"""IP protocols of security group rules: what a rule's ``protocol`` means.

Shared by the core (which validates and normalises rules) and backends (which
translate them), so both read a rule's protocol the same way.  Names and numbers
are neutron-lib's (``IP_PROTOCOL_MAP``, with the legacy alias ``icmpv6``), so a
rule written for Neutron means the same here.
"""
from __future__ import annotations

NUMBERS: dict[str, int] = {
    "ah": 51, "dccp": 33, "egp": 8, "esp": 50, "gre": 47, "hopopt": 0, "icmp": 1, "igmp": 2,
    "ipip": 4, "ipv6-encap": 41, "ipv6-frag": 44, "ipv6-icmp": 58, "icmpv6": 58,
    "ipv6-nonxt": 59, "ipv6-opts": 60, "ipv6-route": 43, "ospf": 89, "pgm": 113, "rsvp": 46,
    "sctp": 132, "tcp": 6, "udp": 17, "udplite": 136, "vrrp": 112,
}
#: Protocols with ports (a rule's port range is a destination port range).
WITH_PORTS = frozenset({6, 17, 33, 132, 136})
#: ICMP and ICMPv6: a rule's ``port_range_min`` is the type, ``port_range_max`` the code.
ICMP = frozenset({1, 58})
#: Protocols that exist in IPv6 only: a rule for IPv4 cannot name them.
IPV6_ONLY = frozenset({41, 43, 44, 58, 59, 60})
#: Names a backend can match on directly, by number (OVN's ``tcp``, ``udp``, ``sctp``).
MATCH_NAMES = {6: "tcp", 17: "udp", 132: "sctp"}


def number(protocol: str | None) -> int | None:
    """The IP protocol number of a normalised rule protocol (a name or ``"0"``..``"255"``);
    None for a rule of any protocol."""
    if protocol is None:
        return None
    if protocol.isdigit():
        return int(protocol)
    return NUMBERS[protocol]
