"""Subnets: create (with default gateway and pools), read, list, update, delete."""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from neutrino.core import exceptions as exc
from neutrino.core import ipam, subnetpools
from neutrino.core.context import ADMIN, Context, owned
from neutrino.core.contexts import network_context
from neutrino.core.mech_manager import MechanismManager
from neutrino.core.networks import (
    MIN_MTU,
    SHAREABLE,
    check_network_visible,
    network_or_404,
    shared_with,
)
from neutrino.core.query import ListQuery, check_visible, visible_page
from neutrino.core.resources import orm_subnet_dict, subnet_dict
from neutrino.core.rows import apply, check_revision
from neutrino.core.tags import Tagged
from neutrino.core.writes import Writes
from neutrino.db.models import IPAllocation, Network, Port, Subnet, SubnetPool, touch
from neutrino.db.session import Database
from neutrino.drivers.api import ROUTER_GATEWAY, ROUTER_INTERFACE, SubnetContext


def _columns() -> dict[str, Any]:
    c = Subnet.__table__.c
    return {"id": c.id, "name": c.name, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "network_id": c.network_id, "cidr": c.cidr,
            "ip_version": c.ip_version, "gateway_ip": c.gateway_ip, "enable_dhcp": c.enable_dhcp,
            "revision_number": c.revision_number, "created_at": c.created_at,
            "updated_at": c.updated_at, "ipv6_ra_mode": c.ipv6_ra_mode,
            "ipv6_address_mode": c.ipv6_address_mode, "subnetpool_id": c.subnetpool_id,
            "router:external": Subnet.external}


#: Subnets carry tags.
TAGGED = Tagged(Subnet, "subnet", lambda subnet_id: exc.SubnetNotFound(subnet_id=subnet_id))
#: Filterable attributes of a subnet listing (and ``shared``, see :func:`columns`).
COLUMNS = {**_columns(), **TAGGED.filters()}


def columns(ctx: Context) -> dict[str, Any]:
    """The filterable attributes of a subnet listing by *ctx*: ``shared`` is its
    network's as *ctx* sees it (a filter only, as in Neutron)."""
    return {**COLUMNS, "shared": shared_with(ctx, Subnet.network_id)}


def visible_subnets(ctx: Context) -> ColumnElement | None:
    """The subnets *ctx* may see: its project's and those of networks it sees through
    an RBAC policy (None: all)."""
    return SHAREABLE.visible(ctx, Subnet.network_id, Subnet.project_id)


def check_subnet_visible(session: Session, ctx: Context, subnet_id: str) -> None:
    check_visible(session, visible_subnets(ctx), Subnet.id, subnet_id,
                  exc.SubnetNotFound(subnet_id=subnet_id))


def subnet_or_404(session: Session, subnet_id: str) -> Subnet:
    sub = session.get(Subnet, subnet_id)
    if sub is None:
        raise exc.SubnetNotFound(subnet_id=subnet_id)
    return sub


#: What a subnet's service type starts with (neutron-lib's
#: ``validate_subnet_service_types``, which adds ``compute:`` to its list of prefixes one
#: character at a time: any type starting with one of those characters passes too, as
#: ``test:type_1`` in OpenStack's own tests does).
SERVICE_TYPE_PREFIXES = ("network:", "neutron:", *"compute:")


def validate(net: ipam.IPNetwork, attrs: dict[str, Any], current: Subnet | None) -> None:
    """Refuse *attrs* (of a new subnet, or changes to *current*) that do not fit *net*."""
    gateway = attrs.get("gateway_ip", current.gateway_ip if current else None)
    if gateway is not None:
        ipam.validate_gateway(net, gateway)
    pools = attrs.get("allocation_pools", current.allocation_pools if current else None)
    assert pools is not None, "a new subnet's attrs carry its pools (create fills them in)"
    ipam.validate_pools(net, gateway, pools)
    ra_mode = attrs.get("ipv6_ra_mode", current.ipv6_ra_mode if current else None)
    address_mode = attrs.get("ipv6_address_mode",
                             current.ipv6_address_mode if current else None)
    if net.version == 4 and (ra_mode or address_mode):
        raise exc.InvalidInput(
            error_message="ipv6_ra_mode and ipv6_address_mode are for IPv6 subnets only")
    if ra_mode and address_mode and ra_mode != address_mode:
        raise exc.InvalidInput(error_message=(
            f"ipv6_ra_mode set to '{ra_mode}' with ipv6_address_mode set to '{address_mode}' "
            "is not valid: when both are set they must be the same"))
    if net.version == 6 and net.prefixlen != 64 and \
            {ra_mode, address_mode} & set(ipam.AUTO_ADDRESS_MODES):
        raise exc.InvalidInput(error_message=(
            f"Invalid CIDR {net} for IPv6 address mode. Hosts form their addresses with "
            "EUI-64, which requires the prefix to be /64"))
    for service_type in attrs.get("service_types", []):
        if not service_type.startswith(SERVICE_TYPE_PREFIXES):
            raise exc.InvalidSubnetServiceType(service_type=service_type)
    nameservers = attrs.get("dns_nameservers", [])
    for i, ns in enumerate(nameservers):
        if ipaddress.ip_address(ns).version != net.version:
            raise exc.InvalidInput(error_message=f"dns_nameserver {ns} is not IPv{net.version}")
        if ipaddress.ip_address(ns) in map(ipaddress.ip_address, nameservers[:i]):
            raise exc.InvalidInput(error_message=f"Duplicate nameserver '{ns}'")
    for route in attrs.get("host_routes", []):
        if ipaddress.ip_network(route["destination"], strict=False).version != net.version or \
                ipaddress.ip_address(route["nexthop"]).version != net.version:
            raise exc.InvalidInput(
                error_message=f"host route {route} does not match IP version {net.version}")


def _check_gateway_free(session: Session, sub: Subnet) -> None:
    """The gateway IP moves or goes only while no router port holds it (Neutron's
    ``GatewayIpInUse``): the router would keep answering on the old address."""
    holder = session.scalar(select(IPAllocation.port_id).join(
        Port, Port.id == IPAllocation.port_id).where(
        IPAllocation.subnet_id == sub.id, IPAllocation.ip_address == sub.gateway_ip,
        Port.device_owner.in_((ROUTER_INTERFACE, ROUTER_GATEWAY))).limit(1))
    if holder is not None:
        raise exc.GatewayIpInUse(ip_address=sub.gateway_ip, port_id=holder)


@dataclass(frozen=True)
class PoolRequest:
    """What a subnet's create asks of subnet pools (taken out of its attributes)."""

    subnetpool_id: str | None
    use_default: bool
    cidr: ipam.IPNetwork | None
    prefixlen: int | None
    ip_version: int | None

    @classmethod
    def of(cls, attrs: dict[str, Any]) -> PoolRequest:
        """Read and remove ``subnetpool_id``, ``use_default_subnetpool``, ``prefixlen``;
        refuse what Neutron refuses before looking at any pool."""
        pool_id = attrs.pop("subnetpool_id", None)
        use_default = attrs.pop("use_default_subnetpool", False)
        prefixlen = attrs.pop("prefixlen", None)
        cidr = attrs.get("cidr")
        if cidr is not None and prefixlen is not None:
            raise exc.BadRequest(resource="subnets",
                                 msg="cidr and prefixlen must not be supplied together")
        if pool_id and use_default:
            raise exc.BadRequest(resource="subnets", msg=(
                "subnetpool_id and use_default_subnetpool cannot both be specified"))
        if not pool_id and not use_default and cidr is None:
            raise exc.BadRequest(resource="subnets",
                                 msg="a subnetpool must be specified in the absence of a cidr")
        parsed = ipam.parse_cidr(cidr, attrs.get("ip_version")) if cidr is not None else None
        version = parsed.version if parsed is not None else attrs.get("ip_version")
        if use_default and version is None:
            raise exc.BadRequest(resource="subnets", msg=(
                "ip_version must be specified in the absence of cidr and subnetpool_id"))
        if (pool_id or use_default) and cidr is None and "allocation_pools" in attrs:
            raise exc.BadRequest(resource="subnets", msg=(
                "allocation_pools allowed only for specific subnet requests."))
        return cls(pool_id, use_default, parsed, prefixlen, version)

    def pool_id(self, session: Session, ctx: Context) -> str | None:
        if self.use_default:
            assert self.ip_version is not None, "checked by of()"
            return subnetpools.default_pool_id(session, ctx, self.ip_version)
        return self.subnetpool_id


def check_pool_affinity(net: Network, ip_version: int, pool: SubnetPool | None) -> None:
    """Neutron's rule for a network's subnets of one IP version: all from one address
    scope if they are in one (400 ``NetworkAddressScopeAffinityError``), else all from
    the same pool or all from none (400 ``NetworkSubnetPoolAffinityError``)."""
    same_version = [s for s in net.subnets if s.ip_version == ip_version]
    scope = next((s.address_scope_id for s in same_version if s.address_scope_id), None)
    if scope is not None:
        if pool is not None and pool.address_scope_id != scope:
            raise exc.NetworkAddressScopeAffinityError()
        if pool is None:
            raise exc.NetworkSubnetPoolAffinityError()
        return
    pool_id = pool.id if pool is not None else None
    if any(s.subnetpool_id != pool_id for s in same_version):
        raise exc.NetworkSubnetPoolAffinityError()
def _autoconfigured(session: Session, network_id: str) -> list[Any]:
    """The ports of a network that form their own addresses on its SLAAC and
    DHCPv6-stateless subnets (all but router interfaces): id, MAC and device owner,
    locked for the change."""
    return list(session.execute(
        select(Port.id, Port.mac_address, Port.device_owner).where(
            Port.network_id == network_id,
            Port.device_owner.not_in(ipam.ROUTER_INTERFACE_OWNERS)).with_for_update()))


def _touch_ports(session: Session, port_ids: list[str]) -> None:
    for port in session.scalars(select(Port).where(Port.id.in_(port_ids))):
        touch(port)


class Subnets:
    """Subnets, and the addresses their create and delete give or take from ports.

    *readdressed* is told, after the commit, which ports a SLAAC or DHCPv6-stateless
    subnet's create or delete gave or took an address: ports are not this module's,
    so their drivers hear of it through the ports' own update (as in ML2).
    """

    def __init__(self, db: Database, writes: Writes, mech: MechanismManager,
                 readdressed: Callable[[list[str]], None]):
        self.db = db
        self.writes = writes
        self.mech = mech
        self.readdressed = readdressed

    def create(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [attrs])[0]

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Subnets of *items*, in order, all or none (a bulk create, or one)."""
        #: Per item, the ports its subnet gave an address (SLAAC, DHCPv6-stateless).
        ports: list[list[str]] = [[] for _ in items]

        def body(attrs: dict[str, Any], given: list[str]) -> Callable[[Session], SubnetContext]:
            # A copy of the item per run: a lost race runs the transaction again.
            return lambda session: self.create_in(session, ctx, owned(ctx, attrs), given)

        contexts = self.writes.write_all(
            "create_subnet", [body(attrs, given) for attrs, given in zip(items, ports,
                                                                          strict=True)],
            undo=lambda subnet_id: self.delete(ADMIN, subnet_id))
        readdressed = list(dict.fromkeys(port for given in ports for port in given))
        if readdressed:
            self.readdressed(readdressed)
        return [c.current for c in contexts]

    def create_in(self, session: Session, ctx: Context, attrs: dict[str, Any],
                  ports: list[str]) -> SubnetContext:
        """Step 1 of a create, in *session* (a caller's transaction: a bulk create's, an
        auto-allocated topology's); *ports* gets the ports it gave an address."""
        tags = attrs.pop("tags", [])
        request = PoolRequest.of(attrs)
        pool_id = request.pool_id(session, ctx)
        check_network_visible(session, ctx, attrs["network_id"])
        net = network_or_404(session, attrs["network_id"])
        if not ctx.sees_all_projects and attrs.get("project_id") and net.project_id and \
                attrs["project_id"] != net.project_id and not net.shared:
            raise exc.HTTPForbidden(project_id=attrs["project_id"], resource="subnet")
        project_id = attrs.get("project_id") or net.project_id
        if pool_id is None:
            cidr = ipam.parse_cidr(attrs["cidr"], attrs.get("ip_version"))
            check_pool_affinity(net, cidr.version, None)
        else:
            # Locks the pool's row; the network's is written only at the end (touch), so
            # every subnet create takes the two in the same order.
            pool, cidr = subnetpools.allocate(session, ctx, pool_id, project_id, request.cidr,
                                              request.prefixlen, attrs.get("ip_version"))
            check_pool_affinity(net, cidr.version, pool)
        if net.mtu < MIN_MTU[cidr.version]:
            raise exc.Conflict(f"network {net.id} has MTU {net.mtu}, too small for an "
                               f"IPv{cidr.version} subnet (minimum {MIN_MTU[cidr.version]})")
        for other in net.subnets:
            if ipaddress.ip_network(other.cidr).overlaps(cidr):
                raise exc.InvalidInput(error_message=(
                    f"Requested subnet with cidr: {cidr} for network: {net.id} overlaps "
                    f"with another subnet"))
        attrs = dict(attrs, cidr=str(cidr), ip_version=cidr.version, subnetpool_id=pool_id)
        if "gateway_ip" not in attrs:
            attrs["gateway_ip"] = ipam.default_gateway(cidr)
        if "allocation_pools" not in attrs:
            attrs["allocation_pools"] = ipam.default_pools(cidr, attrs["gateway_ip"])
        validate(cidr, attrs, None)
        attrs.setdefault("project_id", net.project_id)
        sub = Subnet(**attrs)
        session.add(sub)
        session.flush()
        TAGGED.create(session, sub, tags)
        ports[:] = []  # a retried transaction starts again
        if ipam.is_auto_address(sub):
            # Every host on the network that the subnet serves forms an address on the new
            # prefix: the ports have it at once, as in Neutron.
            hosts = [(pid, mac) for pid, mac, owner in _autoconfigured(session, net.id)
                     if ipam.serves(sub, owner)]
            session.add_all(IPAllocation(subnet_id=sub.id, network_id=net.id, port_id=pid,
                                         ip_address=ipam.eui64(sub.cidr, mac))
                            for pid, mac in hosts)
            ports.extend(pid for pid, _ in hosts)
            _touch_ports(session, ports)
        touch(net)  # its `subnets` changed: a new revision, as in Neutron
        session.flush()
        session.refresh(net)
        context = SubnetContext(current=orm_subnet_dict(sub), original=None,
                                network=network_context(net, session=session), session=session)
        self.mech.precommit("create_subnet_precommit", context)
        return context

    def get(self, ctx: Context, subnet_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            check_subnet_visible(session, ctx, subnet_id)
            return orm_subnet_dict(subnet_or_404(session, subnet_id))

    def list_page(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        visible = visible_subnets(ctx)
        filterable = columns(ctx)
        with self.db.read() as session:
            rows, more = visible_page(session, Subnet.__table__, filterable, visible, query,
                                      Subnet.external.label("external"))
            tags = TAGGED.of(session, [r.id for r in rows])
            return [subnet_dict(r, tags[r.id]) for r in rows], more

    def update(self, ctx: Context, subnet_id: str, attrs: dict[str, Any],
               if_match: int | None = None) -> dict[str, Any]:
        return self.writes.write(
            "update_subnet", lambda s: self._update(s, ctx, subnet_id, attrs, if_match)).current

    def _update(self, session: Session, ctx: Context, subnet_id: str, attrs: dict[str, Any],
                if_match: int | None) -> SubnetContext:
        check_subnet_visible(session, ctx, subnet_id)
        sub = subnet_or_404(session, subnet_id)
        check_revision(sub, if_match)
        original = orm_subnet_dict(sub)
        validate(ipaddress.ip_network(sub.cidr), attrs, sub)
        if attrs.get("gateway_ip", sub.gateway_ip) != sub.gateway_ip:
            _check_gateway_free(session, sub)
        if apply(sub, attrs):
            touch(sub)
            session.flush()
        context = SubnetContext(current=orm_subnet_dict(sub), original=original,
                                network=network_context(sub.network, session=session),
                                session=session)
        self.mech.precommit("update_subnet_precommit", context)
        return context

    def delete(self, ctx: Context, subnet_id: str, if_match: int | None = None) -> None:
        ports: list[str] = []
        self.writes.write("delete_subnet",
                          lambda s: self._delete(s, ctx, subnet_id, if_match, ports))
        if ports:
            self.readdressed(ports)

    def _delete(self, session: Session, ctx: Context, subnet_id: str,
                if_match: int | None, ports: list[str]) -> SubnetContext:
        check_subnet_visible(session, ctx, subnet_id)
        sub = subnet_or_404(session, subnet_id)
        check_revision(sub, if_match)
        ports[:] = []  # a retried transaction starts again
        if ipam.is_auto_address(sub):
            # Addresses the hosts formed themselves go with the prefix (Neutron's);
            # a router interface's address still holds the subnet.
            hosts = [pid for pid, _, _ in _autoconfigured(session, sub.network_id)]
            ports.extend(session.scalars(select(IPAllocation.port_id).where(
                IPAllocation.subnet_id == subnet_id, IPAllocation.port_id.in_(hosts))))
            session.execute(delete(IPAllocation).where(
                IPAllocation.subnet_id == subnet_id, IPAllocation.port_id.in_(ports)))
            _touch_ports(session, ports)
        if session.scalar(select(IPAllocation.ip_address).where(
                IPAllocation.subnet_id == subnet_id).limit(1)):
            raise exc.SubnetInUse(subnet_id=subnet_id)
        context = SubnetContext(current=orm_subnet_dict(sub), original=None,
                                network=network_context(sub.network, session=session),
                                session=session)
        self.mech.precommit("delete_subnet_precommit", context)
        touch(sub.network)  # its `subnets` changed
        session.delete(sub)
        return context
