"""Prefix arithmetic of subnet pools: pure functions over :mod:`ipaddress`.

A pool's prefixes are kept compacted (overlapping and adjacent cidrs merged,
as Neutron's ``IPSet.compact``); what a pool has free is its prefixes minus
the cidrs of its subnets; a subnet of a given size is cut from the smallest
free block that holds it, so large blocks stay whole for large requests.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Iterable

from neutrino.core import exceptions as exc
from neutrino.core.ipam import IPNetwork

#: Neutron's defaults of a pool's bounds, by IP version.
DEFAULT_MIN_PREFIXLEN = {4: 8, 6: 64}
MAX_PREFIXLEN = {4: 32, 6: 128}
#: ``default_quota`` counts addresses (IPv4) or /64 networks (IPv6), as Neutron.
QUOTA_UNIT_PREFIXLEN = {4: 32, 6: 64}


def networks(cidrs: Iterable[str]) -> list[IPNetwork]:
    """*cidrs* as networks (host bits cleared, as Neutron reads ``10.11.12.13/24``)."""
    return [ipaddress.ip_network(c, strict=False) for c in cidrs]


def compact(cidrs: Iterable[str]) -> list[str]:
    """The smallest list of cidrs covering *cidrs*, by address; of one IP version
    (400 ``PrefixVersionMismatch`` else; 400 ``EmptySubnetPoolPrefixList`` if none)."""
    nets = networks(cidrs)
    if not nets:
        raise exc.EmptySubnetPoolPrefixList()
    if len({n.version for n in nets}) > 1:
        raise exc.PrefixVersionMismatch()
    return [str(n) for n in ipaddress.collapse_addresses(nets)]  # type: ignore[type-var]


def covers(outer: Iterable[str], inner: Iterable[str]) -> bool:
    """Whether every address of *inner* is in *outer*."""
    return not subtract(networks(inner), networks(outer))


def overlaps(first: Iterable[str], second: Iterable[str]) -> bool:
    return any(a.overlaps(b) for a in networks(first) for b in networks(second))


def subtract(blocks: Iterable[IPNetwork], taken: Iterable[IPNetwork]) -> list[IPNetwork]:
    """The parts of *blocks* outside every network of *taken*."""
    free = list(blocks)
    for cut in taken:
        remaining: list[IPNetwork] = []
        for block in free:
            if block.version != cut.version or not block.overlaps(cut):
                remaining.append(block)
            elif not block.subnet_of(cut):  # type: ignore[arg-type]
                remaining.extend(block.address_exclude(cut))  # type: ignore[arg-type]
        free = remaining
    return free


def remove(prefixes: Iterable[str], removed: Iterable[str]) -> list[str]:
    """*prefixes* without the addresses of *removed*, compacted (possibly empty)."""
    left = subtract(networks(prefixes), networks(removed))
    return [str(n) for n in ipaddress.collapse_addresses(left)]  # type: ignore[type-var]


def free_blocks(prefixes: Iterable[str], allocated: Iterable[str]) -> list[IPNetwork]:
    """What a pool has free: its *prefixes* minus its subnets' cidrs, as maximal blocks."""
    return list(ipaddress.collapse_addresses(  # type: ignore[type-var]
        subtract(networks(prefixes), networks(allocated))))


def allocate_any(prefixes: Iterable[str], allocated: Iterable[str], prefixlen: int) -> IPNetwork:
    """The first /*prefixlen* of the smallest free block that holds one."""
    for block in sorted(free_blocks(prefixes, allocated), key=lambda b: (-b.prefixlen, b)):
        if block.prefixlen <= prefixlen:
            first: IPNetwork = next(block.subnets(new_prefix=prefixlen))  # type: ignore[assignment]
            return first
    raise exc.SubnetAllocationError(
        reason=f"Insufficient prefix space to allocate subnet size /{prefixlen}")


def allocate_specific(prefixes: Iterable[str], allocated: Iterable[str],
                      cidr: IPNetwork) -> IPNetwork:
    """*cidr*, if the pool has it free (inside one free block)."""
    if any(cidr.version == b.version and cidr.subnet_of(b)  # type: ignore[arg-type]
           for b in free_blocks(prefixes, allocated)):
        return cidr
    raise exc.SubnetAllocationError(
        reason="Cannot allocate requested subnet from the available set of prefixes")


def quota_units(ip_version: int, prefixlen: int) -> int:
    """What a subnet of /*prefixlen* counts against its pool's ``default_quota``."""
    return 2 ** max(QUOTA_UNIT_PREFIXLEN[ip_version] - prefixlen, 0)
