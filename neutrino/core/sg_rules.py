"""What a security group rule means, and its rows.

Neutron's validation and normalisation of a rule (protocol by name or number,
port ranges, ICMP type and code, ethertype against protocol and remote prefix,
one remote only), the rule's *fingerprint* (its normalised meaning: two rules
of a group with the same fingerprint are duplicates), and reading and writing
rule rows.  Both the groups (their default rules, their rendering) and the rules
API use it.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from neutrino.core import exceptions as exc
from neutrino.core.resources import rule_dict
from neutrino.core.rows import chunks
from neutrino.db.models import DefaultSecurityGroup, SecurityGroupRule, new_id, utcnow
from neutrino.drivers import protocols

INGRESS, EGRESS = "ingress", "egress"
IPV4, IPV6 = "IPv4", "IPv6"
#: A rule's ``remote_group_id`` in a template: the group the rule is created in.
SELF = object()
#: Every new group's rules: egress anywhere (Neutron's default templates).
EGRESS_RULES: list[dict[str, Any]] = [{"direction": EGRESS, "ethertype": IPV4},
                                      {"direction": EGRESS, "ethertype": IPV6}]
#: A project's ``default`` group also lets in what its own members send.
DEFAULT_RULES: list[dict[str, Any]] = EGRESS_RULES + [
    {"direction": INGRESS, "ethertype": IPV4, "remote_group_id": SELF},
    {"direction": INGRESS, "ethertype": IPV6, "remote_group_id": SELF}]


def _protocol(value: str | int | None) -> str | None:
    """Neutron's ``convert_protocol``: a known name (lower case) or a number 0..255 (as a
    string), None for any protocol."""
    if value is None or (isinstance(value, str) and value.lower() == "any"):
        return None
    text = str(value).strip()
    if text.isdigit() and int(text) <= 255:
        return str(int(text))
    if text.lower() in protocols.NUMBERS:
        return text.lower()
    raise exc.SecurityGroupRuleInvalidProtocol(protocol=value,
                                               values=sorted(protocols.NUMBERS))


def _prefix(value: str | None) -> str | None:
    """A remote prefix as a CIDR (an address alone is a host route), as given otherwise."""
    if value is None:
        return None
    try:
        network = ipaddress.ip_network(value, strict=False)
    except ValueError:
        raise exc.InvalidInput(error_message=f"'{value}' is not a valid IP subnet") from None
    return value if "/" in value else f"{value}/{network.max_prefixlen}"


def normalized_cidr(prefix: str | None) -> str | None:
    """The network a remote prefix names (``10.0.0.5/24`` -> ``10.0.0.0/24``)."""
    return None if prefix is None else str(ipaddress.ip_network(prefix, strict=False))


def _check_ports(protocol: str | None, low: int | None, high: int | None) -> None:
    """Neutron's ``_validate_port_range``."""
    for port in (low, high):
        if port is not None and not 0 <= port <= 65535:
            raise exc.SecurityGroupInvalidPortValue(port=port)
    if low is None and high is None:
        return
    number = protocols.number(protocol)
    if number is None:
        raise exc.SecurityGroupProtocolRequiredWithPorts()
    if number in protocols.WITH_PORTS:
        if low == 0 or high == 0:
            raise exc.SecurityGroupInvalidPortValue(port=0)
        if low is None or high is None or low > high:
            raise exc.SecurityGroupInvalidPortRange()
    elif number in protocols.ICMP:
        for value, field, attr in ((low, "type", "port_range_min"),
                                   (high, "code", "port_range_max")):
            if value is not None and not 0 <= value <= 255:
                raise exc.SecurityGroupInvalidIcmpValue(field=field, attr=attr, value=value)
        if low is None:
            raise exc.SecurityGroupMissingIcmpType(value=high)
    elif low != high:
        raise exc.SecurityGroupInvalidProtoForPortRange(protocol=protocol)


def rule_values(attrs: Mapping[str, Any]) -> dict[str, Any]:
    """The column values of a rule from its API attributes, validated as Neutron does."""
    ethertype = attrs.get("ethertype") or IPV4
    protocol = _protocol(attrs.get("protocol"))
    low, high = attrs.get("port_range_min"), attrs.get("port_range_max")
    _check_ports(protocol, low, high)
    number = protocols.number(protocol)
    if ethertype == IPV4 and number in protocols.IPV6_ONLY:
        raise exc.SecurityGroupEthertypeConflictWithProtocol(ethertype=ethertype,
                                                             protocol=protocol)
    prefix = _prefix(attrs.get("remote_ip_prefix"))
    remote_group = attrs.get("remote_group_id")
    if prefix is not None and remote_group is not None:
        raise exc.SecurityGroupMultipleRemoteEntites()
    if prefix is not None and \
            ipaddress.ip_network(prefix, strict=False).version != (4 if ethertype == IPV4 else 6):
        raise exc.SecurityGroupRuleParameterConflict(ethertype=ethertype, cidr=prefix)
    values = {"direction": attrs["direction"], "ethertype": ethertype, "protocol": protocol,
              "port_range_min": low, "port_range_max": high, "remote_ip_prefix": prefix,
              "remote_group_id": remote_group, "description": attrs.get("description") or ""}
    values["fingerprint"] = fingerprint(values)
    return values


def fingerprint(values: Mapping[str, Any]) -> str:
    """What two equal rules share: ``tcp`` and ``6`` are one protocol, ICMP and ICMPv6 one
    protocol per ethertype, ``10.0.0.5/24`` and ``10.0.0.0/24`` one prefix."""
    number = protocols.number(values["protocol"])
    protocol = "icmp" if number in protocols.ICMP else "" if number is None else str(number)
    return "|".join(str(v) if v is not None else "" for v in (
        values["direction"], values["ethertype"], protocol, values["port_range_min"],
        values["port_range_max"], normalized_cidr(values["remote_ip_prefix"]),
        values["remote_group_id"]))


def check_unique(session: Session, group_id: str, values: Mapping[str, Any]) -> None:
    """SecurityGroupRuleExists if the group has a rule meaning the same (a concurrent
    twin is stopped by the unique fingerprint instead; its retry lands here)."""
    existing = session.scalar(select(SecurityGroupRule.id).where(
        SecurityGroupRule.security_group_id == group_id,
        SecurityGroupRule.fingerprint == values["fingerprint"]))
    if existing is not None:
        raise exc.SecurityGroupRuleExists(rule_id=existing)


def insert_rules(session: Session, group_id: str, project_id: str,
                 rules: Iterable[Mapping[str, Any]]) -> list[str]:
    """Write *rules* (column values, or templates naming :data:`SELF`) into the group;
    their ids."""
    now = utcnow()
    rows = []
    for rule in rules:
        values = dict(rule)
        if values.get("remote_group_id") is SELF:
            values["remote_group_id"] = group_id
        if "fingerprint" not in values:
            values = rule_values(values)
        rows.append({**values, "id": new_id(), "security_group_id": group_id,
                     "project_id": project_id, "name": "", "revision_number": 1,
                     "created_at": now, "updated_at": now})
    if rows:
        session.execute(insert(SecurityGroupRule.__table__), rows)
    return [r["id"] for r in rows]


def defaults_among(session: Session, group_ids: list[str]) -> set[str]:
    """Which of *group_ids* are a project's ``default`` group."""
    found: set[str] = set()
    for chunk in chunks(group_ids):
        found.update(session.scalars(select(DefaultSecurityGroup.security_group_id).where(
            DefaultSecurityGroup.security_group_id.in_(chunk))))
    return found


def render(row: Any, default: bool) -> dict[str, Any]:
    return rule_dict(row, normalized_cidr(row.remote_ip_prefix), default)


def rules_of(session: Session, group_ids: list[str],
             defaults: set[str]) -> dict[str, list[dict[str, Any]]]:
    """The rules of each of *group_ids* (oldest first), rendered."""
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in group_ids}
    table = SecurityGroupRule.__table__
    for chunk in chunks(group_ids):
        for row in session.execute(select(table).where(
                table.c.security_group_id.in_(chunk)).order_by(table.c.created_at, table.c.id)):
            found[row.security_group_id].append(
                render(row, row.security_group_id in defaults))
    return found
