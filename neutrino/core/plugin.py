"""The core plugin: owns each request's transaction, allocation, binding and status.

Every write follows the same shape (DESIGN.md "Principles"):

1. one SQL transaction: validate, allocate, write rows, call drivers'
   ``*_precommit`` (any failure rolls everything back);
2. after commit, drivers' ``*_postcommit`` (a failing create is undone);
3. for ports with a host, binding outside any transaction (B2, B3).

Races between requests end in constraint violations or stale revisions; the
whole transaction is retried (``retry_on_conflict``), so a request never
leaves half-written rows.
"""
from __future__ import annotations

import collections
import ipaddress
import logging
import os
import time
from importlib.metadata import entry_points
from typing import Any

from sqlalchemy import bindparam, delete, func, insert, literal, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.exc import StaleDataError

from neutrino.config import Settings
from neutrino.core import exceptions as exc
from neutrino.core import ipam
from neutrino.drivers import status as reasons
from neutrino.core.events import Doorbell, Pruner
from neutrino.core.binding import PortBinder
from neutrino.core.handle import BackendHandle
from neutrino.core.mech_manager import MechanismManager
from neutrino.core.notifier import Notifier
from neutrino.core.query import ListQuery, sorted_page, where_clauses
from neutrino.core.resources import network_dict, orm_port_dict, port_dict, segment_dict, subnet_dict
from neutrino.core.type_drivers import RESERVED_KEYS, TypeDriver
from neutrino.db.models import (
    IPAllocation,
    Network,
    NetworkSegment,
    Port,
    StatusEvent,
    Subnet,
    new_id,
    status_event,
    touch,
    utcnow,
)
from neutrino.db.session import Database, retry_on_conflict
from neutrino.metrics import BOUND_TO_ACTIVE, STATUS_TRANSITIONS
from neutrino.drivers.api import (
    VIF_TYPE_BINDING_FAILED,
    VIF_TYPE_UNBOUND,
    NetworkContext,
    PortContext,
    SubnetContext,
)

LOG = logging.getLogger(__name__)

MAC_PREFIX = "fa:16:3e"
#: Attributes whose change invalidates a port's binding.
BINDING_ATTRS = ("binding:host_id", "binding:vnic_type", "binding:profile")


def _net_columns() -> dict[str, Any]:
    c = Network.__table__.c
    return {"id": c.id, "name": c.name, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "status": c.status, "admin_state_up": c.admin_state_up,
            "shared": c.shared, "mtu": c.mtu, "revision_number": c.revision_number,
            "created_at": c.created_at, "updated_at": c.updated_at,
            # Fixed in Neutrino, filterable because clients filter on them (`--internal`).
            "router:external": literal(False), "port_security_enabled": literal(True),
            "is_default": literal(False)}


#: Provider filters match networks with a segment that has all the values asked for.
SEGMENT_COLUMNS = {"provider:network_type": NetworkSegment.network_type,
                   "provider:physical_network": NetworkSegment.physical_network,
                   "provider:segmentation_id": NetworkSegment.segmentation_id}


def _subnet_columns() -> dict[str, Any]:
    c = Subnet.__table__.c
    return {"id": c.id, "name": c.name, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "network_id": c.network_id, "cidr": c.cidr,
            "ip_version": c.ip_version, "gateway_ip": c.gateway_ip, "enable_dhcp": c.enable_dhcp,
            "revision_number": c.revision_number, "created_at": c.created_at,
            "updated_at": c.updated_at, "ipv6_ra_mode": c.ipv6_ra_mode,
            "ipv6_address_mode": c.ipv6_address_mode}


def _port_columns() -> dict[str, Any]:
    c = Port.__table__.c
    return {"id": c.id, "name": c.name, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "network_id": c.network_id, "mac_address": c.mac_address,
            "admin_state_up": c.admin_state_up, "status": c.status, "device_id": c.device_id,
            "device_owner": c.device_owner, "binding:host_id": c.host,
            "binding:vnic_type": c.vnic_type, "binding:vif_type": c.vif_type,
            "revision_number": c.revision_number, "created_at": c.created_at,
            "updated_at": c.updated_at}


NETWORK_COLUMNS, SUBNET_COLUMNS, PORT_COLUMNS = _net_columns(), _subnet_columns(), _port_columns()

#: Addresses taken on a subnet (all, or whether one is); built once, so
#: allocating an address does not rebuild and re-key the statement each time.
TAKEN = select(IPAllocation.ip_address).where(IPAllocation.subnet_id == bindparam("subnet_id"))
IS_TAKEN = select(IPAllocation.port_id).where(IPAllocation.subnet_id == bindparam("subnet_id"),
                                             IPAllocation.ip_address == bindparam("ip"))
PORT_INSERT, IP_INSERT = insert(Port.__table__), insert(IPAllocation.__table__)
_SEGMENT_FIELDS = ("id", "network_type", "physical_network", "segmentation_id")
SegmentRow = collections.namedtuple("SegmentRow", _SEGMENT_FIELDS)
#: A network and its segments in one round trip (segment columns prefixed ``segment_``).
NETWORK_WITH_SEGMENTS = select(
    Network.__table__,
    *(NetworkSegment.__table__.c[f].label(f"segment_{f}") for f in _SEGMENT_FIELDS),
).select_from(Network.__table__.outerjoin(
    NetworkSegment.__table__, NetworkSegment.network_id == Network.id,
)).where(Network.id == bindparam("id")).order_by(NetworkSegment.segment_index)
SUBNETS_OF = select(Subnet.__table__).where(
    Subnet.network_id == bindparam("id")).order_by(Subnet.created_at, Subnet.id)
PORT_BY_ID = select(Port.__table__).where(Port.id == bindparam("id"))
IPS_OF_PORT = select(IPAllocation.subnet_id, IPAllocation.ip_address).where(
    IPAllocation.port_id == bindparam("id")).order_by(IPAllocation.ip_address)


PORT_FOR_UPDATE = PORT_BY_ID.with_for_update()
DELETE_PORT_IPS = delete(IPAllocation.__table__).where(IPAllocation.port_id == bindparam("id"))
DELETE_PORT = delete(Port.__table__).where(Port.id == bindparam("id"),
                                           Port.revision_number == bindparam("revision"))
#: The bindings and ACTIVEs of some ports in the status event log, oldest first.
BINDINGS_AND_ACTIVES = select(
    StatusEvent.resource_id, StatusEvent.created_at, StatusEvent.status, StatusEvent.status_reason,
).where(StatusEvent.resource_id.in_(bindparam("ids", expanding=True)),
        or_(StatusEvent.status_reason.like(f"{reasons.BOUND_PREFIX}%"),
            StatusEvent.status == "ACTIVE")).order_by(StatusEvent.id)


class RowView:
    """A row and its related rows, read with plain SELECTs, read like the ORM object.

    Requests that only read a network (or delete a port) skip the ORM's
    identity map and eager loaders, which cost a third of such a request.
    Attribute access like :class:`Network` / :class:`Port`, so allocation,
    rendering and PortContext take either.
    """

    def __init__(self, row: Any, **related: list[Any]):
        self.__dict__.update(related)
        self._row = row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def _row(obj: Any) -> dict[str, Any]:
    """The column values set on a transient ORM object (unset ones get their defaults)."""
    return {c.key: value for c in obj.__table__.columns
            if (value := getattr(obj, c.key)) is not None}


class Plugin:
    """Neutrino's ML2 core; also the :class:`~neutrino.drivers.api.CoreHandle` drivers report to."""

    def __init__(self, settings: Settings, db: Database):
        self.settings = settings
        self.db = db
        self.mech = MechanismManager(settings.mechanism_drivers)
        self.type_drivers: dict[str, TypeDriver] = {
            ep.name: ep.load()(settings, self.mech.physnet_known)
            for ep in entry_points(group="neutrino.type_drivers")}
        for t in settings.tenant_network_types:
            if t not in self.type_drivers:
                raise ValueError(f"tenant network type {t!r} has no type driver")
        self.notifier = Notifier(settings.notify_url)
        self.pruner = Pruner(db)
        #: Rung after every commit that writes status events.
        self.doorbell = Doorbell(db)
        self.binder = PortBinder(self)
        # Backends that report network status asynchronously start networks in BUILD.
        self.async_network_status = self.mech.async_network_status
        self.mech.initialize(BackendHandle(self))

    def start_workers(self) -> None:
        """Background work of a serving process: event pruning and the backends' workers."""
        self.pruner.start()
        self.mech.call_all("start_workers")

    def stop(self) -> None:
        self.pruner.stop()
        self.mech.call_all("stop")
        self.notifier.stop()

    def health(self) -> dict[str, Any]:
        """Each component's state: the database, then every mechanism driver's own
        (see :func:`all_healthy`)."""
        try:
            with self.db.read() as session:
                session.execute(select(1))
            database = {"healthy": True, "backend": self.db.write_engine.dialect.name}
        except Exception as e:  # noqa: BLE001 - reported, not raised
            database = {"healthy": False, "error": str(e)}
        return {"database": database, **self.mech.health()}

    # ------------------------------------------------------------------ networks

    def _network_or_404(self, session: Session, net_id: str) -> Network:
        net = session.get(Network, net_id)
        if net is None:
            raise exc.NetworkNotFound(net_id=net_id)
        return net

    def _network_view(self, session: Session, net_id: str) -> RowView:
        """The network with its segments and subnets, read-only, for creating a port."""
        conn = session.connection()
        rows = conn.execute(NETWORK_WITH_SEGMENTS, {"id": net_id}).all()
        if not rows:
            raise exc.NetworkNotFound(net_id=net_id)
        segments = [SegmentRow(*(getattr(r, f"segment_{f}") for f in _SEGMENT_FIELDS))
                    for r in rows if r.segment_id is not None]
        return RowView(rows[0], segments=segments,
                       subnets=conn.execute(SUBNETS_OF, {"id": net_id}).all())

    def _network_dict(self, net: Network) -> dict[str, Any]:
        return network_dict(net, net.segments, [s.id for s in net.subnets])

    def _network_context(self, net: Network, original: dict | None = None,
                         session: Session | None = None) -> NetworkContext:
        return NetworkContext(current=self._network_dict(net), original=original,
                              network_segments=[segment_dict(s) for s in net.segments],
                              session=session)

    def _reserve_segments(self, session: Session, requested: list[dict[str, Any]]) -> list[dict]:
        if not requested:
            for network_type in self.settings.tenant_network_types:
                segment = self.type_drivers[network_type].allocate_tenant_segment(session)
                if segment is not None:
                    return [segment]
            raise exc.NoNetworkAvailable()
        reserved: list[dict] = [{}] * len(requested)
        # Allocators skip what this request already holds (type_drivers.RESERVED_KEYS);
        # segments asking for an id go first, so an allocated one cannot take it.
        keys = session.info.setdefault(RESERVED_KEYS, set())
        for i in sorted(range(len(requested)),
                        key=lambda i: requested[i].get("segmentation_id") is None):
            segment = requested[i]
            driver = self.type_drivers.get(segment["network_type"])
            if driver is None:
                raise exc.InvalidInput(
                    error_message=f"network_type value '{segment['network_type']}' not supported")
            driver.validate_provider_segment(segment)
            reserved[i] = driver.reserve_provider_segment(session, segment)
            key = reserved[i]["allocation_key"]
            if key in keys:
                raise exc.InvalidInput(error_message="Duplicate segment entry in request.")
            if key:
                keys.add(key)
        return reserved

    @retry_on_conflict
    def _create_network_txn(self, attrs: dict[str, Any]) -> tuple[Network, NetworkContext]:
        with self.db.write() as session:
            segments = self._reserve_segments(session, attrs.pop("segments", []))
            max_mtu = min(self.type_drivers[s["network_type"]].mtu(s) for s in segments)
            mtu = attrs.pop("mtu", None)
            if mtu is not None and mtu > max_mtu:
                raise exc.InvalidInput(
                    error_message=f"Requested MTU is too big, maximum is {max_mtu}")
            status, reason = ("BUILD", "waiting for the backend") if self.async_network_status \
                else ("ACTIVE", None)
            net = Network(mtu=mtu or max_mtu, status=status, status_reason=reason, **attrs)
            net.segments = [NetworkSegment(segment_index=i, network_type=s["network_type"],
                                           physical_network=s.get("physical_network"),
                                           segmentation_id=s.get("segmentation_id"),
                                           allocation_key=s["allocation_key"],
                                           is_dynamic=s["is_dynamic"])
                            for i, s in enumerate(segments)]
            session.add(net)
            session.flush()
            context = self._network_context(net, session=session)
            self.mech.precommit("create_network_precommit", context)
            return net, context

    def create_network(self, attrs: dict[str, Any]) -> dict[str, Any]:
        net, context = self._create_network_txn(dict(attrs))
        context.session = None
        try:
            self.mech.postcommit("create_network_postcommit", context)
        except exc.NeutronError:
            self.delete_network(net.id)
            raise
        return context.current

    def get_network(self, net_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            return self._network_dict(self._network_or_404(session, net_id))

    def list_networks(self, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        filters = dict(query.filters)
        provider = {k: filters.pop(k) for k in list(filters) if k in SEGMENT_COLUMNS}
        with self.db.read() as session:
            stmt = select(Network.__table__).where(*where_clauses(NETWORK_COLUMNS, filters))
            if provider:
                stmt = stmt.where(Network.id.in_(select(NetworkSegment.network_id).where(
                    *where_clauses(SEGMENT_COLUMNS, provider))))
            rows, more = sorted_page(session, stmt, NETWORK_COLUMNS, Network.__table__.c.id, query)
            ids = [r.id for r in rows]
            segments: dict[str, list] = {i: [] for i in ids}
            subnets: dict[str, list] = {i: [] for i in ids}
            for chunk in _chunks(ids):
                for seg in session.execute(select(NetworkSegment.__table__).where(
                        NetworkSegment.network_id.in_(chunk)).order_by(NetworkSegment.segment_index)):
                    segments[seg.network_id].append(seg)
                for sid, nid in session.execute(select(Subnet.id, Subnet.network_id).where(
                        Subnet.network_id.in_(chunk)).order_by(Subnet.created_at)):
                    subnets[nid].append(sid)
            return [network_dict(r, segments[r.id], subnets[r.id]) for r in rows], more

    @retry_on_conflict
    def _update_network_txn(self, net_id: str, attrs: dict[str, Any],
                            if_match: int | None) -> NetworkContext:
        with self.db.write() as session:
            net = self._network_or_404(session, net_id)
            _check_revision(net, if_match)
            original = self._network_dict(net)
            if "mtu" in attrs:
                max_mtu = min(self.type_drivers[s.network_type].mtu(segment_dict(s))
                              for s in net.segments)
                if attrs["mtu"] > max_mtu:
                    raise exc.InvalidInput(
                        error_message=f"Requested MTU is too big, maximum is {max_mtu}")
            changed = _apply(net, attrs)
            if changed:
                touch(net)
                session.flush()
            context = self._network_context(net, original, session)
            self.mech.precommit("update_network_precommit", context)
            return context

    def update_network(self, net_id: str, attrs: dict[str, Any],
                       if_match: int | None = None) -> dict[str, Any]:
        context = self._update_network_txn(net_id, attrs, if_match)
        context.session = None
        self.mech.postcommit("update_network_postcommit", context)
        return context.current

    @retry_on_conflict
    def _delete_network_txn(self, net_id: str, if_match: int | None) -> tuple[NetworkContext, list]:
        with self.db.write() as session:
            net = self._network_or_404(session, net_id)
            _check_revision(net, if_match)
            if session.scalar(select(func.count()).select_from(Port).where(Port.network_id == net_id)):
                raise exc.NetworkInUse(net_id=net_id)
            context = self._network_context(net, session=session)
            subnet_contexts = []
            for sub in list(net.subnets):
                sctx = SubnetContext(current=subnet_dict(sub), original=None, network=context,
                                     session=session)
                self.mech.precommit("delete_subnet_precommit", sctx)
                subnet_contexts.append(sctx)
                session.delete(sub)
            self.mech.precommit("delete_network_precommit", context)
            session.delete(net)
            return context, subnet_contexts

    def delete_network(self, net_id: str, if_match: int | None = None) -> None:
        context, subnet_contexts = self._delete_network_txn(net_id, if_match)
        for sctx in subnet_contexts:
            sctx.session = None
            self.mech.postcommit("delete_subnet_postcommit", sctx)
        context.session = None
        self.mech.postcommit("delete_network_postcommit", context)

    # ------------------------------------------------------------------ subnets

    def _subnet_or_404(self, session: Session, subnet_id: str) -> Subnet:
        sub = session.get(Subnet, subnet_id)
        if sub is None:
            raise exc.SubnetNotFound(subnet_id=subnet_id)
        return sub

    def _validate_subnet(self, net: ipam.IPNetwork, attrs: dict[str, Any], current: Subnet | None) -> None:
        gateway = attrs.get("gateway_ip", current.gateway_ip if current else None)
        if gateway is not None:
            ipam.validate_gateway(net, gateway)
        pools = attrs.get("allocation_pools", current.allocation_pools if current else None)
        ipam.validate_pools(net, gateway, pools)
        for ns in attrs.get("dns_nameservers", []):
            if ipaddress.ip_address(ns).version != net.version:
                raise exc.InvalidInput(error_message=f"dns_nameserver {ns} is not IPv{net.version}")
        for route in attrs.get("host_routes", []):
            if ipaddress.ip_network(route["destination"], strict=False).version != net.version or \
                    ipaddress.ip_address(route["nexthop"]).version != net.version:
                raise exc.InvalidInput(
                    error_message=f"host route {route} does not match IP version {net.version}")

    @retry_on_conflict
    def _create_subnet_txn(self, attrs: dict[str, Any]) -> tuple[str, SubnetContext]:
        with self.db.write() as session:
            net_row = self._network_or_404(session, attrs["network_id"])
            if attrs.get("project_id") and net_row.project_id and \
                    attrs["project_id"] != net_row.project_id and not net_row.shared:
                raise exc.NetworkNotFound(net_id=net_row.id)
            cidr = ipam.parse_cidr(attrs["cidr"], attrs.get("ip_version"))
            for other in net_row.subnets:
                if ipaddress.ip_network(other.cidr).overlaps(cidr):
                    raise exc.InvalidInput(error_message=(
                        f"Requested subnet with cidr: {cidr} for network: {net_row.id} overlaps "
                        f"with another subnet"))
            attrs = dict(attrs, cidr=str(cidr), ip_version=cidr.version)
            if "gateway_ip" not in attrs:
                attrs["gateway_ip"] = ipam.default_gateway(cidr)
            if "allocation_pools" not in attrs:
                attrs["allocation_pools"] = ipam.default_pools(cidr, attrs["gateway_ip"])
            self._validate_subnet(cidr, attrs, None)
            attrs.setdefault("project_id", net_row.project_id)
            sub = Subnet(**attrs)
            session.add(sub)
            session.flush()
            session.refresh(net_row)
            context = SubnetContext(current=subnet_dict(sub), original=None,
                                    network=self._network_context(net_row, session=session),
                                    session=session)
            self.mech.precommit("create_subnet_precommit", context)
            return sub.id, context

    def create_subnet(self, attrs: dict[str, Any]) -> dict[str, Any]:
        subnet_id, context = self._create_subnet_txn(dict(attrs))
        context.session = context.network.session = None
        try:
            self.mech.postcommit("create_subnet_postcommit", context)
        except exc.NeutronError:
            self.delete_subnet(subnet_id)
            raise
        return context.current

    def get_subnet(self, subnet_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            return subnet_dict(self._subnet_or_404(session, subnet_id))

    def list_subnets(self, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        with self.db.read() as session:
            stmt = select(Subnet.__table__).where(*where_clauses(SUBNET_COLUMNS, query.filters))
            rows, more = sorted_page(session, stmt, SUBNET_COLUMNS, Subnet.__table__.c.id, query)
            return [subnet_dict(r) for r in rows], more

    @retry_on_conflict
    def _update_subnet_txn(self, subnet_id: str, attrs: dict[str, Any],
                           if_match: int | None) -> SubnetContext:
        with self.db.write() as session:
            sub = self._subnet_or_404(session, subnet_id)
            _check_revision(sub, if_match)
            original = subnet_dict(sub)
            cidr = ipaddress.ip_network(sub.cidr)
            self._validate_subnet(cidr, attrs, sub)
            if _apply(sub, attrs):
                touch(sub)
                session.flush()
            context = SubnetContext(current=subnet_dict(sub), original=original,
                                    network=self._network_context(sub.network, session=session),
                                    session=session)
            self.mech.precommit("update_subnet_precommit", context)
            return context

    def update_subnet(self, subnet_id: str, attrs: dict[str, Any],
                      if_match: int | None = None) -> dict[str, Any]:
        context = self._update_subnet_txn(subnet_id, attrs, if_match)
        context.session = context.network.session = None
        self.mech.postcommit("update_subnet_postcommit", context)
        return context.current

    @retry_on_conflict
    def _delete_subnet_txn(self, subnet_id: str, if_match: int | None) -> SubnetContext:
        with self.db.write() as session:
            sub = self._subnet_or_404(session, subnet_id)
            _check_revision(sub, if_match)
            if session.scalar(select(IPAllocation.ip_address).where(
                    IPAllocation.subnet_id == subnet_id).limit(1)):
                raise exc.SubnetInUse(subnet_id=subnet_id)
            context = SubnetContext(current=subnet_dict(sub), original=None,
                                    network=self._network_context(sub.network, session=session),
                                    session=session)
            self.mech.precommit("delete_subnet_precommit", context)
            session.delete(sub)
            return context

    def delete_subnet(self, subnet_id: str, if_match: int | None = None) -> None:
        context = self._delete_subnet_txn(subnet_id, if_match)
        context.session = context.network.session = None
        self.mech.postcommit("delete_subnet_postcommit", context)

    # ------------------------------------------------------------------ ports

    def _port_or_404(self, session: Session, port_id: str, for_update: bool = False) -> Port:
        port = session.get(Port, port_id, with_for_update=for_update and not self.db.is_sqlite)
        if port is None:
            raise exc.PortNotFound(port_id=port_id)
        return port

    def port_context(self, session: Session, port: Port, original: dict | None = None,
                     original_segment: dict | None = None, original_driver: str | None = None,
                     net: Network | RowView | None = None) -> PortContext:
        """The PortContext of *port* as it is now in *session* (B1)."""
        net = net or session.get(Network, port.network_id)
        segment = next((segment_dict(s) for s in net.segments if s.id == port.bound_segment_id), None)
        return PortContext(current=orm_port_dict(port), original=original,
                           network=self._network_context(net, session=session),
                           bound_segment=segment, bound_driver=port.bound_driver,
                           original_bound_segment=original_segment,
                           original_bound_driver=original_driver, session=session)

    def _allocate_ips(self, session: Session, port: Port, net: Network,
                      requested: list[dict[str, Any]] | None, keep: set[tuple[str, str]]) -> None:
        """Give *port* the addresses *requested* (or defaults), keeping those in *keep*."""
        subnets = {s.id: s for s in net.subnets}
        if requested is None:
            wanted: list[dict[str, Any]] = []
            for version in (4, 6):
                candidates = [s for s in net.subnets if s.ip_version == version]
                if candidates:
                    wanted.append({"subnets": candidates})
        else:
            wanted = []
            for item in requested:
                subnet_id, ip = item.get("subnet_id"), item.get("ip_address")
                if subnet_id is not None and subnet_id not in subnets:
                    raise exc.InvalidInput(error_message=(
                        f"Failed to create port on network {net.id}, because fixed_ips "
                        f"included invalid subnet {subnet_id}"))
                if ip is not None:
                    addr = ipaddress.ip_address(ip)
                    owner = subnets.get(subnet_id) if subnet_id else next(
                        (s for s in net.subnets if addr in ipaddress.ip_network(s.cidr)), None)
                    if owner is None or not ipam.is_host_address(
                            ipaddress.ip_network(owner.cidr), addr):
                        raise exc.InvalidIpForSubnet(ip_address=ip)
                    wanted.append({"subnet": owner, "ip": str(addr)})
                else:
                    wanted.append({"subnets": [subnets[subnet_id]]})
        allocations: list[tuple[str, str]] = []
        wanted.sort(key=lambda w: "ip" not in w)  # explicit addresses first
        for item in wanted:
            if "ip" in item:
                sub, ip = item["subnet"], item["ip"]
                if (sub.id, ip) not in keep:
                    is_router = port.device_owner.startswith("network:router")
                    taken = session.get(IPAllocation, (sub.id, ip)) is not None
                    if taken or (ip == sub.gateway_ip and not is_router):
                        raise exc.IpAddressAlreadyAllocated(ip=ip, subnet_id=sub.id)
                allocations.append((sub.id, ip))
                continue
            for sub in item["subnets"]:
                # An update asking for "an address on this subnet" keeps the one it has.
                kept = sorted(ip for sid, ip in keep
                              if sid == sub.id and (sid, ip) not in allocations)
                if requested is not None and kept:
                    allocations.append((sub.id, kept[0]))
                    break
                free = ipam.choose_free(
                    sub.allocation_pools, {ip for sid, ip in allocations if sid == sub.id},
                    is_taken=lambda ip, sid=sub.id: session.scalar(
                        IS_TAKEN, {"subnet_id": sid, "ip": ip}) is not None,
                    all_taken=lambda sid=sub.id: session.scalars(TAKEN, {"subnet_id": sid}))
                if free:
                    allocations.append((sub.id, free))
                    break
            else:
                raise exc.IpAddressGenerationFailure(net_id=net.id)
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
                                                   network_id=net.id))

    def _check_mac(self, session: Session, net_id: str, mac: str, port_id: str | None) -> None:
        other = session.scalar(select(Port.id).where(Port.network_id == net_id,
                                                     Port.mac_address == mac))
        if other is not None and other != port_id:
            raise exc.MacAddressInUse(net_id=net_id, mac=mac)

    @retry_on_conflict
    def _create_port_txn(self, attrs: dict[str, Any]) -> tuple[str, PortContext]:
        with self.db.write() as session:
            net = self._network_view(session, attrs["network_id"])
            mac = attrs.get("mac_address")
            if mac is None:
                # OS randomness: the global PRNG may be seeded by a library (or share its
                # state with a forked sibling worker) and repeat the same MACs.
                mac = f"{MAC_PREFIX}:" + ":".join(f"{b:02x}" for b in os.urandom(3))
            else:
                self._check_mac(session, net.id, mac, None)
            binding = {k: attrs.pop(k) for k in BINDING_ATTRS if k in attrs}
            # Built as an ORM object (allocation and PortContext read it) but written
            # with two plain INSERTs: the unit of work's flush cost a third of a create.
            now = utcnow()
            port = Port(
                id=new_id(), revision_number=1, created_at=now, updated_at=now,
                network_id=net.id, mac_address=mac,
                project_id=attrs.get("project_id") or net.project_id,
                name=attrs.get("name", ""), description=attrs.get("description", ""),
                admin_state_up=attrs.get("admin_state_up", True),
                device_id=attrs.get("device_id", ""), device_owner=attrs.get("device_owner", ""),
                host=binding.get("binding:host_id") or "",
                vnic_type=binding.get("binding:vnic_type") or "normal",
                profile=binding.get("binding:profile") or {}, vif_type=VIF_TYPE_UNBOUND,
                vif_details={}, status="DOWN")
            port.status_reason = reasons.BINDING if port.host else reasons.NO_HOST
            port.fixed_ips = []
            self._allocate_ips(session, port, net, attrs.get("fixed_ips"), set())
            session.execute(PORT_INSERT, _row(port))
            if port.fixed_ips:
                session.execute(IP_INSERT, [dict(_row(a), port_id=port.id) for a in port.fixed_ips])
            context = self.port_context(session, port, net=net)
            self.mech.precommit("create_port_precommit", context)
            return port.id, context

    def create_port(self, attrs: dict[str, Any]) -> dict[str, Any]:
        port_id, context = self._create_port_txn(dict(attrs))
        context.session = context.network.session = None
        try:
            self.mech.postcommit("create_port_postcommit", context)
        except exc.NeutronError:
            self.delete_port(port_id)
            raise
        if context.current["binding:host_id"]:
            return self.binder.bind(port_id, context) or context.current
        return context.current

    def get_port(self, port_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            conn = session.connection()  # plain SELECTs: a show is the most frequent request
            row = conn.execute(PORT_BY_ID, {"id": port_id}).first()
            if row is None:
                raise exc.PortNotFound(port_id=port_id)
            port = port_dict(row, [{"subnet_id": sid, "ip_address": ip}
                                   for sid, ip in conn.execute(IPS_OF_PORT, {"id": port_id})])
        if port["binding:host_id"] and port["binding:vif_type"] in (
                VIF_TYPE_UNBOUND, VIF_TYPE_BINDING_FAILED):
            port = self.binder.bind(port_id) or port  # B4
        return port

    def list_ports(self, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        filters = dict(query.filters)
        fixed_ip_filters = filters.pop("fixed_ips", None)
        with self.db.read() as session:
            stmt = select(Port.__table__).where(*where_clauses(PORT_COLUMNS, filters))
            if fixed_ip_filters:
                stmt = stmt.where(Port.id.in_(_fixed_ip_filter(fixed_ip_filters)))
            rows, more = sorted_page(session, stmt, PORT_COLUMNS, Port.__table__.c.id, query)
            ips: dict[str, list] = {r.id: [] for r in rows}
            if len(rows) > 500 and not filters and not fixed_ip_filters:
                allocs = session.execute(select(IPAllocation.port_id, IPAllocation.subnet_id,
                                                IPAllocation.ip_address))
                for pid, sid, ip in allocs:
                    if pid in ips:
                        ips[pid].append({"subnet_id": sid, "ip_address": ip})
            else:
                for chunk in _chunks(list(ips)):
                    for pid, sid, ip in session.execute(select(
                            IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address
                            ).where(IPAllocation.port_id.in_(chunk))):
                        ips[pid].append({"subnet_id": sid, "ip_address": ip})
            ports = [port_dict(r, sorted(ips[r.id], key=lambda a: a["ip_address"])) for r in rows]
        unbound = [p["id"] for p in ports if p["binding:host_id"]
                   and p["binding:vif_type"] == VIF_TYPE_UNBOUND]
        if unbound:  # B4: a binding interrupted by a crash is finished on read
            fresh = {pid: self.binder.bind(pid) for pid in unbound}
            ports = [fresh.get(p["id"]) or p for p in ports]
        return ports, more

    @retry_on_conflict
    def _update_port_txn(self, port_id: str, attrs: dict[str, Any],
                         if_match: int | None) -> PortContext:
        with self.db.write() as session:
            port = self._port_or_404(session, port_id, for_update=True)
            _check_revision(port, if_match)
            net = self._network_view(session, port.network_id)
            original = orm_port_dict(port)
            was_bound = port.vif_type not in (VIF_TYPE_UNBOUND, VIF_TYPE_BINDING_FAILED)
            original_segment = next((segment_dict(s) for s in net.segments
                                     if s.id == port.bound_segment_id), None)
            original_driver = port.bound_driver
            if "mac_address" in attrs and attrs["mac_address"] != port.mac_address:
                if was_bound:
                    raise exc.PortBound(port_id=port_id, vif_type=port.vif_type,
                                        old_mac=port.mac_address, new_mac=attrs["mac_address"])
                self._check_mac(session, net.id, attrs["mac_address"], port.id)
            binding = {k: attrs.pop(k) for k in BINDING_ATTRS if k in attrs}
            new_binding = {"host": binding.get("binding:host_id", port.host) or "",
                           "vnic_type": binding.get("binding:vnic_type", port.vnic_type) or "normal",
                           "profile": binding.get("binding:profile", port.profile) or {}}
            rebind = any(getattr(port, k) != v for k, v in new_binding.items())
            touched = set(attrs)
            if "fixed_ips" in attrs:
                keep = {(a.subnet_id, a.ip_address) for a in port.fixed_ips}
                self._allocate_ips(session, port, net, attrs.pop("fixed_ips"), keep)
            changed = _apply(port, attrs)
            if rebind:
                # 3b/3d: the old binding (if any) is torn down in this transaction;
                # the new one is attempted after commit.
                _apply(port, new_binding)
                port.vif_type, port.vif_details = VIF_TYPE_UNBOUND, {}
                port.bound_segment_id = port.bound_driver = None
                port.status = "DOWN"
                port.status_reason = reasons.BINDING if port.host else reasons.NO_HOST
            if changed or rebind or "fixed_ips" in touched:
                touch(port)
                session.flush()
            context = self.port_context(session, port, original, original_segment, original_driver,
                                        net=net)
            self.mech.precommit("update_port_precommit", context)
            return context

    def update_port(self, port_id: str, attrs: dict[str, Any],
                    if_match: int | None = None) -> dict[str, Any]:
        context = self._update_port_txn(port_id, dict(attrs), if_match)
        context.session = context.network.session = None
        self.mech.postcommit("update_port_postcommit", context)
        current = context.current
        if current["binding:host_id"] and current["binding:vif_type"] == VIF_TYPE_UNBOUND:
            return self.binder.bind(port_id) or current
        return current

    @retry_on_conflict
    def _delete_port_txn(self, port_id: str, if_match: int | None) -> PortContext:
        with self.db.write() as session:
            conn = session.connection()  # plain statements: no ORM load and flush to delete
            row = conn.execute(PORT_BY_ID if self.db.is_sqlite else PORT_FOR_UPDATE,
                               {"id": port_id}).first()
            if row is None:
                raise exc.PortNotFound(port_id=port_id)
            _check_revision(row, if_match)
            port = RowView(row, fixed_ips=conn.execute(IPS_OF_PORT, {"id": port_id}).all())
            context = self.port_context(  # 5: current = the port before deletion
                session, port, net=self._network_view(session, row.network_id))
            self.mech.precommit("delete_port_precommit", context)
            conn.execute(DELETE_PORT_IPS, {"id": port_id})
            if conn.execute(DELETE_PORT, {"id": port_id, "revision": row.revision_number}
                            ).rowcount != 1:
                raise StaleDataError(f"port {port_id} changed while being deleted")
            return context

    def delete_port(self, port_id: str, if_match: int | None = None) -> None:
        context = self._delete_port_txn(port_id, if_match)
        context.session = context.network.session = None
        self.mech.postcommit("delete_port_postcommit", context)

    # ------------------------------------------------------------------ backend reports

    def list_all_ports(self) -> list[dict[str, Any]]:
        """Every port, without triggering binding (for backends' full resyncs)."""
        with self.db.read() as session:
            rows = session.execute(select(Port.__table__)).all()
            ips: dict[str, list] = {r.id: [] for r in rows}
            for pid, sid, ip in session.execute(select(
                    IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)):
                if pid in ips:
                    ips[pid].append({"subnet_id": sid, "ip_address": ip})
            return [port_dict(r, sorted(ips[r.id], key=lambda a: a["ip_address"])) for r in rows]

    def port_without_binding(self, port_id: str) -> dict[str, Any] | None:
        with self.db.read() as session:
            port = session.get(Port, port_id)
            return orm_port_dict(port) if port is not None else None

    def set_port_statuses(self, updates: list[tuple[str, str, str | None]]) -> list[str]:
        transitions = self._set_statuses(Port, updates)
        if transitions:
            self.notifier.port_statuses_changed(transitions)
            self._observe_bound_to_active([t["port_id"] for t in transitions
                                           if t["status"] == "ACTIVE"])
        return [t["port_id"] for t in transitions]

    def _observe_bound_to_active(self, port_ids: list[str]) -> None:
        """Feed the binding-to-ACTIVE histogram from the event log: for each port whose
        ACTIVE just written is its first since its latest binding, the time since then.

        A later ACTIVE (after a flap) is not a binding's, and observing it would pile
        the time since an old binding into the histogram's top bucket.
        """
        if not port_ids:
            return
        now = time.time()
        bound_at: dict[str, float] = {}
        actives: dict[str, int] = {}
        with self.db.read_engine.connect() as conn:
            for pid, when, status, reason in conn.execute(BINDINGS_AND_ACTIVES, {"ids": port_ids}):
                if reason and reason.startswith(reasons.BOUND_PREFIX):
                    bound_at[pid], actives[pid] = when, 0
                elif status == "ACTIVE" and pid in bound_at:
                    actives[pid] += 1
        for pid, when in bound_at.items():
            if actives[pid] == 1:  # the one just written
                BOUND_TO_ACTIVE.observe(max(0.0, now - when))

    def set_network_statuses(self, updates: list[tuple[str, str, str | None]]) -> list[str]:
        return [t["port_id"] for t in self._set_statuses(Network, updates)]

    @retry_on_conflict
    def _set_statuses(self, model: type, updates: list[tuple[str, str, str | None]]) -> list[dict]:
        """Write statuses in one transaction; only rows whose status or reason differ change.

        Returns the transitions: id, device id, old and new status, reason.
        """
        transitions = []
        table = model.__table__
        resource = "port" if model is Port else "network"
        device = table.c.device_id if model is Port else table.c.name
        # One executemany per statement and chunk: a full resync of 10k ports
        # is a handful of round trips, not 20k.
        set_status = update(table).where(table.c.id == bindparam("b_id")).values(
            status=bindparam("b_status"), status_reason=bindparam("b_reason"),
            updated_at=bindparam("b_now"), revision_number=table.c.revision_number + 1)
        with self.db.write() as session:
            conn = session.connection()
            for chunk in _chunks(updates):
                current = {r.id: r for r in conn.execute(
                    select(table.c.id, table.c.status, table.c.status_reason, table.c.project_id,
                           device.label("device"))
                    .where(table.c.id.in_([u[0] for u in chunk])))}
                now, stamp = utcnow(), time.time()
                changes, events = [], []
                for res_id, status, reason in chunk:
                    reason = None if status == "ACTIVE" else reason
                    row = current.get(res_id)
                    if row is None or (row.status, row.status_reason) == (status, reason):
                        continue
                    changes.append({"b_id": res_id, "b_status": status, "b_reason": reason,
                                    "b_now": now})
                    events.append(status_event(
                        resource, res_id, row.project_id, row.device if model is Port else "",
                        status, reason, stamp))
                    STATUS_TRANSITIONS.labels(resource, status).inc()
                    transitions.append({"port_id": res_id, "device_id": row.device,
                                        "old_status": row.status, "status": status,
                                        "status_reason": reason})
                if changes:
                    conn.execute(set_status, changes)
                    conn.execute(insert(StatusEvent.__table__), events)
        if transitions:
            self.doorbell.ring()
        return transitions

    def rebind_ports(self, port_ids: list[str]) -> None:
        for port_id in port_ids:
            self.binder.bind(port_id)

    def list_agents(self) -> list[dict[str, Any]]:
        return self.mech.list_agents()


def all_healthy(components: dict[str, Any]) -> bool:
    """Whether every component of :meth:`Plugin.health` says it is healthy."""
    return all(c.get("healthy", True) for c in components.values())


def _apply(row: Any, attrs: dict[str, Any]) -> bool:
    changed = False
    for key, value in attrs.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def _check_revision(row: Any, if_match: int | None) -> None:
    if if_match is not None and row.revision_number != if_match:
        raise exc.PreconditionFailed(required=if_match, resource_id=row.id,
                                     current=row.revision_number)


def _chunks(items: list, size: int = 500) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


def _fixed_ip_filter(values: list[str]) -> Any:
    """Port ids matching ``fixed_ips=ip_address=X`` / ``fixed_ips=subnet_id=Y`` filters."""
    clauses = []
    for value in values:
        key, _, wanted = value.partition("=")
        if key not in ("ip_address", "subnet_id") or not wanted:
            raise exc.BadRequest(resource="port", msg=f"invalid fixed_ips filter '{value}'")
        clauses.append(getattr(IPAllocation, key) == wanted)
    return select(IPAllocation.port_id).where(or_(*clauses))
