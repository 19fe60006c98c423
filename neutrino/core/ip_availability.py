"""Network IP availability (extensions ``network-ip-availability`` and
``network-ip-availability-details``): how many addresses each network's subnets have and
how many are taken, as Neutron counts them.

Per subnet, ``total_ips`` is the size of its allocation pools (of its whole cidr when it
has none) and ``used_ips`` the addresses allocated on it (in its pools or not: the
gateway of a router port, an address asked for by hand); a network sums its subnets'.
The details add the cidr's size (IPv4 less network and broadcast, as Neutron) and the
allocations inside the pools.  Read only, from the allocation table: nothing is stored.
"""
from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from neutrino.core import exceptions as exc
from neutrino.core.query import where_clauses
from neutrino.core.rows import chunks
from neutrino.db.models import IPAllocation, Network, Subnet
from neutrino.db.session import Database

#: Neutron's filters of this resource; ``ip_version`` picks subnets (and so networks).
NETWORK_FILTERS = {"network_id": Network.id, "network_name": Network.name,
                   "project_id": Network.project_id, "tenant_id": Network.project_id}
SUBNET_FILTERS = {"ip_version": Subnet.ip_version}
FILTERS = (*NETWORK_FILTERS, *SUBNET_FILTERS)


def pool_spans(pools: list[dict[str, str]]) -> list[tuple[int, int]]:
    return [(int(ipaddress.ip_address(p["start"])), int(ipaddress.ip_address(p["end"])))
            for p in pools]


def cidr_size(cidr: str) -> int:
    """The cidr's addresses, IPv4's less network and broadcast (Neutron's count)."""
    net = ipaddress.ip_network(cidr)
    return net.num_addresses - 2 if net.version == 4 else net.num_addresses


def subnet_availability(subnet: Any, used: list[str]) -> dict[str, Any]:
    """One subnet's entry; *used*: the addresses allocated on it."""
    spans = pool_spans(subnet.allocation_pools)
    in_pools = sum(1 for ip in used
                   if any(first <= int(ipaddress.ip_address(ip)) <= last
                          for first, last in spans))
    in_pool_size = sum(last - first + 1 for first, last in spans)
    return {"subnet_id": subnet.id, "subnet_name": subnet.name, "cidr": subnet.cidr,
            "ip_version": subnet.ip_version, "used_ips": len(used),
            "total_ips": in_pool_size if spans else ipaddress.ip_network(
                subnet.cidr).num_addresses,
            "ip_availability_details": {
                "total_ips_in_subnet": cidr_size(subnet.cidr),
                "total_ips_in_allocation_pool": in_pool_size,
                "used_ips_in_subnet": len(used),
                "used_ips_in_allocation_pool": in_pools}}


def network_availability(net: Any, subnets: list[dict[str, Any]]) -> dict[str, Any]:
    details = ("total_ips_in_subnet", "total_ips_in_allocation_pool", "used_ips_in_subnet",
               "used_ips_in_allocation_pool")
    return {"network_id": net.id, "network_name": net.name, "project_id": net.project_id,
            "tenant_id": net.project_id, "subnet_ip_availability": subnets,
            "total_ips": sum(s["total_ips"] for s in subnets),
            "used_ips": sum(s["used_ips"] for s in subnets),
            "ip_availability_details": {
                key: sum(s["ip_availability_details"][key] for s in subnets)
                for key in details}}


class IpAvailability:
    def __init__(self, db: Database):
        self.db = db

    def of_networks(self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        """Every network matching *filters* (in id order), with its subnets."""
        filters = filters or {}
        network_filters = {k: v for k, v in filters.items() if k not in SUBNET_FILTERS}
        subnet_filters = {k: v for k, v in filters.items() if k in SUBNET_FILTERS}
        with self.db.read() as session:
            networks = select(Network.id, Network.name, Network.project_id).where(
                *where_clauses(NETWORK_FILTERS, network_filters)).order_by(Network.id)
            subnet_clauses = where_clauses(SUBNET_FILTERS, subnet_filters)
            if subnet_filters:  # as Neutron: only networks with such a subnet
                networks = networks.where(Network.id.in_(
                    select(Subnet.network_id).where(*subnet_clauses)))
            return self._availability(session, session.execute(networks).all(),
                                      subnet_clauses)

    def of_network(self, network_id: str) -> dict[str, Any]:
        found = self.of_networks({"network_id": [network_id]})
        if not found:
            raise exc.NetworkNotFound(net_id=network_id)
        return found[0]

    @staticmethod
    def _availability(session: Session, networks: Sequence[Any],
                      subnet_clauses: list[Any]) -> list[dict[str, Any]]:
        subnets: dict[str, list[Any]] = defaultdict(list)
        used: dict[str, list[str]] = defaultdict(list)
        for chunk in chunks([n.id for n in networks]):
            for subnet in session.execute(select(
                    Subnet.id, Subnet.name, Subnet.cidr, Subnet.ip_version,
                    Subnet.allocation_pools, Subnet.network_id).where(
                    Subnet.network_id.in_(chunk), *subnet_clauses).order_by(
                    Subnet.created_at, Subnet.id)):
                subnets[subnet.network_id].append(subnet)
        for chunk in chunks([s.id for of_network in subnets.values() for s in of_network]):
            for subnet_id, ip in session.execute(select(
                    IPAllocation.subnet_id, IPAllocation.ip_address).where(
                    IPAllocation.subnet_id.in_(chunk))):
                used[subnet_id].append(ip)
        return [network_availability(net, [subnet_availability(s, used[s.id])
                                           for s in subnets[net.id]]) for net in networks]

