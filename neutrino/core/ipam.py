"""Address arithmetic for subnets: default gateway and pools, validation, free IPs.

Pure functions over :mod:`ipaddress`; the plugin stores the results and the
database's primary key on ``(subnet_id, ip_address)`` settles races.
"""
from __future__ import annotations

import ipaddress
import random
from collections.abc import Iterable
from typing import Any

from neutrino.core import exceptions as exc

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _bad(msg: str) -> exc.InvalidInput:
    return exc.InvalidInput(error_message=msg)


def usable_range(net: IPNetwork) -> tuple[int, int]:
    """First and last address a host may have (IPv4 excludes network and broadcast)."""
    first, last = int(net.network_address), int(net.broadcast_address)
    if net.version == 4 and net.prefixlen < 31:
        return first + 1, last - 1
    if net.version == 6 and net.prefixlen < 127:
        return first + 1, last  # the subnet-router anycast address stays free
    return first, last


def default_gateway(net: IPNetwork) -> str | None:
    first, last = usable_range(net)
    return str(ipaddress.ip_address(first)) if first <= last else None


def default_pools(net: IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    first, last = usable_range(net)
    cut = int(ipaddress.ip_address(gateway)) if gateway else None
    spans = [(first, cut - 1), (cut + 1, last)] if cut is not None and first <= cut <= last \
        else [(first, last)]
    return [{"start": str(ipaddress.ip_address(a)), "end": str(ipaddress.ip_address(b))}
            for a, b in spans if a <= b]


def validate_gateway(net: IPNetwork, gateway: str) -> None:
    addr = ipaddress.ip_address(gateway)
    if addr.version != net.version or addr not in net:
        raise _bad(f"Gateway IP {gateway} is not in subnet {net}")
    if net.version == 4 and net.prefixlen < 31 and addr in (net.network_address, net.broadcast_address):
        raise _bad(f"Gateway IP {gateway} conflicts with the network or broadcast address of {net}")


def validate_pools(net: IPNetwork, gateway: str | None, pools: list[dict[str, str]]) -> None:
    first, last = usable_range(net)
    spans = []
    for pool in pools:
        start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        if start.version != net.version or end.version != net.version:
            raise _bad(f"allocation pool {start}-{end} is not of IP version {net.version}")
        if not (first <= int(start) <= last and first <= int(end) <= last):
            raise _bad(f"The allocation pool {start}-{end} spans beyond the subnet cidr {net}.")
        if start > end:
            raise _bad(f"The allocation pool {start}-{end} has its start after its end.")
        spans.append((int(start), int(end), f"{start}-{end}"))
    spans.sort()
    for (_, prev_end, prev), (start, _, cur) in zip(spans, spans[1:]):
        if start <= prev_end:
            raise _bad(f"Found overlapping allocation pools: {prev} and {cur}")
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        for start, end, text in spans:
            if start <= gw <= end:
                raise exc.Conflict(f"Gateway ip {gateway} conflicts with allocation pool {text}.")


def in_pools(pools: list[dict[str, Any]], ip: IPAddress) -> bool:
    value = int(ip)
    return any(int(ipaddress.ip_address(p["start"])) <= value <= int(ipaddress.ip_address(p["end"]))
               for p in pools)


def free_candidates(pools: list[dict[str, Any]], taken: Iterable[str], want: int = 16) -> list[str]:
    """Up to *want* free addresses from the start of the pools, in random order.

    Concurrent allocators each pick randomly among the lowest free addresses,
    so they rarely collide, and addresses stay compact.
    """
    used = {int(ipaddress.ip_address(ip)) for ip in taken}
    found: list[int] = []
    for pool in pools:
        start, end = int(ipaddress.ip_address(pool["start"])), int(ipaddress.ip_address(pool["end"]))
        value = start
        while value <= end and len(found) < want:
            if value not in used:
                found.append(value)
            value += 1
        if len(found) >= want:
            break
    random.shuffle(found)
    return [str(ipaddress.ip_address(v)) for v in found]


def parse_cidr(cidr: str, ip_version: int | None) -> IPNetwork:
    """The network *cidr* names; it must be given as ``address/prefix`` of a network."""
    try:
        iface = ipaddress.ip_interface(cidr)
    except ValueError:
        raise _bad(f"'{cidr}' is not a valid IP subnet") from None
    net = iface.network
    if "/" not in cidr or iface.ip != net.network_address:
        raise _bad(f"'{cidr}' isn't a recognized IP subnet cidr, '{net}' is recommended")
    if ip_version is not None and net.version != ip_version:
        raise _bad("Cidr and IP version are incompatible")
    return net
