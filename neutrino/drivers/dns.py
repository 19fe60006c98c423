"""A port's DNS names (``dns-integration``): what the core shows as ``dns_assignment`` and
what a backend answers for.  One function both use, so the names a client reads are the
names instances resolve.

Neutron's rules (its DNS extension driver with a DNS service to publish to, which OVN's
native DNS is): each fixed IP has a hostname, the port's ``dns_name`` or
``host-<address with dashes>``, and an FQDN under the port's ``dns_domain``, else its
network's, else the configured ``dns_domain``; a ``dns_name`` that ends with a dot is an
FQDN already.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

#: neutron-lib's ``FQDN_FIELD_SIZE``: the longest name or domain.
FQDN_MAX_LEN = 255
#: neutron-lib's ``DNS_DOMAIN_DEFAULT``: the configured domain when none is set.
DEFAULT_DOMAIN = "openstacklocal."


def qualified(domain: str) -> str:
    """*domain* with its final dot (the setting may be given without), or ""."""
    return domain if not domain or domain.endswith(".") else f"{domain}."


def hostname(ip_address: str) -> str:
    """The hostname of an address of a port without ``dns_name``."""
    return "host-" + ip_address.replace(".", "-").replace(":", "-")


def assignment(port: Mapping[str, Any], network_domain: str,
               configured: str) -> list[dict[str, str]]:
    """*port*'s ``dns_assignment``: per fixed IP, its ``hostname``, ``ip_address`` and
    ``fqdn``, given its network's ``dns_domain`` and the configured one."""
    domain = qualified(port.get("dns_domain") or network_domain or configured)
    name = port.get("dns_name") or ""
    found = []
    for ip in port.get("fixed_ips") or []:
        address = ip["ip_address"]
        host = name or hostname(address)
        if name.endswith("."):
            fqdn = name
        elif domain:
            fqdn = f"{host}.{domain}"
        else:
            fqdn = host
        found.append({"hostname": host, "ip_address": address, "fqdn": fqdn})
    return found


def with_assignment(port: dict[str, Any], network_domain: str,
                    configured: str) -> dict[str, Any]:
    """*port* with its ``dns_assignment`` (set in place)."""
    port["dns_assignment"] = assignment(port, network_domain, configured)
    return port


def all_with_assignment(ports: Sequence[dict[str, Any]], domains: Mapping[str, str],
                        configured: str) -> list[dict[str, Any]]:
    """*ports* with their ``dns_assignment``; *domains*: networks' ``dns_domain`` by id."""
    return [with_assignment(p, domains.get(p["network_id"], ""), configured) for p in ports]
