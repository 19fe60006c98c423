"""IP address management: subnets' address arithmetic and ports' addresses.

Address arithmetic (default gateway and pools, validation, free IPs) is pure
functions over :mod:`ipaddress`.  A port's addresses are found in two steps:
:func:`requested_addresses` reads what the request asks for (pure), then
:func:`allocate` picks free addresses in the request's transaction; the
database's primary key on ``(subnet_id, ip_address)`` settles races.
"""
from __future__ import annotations

import ipaddress
import itertools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, select
from sqlalchemy.orm import Session

from neutrino.core import exceptions as exc
from neutrino.db.models import IPAllocation, Port

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
    if (net.version == 4 and net.prefixlen < 31
            and addr in (net.network_address, net.broadcast_address)):
        raise _bad(f"Gateway IP {gateway} conflicts with the network or broadcast address of {net}")


def validate_pools(net: IPNetwork, gateway: str | None, pools: list[dict[str, str]]) -> None:
    first, last = usable_range(net)
    spans = []
    for pool in pools:
        start, end = ipaddress.ip_address(pool["start"]), ipaddress.ip_address(pool["end"])
        text = f"{start}-{end}"
        if start.version != net.version or end.version != net.version or int(start) > int(end):
            raise exc.InvalidAllocationPool(pool=text)
        if not (first <= int(start) <= last and first <= int(end) <= last):
            raise exc.OutOfBoundsAllocationPool(pool=text, subnet_cidr=net)
        spans.append((int(start), int(end), text))
    spans.sort()
    for (_, prev_end, prev), (next_start, _, cur) in itertools.pairwise(spans):
        if next_start <= prev_end:
            raise exc.OverlappingAllocationPools(pool_1=prev, pool_2=cur, subnet_cidr=net)
    if gateway is not None:
        gw = int(ipaddress.ip_address(gateway))
        for low, high, text in spans:
            if low <= gw <= high:
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
        start = int(ipaddress.ip_address(pool["start"]))
        end = int(ipaddress.ip_address(pool["end"]))
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


# ---------------------------------------------------------------- a port's addresses

@dataclass(frozen=True)
class FixedAddress:
    """This address, on this subnet (a subnet row: ``id``, ``cidr``, ``gateway_ip``...)."""

    subnet: Any
    ip: str


@dataclass(frozen=True)
class AnyAddress:
    """A free address from the first of *subnets* that has one.

    *keeps_current*: the client asked for it, so a port that already has an
    address on the subnet keeps it (an update repeating ``{"subnet_id": X}``).
    """

    subnets: tuple[Any, ...]
    keeps_current: bool


AddressRequest = FixedAddress | AnyAddress

#: IPv6 modes in which hosts form their own address from their MAC (EUI-64).
AUTO_ADDRESS_MODES = ("slaac", "dhcpv6-stateless")
#: The router's ports on its subnets: they take addresses like on any other subnet
#: (a router advertises the prefix, it does not autoconfigure in it).
ROUTER_INTERFACE_OWNERS = ("network:router_interface", "network:router_interface_distributed",
                           "network:ha_router_replicated_interface",
                           "network:router_centralized_snat")


#: A DHCP port takes an address on every subnet with DHCP on, whatever its service types.
DHCP_OWNER = "network:dhcp"


def serves(subnet: Any, device_owner: str) -> bool:
    """Whether a port of *device_owner* may take an address on *subnet*
    (``subnet-service-types``, as Neutron's ``query_filter_service_subnets``): a subnet
    without service types serves every port, one with them the ports they name."""
    return (not subnet.service_types or device_owner in subnet.service_types
            or (device_owner == DHCP_OWNER and subnet.enable_dhcp))


def is_auto_address(subnet: Any) -> bool:
    """Whether hosts on *subnet* pick their own addresses (Neutron: either mode says so)."""
    return subnet.ip_version == 6 and (subnet.ipv6_address_mode in AUTO_ADDRESS_MODES
                                       or subnet.ipv6_ra_mode in AUTO_ADDRESS_MODES)


def eui64(cidr: str, mac: str) -> str:
    """The address a host with *mac* forms in the /64 *cidr* (RFC 4291, appendix A: the
    MAC with ``ff:fe`` in its middle and its universal/local bit flipped)."""
    octets = bytes.fromhex(mac.replace(":", ""))
    interface_id = bytes([octets[0] ^ 0x02]) + octets[1:3] + b"\xff\xfe" + octets[3:]
    prefix = int(ipaddress.ip_network(cidr).network_address)
    return str(ipaddress.IPv6Address(prefix | int.from_bytes(interface_id, "big")))


def requested_addresses(network_id: str, subnets: list[Any],
                        fixed_ips: list[dict[str, Any]] | None, mac: str,
                        device_owner: str) -> list[AddressRequest]:
    """What a port's ``fixed_ips`` asks for on a network with *subnets*.

    Only the subnets that serve the port's *device_owner* count (:func:`serves`); a
    network with subnets but none of them is 409
    ``IpAddressGenerationFailureNoMatchingSubnet``, as in Neutron, unless no address is
    asked for (``[]``).  None asks for the
    default: one address of each IP version, from the subnets with service types first.
    Either way a port that is not a router interface has its EUI-64 address on every
    SLAAC or DHCPv6-stateless subnet, and can be given no other there.  Refuses subnets
    of other networks (or not serving the port) and addresses no subnet can give.
    """
    candidates = [s for s in subnets if serves(s, device_owner)]
    if subnets and not candidates and fixed_ips != []:
        raise exc.IpAddressGenerationFailureNoMatchingSubnet(network_id=network_id,
                                                             service_type=device_owner)
    # Subnets dedicated to the port's kind of device first (Neutron's priority).
    subnets = sorted(candidates, key=lambda s: not s.service_types)
    auto = {s.id: s for s in subnets
            if is_auto_address(s) and device_owner not in ROUTER_INTERFACE_OWNERS}
    wanted: list[AddressRequest] = []
    if fixed_ips is None:
        by_version = ([s for s in subnets if s.ip_version == version and s.id not in auto]
                      for version in (4, 6))
        wanted = [AnyAddress(tuple(group), keeps_current=False) for group in by_version if group]
        return wanted + [FixedAddress(s, eui64(s.cidr, mac)) for s in auto.values()]
    by_id = {s.id: s for s in subnets}
    for item in fixed_ips:
        subnet_id, ip = item.get("subnet_id"), item.get("ip_address")
        if subnet_id is not None and subnet_id not in by_id:
            raise exc.InvalidInput(error_message=(
                f"Failed to create port on network {network_id}, because fixed_ips "
                f"included invalid subnet {subnet_id}"))
        if ip is None:
            if subnet_id not in auto:
                wanted.append(AnyAddress((by_id[subnet_id],), keeps_current=True))
            continue  # its EUI-64 address follows
        addr = ipaddress.ip_address(ip)
        owner = by_id.get(subnet_id) if subnet_id else next(
            (s for s in subnets if addr in ipaddress.ip_network(s.cidr)), None)
        if owner is None or not is_host_address(ipaddress.ip_network(owner.cidr), addr):
            raise exc.InvalidIpForSubnet(ip_address=ip)
        if owner.id in auto:
            if str(addr) != eui64(owner.cidr, mac):
                raise exc.InvalidInput(error_message=(
                    f"IPv6 address {ip} cannot be directly assigned to a port on subnet "
                    f"{owner.id} as the subnet is configured for automatic addresses"))
            continue  # the address it would have anyway (a client sending it back)
        wanted.append(FixedAddress(owner, str(addr)))
    return wanted + [FixedAddress(s, eui64(s.cidr, mac)) for s in auto.values()]


#: Addresses taken on a subnet (all, or whether one is); built once, so
#: allocating an address does not rebuild and re-key the statement each time.
TAKEN = select(IPAllocation.ip_address).where(IPAllocation.subnet_id == bindparam("subnet_id"))
IS_TAKEN = select(IPAllocation.port_id).where(IPAllocation.subnet_id == bindparam("subnet_id"),
                                             IPAllocation.ip_address == bindparam("ip"))


def allocate(session: Session, port: Port, network_id: str, wanted: list[AddressRequest],
             keep: set[tuple[str, str]]) -> None:
    """Give *port* the addresses *wanted*; those in *keep* (its current ones) are its
    already and need no check.  Addresses it has and is not given are released."""
    allocations: list[tuple[str, str]] = []
    # Explicit addresses first, so that an address picked for "any" cannot take one.
    for item in sorted(wanted, key=lambda w: isinstance(w, AnyAddress)):
        if isinstance(item, FixedAddress):
            sub, ip = item.subnet, item.ip
            if (sub.id, ip) not in keep:
                is_router = port.device_owner.startswith("network:router")
                taken = session.get(IPAllocation, (sub.id, ip)) is not None
                if taken or (ip == sub.gateway_ip and not is_router):
                    raise exc.IpAddressAlreadyAllocated(ip=ip, subnet_id=sub.id)
            allocations.append((sub.id, ip))
            continue
        for sub in item.subnets:
            kept = sorted(ip for sid, ip in keep
                          if sid == sub.id and (sid, ip) not in allocations)
            if item.keeps_current and kept:
                allocations.append((sub.id, kept[0]))
                break

            def is_taken(ip: str, sid: str = sub.id) -> bool:
                return session.scalar(IS_TAKEN, {"subnet_id": sid, "ip": ip}) is not None

            def all_taken(sid: str = sub.id) -> Iterable[str]:
                return session.scalars(TAKEN, {"subnet_id": sid})

            free = choose_free(
                sub.allocation_pools, {ip for sid, ip in allocations if sid == sub.id},
                is_taken=is_taken, all_taken=all_taken)
            if free:
                allocations.append((sub.id, free))
                break
        else:
            raise exc.IpAddressGenerationFailure(net_id=network_id)
    if len(set(allocations)) != len(allocations):
        raise exc.InvalidInput(error_message="Duplicate IP address requested in fixed_ips")
    target = set(allocations)
    for alloc in list(port.fixed_ips):
        if (alloc.subnet_id, alloc.ip_address) not in target:
            port.fixed_ips.remove(alloc)
    existing = {(a.subnet_id, a.ip_address) for a in port.fixed_ips}
    for subnet_id, ip in allocations:
        if (subnet_id, ip) not in existing:
            port.fixed_ips.append(IPAllocation(subnet_id=subnet_id, ip_address=ip,
                                               network_id=network_id))
