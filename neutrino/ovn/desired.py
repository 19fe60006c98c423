"""What the NB rows of a network, subnet, port or security group should contain.

Pure functions from Neutrino's API dicts to row specs.  The mechanism
driver's postcommit and the drift repair both write exactly these specs, so
"what postcommit writes" and "what repair considers correct" can never drift
apart.  A spec also knows how to compare itself with an existing row, which is
how the repair tells a hand-edited row from a correct one.
"""
from __future__ import annotations

import hashlib
import ipaddress
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neutrino import plugproto
from neutrino.drivers import dns
from neutrino.drivers.api import FLOATINGIP, ROUTER_GATEWAY, ROUTER_INTERFACE
from neutrino.ovn import acls, keys

#: Neutron's default DHCP lease (12 h).
DHCP_LEASE_TIME = "43200"
#: Network types whose traffic leaves through a localnet port on a bridge mapping.
PHYSNET_TYPES = ("flat", "vlan")


def _str(value: Any) -> str:
    return "" if value is None else str(value)


def revision_of(resource: Mapping[str, Any]) -> int:
    return int(resource.get("revision_number") or 0)


def row_revision(row: Any) -> int:
    """The Neutrino revision a row was written from, -1 if it has none."""
    try:
        return int(row.external_ids.get(keys.REVISION, -1))
    except (TypeError, ValueError):
        return -1


@dataclass(frozen=True)
class RowSpec:
    """Columns a row should have.  ``external_ids`` is compared without the revision."""

    table: str
    name: str
    revision: int
    columns: Mapping[str, Any]

    def differs(self, row: Any) -> list[str]:
        """Names of the columns whose value in ``row`` is not what this spec wants."""
        changed = []
        for column, want in self.columns.items():
            have = getattr(row, column)
            if column == "external_ids":
                have = {k: v for k, v in have.items() if k != keys.REVISION}
                want = {k: v for k, v in want.items() if k != keys.REVISION}
            if isinstance(want, list) and isinstance(have, list):
                if sorted(map(str, have)) != sorted(map(str, want)):
                    changed.append(column)
            elif have != want:
                changed.append(column)
        return changed


@dataclass(frozen=True)
class SwitchSpec(RowSpec):
    network_id: str = ""
    localnets: tuple[RowSpec, ...] = ()


@dataclass(frozen=True)
class PortSpec(RowSpec):
    port_id: str = ""
    network_id: str = ""
    #: Subnets whose DHCP_Options the port uses, by IP version (None: no DHCP).
    dhcp_subnets: Mapping[int, str | None] = field(default_factory=dict)
    #: The port's extra DHCP options in OVN's names, by IP version (only versions that
    #: have some): the port gets a DHCP_Options row of its own for those.
    dhcp_extra: Mapping[int, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class PortGroupSpec(RowSpec):
    """A Port_Group and its ACLs (each a RowSpec named by its key: the rule id, or the
    direction of a drop ACL).  Members are not part of it: ports join and leave with
    their own writes."""

    acls: tuple[RowSpec, ...] = ()


@dataclass(frozen=True)
class DhcpSpec(RowSpec):
    subnet_id: str = ""
    network_id: str = ""


def switch_name(network_id: str) -> str:
    return keys.SWITCH_PREFIX + network_id


def network_segments(network: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Segments of a network dict: its ``segments`` list or its ``provider:*`` fields."""
    if network.get("segments"):
        return [{"network_type": s.get("provider:network_type"),
                 "physical_network": s.get("provider:physical_network"),
                 "segmentation_id": s.get("provider:segmentation_id")}
                for s in network["segments"]]
    if network.get("provider:network_type"):
        return [{"network_type": network.get("provider:network_type"),
                 "physical_network": network.get("provider:physical_network"),
                 "segmentation_id": network.get("provider:segmentation_id")}]
    return []


def switch_spec(network: Mapping[str, Any],
                segments: Sequence[Mapping[str, Any]] | None = None) -> SwitchSpec:
    """Logical_Switch of a network, with one localnet port per flat/vlan segment."""
    net_id = network["id"]
    revision = revision_of(network)
    segments = network_segments(network) if segments is None else segments
    localnets = []
    for segment in segments:
        if segment.get("network_type") not in PHYSNET_TYPES or not segment.get("physical_network"):
            continue
        physnet = segment["physical_network"]
        tag = segment.get("segmentation_id")
        localnets.append(RowSpec(
            table="Logical_Switch_Port", name=f"{keys.LOCALNET_PREFIX}{net_id}-{physnet}",
            revision=revision,
            columns={
                "type": "localnet",
                "addresses": ["unknown"],
                "options": {keys.NETWORK_NAME_OPTION: physnet},
                "tag": ([int(tag)] if segment.get("network_type") == "vlan" and tag is not None
                        else []),
                "external_ids": {keys.LOCALNET_OF: net_id, keys.REVISION: str(revision)},
            }))
    return SwitchSpec(
        table="Logical_Switch", name=switch_name(net_id), revision=revision,
        network_id=net_id, localnets=tuple(localnets),
        columns={"external_ids": {
            keys.NETWORK_ID: net_id,
            keys.NETWORK_NAME: _str(network.get("name")),
            keys.MTU: _str(network.get("mtu")),
            keys.REVISION: str(revision),
        }})


def dhcp_server_mac(subnet_id: str) -> str:
    """A stable MAC for OVN's DHCP responder, derived from the subnet id.

    Neutron picks a random one and stores it; deriving it means a repaired
    DHCP_Options row gets the same MAC clients already learned.
    """
    digest = hashlib.sha256(subnet_id.encode()).digest()
    return f"fa:16:3e:{digest[0]:02x}:{digest[1]:02x}:{digest[2]:02x}"


def _dhcpv4_options(subnet: Mapping[str, Any], network: Mapping[str, Any]) -> dict[str, str]:
    gateway = subnet.get("gateway_ip")
    if not gateway:
        # As in Neutron: without a gateway there is no server_id, so OVN does not answer.
        return {}
    options = {
        "server_id": gateway,
        "server_mac": dhcp_server_mac(subnet["id"]),
        "lease_time": DHCP_LEASE_TIME,
        "router": gateway,
    }
    if network.get("mtu"):
        options["mtu"] = str(network["mtu"])
    if subnet.get("dns_nameservers"):
        options["dns_server"] = "{" + ", ".join(subnet["dns_nameservers"]) + "}"
    routes = subnet.get("host_routes") or []
    if routes:
        entries = [f"{r['destination']},{r['nexthop']}" for r in routes]
        # RFC 3442: a client that gets classless routes ignores the router option.
        entries.append(f"0.0.0.0/0,{gateway}")
        options["classless_static_route"] = "{" + ", ".join(entries) + "}"
    return options


def _dhcpv6_options(subnet: Mapping[str, Any]) -> dict[str, str]:
    options = {"server_id": dhcp_server_mac(subnet["id"])}
    if subnet.get("dns_nameservers"):
        options["dns_server"] = "{" + ", ".join(subnet["dns_nameservers"]) + "}"
    # Only a stateful subnet has OVN hand out addresses; SLAAC and stateless get
    # just the other options (DNS), so OVN never contradicts router advertisements.
    if subnet.get("ipv6_address_mode") != "dhcpv6-stateful":
        options["dhcpv6_stateless"] = "true"
    return options


#: Neutron's names and option numbers of the extra DHCP options OVN knows, by IP version,
#: and OVN's names for them (the table of Neutron's OVN driver, docs/api.md).
OVN_DHCP_OPTIONS: dict[int, dict[str, str]] = {
    4: {"arp-timeout": "arp_cache_timeout", "tcp-keepalive": "tcp_keepalive_interval",
        "netmask": "netmask", "router": "router", "dns-server": "dns_server",
        "log-server": "log_server", "lpr-server": "lpr_server", "domain-name": "domain_name",
        "domain-search": "domain_search_list", "swap-server": "swap_server",
        "policy-filter": "policy_filter", "router-solicitation": "router_solicitation",
        "nis-server": "nis_server", "ntp-server": "ntp_server", "server-id": "server_id",
        "tftp-server": "tftp_server", "classless-static-route": "classless_static_route",
        "ms-classless-static-route": "ms_classless_static_route",
        "ip-forward-enable": "ip_forward_enable", "router-discovery": "router_discovery",
        "ethernet-encap": "ethernet_encap", "default-ttl": "default_ttl",
        "tcp-ttl": "tcp_ttl", "mtu": "mtu", "lease-time": "lease_time", "T1": "T1",
        "T2": "T2", "bootfile-name": "bootfile_name", "wpad": "wpad",
        "path-prefix": "path_prefix", "tftp-server-address": "tftp_server_address",
        "server-ip-address": "tftp_server_address",
        "1": "netmask", "3": "router", "6": "dns_server", "7": "log_server",
        "9": "lpr_server", "15": "domain_name", "16": "swap_server", "19": "ip_forward_enable",
        "21": "policy_filter", "23": "default_ttl", "26": "mtu", "31": "router_discovery",
        "32": "router_solicitation", "35": "arp_cache_timeout", "36": "ethernet_encap",
        "37": "tcp_ttl", "38": "tcp_keepalive_interval", "41": "nis_server",
        "42": "ntp_server", "51": "lease_time", "54": "server_id", "58": "T1", "59": "T2",
        "66": "tftp_server", "67": "bootfile_name", "119": "domain_search_list",
        "121": "classless_static_route", "150": "tftp_server_address", "210": "path_prefix",
        "249": "ms_classless_static_route", "252": "wpad", "255": "next_server"},
    6: {"server-id": "server_id", "dns-server": "dns_server", "domain-search": "domain_search",
        "ia-addr": "ia_addr", "2": "server_id", "5": "ia_addr", "23": "dns_server",
        "24": "domain_search"},
}
#: OVN options whose value is a string, quoted in ``DHCP_Options.options``.
OVN_STRING_OPTIONS = frozenset({"domain_name", "domain_search_list", "bootfile_name",
                                "path_prefix", "wpad", "tftp_server"})
#: The extra option that, set to true, turns OVN's DHCP off for the port (Neutron's).
DHCP_DISABLED = "dhcp_disabled"


def extra_dhcp(port: Mapping[str, Any]) -> dict[int, dict[str, str] | None]:
    """The port's extra DHCP options OVN knows, in OVN's names, by IP version; None for a
    version the port has DHCP disabled on.  Names OVN does not know are left out (Neutron's
    OVN driver only logs them), and so are versions without options."""
    found: dict[int, dict[str, str] | None] = {}
    for version in (4, 6):
        opts = [o for o in port.get("extra_dhcp_opts") or [] if o["ip_version"] == version]
        if any(o["opt_name"] == DHCP_DISABLED and o["opt_value"] in ("True", "true")
               for o in opts):
            found[version] = None
            continue
        mapped = {}
        for opt in opts:
            name = OVN_DHCP_OPTIONS[version].get(opt["opt_name"])
            if name is not None:
                value = opt["opt_value"]
                mapped[name] = f'"{value}"' if name in OVN_STRING_OPTIONS and value else value
        if mapped:
            found[version] = mapped
    return found


def encode_extra_dhcp(extra: Mapping[int, Mapping[str, str] | None]) -> str:
    return json.dumps({str(v): o for v, o in sorted(extra.items())}, sort_keys=True)


def decode_extra_dhcp(text: str | None) -> dict[int, dict[str, str] | None]:
    """What :func:`encode_extra_dhcp` wrote on an LSP; nothing for an unreadable value (a
    hand edit: the drift repair writes it again)."""
    try:
        data = json.loads(text) if text else {}
        return {int(v): (dict(o) if o is not None else None) for v, o in data.items()}
    except (TypeError, ValueError, AttributeError):
        return {}


def port_dhcp_columns(subnet: Mapping[str, Any], port_id: str, extra: Mapping[str, str],
                      revision: int) -> dict[str, Any]:
    """A port's own DHCP_Options row: its subnet's row (``cidr``, ``options``,
    ``external_ids``) with the port's options over the subnet's (an empty value removes
    the subnet's: no router, no routes), naming the port."""
    options = {k: v for k, v in {**subnet["options"], **extra}.items() if v != ""}
    external_ids = {k: v for k, v in subnet["external_ids"].items() if k != keys.REVISION}
    return {"cidr": subnet["cidr"], "options": options,
            "external_ids": {**external_ids, keys.PORT_ID: port_id,
                             keys.REVISION: str(revision)}}


def dhcp_spec(subnet: Mapping[str, Any], network: Mapping[str, Any]) -> DhcpSpec | None:
    """DHCP_Options of a subnet, or None when the subnet has DHCP disabled."""
    if not subnet.get("enable_dhcp"):
        return None
    version = int(subnet.get("ip_version") or ipaddress.ip_network(subnet["cidr"]).version)
    options = _dhcpv4_options(subnet, network) if version == 4 else _dhcpv6_options(subnet)
    revision = revision_of(subnet)
    return DhcpSpec(
        table="DHCP_Options", name=subnet["id"], revision=revision,
        subnet_id=subnet["id"], network_id=subnet["network_id"],
        columns={
            "cidr": subnet["cidr"],
            "options": options,
            "external_ids": {keys.SUBNET_ID: subnet["id"],
                             keys.NETWORK_ID: subnet["network_id"],
                             keys.REVISION: str(revision)},
        })


def _plug_options(port: Mapping[str, Any], network: Mapping[str, Any],
                  dpu_hostname: str | None) -> dict[str, str]:
    """LSP options telling a chassis agent to plug the port.

    docs/behaviour.md, "What asks for a plug", lists them and why.
    """
    profile = port.get("binding:profile") or {}
    vnic = port.get("binding:vnic_type") or keys.VNIC_NORMAL
    options: dict[str, str] = {}
    mtu = network.get("mtu")
    if vnic == keys.VNIC_REMOTE_MANAGED:
        if dpu_hostname:
            options[plugproto.REQUESTED_CHASSIS] = dpu_hostname
        if profile.get("pf_mac_address") is not None:
            options[plugproto.VIF_PLUG_TYPE] = "representor"
            options[plugproto.REPRESENTOR_PF_MAC] = str(profile["pf_mac_address"])
            options[plugproto.REPRESENTOR_VF_NUM] = str(profile.get("vf_num"))
            if mtu:
                options[plugproto.VIF_PLUG_MTU] = str(mtu)
        return options
    if port.get("binding:host_id"):
        options[plugproto.REQUESTED_CHASSIS] = port["binding:host_id"]
    plug_type = profile.get(keys.PROFILE_VIF_PLUG_TYPE)
    if plug_type:
        options[plugproto.VIF_PLUG_TYPE] = str(plug_type)
        for key, value in profile.items():
            if key.startswith(keys.PROFILE_VIF_PLUG_PREFIX):
                name = key[len(keys.PROFILE_VIF_PLUG_PREFIX):]
                options[plugproto.VIF_PLUG_PREFIX + name] = str(value)
        if mtu:
            options[plugproto.VIF_PLUG_MTU] = str(mtu)
    return options


def has_switch_port(port: Mapping[str, Any]) -> bool:
    """Whether a port has a Logical_Switch_Port.  A floating IP's port only holds its
    address: OVN answers for it through the router's NAT, as Neutron's driver does."""
    return port.get("device_owner") != FLOATINGIP


def router_port_name(port_id: str) -> str:
    return keys.ROUTER_PORT_PREFIX + port_id


def _router_port_options(port: Mapping[str, Any]) -> dict[str, str] | None:
    """Options of a router's switch port (None: not a router's port)."""
    owner = port.get("device_owner")
    if owner not in (ROUTER_INTERFACE, ROUTER_GATEWAY):
        return None
    options = {keys.ROUTER_PORT_OPTION: router_port_name(port["id"])}
    if owner == ROUTER_GATEWAY:
        options[keys.NAT_ADDRESSES_OPTION] = "router"
    return options


def port_spec(port: Mapping[str, Any], network: Mapping[str, Any],
              dpu_hostname: str | None = None) -> PortSpec:
    """Logical_Switch_Port of a port (one :func:`has_switch_port`).

    ``dpu_hostname`` is the chassis a remote-managed port is plugged on (found by
    card serial number); for other ports ``requested-chassis`` is the bound host.
    """
    router_options = _router_port_options(port)
    if router_options is not None:
        # The switch end of a patch to the router's ``lrp-<port id>``: OVN takes its
        # addresses from the router port and never filters it (ovn-nb(5), LSP ``type``);
        # no DHCP, the router has its addresses.
        return _port_spec(port, "router", ["router"], [], router_options, {4: None, 6: None},
                          {})
    mac = port["mac_address"]
    ips = [ip["ip_address"] for ip in port.get("fixed_ips") or []]
    address = " ".join([mac, *ips])
    security_enabled = port.get("port_security_enabled", True) is not False
    addresses = [address]
    port_security: list[str] = []
    if security_enabled:
        # As Neutron: pairs with the port's MAC add their addresses to its entry, the
        # others are entries of their own.
        pairs = port.get("allowed_address_pairs") or []
        own = [p["ip_address"] for p in pairs if (p.get("mac_address") or mac) == mac]
        port_security = [" ".join([address, *own])] + [
            f"{p['mac_address']} {p['ip_address']}" for p in pairs
            if (p.get("mac_address") or mac) != mac]
    else:
        addresses.append("unknown")

    dhcp_subnets: dict[int, str | None] = {4: None, 6: None}
    for ip in port.get("fixed_ips") or []:
        version = ipaddress.ip_address(ip["ip_address"]).version
        if dhcp_subnets[version] is None:
            dhcp_subnets[version] = ip["subnet_id"]
    extra = extra_dhcp(port)
    for disabled in [v for v, options in extra.items() if options is None]:
        dhcp_subnets[disabled] = None

    return _port_spec(port, "", addresses, port_security,
                      _plug_options(port, network, dpu_hostname), dhcp_subnets, extra)


def _port_spec(port: Mapping[str, Any], lsp_type: str, addresses: list[str],
               port_security: list[str], options: dict[str, str],
               dhcp_subnets: dict[int, str | None],
               extra: Mapping[int, Mapping[str, str] | None]) -> PortSpec:
    revision = revision_of(port)
    external_ids = {
        keys.PORT_ID: port["id"],
        keys.NETWORK_ID: port["network_id"],
        keys.PORT_NAME: _str(port.get("name")),
        keys.DEVICE_ID: _str(port.get("device_id")),
        keys.DEVICE_OWNER: _str(port.get("device_owner")),
        keys.HOST_ID: _str(port.get("binding:host_id")),
        keys.VNIC_TYPE: _str(port.get("binding:vnic_type") or keys.VNIC_NORMAL),
        keys.VIF_TYPE: _str(port.get("binding:vif_type")),
        keys.PORT_GROUPS: " ".join(port_groups(port)),
        keys.REVISION: str(revision),
    }
    if extra:
        external_ids[keys.EXTRA_DHCP_OPTIONS] = encode_extra_dhcp(extra)
    return PortSpec(
        table="Logical_Switch_Port", name=port["id"], revision=revision,
        port_id=port["id"], network_id=port["network_id"], dhcp_subnets=dhcp_subnets,
        dhcp_extra={v: o for v, o in extra.items() if o is not None},
        columns={
            "type": lsp_type,
            "addresses": addresses,
            "port_security": port_security,
            "enabled": [port.get("admin_state_up", True) is not False],
            "options": options,
            "external_ids": external_ids,
        })


def dns_records(port: Mapping[str, Any], network: Mapping[str, Any],
                configured_domain: str) -> dict[str, str]:
    """The names OVN's DNS answers for a port (its share of its switch's DNS row), as
    Neutron's OVN driver writes them: its hostname, its FQDN and, under a network domain
    that differs, ``hostname.<network domain>``, each to its addresses; each address's
    reverse name (PTR) to its FQDN.  Only a port in use (a ``device_id``) named by its
    user (a ``dns_name``) has records; a router's port never."""
    if not port.get("dns_name") or not port.get("device_id") or not has_switch_port(port) \
            or _router_port_options(port) is not None:
        return {}
    network_domain = network.get("dns_domain") or ""
    under_network = network_domain.rstrip(".")
    found: dict[str, list[str]] = {}
    for name in dns.assignment(port, network_domain, configured_domain):
        host, fqdn, address = (name["hostname"].rstrip("."), name["fqdn"].rstrip("."),
                               name["ip_address"])
        names = [host, fqdn] + ([f"{host}.{under_network}"] if under_network else [])
        for key in dict.fromkeys(names):
            found.setdefault(key, []).append(address)
        found[ipaddress.ip_address(address).reverse_pointer] = [fqdn]
    return {key: record_value(set(values)) for key, values in found.items()}


def record_value(tokens: set[str]) -> str:
    """A record's value from its addresses (or names): sorted, so that one set of them is
    written one way whichever port's write added the last."""
    return " ".join(sorted(tokens))


def merge_records(shares: Mapping[str, Mapping[str, str]]) -> dict[str, str]:
    """A switch's DNS ``records`` from its ports' shares: a name two ports have (Nova names
    two instances alike) answers the addresses of both."""
    merged: dict[str, set[str]] = {}
    for share in shares.values():
        for key, value in share.items():
            merged.setdefault(key, set()).update(value.split())
    return {key: record_value(values) for key, values in merged.items()}


def encode_dns_share(records: Mapping[str, str]) -> str:
    return json.dumps(dict(records), sort_keys=True, separators=(",", ":"))


def decode_dns_share(text: str | None) -> dict[str, str]:
    """What :func:`encode_dns_share` wrote; nothing for an unreadable value (a hand edit:
    the drift repair writes it again)."""
    try:
        data = json.loads(text) if text else {}
        return {str(k): str(v) for k, v in data.items()}
    except (TypeError, ValueError, AttributeError):
        return {}


def dns_shares(external_ids: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """The ports' shares a DNS row's ``external_ids`` hold, by port id."""
    return {key[len(keys.DNS_SHARE_PREFIX):]: decode_dns_share(value)
            for key, value in external_ids.items() if key.startswith(keys.DNS_SHARE_PREFIX)}


#: Device owners of ports that are never filtered (router, DHCP, metadata ports).
TRUSTED_PREFIX = "network:"


def _acl(key: str, mark: str, revision: int, direction: str, priority: int, match: str,
         action: str) -> RowSpec:
    return RowSpec(table="ACL", name=key, revision=revision, columns={
        "direction": direction, "priority": priority, "match": match, "action": action,
        "log": False, "external_ids": {mark: key}})


def port_group_spec(group: Mapping[str, Any]) -> PortGroupSpec:
    """Port_Group of a security group: one ACL per rule, ``allow-related`` (replies pass
    through connection tracking) or ``allow-stateless`` for a group that is not stateful."""
    revision = revision_of(group)
    action = "allow-related" if group.get("stateful", True) else "allow-stateless"
    return PortGroupSpec(
        table="Port_Group", name=acls.port_group_name(group["id"]), revision=revision,
        columns={"external_ids": {keys.SECURITY_GROUP_ID: group["id"],
                                  keys.REVISION: str(revision)}},
        acls=tuple(_acl(rule["id"], keys.SECURITY_GROUP_RULE_ID, revision, acls.direction(rule),
                        keys.ACL_PRIORITY_ALLOW, acls.match(rule), action)
                   for rule in group.get("security_group_rules") or []))


def drop_group_spec() -> PortGroupSpec:
    """The Port_Group every filtered port is in: IP traffic no rule allows is dropped."""
    return PortGroupSpec(
        table="Port_Group", name=keys.DROP_GROUP, revision=0,
        columns={"external_ids": {keys.DROP: "true"}},
        acls=tuple(_acl(direction, keys.DROP, 0, direction, keys.ACL_PRIORITY_DROP,
                        acls.drop_match(direction), "drop")
                   for direction in ("from-lport", "to-lport")))


def port_groups(port: Mapping[str, Any]) -> list[str]:
    """The Port_Groups a port is in: the drop group and its groups' when it has port
    security and is not trusted; none otherwise."""
    if port.get("port_security_enabled", True) is False or \
            (port.get("device_owner") or "").startswith(TRUSTED_PREFIX):
        return []
    return [keys.DROP_GROUP] + sorted(acls.port_group_name(g)
                                      for g in port.get("security_groups") or [])
