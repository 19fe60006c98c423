"""SQLAlchemy models: the desired state, and the source of truth.

Uniqueness that allocation relies on lives in constraints, not in code:
two requests racing for the same IP, MAC or segment id cannot both commit;
the loser retries (see ``neutrino.db.session.retry_on_conflict``).
"""
from __future__ import annotations

import datetime as dt
import time
import uuid
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    UniqueConstraint,
    and_,
    exists,
    select,
    text,
)
from sqlalchemy.orm import (
    DeclarativeBase,
    Mapped,
    column_property,
    declared_attr,
    foreign,
    mapped_column,
    relationship,
)
from sqlalchemy.orm.attributes import flag_modified


def new_id() -> str:
    return str(uuid.uuid4())


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)


def touch(row: StandardAttrs) -> None:
    """Mark *row* changed so its flush bumps the revision even if no column moved
    (e.g. only its IP allocations changed)."""
    row.updated_at = utcnow()
    flag_modified(row, "updated_at")


class Base(DeclarativeBase):
    type_annotation_map = {dict[str, Any]: JSON, list[Any]: JSON}

    if TYPE_CHECKING:
        # Every model here is mapped to a Table (SQLAlchemy types it as any FromClause),
        # which the Core insert()/update()/delete() of the hot paths take.
        __table__: ClassVar[Table]


class StandardAttrs:
    """Columns every API resource has (Neutron's "standard attributes")."""

    __tablename__: str

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    project_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    name: Mapped[str] = mapped_column(String(255), default="")
    description: Mapped[str] = mapped_column(String(255), default="")
    revision_number: Mapped[int] = mapped_column(Integer, default=1, nullable=False)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[dt.datetime] = mapped_column(DateTime, default=utcnow)

    @declared_attr.directive
    def __mapper_args__(cls) -> dict[str, Any]:
        # Every flush of a changed row bumps revision_number and checks that
        # nobody else changed the row meanwhile (optimistic locking).
        return {"version_id_col": cls.revision_number}

    @declared_attr
    def tags(cls) -> Mapped[list[Tag]]:
        """The resource's tags, read along with it (an extra SELECT per load), so every
        rendering of an ORM object has them; written only by ``neutrino.core.tags``."""
        return relationship(
            "Tag", viewonly=True, lazy="selectin",
            primaryjoin=lambda: and_(Tag.resource_type == cls.__tablename__,
                                     foreign(Tag.resource_id) == cls.id))


class Network(StandardAttrs, Base):
    """A network.  At most one is the default external network (``is_default``, extension
    ``auto-allocated-topology``): a partial unique index, so two concurrent requests
    cannot both make one."""

    __tablename__ = "networks"
    __table_args__ = (Index("uniq_networks_default", "is_default", unique=True,
                            sqlite_where=text("is_default"), postgresql_where=text("is_default")),)

    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="BUILD")
    status_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    mtu: Mapped[int] = mapped_column(Integer, default=1500)
    #: The default of the network's new ports.
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: dns-integration: the domain its ports' names are under ("" for none).
    dns_domain: Mapped[str] = mapped_column(String(255), default="")
    #: The external network auto-allocated topologies take as their routers' gateway;
    #: only an external network is (``neutrino.core.networks`` keeps it so).
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    if TYPE_CHECKING:
        # Mapped below :class:`RbacPolicy`, whose rows they are read from.
        shared: Mapped[bool]
        external: Mapped[bool]

    segments: Mapped[list[NetworkSegment]] = relationship(
        back_populates="network", order_by="NetworkSegment.segment_index",
        cascade="all, delete-orphan", lazy="joined")
    subnets: Mapped[list[Subnet]] = relationship(
        back_populates="network", lazy="joined", order_by="Subnet.created_at")


class NetworkSegment(Base):
    """One segment of a network; ``allocation_key`` makes allocation race-free.

    ``allocation_key`` is ``vlan:<physnet>:<id>``, ``geneve:<vni>`` or
    ``flat:<physnet>``; it is unique, so a VLAN id, a VNI or a flat physical
    network can belong to one segment only.  Local segments leave it NULL.
    """

    __tablename__ = "network_segments"

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    network_type: Mapped[str] = mapped_column(String(32))
    physical_network: Mapped[str | None] = mapped_column(String(64), nullable=True)
    segmentation_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    segment_index: Mapped[int] = mapped_column(Integer, default=0)
    #: Whether the tenant pool chose it (released back) or the client did.
    is_dynamic: Mapped[bool] = mapped_column(Boolean, default=False)
    allocation_key: Mapped[str | None] = mapped_column(String(128), nullable=True, unique=True)

    network: Mapped[Network] = relationship(back_populates="segments")


class Subnet(StandardAttrs, Base):
    __tablename__ = "subnets"

    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    cidr: Mapped[str] = mapped_column(String(64))
    ip_version: Mapped[int] = mapped_column(Integer)
    gateway_ip: Mapped[str | None] = mapped_column(String(64), nullable=True)
    enable_dhcp: Mapped[bool] = mapped_column(Boolean, default=True)
    allocation_pools: Mapped[list[Any]] = mapped_column(default=list)
    dns_nameservers: Mapped[list[Any]] = mapped_column(default=list)
    host_routes: Mapped[list[Any]] = mapped_column(default=list)
    ipv6_ra_mode: Mapped[str | None] = mapped_column(String(32), nullable=True)
    ipv6_address_mode: Mapped[str | None] = mapped_column(String(32), nullable=True)
    #: The device owners whose ports take addresses from it (``subnet-service-types``);
    #: empty: every port's.
    service_types: Mapped[list[Any]] = mapped_column(default=list)
    #: The pool its cidr was allocated from (``subnet_allocation``), if any.
    subnetpool_id: Mapped[str | None] = mapped_column(
        ForeignKey("subnetpools.id"), nullable=True, index=True)
    if TYPE_CHECKING:
        # Mapped below :class:`SubnetPool`: its pool's address scope, read with it.
        address_scope_id: Mapped[str | None]
        # Mapped below :class:`RbacPolicy`: its network's ``router:external``.
        external: Mapped[bool]

    network: Mapped[Network] = relationship(back_populates="subnets")


class AddressScope(StandardAttrs, Base):
    """An address scope (``address-scope``): the subnet pools in it never overlap, so
    addresses of one scope are unique wherever they are routed."""

    __tablename__ = "address_scopes"

    ip_version: Mapped[int] = mapped_column(Integer)
    if TYPE_CHECKING:
        # Mapped below :class:`RbacPolicy`, as a network's.
        shared: Mapped[bool]


class SubnetPool(StandardAttrs, Base):
    """A pool of prefixes that subnets take their cidrs from (``subnet_allocation``).

    ``prefixes`` is the compacted list of the pool's cidrs (Neutron's order:
    by address).  At most one pool per IP version is the default
    (``default-subnetpools``): a partial unique index, so two concurrent
    requests cannot both make one.
    """

    __tablename__ = "subnetpools"
    __table_args__ = (Index("uniq_subnetpools_default_ip_version", "ip_version", unique=True,
                            sqlite_where=text("is_default"), postgresql_where=text("is_default")),)

    ip_version: Mapped[int] = mapped_column(Integer)
    prefixes: Mapped[list[Any]] = mapped_column(default=list)
    default_prefixlen: Mapped[int] = mapped_column(Integer)
    min_prefixlen: Mapped[int] = mapped_column(Integer)
    max_prefixlen: Mapped[int] = mapped_column(Integer)
    is_default: Mapped[bool] = mapped_column(Boolean, default=False)
    #: Addresses (IPv4) or /64s (IPv6) a project may take from the pool; None: no limit.
    default_quota: Mapped[int | None] = mapped_column(Integer, nullable=True)
    #: No cascade: a scope with pools cannot be deleted (``AddressScopeInUse``).
    address_scope_id: Mapped[str | None] = mapped_column(
        ForeignKey("address_scopes.id"), nullable=True, index=True)
    if TYPE_CHECKING:
        shared: Mapped[bool]


class Port(StandardAttrs, Base):
    __tablename__ = "ports"
    __table_args__ = (UniqueConstraint("network_id", "mac_address", name="uniq_ports_network_mac"),)

    network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    mac_address: Mapped[str] = mapped_column(String(32))
    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    status_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    device_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    device_owner: Mapped[str] = mapped_column(String(255), default="")
    # Binding (portbinding extension): the request ...
    host: Mapped[str] = mapped_column(String(255), default="")
    vnic_type: Mapped[str] = mapped_column(String(64), default="normal")
    profile: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # ... and its result.
    vif_type: Mapped[str] = mapped_column(String(64), default="unbound")
    vif_details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    bound_segment_id: Mapped[str | None] = mapped_column(String(36), nullable=True)
    bound_driver: Mapped[str | None] = mapped_column(String(64), nullable=True)
    port_security_enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    #: ``[{"ip_address": IP or CIDR, "mac_address": MAC}]``, the MAC filled in when written.
    allowed_address_pairs: Mapped[list[Any]] = mapped_column(default=list)
    #: dns-integration and dns-domain-ports: the port's name and domain ("" for none).
    dns_name: Mapped[str] = mapped_column(String(255), default="")
    dns_domain: Mapped[str] = mapped_column(String(255), default="")

    fixed_ips: Mapped[list[IPAllocation]] = relationship(
        cascade="all, delete-orphan", lazy="selectin", order_by="IPAllocation.ip_address")
    #: The groups the port is in; written only by ``neutrino.core.ports``.
    security_group_bindings: Mapped[list[PortSecurityGroup]] = relationship(
        viewonly=True, lazy="selectin", order_by="PortSecurityGroup.security_group_id")
    #: Its extra DHCP options; written only by ``neutrino.core.extra_dhcp_opts``.
    dhcp_opts: Mapped[list[ExtraDhcpOpt]] = relationship(
        viewonly=True, lazy="selectin",
        order_by="(ExtraDhcpOpt.ip_version, ExtraDhcpOpt.opt_name)")


class RbacPolicy(Base):
    """One grant of access to one object (``rbac-policies``): *action* on object
    *object_type*/*object_id* for project *target_project*, or every project (``*``).

    One table for every object type, keyed by its API name, so a new shareable
    resource needs no table of its own, and every project's policies list, sort
    and page as one collection.  A network's ``shared`` is its ``*``
    ``access_as_shared`` policy (no column holds it, as in Neutron), and it is
    ``router:external`` while it has an ``access_as_external`` policy.
    """

    __tablename__ = "rbac_policies"
    __table_args__ = (UniqueConstraint("object_type", "object_id", "action", "target_project",
                                       name="uniq_rbac_policies_grant"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True, default=new_id)
    #: The project that made the grant (whose member may change or revoke it).
    project_id: Mapped[str] = mapped_column(String(255), default="", index=True)
    object_type: Mapped[str] = mapped_column(String(64))
    object_id: Mapped[str] = mapped_column(String(36))
    action: Mapped[str] = mapped_column(String(255))
    target_project: Mapped[str] = mapped_column(String(255))


ACCESS_SHARED, ACCESS_EXTERNAL, WILDCARD = "access_as_shared", "access_as_external", "*"


def _policy(object_type: str, model: type[StandardAttrs], action: str) -> Any:
    return exists().where(RbacPolicy.object_type == object_type,
                          RbacPolicy.object_id == model.id, RbacPolicy.action == action)


def _shared_with_all(object_type: str, model: type[StandardAttrs]) -> Any:
    return column_property(_policy(object_type, model, ACCESS_SHARED).where(
        RbacPolicy.target_project == WILDCARD))


# Read with the object in its own SELECT, as columns would be: ``shared`` as every
# project sees it (its ``*`` access_as_shared policy), and a network's ``router:external``
# (extension ``external-net``: any access_as_external policy, Neutron's invariant).
Network.shared = _shared_with_all("network", Network)
Network.external = column_property(_policy("network", Network, ACCESS_EXTERNAL))
AddressScope.shared = _shared_with_all("address_scope", AddressScope)
SubnetPool.shared = _shared_with_all("subnetpool", SubnetPool)
#: A subnet's ``router:external`` is its network's (extension ``subnet-external-network``).
Subnet.external = column_property(exists().where(
    RbacPolicy.object_type == "network", RbacPolicy.object_id == Subnet.network_id,
    RbacPolicy.action == ACCESS_EXTERNAL))
#: A subnet's address scope is its pool's (networks show theirs, ``ipv4_address_scope``).
Subnet.address_scope_id = column_property(select(SubnetPool.address_scope_id).where(
    SubnetPool.id == Subnet.subnetpool_id).scalar_subquery())


class Router(StandardAttrs, Base):
    """A logical router (extension ``router``).

    Its interfaces are ports: those with ``device_id`` the router's id and
    ``device_owner`` ``network:router_interface``; its gateway is the port
    ``gw_port_id`` (``network:router_gateway``), which belongs to no project.
    """

    __tablename__ = "routers"

    admin_state_up: Mapped[bool] = mapped_column(Boolean, default=True)
    status: Mapped[str] = mapped_column(String(16), default="ACTIVE")
    status_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    gw_port_id: Mapped[str | None] = mapped_column(ForeignKey("ports.id"), nullable=True)
    enable_snat: Mapped[bool] = mapped_column(Boolean, default=True)
    #: Extra routes (``extraroute``): ``[{"destination": cidr, "nexthop": ip}]``.
    routes: Mapped[list[Any]] = mapped_column(default=list)


class AutoAllocatedTopology(Base):
    """A project's auto-allocated topology (``auto-allocated-topology``): its network and
    the router that connects it to the default external network.

    The project is the primary key: of concurrent requests that each build one, the
    first to commit keeps its topology and the others roll theirs back and read it.
    The row goes with its network (the topology is gone); a router deleted under it
    leaves it without one (``router_id`` null).
    """

    __tablename__ = "auto_allocated_topologies"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    network_id: Mapped[str] = mapped_column(
        ForeignKey("networks.id", ondelete="CASCADE"), index=True)
    router_id: Mapped[str | None] = mapped_column(
        ForeignKey("routers.id", ondelete="SET NULL"), nullable=True, index=True)


class FloatingIP(StandardAttrs, Base):
    """A floating IP: an address of an external network's port (``network:floatingip``,
    of no project), NATed to a fixed IP of a port behind a router.

    The unique constraint makes "one floating IP per fixed IP and external network"
    race-free (``FloatingIPPortAlreadyAssociated``).
    """

    __tablename__ = "floatingips"
    __table_args__ = (UniqueConstraint("floating_network_id", "fixed_port_id",
                                       "fixed_ip_address", name="uniq_floatingips_fixed"),)

    floating_network_id: Mapped[str] = mapped_column(ForeignKey("networks.id"), index=True)
    floating_port_id: Mapped[str] = mapped_column(ForeignKey("ports.id"), unique=True)
    floating_ip_address: Mapped[str] = mapped_column(String(64))
    fixed_port_id: Mapped[str | None] = mapped_column(ForeignKey("ports.id"), nullable=True,
                                                      index=True)
    fixed_ip_address: Mapped[str | None] = mapped_column(String(64), nullable=True)
    router_id: Mapped[str | None] = mapped_column(ForeignKey("routers.id"), nullable=True,
                                                  index=True)
    status: Mapped[str] = mapped_column(String(16), default="DOWN")
    status_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: dns-integration: the name and domain a DNS service would publish the address
    #: under ("" for none); set at create only, both or neither (docs/api.md).
    dns_name: Mapped[str] = mapped_column(String(255), default="")
    dns_domain: Mapped[str] = mapped_column(String(255), default="")


class IPAllocation(Base):
    __tablename__ = "ip_allocations"
    __table_args__ = (Index("ix_ip_allocations_ip", "ip_address"),)

    subnet_id: Mapped[str] = mapped_column(ForeignKey("subnets.id"), primary_key=True)
    ip_address: Mapped[str] = mapped_column(String(64), primary_key=True)
    port_id: Mapped[str] = mapped_column(ForeignKey("ports.id", ondelete="CASCADE"), index=True)
    network_id: Mapped[str] = mapped_column(String(36))


class ExtraDhcpOpt(Base):
    """One extra DHCP option of one port (``extra_dhcp_opt``): a name (or option
    number) and its value, for DHCPv4 or DHCPv6.  One value per name and version."""

    __tablename__ = "extra_dhcp_opts"

    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    opt_name: Mapped[str] = mapped_column(String(64), primary_key=True)
    ip_version: Mapped[int] = mapped_column(Integer, primary_key=True)
    opt_value: Mapped[str] = mapped_column(String(255))


class SecurityGroup(StandardAttrs, Base):
    __tablename__ = "security_groups"

    #: Whether its rules let replies through (connection tracking) or match one way only.
    stateful: Mapped[bool] = mapped_column(Boolean, default=True)


class DefaultSecurityGroup(Base):
    """A project's ``default`` group.  The primary key is what makes creating it on first
    use race-free: of two requests creating it at once, one commits, the other retries
    and finds it."""

    __tablename__ = "default_security_groups"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), unique=True)


class SecurityGroupRule(StandardAttrs, Base):
    """One rule of a group.  ``fingerprint`` is the rule's normalised meaning: unique per
    group, so two equal rules cannot both be committed, even by concurrent requests."""

    __tablename__ = "security_group_rules"
    __table_args__ = (UniqueConstraint("security_group_id", "fingerprint",
                                       name="uniq_security_group_rules_fingerprint"),)

    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), index=True)
    direction: Mapped[str] = mapped_column(String(16))
    ethertype: Mapped[str] = mapped_column(String(40))
    protocol: Mapped[str | None] = mapped_column(String(40), nullable=True)
    port_range_min: Mapped[int | None] = mapped_column(Integer, nullable=True)
    port_range_max: Mapped[int | None] = mapped_column(Integer, nullable=True)
    remote_ip_prefix: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: Rules naming a group as remote go with it (Neutron deletes them too).
    remote_group_id: Mapped[str | None] = mapped_column(
        ForeignKey("security_groups.id", ondelete="CASCADE"), nullable=True, index=True)
    fingerprint: Mapped[str] = mapped_column(String(255))


class PortSecurityGroup(Base):
    """A port's membership of a group.  No cascade from the group: a group with
    members cannot be deleted (``SecurityGroupInUse``)."""

    __tablename__ = "port_security_groups"

    port_id: Mapped[str] = mapped_column(
        ForeignKey("ports.id", ondelete="CASCADE"), primary_key=True)
    security_group_id: Mapped[str] = mapped_column(
        ForeignKey("security_groups.id"), primary_key=True, index=True)


class Tag(Base):
    """One tag of one resource (``standard-attr-tag``).

    One table for every resource type, keyed by the resource's table name, so a
    new resource needs no table of its own.  No foreign key can point at several
    tables: a trigger on each tagged table deletes a resource's tags with it, in
    the deleting statement, whichever code path deletes it (``neutrino.db.tag_cascade``).
    """

    __tablename__ = "tags"
    __table_args__ = (Index("ix_tags_resource_type_tag", "resource_type", "tag"),)

    resource_type: Mapped[str] = mapped_column(String(64), primary_key=True)
    resource_id: Mapped[str] = mapped_column(String(36), primary_key=True)
    tag: Mapped[str] = mapped_column(String(255), primary_key=True)


class Quota(Base):
    """A project's own limit on one resource (Neutron's ``quotas`` table).

    Only limits set through the API have a row; every other limit is the
    setting's default.  Usage is not stored: it is counted from the resource's
    own rows when a create is checked (``neutrino.core.quotas``), so no path
    that deletes a resource can leave a stale count behind.
    """

    __tablename__ = "quotas"

    project_id: Mapped[str] = mapped_column(String(255), primary_key=True)
    resource: Mapped[str] = mapped_column(String(255), primary_key=True)
    limit: Mapped[int] = mapped_column(Integer, nullable=False)


class Agent(Base):
    """What an admin set on an agent (``PUT /v2.0/agents/{id}``).

    Agents themselves are the backends' (OVN: its chassis, from SB) and come and go
    with them; a row holds only the attributes the API lets an admin change, for
    an agent that has had them changed.  Deleting the agent deletes its row.
    """

    __tablename__ = "agents"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    admin_state_up: Mapped[bool] = mapped_column(Boolean, nullable=False, default=True)
    description: Mapped[str] = mapped_column(String(255), nullable=False, default="")


class StatusEvent(Base):
    """An append-only log of status changes, tailed by API workers.

    It is what lets a client wait for a status (long-poll) or follow an
    event stream without polling, whichever process wrote the change.
    Written in the transaction that changes the status, so an event exists
    if and only if the change was committed.
    """

    __tablename__ = "status_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    resource: Mapped[str] = mapped_column(String(16))
    resource_id: Mapped[str] = mapped_column(String(36), index=True)
    project_id: Mapped[str] = mapped_column(String(255), default="")
    device_id: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16))
    status_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: Unix time with sub-second precision, for latency measurements.
    created_at: Mapped[float] = mapped_column(Float)


def status_event(resource: str, resource_id: str, project_id: str, device_id: str, status: str,
                 status_reason: str | None, created_at: float | None = None) -> dict[str, Any]:
    """The values of one :class:`StatusEvent` row, for ``insert(StatusEvent.__table__)``;
    stamped now unless *created_at* is given (a batch shares one stamp)."""
    return {"resource": resource, "resource_id": resource_id, "project_id": project_id,
            "device_id": device_id, "status": status, "status_reason": status_reason,
            "created_at": time.time() if created_at is None else created_at}
