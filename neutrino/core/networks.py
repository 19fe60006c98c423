"""Networks: create (with segments from the type drivers), read, list, update, delete."""
from __future__ import annotations

import collections
from collections.abc import Callable, Iterable
from typing import Any

from sqlalchemy import bindparam, func, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from neutrino.core import exceptions as exc
from neutrino.core.context import ADMIN, Context, owned
from neutrino.core.contexts import network_context
from neutrino.core.mech_manager import MechanismManager
from neutrino.core.query import ListQuery, check_visible, visible_page, where_clauses
from neutrino.core.rbac import Shareable
from neutrino.core.resources import (
    network_dict,
    orm_network_dict,
    orm_subnet_dict,
    segment_dict,
    timestamp,
)
from neutrino.core.rows import RowView, apply, check_revision, chunks
from neutrino.core.tags import Tagged
from neutrino.core.type_drivers import RESERVED_KEYS, TypeDriver
from neutrino.core.writes import Writes
from neutrino.db.models import (
    ACCESS_EXTERNAL,
    ACCESS_SHARED,
    WILDCARD,
    Network,
    NetworkSegment,
    Port,
    Router,
    Subnet,
    touch,
)
from neutrino.db.session import Database
from neutrino.drivers.api import ROUTER_GATEWAY, NetworkContext, SubnetContext
from neutrino.drivers.status import ACTIVE


def _columns() -> dict[str, Any]:
    c = Network.__table__.c
    return {"id": c.id, "name": c.name, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "status": c.status, "admin_state_up": c.admin_state_up,
            "mtu": c.mtu, "revision_number": c.revision_number,
            "created_at": c.created_at, "updated_at": c.updated_at,
            "router:external": Network.external,
            "port_security_enabled": c.port_security_enabled, "dns_domain": c.dns_domain,
            "is_default": c.is_default}


def _port_projects(session: Session, net_id: str) -> set[str]:
    """The projects with ports on the network (those of routers and floating IPs, which
    belong to no project, need no access)."""
    return set(session.scalars(select(Port.project_id).distinct().where(
        Port.network_id == net_id, Port.project_id != "")))


def _gateway_projects(session: Session, net_id: str) -> set[str]:
    """The projects of the routers whose gateway is on the network (Neutron refuses to
    revoke the access_as_external policy such a router depends on)."""
    gateways = select(Port.id).where(Port.network_id == net_id,
                                     Port.device_owner == ROUTER_GATEWAY)
    return set(session.scalars(select(Router.project_id).distinct().where(
        Router.gw_port_id.in_(gateways))))


def _pinned(session: Session, net_id: str, action: str, target: str) -> str | None:
    """The default external network keeps its ``*`` access_as_external policy (Neutron's
    rule): every project's auto-allocated router takes its gateway there."""
    if action == ACCESS_EXTERNAL and target == WILDCARD and session.scalar(
            select(Network.is_default).where(Network.id == net_id)):
        return "Default external networks must be shared to everyone."
    return None


#: Networks carry tags.
TAGGED = Tagged(Network, "network", lambda net_id: exc.NetworkNotFound(net_id=net_id))
#: Networks are shared through RBAC policies: with a project, or everyone (``shared``),
#: as a network of projects' ports or as an external network of their routers.
SHAREABLE = Shareable(Network, "network", lambda net_id: exc.NetworkNotFound(net_id=net_id),
                      (ACCESS_SHARED, ACCESS_EXTERNAL),
                      {ACCESS_SHARED: _port_projects, ACCESS_EXTERNAL: _gateway_projects},
                      pinned=_pinned)
#: Filterable attributes of a network listing (and ``shared``, see :func:`columns`).
COLUMNS = {**_columns(), **TAGGED.filters()}
#: Provider filters match networks with a segment that has all the values asked for.
SEGMENT_COLUMNS = {"provider:network_type": NetworkSegment.network_type,
                   "provider:physical_network": NetworkSegment.physical_network,
                   "provider:segmentation_id": NetworkSegment.segmentation_id}

SegmentRow = collections.namedtuple(
    "SegmentRow", ("id", "network_type", "physical_network", "segmentation_id"))
_SEGMENT_FIELDS = SegmentRow._fields
#: A network and its segments in one round trip (segment columns prefixed ``segment_``).
NETWORK_WITH_SEGMENTS = select(
    Network.__table__, Network.shared.label("shared"), Network.external.label("external"),
    *(NetworkSegment.__table__.c[f].label(f"segment_{f}") for f in _SEGMENT_FIELDS),
).select_from(Network.__table__.outerjoin(
    NetworkSegment.__table__, NetworkSegment.network_id == Network.id,
)).where(Network.id == bindparam("id")).order_by(NetworkSegment.segment_index)
#: What policy asks of a network for each port create and delete: its owner, ``shared``
#: as the project bound as ``project`` sees it, ``router:external``.
OWNER = select(Network.project_id,
               SHAREABLE.granted(bindparam("project"), (ACCESS_SHARED,)).label("shared"),
               Network.external.label("external")).where(Network.id == bindparam("id"))
SUBNETS_OF = select(Subnet.__table__, Subnet.address_scope_id.label(
    "address_scope_id")).where(
    Subnet.network_id == bindparam("id")).order_by(Subnet.created_at, Subnet.id)


def visible_networks(ctx: Context) -> ColumnElement | None:
    """The networks *ctx* may see: its project's and those shared with it, as a network
    or as an external one (None: all of them)."""
    return SHAREABLE.visible(ctx)


def shared_with(ctx: Context, id_column: Any = None) -> ColumnElement:
    """A network's (or a row's network's) ``shared`` as *ctx* sees it, as Neutron:
    shared with everyone, or with the caller's project."""
    return SHAREABLE.granted(ctx.project_id, (ACCESS_SHARED,), id_column)


def columns(ctx: Context) -> dict[str, Any]:
    """The filterable attributes of a network listing by *ctx*."""
    return {**COLUMNS, "shared": shared_with(ctx)}


def default_external_network(session: Session) -> str | None:
    """The id of the default external network, if there is one."""
    return session.scalar(select(Network.id).where(Network.is_default))


def _set_default(session: Session, net: Network, is_default: bool, external: bool) -> None:
    """Make *net* (*external* or not) the default external network or not: only an
    external network is (400), and only one (409 ``DefaultExternalNetworkExists``; the
    partial unique index settles races: the loser's transaction reruns, finds the winner)."""
    if is_default and not external:
        raise exc.InvalidInput(error_message=(
            "is_default applies to external networks only: set router:external to true"))
    if is_default and (other := default_external_network(session)) not in (None, net.id):
        raise exc.DefaultExternalNetworkExists(net_id=other)
    net.is_default = is_default


def check_network_visible(session: Session, ctx: Context, net_id: str) -> None:
    check_visible(session, visible_networks(ctx), Network.id, net_id,
                  exc.NetworkNotFound(net_id=net_id))


def network_or_404(session: Session, net_id: str) -> Network:
    net = session.get(Network, net_id)
    if net is None:
        raise exc.NetworkNotFound(net_id=net_id)
    return net


def network_view(session: Session, net_id: str) -> RowView:
    """The network with its segments and subnets, read-only (what a port's writes need)."""
    conn = session.connection()
    rows = conn.execute(NETWORK_WITH_SEGMENTS, {"id": net_id}).all()
    if not rows:
        raise exc.NetworkNotFound(net_id=net_id)
    segments = [SegmentRow(*(getattr(r, f"segment_{f}") for f in _SEGMENT_FIELDS))
                for r in rows if r.segment_id is not None]
    return RowView(rows[0], segments=segments,
                   subnets=conn.execute(SUBNETS_OF, {"id": net_id}).all(),
                   tags=TAGGED.rows(conn, net_id))


#: What a backend's status report changes of a network (a write it could not make
#: leaves the network BUILD with the reason: docs/behaviour.md S1).
REPORTED = select(Network.id, Network.status, Network.status_reason, Network.revision_number,
                  Network.updated_at).where(Network.id.in_(bindparam("ids", expanding=True)))


#: The smallest MTU each IP version works with (RFC 791, RFC 8200).
MIN_MTU = {4: 68, 6: 1280}


def check_mtu(mtu: int, max_mtu: int, ip_versions: Iterable[int] = ()) -> None:
    """*mtu* fits the segments (else 400) and the network's subnets (else 409, as Neutron:
    a network may have a small MTU until a subnet of a version that needs more is on it)."""
    if mtu > max_mtu:
        raise exc.InvalidInput(error_message=f"Requested MTU is too big, maximum is {max_mtu}")
    for version in sorted(set(ip_versions)):
        if mtu < MIN_MTU[version]:
            raise exc.Conflict(f"MTU {mtu} is too small for IPv{version} subnets: "
                               f"their minimum is {MIN_MTU[version]}")


class Networks:
    def __init__(self, db: Database, writes: Writes, mech: MechanismManager,
                 type_drivers: dict[str, TypeDriver], tenant_network_types: list[str]):
        self.db = db
        self.writes = writes
        self.mech = mech
        self.type_drivers = type_drivers
        self.tenant_network_types = tenant_network_types

    def _reserve_segments(self, session: Session, requested: list[dict[str, Any]]) -> list[dict]:
        if not requested:
            for network_type in self.tenant_network_types:
                segment = self.type_drivers[network_type].allocate_tenant_segment(session)
                if segment is not None:
                    return [segment]
            raise exc.NoNetworkAvailable()
        reserved: list[dict] = [{}] * len(requested)
        # Allocators skip what this request already holds (type_drivers.RESERVED_KEYS);
        # segments asking for an id go first, so an allocated one cannot take it.
        keys = session.info[RESERVED_KEYS] = set()  # this network's (a bulk has several)
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

    def _max_mtu(self, segments: list[dict[str, Any]]) -> int:
        return min(self.type_drivers[s["network_type"]].mtu(s) for s in segments)

    def create(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [attrs])[0]

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Networks of *items*, in order, all or none (a bulk create, or one)."""
        def body(attrs: dict[str, Any]) -> Callable[[Session], NetworkContext]:
            # A copy of the item per run: a lost race runs the transaction again.
            return lambda session: self.create_in(session, owned(ctx, attrs))

        contexts = self.writes.write_all("create_network", [body(attrs) for attrs in items],
                                         undo=lambda net_id: self.delete(ADMIN, net_id))
        return self._as_reported([c.current for c in contexts])

    def _as_reported(self, networks: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """New *networks* with what backends reported of them in postcommit (BUILD and
        why, while a backend cannot write them)."""
        with self.db.read() as session:
            reported = {r.id: r for r in session.execute(
                REPORTED, {"ids": [n["id"] for n in networks]})}
        return [{**n, "status": r.status, "status_reason": r.status_reason,
                 "revision_number": r.revision_number, "updated_at": timestamp(r.updated_at)}
                if (r := reported.get(n["id"])) is not None else n for n in networks]

    def create_in(self, session: Session, attrs: dict[str, Any]) -> NetworkContext:
        """Step 1 of a create, in *session* (a caller's transaction: a bulk create's, an
        auto-allocated topology's)."""
        tags = attrs.pop("tags", [])
        shared, external = attrs.pop("shared", False), attrs.pop("external", False)
        is_default = attrs.pop("is_default", False)
        segments = self._reserve_segments(session, attrs.pop("segments", []))
        max_mtu = self._max_mtu(segments)
        mtu = attrs.pop("mtu", None)
        if mtu is not None:
            check_mtu(mtu, max_mtu)
        # ACTIVE at once, as Neutron's: the backends write the network in postcommit, and
        # one that cannot reports it BUILD, with the reason, before the answer is made.
        net = Network(mtu=mtu or max_mtu, status=ACTIVE, status_reason=None, **attrs)
        net.segments = [NetworkSegment(segment_index=i, network_type=s["network_type"],
                                       physical_network=s.get("physical_network"),
                                       segmentation_id=s.get("segmentation_id"),
                                       allocation_key=s["allocation_key"],
                                       is_dynamic=s["is_dynamic"])
                        for i, s in enumerate(segments)]
        session.add(net)
        session.flush()
        TAGGED.create(session, net, tags)
        # Neutron's way: shared=true is the "*" access_as_shared policy, router:external=true
        # the "*" access_as_external one, both made by the network's owner.
        if shared:
            SHAREABLE.grant(session, net, ACCESS_SHARED, WILDCARD)
        if external:
            SHAREABLE.grant(session, net, ACCESS_EXTERNAL, WILDCARD)
        if is_default:
            _set_default(session, net, is_default, external)
            session.flush()
        context = network_context(net, session=session)
        self.mech.precommit("create_network_precommit", context)
        return context

    def get(self, ctx: Context, net_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            check_network_visible(session, ctx, net_id)
            return self._as_seen_by(session, ctx, orm_network_dict(network_or_404(session, net_id)))

    @staticmethod
    def _as_seen_by(session: Session, ctx: Context, network: dict[str, Any]) -> dict[str, Any]:
        """*network* (whose ``shared`` says shared with everyone) as *ctx* sees it."""
        if not network["shared"] and ctx.project_id is not None:
            network["shared"] = bool(session.scalar(select(shared_with(ctx, literal(
                network["id"])))))
        return network

    def owner(self, ctx: Context, net_id: str) -> dict[str, Any]:
        """What policy targets need of a network: its owner, ``shared`` as *ctx* sees it,
        ``router:external``."""
        with self.db.read() as session:
            check_network_visible(session, ctx, net_id)
            row = session.connection().execute(
                OWNER, {"id": net_id, "project": ctx.project_id or WILDCARD}).first()
        if row is None:
            raise exc.NetworkNotFound(net_id=net_id)
        return {"project_id": row.project_id, "shared": row.shared,
                "router:external": row.external}

    def list_page(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        filters = dict(query.filters)
        provider = {k: filters.pop(k) for k in list(filters) if k in SEGMENT_COLUMNS}
        visible = visible_networks(ctx)
        filterable = columns(ctx)
        with self.db.read() as session:
            also = (Network.id.in_(select(NetworkSegment.network_id).where(
                *where_clauses(SEGMENT_COLUMNS, provider))),) if provider else ()
            rows, more = visible_page(session, Network.__table__, filterable, visible, query,
                                      filterable["shared"].label("shared"),
                                      Network.external.label("external"),
                                      filters=filters, also=also)
            ids = [r.id for r in rows]
            tags = TAGGED.of(session, ids)
            segments: dict[str, list] = {i: [] for i in ids}
            subnets: dict[str, list] = {i: [] for i in ids}
            for chunk in chunks(ids):
                for seg in session.execute(select(NetworkSegment.__table__).where(
                        NetworkSegment.network_id.in_(chunk)).order_by(NetworkSegment.segment_index)):
                    segments[seg.network_id].append(seg)
                for sub in session.execute(select(
                        Subnet.id, Subnet.network_id, Subnet.ip_version,
                        Subnet.address_scope_id.label("address_scope_id")).where(
                        Subnet.network_id.in_(chunk)).order_by(Subnet.created_at)):
                    subnets[sub.network_id].append(sub)
            return [network_dict(r, segments[r.id], subnets[r.id], tags[r.id]) for r in rows], more

    def update(self, ctx: Context, net_id: str, attrs: dict[str, Any],
               if_match: int | None = None) -> dict[str, Any]:
        current = self.writes.write(
            "update_network", lambda s: self._update(s, ctx, net_id, dict(attrs), if_match)).current
        with self.db.read() as session:
            return self._as_seen_by(session, ctx, dict(current))

    def _update(self, session: Session, ctx: Context, net_id: str, attrs: dict[str, Any],
                if_match: int | None) -> NetworkContext:
        check_network_visible(session, ctx, net_id)
        net = network_or_404(session, net_id)
        check_revision(net, if_match)
        original = orm_network_dict(net)
        if "mtu" in attrs:
            check_mtu(attrs["mtu"], self._max_mtu([segment_dict(s) for s in net.segments]),
                      (sub.ip_version for sub in net.subnets))
        access = self._update_access(session, net, attrs.pop("shared", None),
                                     attrs.pop("external", None))
        default = self._update_default(session, net, attrs.pop("is_default", None))
        if apply(net, attrs) or access or default:
            touch(net)
            session.flush()
        context = network_context(net, original, session)
        self.mech.precommit("update_network_precommit", context)
        return context

    @staticmethod
    def _update_access(session: Session, net: Network, shared: bool | None,
                       external: bool | None) -> bool:
        """Make *net* shared or not, external or not (None: as it is), through its ``*``
        policies as Neutron does; whether anything changed.  Unsharing is refused while
        another project has ports that only that policy let in (409
        ``InvalidSharedSetting``); making it internal deletes all its access_as_external
        policies."""
        changed = False
        if shared is not None and shared != net.shared:
            if shared:
                SHAREABLE.grant(session, net, ACCESS_SHARED, WILDCARD)
            else:
                SHAREABLE.revoke(session, net, ACCESS_SHARED, {WILDCARD},
                                 lambda _: exc.InvalidSharedSetting(network=net.id))
            changed = True
        if external is not None and external != net.external:
            if external:
                SHAREABLE.grant(session, net, ACCESS_EXTERNAL, WILDCARD)
            else:
                SHAREABLE.revoke(session, net, ACCESS_EXTERNAL,
                                 SHAREABLE.targets(session, net.id, ACCESS_EXTERNAL),
                                 lambda _: exc.ExternalNetworkInUse(net_id=net.id))
            changed = True
        if changed:
            session.flush()
            session.expire(net, ["shared", "external"])
        return changed

    @staticmethod
    def _update_default(session: Session, net: Network, wanted: bool | None) -> bool:
        """Make *net* the default external network or not (None: as it is, unless it is
        no longer external: Neutron forgets ``is_default`` with the network's external
        row); whether that changed."""
        before = net.is_default
        if wanted is not None:
            _set_default(session, net, wanted, net.external)
        elif not net.external:
            net.is_default = False
        return net.is_default != before

    def delete(self, ctx: Context, net_id: str, if_match: int | None = None) -> None:
        context, subnet_contexts = self.writes.transaction(
            lambda s: self.delete_in(s, ctx, net_id, if_match))
        if subnet_contexts:
            self.writes.postcommit_all("delete_subnet", subnet_contexts)
        self.writes.postcommit("delete_network", context)

    def delete_in(self, session: Session, ctx: Context, net_id: str,
                  if_match: int | None) -> tuple[NetworkContext, list[SubnetContext]]:
        """Delete the network and, with it, its subnets (each through the drivers' hooks),
        in *session* (a caller's transaction: an auto-allocated topology's)."""
        check_network_visible(session, ctx, net_id)
        net = network_or_404(session, net_id)
        check_revision(net, if_match)
        if session.scalar(select(func.count()).select_from(Port).where(Port.network_id == net_id)):
            raise exc.NetworkInUse(net_id=net_id)
        context = network_context(net, session=session)
        subnet_contexts = []
        for sub in list(net.subnets):
            subnet_context = SubnetContext(current=orm_subnet_dict(sub), original=None,
                                           network=context, session=session)
            self.mech.precommit("delete_subnet_precommit", subnet_context)
            subnet_contexts.append(subnet_context)
            session.delete(sub)
        self.mech.precommit("delete_network_precommit", context)
        SHAREABLE.forget(session, net_id)
        session.delete(net)
        return context, subnet_contexts
