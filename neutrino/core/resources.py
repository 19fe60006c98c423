"""Rendering of database rows as Neutron API dictionaries.

Works on ORM objects and on plain result rows alike (attribute access), so
listing thousands of ports can skip the ORM's object overhead.
"""
from __future__ import annotations

import datetime as dt
from typing import Any

from neutrino.db.models import NetworkSegment


def timestamp(value: dt.datetime) -> str:
    if value.tzinfo is None:  # as stored: isoformat is C code, twice as fast as strftime
        return value.isoformat(timespec="seconds") + "Z"
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def segment_dict(seg: NetworkSegment | Any) -> dict[str, Any]:
    return {"id": seg.id, "network_type": seg.network_type,
            "physical_network": seg.physical_network, "segmentation_id": seg.segmentation_id}


def tag_names(row: Any) -> list[str]:
    """The tags of an ORM object (``StandardAttrs.tags``) or of a RowView given its
    tag rows, sorted."""
    return sorted(t.tag for t in row.tags)


def _standard(row: Any, tags: list[str]) -> dict[str, Any]:
    return {
        "id": row.id, "name": row.name, "description": row.description,
        "project_id": row.project_id, "tenant_id": row.project_id,
        "revision_number": row.revision_number, "tags": tags,
        "created_at": timestamp(row.created_at), "updated_at": timestamp(row.updated_at),
    }


def network_dict(net: Any, segments: list[Any], subnets: list[Any],
                 tags: list[str]) -> dict[str, Any]:
    """*net*'s ``shared`` and ``external`` are read from its RBAC policies (``Network``'s
    column properties, or columns a listing selects as the caller sees them); *subnets*
    (``id``, ``ip_version``, ``address_scope_id``) give its address scopes: those of its
    subnets' pools (all one per IP version, :mod:`~neutrino.core.subnets` keeps it so)."""
    d = _standard(net, tags)
    scopes = {f"ipv{s.ip_version}_address_scope": s.address_scope_id for s in subnets
              if s.address_scope_id is not None}
    d.update({
        "admin_state_up": net.admin_state_up, "status": net.status,
        "status_reason": net.status_reason, "shared": net.shared, "mtu": net.mtu,
        "subnets": [s.id for s in subnets], "router:external": net.external,
        "port_security_enabled": net.port_security_enabled,
        "availability_zone_hints": [], "availability_zones": [],
        "ipv4_address_scope": scopes.get("ipv4_address_scope"),
        "ipv6_address_scope": scopes.get("ipv6_address_scope"), "is_default": net.is_default,
        "dns_domain": net.dns_domain,
    })
    # Neutron's multiprovider convention: one segment shows as provider:*,
    # several as a ``segments`` list.
    if len(segments) == 1:
        seg = segments[0]
        d["provider:network_type"] = seg.network_type
        d["provider:physical_network"] = seg.physical_network
        d["provider:segmentation_id"] = seg.segmentation_id
    else:
        d["segments"] = [{"provider:network_type": s.network_type,
                          "provider:physical_network": s.physical_network,
                          "provider:segmentation_id": s.segmentation_id} for s in segments]
    return d


def subnet_dict(sub: Any, tags: list[str]) -> dict[str, Any]:
    d = _standard(sub, tags)
    d.update({
        "network_id": sub.network_id, "cidr": sub.cidr, "ip_version": sub.ip_version,
        "gateway_ip": sub.gateway_ip, "enable_dhcp": sub.enable_dhcp,
        "allocation_pools": list(sub.allocation_pools),
        "dns_nameservers": list(sub.dns_nameservers),
        "host_routes": list(sub.host_routes), "ipv6_ra_mode": sub.ipv6_ra_mode,
        "ipv6_address_mode": sub.ipv6_address_mode, "subnetpool_id": sub.subnetpool_id,
        "service_types": list(sub.service_types), "segment_id": None,
        "router:external": sub.external,
    })
    return d


def address_scope_dict(scope: Any, shared: bool) -> dict[str, Any]:
    """*shared*: as the caller sees it (shared with everyone, or with its project).
    Standard attributes without tags (Neutron tags no scope)."""
    d = _standard(scope, [])
    del d["tags"]
    d.update({"ip_version": scope.ip_version, "shared": shared})
    return d


def subnetpool_dict(pool: Any, shared: bool, tags: list[str]) -> dict[str, Any]:
    """*shared*: as the caller sees it, as a scope's.  The prefix lengths are strings, as
    Neutron renders them (its ``_make_subnetpool_dict``; clients compare them so)."""
    d = _standard(pool, tags)
    d.update({
        "ip_version": pool.ip_version, "prefixes": list(pool.prefixes),
        "default_prefixlen": str(pool.default_prefixlen),
        "min_prefixlen": str(pool.min_prefixlen), "max_prefixlen": str(pool.max_prefixlen),
        "is_default": pool.is_default,
        "default_quota": pool.default_quota, "address_scope_id": pool.address_scope_id,
        "shared": shared,
    })
    return d


def port_dict(port: Any, fixed_ips: list[dict[str, str]], tags: list[str],
              security_groups: list[str], dhcp_opts: list[dict[str, Any]]) -> dict[str, Any]:
    # One literal (the keys of _standard first): listing renders thousands of these.
    return {
        "id": port.id, "name": port.name, "description": port.description,
        "project_id": port.project_id, "tenant_id": port.project_id,
        "revision_number": port.revision_number, "tags": tags,
        "created_at": timestamp(port.created_at), "updated_at": timestamp(port.updated_at),
        "network_id": port.network_id, "mac_address": port.mac_address,
        "admin_state_up": port.admin_state_up, "status": port.status,
        "status_reason": port.status_reason, "device_id": port.device_id,
        "device_owner": port.device_owner, "fixed_ips": fixed_ips,
        "allowed_address_pairs": [dict(p) for p in port.allowed_address_pairs],
        "extra_dhcp_opts": dhcp_opts, "security_groups": security_groups,
        "port_security_enabled": port.port_security_enabled,
        "binding:host_id": port.host, "binding:vnic_type": port.vnic_type,
        "binding:profile": dict(port.profile or {}), "binding:vif_type": port.vif_type,
        "binding:vif_details": dict(port.vif_details or {}),
        "dns_name": port.dns_name, "dns_domain": port.dns_domain,
    }


def orm_network_dict(net: Any) -> dict[str, Any]:
    """A :class:`Network` ORM object (or a RowView of one) with its segments, subnets, tags."""
    return network_dict(net, net.segments, net.subnets, tag_names(net))


def orm_subnet_dict(sub: Any) -> dict[str, Any]:
    return subnet_dict(sub, tag_names(sub))


def orm_port_dict(port: Any) -> dict[str, Any]:
    """A :class:`Port` ORM object or a RowView of one with its ``fixed_ips``, tags,
    ``security_group_bindings`` and ``dhcp_opts``."""
    return port_dict(port, [{"subnet_id": a.subnet_id, "ip_address": a.ip_address}
                            for a in port.fixed_ips], tag_names(port),
                     sorted(b.security_group_id for b in port.security_group_bindings),
                     [{"opt_name": o.opt_name, "opt_value": o.opt_value,
                       "ip_version": o.ip_version} for o in port.dhcp_opts])


def router_dict(router: Any, gateway: Any, gateway_ips: list[dict[str, str]],
                tags: list[str]) -> dict[str, Any]:
    """*gateway*: the router's gateway port (a row or ORM object), or None."""
    d = _standard(router, tags)
    d.update({
        "admin_state_up": router.admin_state_up, "status": router.status,
        "status_reason": router.status_reason,
        "external_gateway_info": None if gateway is None else {
            "network_id": gateway.network_id, "enable_snat": router.enable_snat,
            "external_fixed_ips": gateway_ips},
        "routes": list(router.routes or []),
        "availability_zone_hints": [], "availability_zones": [], "flavor_id": None,
    })
    return d


def floatingip_dict(fip: Any, port: Any, tags: list[str]) -> dict[str, Any]:
    """*port*: the associated port (a row or ORM object), or None (``fip-port-details``)."""
    d = _standard(fip, tags)
    d.update({
        "floating_network_id": fip.floating_network_id,
        "floating_ip_address": fip.floating_ip_address, "router_id": fip.router_id,
        "port_id": fip.fixed_port_id, "fixed_ip_address": fip.fixed_ip_address,
        "status": fip.status, "status_reason": fip.status_reason,
        "dns_name": fip.dns_name, "dns_domain": fip.dns_domain,
        "port_details": None if port is None else {
            "name": port.name, "network_id": port.network_id,
            "mac_address": port.mac_address, "admin_state_up": port.admin_state_up,
            "status": port.status, "device_id": port.device_id,
            "device_owner": port.device_owner},
    })
    return d


def rule_dict(rule: Any, normalized_cidr: str | None,
              belongs_to_default_sg: bool) -> dict[str, Any]:
    """A security group rule: standard attributes without name and tags (Neutron's)."""
    return {
        "id": rule.id, "project_id": rule.project_id, "tenant_id": rule.project_id,
        "security_group_id": rule.security_group_id, "direction": rule.direction,
        "ethertype": rule.ethertype, "protocol": rule.protocol,
        "port_range_min": rule.port_range_min, "port_range_max": rule.port_range_max,
        "remote_ip_prefix": rule.remote_ip_prefix, "remote_group_id": rule.remote_group_id,
        "remote_address_group_id": None, "normalized_cidr": normalized_cidr,
        "belongs_to_default_sg": belongs_to_default_sg, "description": rule.description,
        "revision_number": rule.revision_number, "created_at": timestamp(rule.created_at),
        "updated_at": timestamp(rule.updated_at),
    }


def security_group_dict(group: Any, rules: list[dict[str, Any]],
                        tags: list[str]) -> dict[str, Any]:
    d = _standard(group, tags)
    d.update({"stateful": group.stateful, "shared": False, "security_group_rules": rules})
    return d
