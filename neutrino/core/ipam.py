"""Address arithmetic for subnets: default gateway and pools, validation, free IPs.

Pure functions over :mod:`ipaddress`; the plugin stores the results and the
database's primary key on ``(subnet_id, ip_address)`` settles races.
"""
from __future__ import annotations

import ipaddress
import random
from collections.abc import Callable, Iterable
from typing import Any

from neutrino.core import exceptions as exc

IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network
IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address


def _bad(msg: str) -> exc.InvalidInput:
    return exc.InvalidInput(error_message=msg)


def _address(version: int, value: int) -> IPAddress:
    """The address *value* of IP *version* (``ip_address(int)`` would make small v6 ones v4)."""
    return ipaddress.IPv4Address(value) if version == 4 else ipaddress.IPv6Address(value)


def is_host_address(net: IPNetwork, addr: IPAddress) -> bool:
    """Whether a port may have *addr* on *net* (IPv4: not network or broadcast; IPv6: not the
    subnet-router anycast address), as Neutron's ``check_subnet_ip``."""
    if addr.version != net.version or addr not in net:
        return False
    first, last = usable_range(net)
    return first <= int(addr) <= last


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
    return str(_address(net.version, first)) if first <= last else None


def default_pools(net: IPNetwork, gateway: str | None) -> list[dict[str, str]]:
    first, last = usable_range(net)
    cut = int(ipaddress.ip_address(gateway)) if gateway else None
    spans = [(first, cut - 1), (cut + 1, last)] if cut is not None and first <= cut <= last \
        else [(first, last)]
    return [{"start": str(_address(net.version, a)), "end": str(_address(net.version, b))}
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
        text = f"{start}-{end}"
        if start.version != net.version or end.version != net.version or start > end:
            raise exc.InvalidAllocationPool(pool=text)
        if not (first <= int(start) <= last and first <= int(end) <= last):
            raise exc.OutOfBoundsAllocationPool(pool=text, subnet_cidr=net)
        spans.append((int(start), int(end), text))
    spans.sort()
    for (_, prev_end, prev), (start, _, cur) in zip(spans, spans[1:]):
        if start <= prev_end:
            raise exc.OverlappingAllocationPools(pool_1=prev, pool_2=cur, subnet_cidr=net)
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        for start, end, text in spans:
            if start <= gw <= end:
                raise exc.GatewayConflictWithAllocationPools(ip_address=gateway, pool=text)


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
    version = ipaddress.ip_address(pools[0]["start"]).version if pools else 4
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
    return [str(_address(version, v)) for v in found]


#: Pools up to this many addresses are searched by reading every taken address;
#: larger ones by random probes, whose cost does not grow with the number of ports.
SCAN_LIMIT = 1024
#: Random addresses looked up, one at a time, before a large pool is read whole.
PROBES = 16


def _spans(pools: list[dict[str, Any]]) -> list[tuple[int, int]]:
    return [(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
            for p in pools]


def random_candidates(pools: list[dict[str, Any]], count: int) -> list[str]:
    """Up to *count* distinct addresses drawn uniformly from *pools*."""
    spans = _spans(pools)
    total = sum(end - start + 1 for start, end in spans)
    if not total:
        return []
    version = ipaddress.ip_address(pools[0]["start"]).version
    picked: set[int] = set()
    for _ in range(min(count, total) * 2):
        offset = random.randrange(total)
        for start, end in spans:
            if offset <= end - start:
                picked.add(start + offset)
                break
            offset -= end - start + 1
        if len(picked) >= count:
            break
    return [str(_address(version, v)) for v in picked]


def choose_free(pools: list[dict[str, Any]], exclude: set[str],
                is_taken: Callable[[str], bool],
                all_taken: Callable[[], Iterable[str]]) -> str | None:
    """A free address of *pools* not in *exclude*, or None when the pools are full.

    Small pools: every taken address is read (``all_taken``) and one of the
    lowest free ones is picked, so addresses stay compact.  Large pools:
    random addresses are looked up one by one (``is_taken``), so allocating
    the 100,000th address costs what the first did and concurrent allocators
    rarely pick the same one; only a nearly full pool falls back to reading
    everything.  One address per lookup, because an equality on the whole
    primary key is the one query whose plan cannot go wrong: PostgreSQL
    planned "these 8 addresses of this subnet" from the statistics of a
    young table as a scan of the subnet's whole index range, and kept that
    plan, which made it cost more with every port created.
    """
    if sum(end - start + 1 for start, end in _spans(pools)) > SCAN_LIMIT:
        for ip in random_candidates(pools, PROBES):
            if ip not in exclude and not is_taken(ip):
                return ip
    free = free_candidates(pools, [*all_taken(), *exclude], want=16)
    return free[0] if free else None


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
