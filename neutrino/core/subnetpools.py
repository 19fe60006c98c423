"""Subnet pools (``subnet_allocation``, ``default-subnetpools``, ``subnetpool-prefix-ops``):
create, read, list, update, delete, add and remove prefixes, and allocating a
subnet's cidr from a pool.

Why allocation never hands out one prefix twice
    Every write that reads a pool's free space and depends on it (a subnet's
    allocation, ``remove_prefixes``, a change of prefixes) first takes the
    pool's row with ``SELECT … FOR UPDATE`` on PostgreSQL; SQLite serialises
    every write transaction already (``BEGIN IMMEDIATE``).  The lock is held to
    the commit, and READ COMMITTED gives each later statement a fresh snapshot,
    so an allocation reads the cidrs of every subnet committed by the
    allocations before it: of two concurrent creates, the second waits for the
    first and then sees its subnet.  Neutron serialises the same way (a
    compare-and-swap on the pool's ``hash`` column, the loser retrying).
    Joining an address scope holds the scope's row the same way, so two pools
    cannot join one scope with overlapping prefixes at once.

The rules are Neutron's (``SubnetPoolReader``, ``SubnetAllocator``): prefixes
are compacted; ``min_prefixlen`` ≤ ``default_prefixlen`` ≤ ``max_prefixlen`` ≤
the IP version's bits; ``shared`` only at create; one default pool per IP
version; ``default_quota`` limits the addresses (IPv4) or /64s (IPv6) each
project takes from the pool.  No mechanism driver hears of pools: a subnet
allocated from one is an ordinary subnet to them.
"""
from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from neutrino.core import address_scopes
from neutrino.core import exceptions as exc
from neutrino.core import prefixes as px
from neutrino.core.context import Context, owned
from neutrino.core.ipam import IPNetwork
from neutrino.core.query import ListQuery, check_visible, visible_page
from neutrino.core.rbac import Shareable
from neutrino.core.resources import subnetpool_dict, tag_names
from neutrino.core.rows import apply, check_revision
from neutrino.core.tags import Tagged
from neutrino.core.writes import Writes
from neutrino.db.models import ACCESS_SHARED, WILDCARD, AddressScope, Subnet, SubnetPool, touch
from neutrino.db.session import Database

BOUNDS = ("min_prefixlen", "max_prefixlen", "default_prefixlen")


def not_found(pool_id: str) -> exc.SubnetPoolNotFound:
    return exc.SubnetPoolNotFound(subnetpool_id=pool_id)


def _subnet_projects(session: Session, pool_id: str) -> set[str]:
    """The projects with subnets from the pool."""
    return set(session.scalars(select(Subnet.project_id).distinct().where(
        Subnet.subnetpool_id == pool_id)))


def _scope_reaches(session: Session, pool: SubnetPool, target: str) -> None:
    """A pool in an address scope is shared only with a project that sees the scope (its
    own, or shared with it or with everyone), else 400, as Neutron's
    ``SubnetPool.validate_rbac_policy_create``: the project could not use the pool's
    subnets in that scope."""
    scope_id = pool.address_scope_id
    if scope_id is None:
        return
    owner = session.scalar(select(AddressScope.project_id).where(AddressScope.id == scope_id))
    if owner == target or session.scalar(select(address_scopes.SHAREABLE.granted(
            None if target == WILDCARD else target, (ACCESS_SHARED,), literal(scope_id)))):
        return
    raise exc.InvalidInput(error_message=(
        f"Failed to create RBAC policy on object {pool.id} because target project doesn't "
        "have access to associated address scope"))


#: Subnet pools carry tags.
TAGGED = Tagged(SubnetPool, "subnetpool", not_found)
#: Pools are shared through RBAC policies; ``shared`` is the one to every project.
SHAREABLE = Shareable(SubnetPool, "subnetpool", not_found, (ACCESS_SHARED,),
                      {ACCESS_SHARED: _subnet_projects}, service_sees_all=False,
                      check_grant=_scope_reaches)


def _columns() -> dict[str, Any]:
    c = SubnetPool.__table__.c
    return {"id": c.id, "name": c.name, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "ip_version": c.ip_version,
            "default_prefixlen": c.default_prefixlen, "min_prefixlen": c.min_prefixlen,
            "max_prefixlen": c.max_prefixlen, "is_default": c.is_default,
            "default_quota": c.default_quota, "address_scope_id": c.address_scope_id,
            "revision_number": c.revision_number, "created_at": c.created_at,
            "updated_at": c.updated_at, **TAGGED.filters()}


COLUMNS = _columns()


def shared_with(ctx: Context, id_column: Any = None) -> ColumnElement:
    """A pool's ``shared`` as *ctx* sees it: shared with everyone or with its project."""
    return SHAREABLE.granted(ctx.project_id, (ACCESS_SHARED,), id_column)


def check_pool_visible(session: Session, ctx: Context, pool_id: str) -> None:
    check_visible(session, SHAREABLE.visible(ctx), SubnetPool.id, pool_id, not_found(pool_id))


def pool_or_404(session: Session, pool_id: str, lock: bool = False) -> SubnetPool:
    pool = session.get(SubnetPool, pool_id, with_for_update=lock)
    if pool is None:
        raise not_found(pool_id)
    return pool


def _as_seen_by(session: Session, ctx: Context, pool: SubnetPool) -> dict[str, Any]:
    shared = pool.shared or bool(session.scalar(select(shared_with(ctx, literal(pool.id)))))
    return subnetpool_dict(pool, shared, tag_names(pool))


def bounds(ip_version: int, attrs: dict[str, Any]) -> dict[str, int]:
    """The pool's prefix length bounds: those given, else Neutron's defaults (min 8 or
    64, max 32 or 128, default = min), checked against each other."""
    limit = px.MAX_PREFIXLEN[ip_version]
    low = attrs.get("min_prefixlen", px.DEFAULT_MIN_PREFIXLEN[ip_version])
    high = attrs.get("max_prefixlen", limit)
    default = attrs.get("default_prefixlen", low)
    if low > high:
        raise exc.IllegalSubnetPoolPrefixBounds(prefix_type="min_prefixlen", prefixlen=low,
                                                base_prefix_type="max_prefixlen",
                                                base_prefixlen=high)
    if high > limit:
        raise exc.IllegalSubnetPoolPrefixBounds(prefix_type="max_prefixlen", prefixlen=high,
                                                base_prefix_type="ip_version_max",
                                                base_prefixlen=limit)
    for base, value in (("min_prefixlen", low), ("max_prefixlen", high)):
        if (default < value) if base == "min_prefixlen" else (default > value):
            raise exc.IllegalSubnetPoolPrefixBounds(prefix_type="default_prefixlen",
                                                    prefixlen=default, base_prefix_type=base,
                                                    base_prefixlen=value)
    return {"min_prefixlen": low, "max_prefixlen": high, "default_prefixlen": default}


def _check_default(session: Session, ip_version: int) -> None:
    """One default pool per IP version (the partial unique index settles races)."""
    if session.scalar(select(SubnetPool.id).where(SubnetPool.is_default,
                                                  SubnetPool.ip_version == ip_version)):
        raise exc.InvalidInput(error_message=(
            "A default subnetpool for this IP family has already been set. Only one default "
            "may exist per IP family"))


def _check_scope(session: Session, ctx: Context, pool_id: str | None, scope_id: str,
                 ip_version: int, prefixes: list[str]) -> None:
    """The pool may be in the scope: the caller sees it (404 else, as Neutron), it is
    of the pool's IP version, the pool's subnets' networks keep one scope per IP
    version, and no other pool of the scope overlaps the pool's prefixes."""
    address_scopes.check_scope_visible(session, ctx, scope_id)
    scope = address_scopes.scope_or_404(session, scope_id, lock=True)
    if scope.ip_version != ip_version:
        raise exc.IllegalSubnetPoolIpVersionAssociationToAddressScope(
            subnetpool_id=pool_id, address_scope_id=scope_id, ip_version=scope.ip_version)
    if pool_id is not None:
        _check_rescoping(session, pool_id, ip_version)
    others = select(SubnetPool.prefixes).where(SubnetPool.address_scope_id == scope_id)
    if pool_id is not None:
        others = others.where(SubnetPool.id != pool_id)
    if any(px.overlaps(prefixes, theirs) for theirs in session.scalars(others)):
        raise exc.AddressScopePrefixConflict()


def _check_rescoping(session: Session, pool_id: str, ip_version: int) -> None:
    """Moving the pool to another scope moves its subnets: refused if their networks have
    subnets of that IP version from elsewhere, which would stay behind."""
    networks = select(Subnet.network_id).where(Subnet.subnetpool_id == pool_id)
    if session.scalar(select(Subnet.id).where(
            Subnet.network_id.in_(networks), Subnet.ip_version == ip_version,
            Subnet.subnetpool_id.is_distinct_from(pool_id)).limit(1)) is not None:
        raise exc.NetworkAddressScopeAffinityError()


def allocated(session: Session, pool_id: str) -> list[str]:
    """The cidrs of the pool's subnets."""
    return list(session.scalars(select(Subnet.cidr).where(Subnet.subnetpool_id == pool_id)))


def find_default_pool(session: Session, ctx: Context, ip_version: int) -> str | None:
    """The id of the default pool of *ip_version* that *ctx* sees, if there is one."""
    stmt = select(SubnetPool.id).where(SubnetPool.is_default, SubnetPool.ip_version == ip_version)
    visible = SHAREABLE.visible(ctx)
    return session.scalar(stmt if visible is None else stmt.where(visible))


def default_pool_id(session: Session, ctx: Context, ip_version: int) -> str:
    """The default pool of *ip_version* that *ctx* sees (``use_default_subnetpool``)."""
    found = find_default_pool(session, ctx, ip_version)
    if found is None:
        raise exc.BadRequest(resource="subnets",
                             msg=f"No default subnetpool found for IPv{ip_version}")
    return found


def allocate(session: Session, ctx: Context, pool_id: str, project_id: str,
             cidr: IPNetwork | None, prefixlen: int | None,
             ip_version: int | None) -> tuple[SubnetPool, IPNetwork]:
    """A new subnet's cidr from the pool: *cidr* if given and free, else the first free
    /*prefixlen* (the pool's ``default_prefixlen`` if None).  Holds the pool's row to
    the end of the transaction (see the module)."""
    check_pool_visible(session, ctx, pool_id)
    pool = pool_or_404(session, pool_id, lock=True)
    if ip_version is not None and ip_version != pool.ip_version:
        raise exc.BadRequest(resource="subnets", msg=(
            f"Cannot allocate IPv{ip_version} subnet from IPv{pool.ip_version} subnet pool"))
    length = cidr.prefixlen if cidr is not None else prefixlen or pool.default_prefixlen
    if length > pool.max_prefixlen:
        raise exc.MaxPrefixSubnetAllocationError(prefixlen=length,
                                                 max_prefixlen=pool.max_prefixlen)
    if length < pool.min_prefixlen:
        raise exc.MinPrefixSubnetAllocationError(prefixlen=length,
                                                 min_prefixlen=pool.min_prefixlen)
    taken = allocated(session, pool_id)
    if pool.default_quota:  # 0 or None: no limit, as Neutron reads it
        _check_quota(session, pool, project_id, length)
    if cidr is not None:
        return pool, px.allocate_specific(pool.prefixes, taken, cidr)
    return pool, px.allocate_any(pool.prefixes, taken, length)


def _check_quota(session: Session, pool: SubnetPool, project_id: str, prefixlen: int) -> None:
    """``default_quota``: what the project's subnets of the pool hold, with the new one."""
    mine = session.scalars(select(Subnet.cidr).where(Subnet.subnetpool_id == pool.id,
                                                     Subnet.project_id == project_id))
    used = sum(px.quota_units(pool.ip_version, ipaddress.ip_network(c).prefixlen) for c in mine)
    if used + px.quota_units(pool.ip_version, prefixlen) > (pool.default_quota or 0):
        raise exc.SubnetPoolQuotaExceeded()


class SubnetPools:
    def __init__(self, db: Database, writes: Writes):
        self.db = db
        self.writes = writes

    def create(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.writes.transaction(lambda s: self._create(s, ctx, owned(ctx, attrs)))

    def _create(self, session: Session, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        tags, shared = attrs.pop("tags", []), attrs.pop("shared", False)
        prefixes = px.compact(attrs.pop("prefixes"))
        ip_version = ipaddress.ip_network(prefixes[0]).version
        attrs.update(bounds(ip_version, attrs), prefixes=prefixes, ip_version=ip_version)
        if attrs.get("is_default"):
            _check_default(session, ip_version)
        if attrs.get("address_scope_id"):
            _check_scope(session, ctx, None, attrs["address_scope_id"], ip_version, prefixes)
        pool = SubnetPool(**attrs)
        session.add(pool)
        session.flush()
        TAGGED.create(session, pool, tags)
        if shared:
            SHAREABLE.grant(session, pool, ACCESS_SHARED, WILDCARD)
            session.flush()
            session.refresh(pool, ["shared"])
        # No driver hears of a pool, so it takes no Writes.write: its quota is charged here.
        self.writes.limits.charge(session, "subnetpool", pool.project_id)
        return _as_seen_by(session, ctx, pool)

    def get(self, ctx: Context, pool_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            check_pool_visible(session, ctx, pool_id)
            return _as_seen_by(session, ctx, pool_or_404(session, pool_id))

    def list_page(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        visible = SHAREABLE.visible(ctx)
        filterable = {**COLUMNS, "shared": shared_with(ctx)}
        with self.db.read() as session:
            rows, more = visible_page(session, SubnetPool.__table__, filterable, visible, query,
                                      filterable["shared"].label("shared"))
            tags = TAGGED.of(session, [r.id for r in rows])
            return [subnetpool_dict(r, r.shared, tags[r.id]) for r in rows], more

    def update(self, ctx: Context, pool_id: str, attrs: dict[str, Any],
               if_match: int | None = None) -> dict[str, Any]:
        return self.writes.transaction(
            lambda s: _as_seen_by(s, ctx, self._update(s, ctx, pool_id, dict(attrs), if_match)))

    def _update(self, session: Session, ctx: Context, pool_id: str, attrs: dict[str, Any],
                if_match: int | None) -> SubnetPool:
        check_pool_visible(session, ctx, pool_id)
        pool = pool_or_404(session, pool_id, lock=True)
        check_revision(pool, if_match)
        if pool.address_scope_id and not ctx.is_admin:
            scope = address_scopes.scope_or_404(session, pool.address_scope_id)
            if scope.project_id != ctx.project_id:
                raise exc.IllegalSubnetPoolUpdate(reason=(
                    f"subnetpool {pool_id} cannot be updated when associated with shared "
                    f"address scope {scope.id}"))
        if "prefixes" in attrs:
            new = px.compact([*attrs["prefixes"], *pool.prefixes])
            if ipaddress.ip_network(new[0]).version != pool.ip_version:  # an emptied pool's
                raise exc.PrefixVersionMismatch()
            if not px.covers(attrs["prefixes"], pool.prefixes):
                raise exc.IllegalSubnetPoolPrefixUpdate(
                    msg="Existing prefixes must be a subset of the new prefixes")
            attrs["prefixes"] = new
        prefixes = attrs.get("prefixes", pool.prefixes)
        attrs.update(bounds(pool.ip_version, {**{b: getattr(pool, b) for b in BOUNDS}, **attrs}))
        if attrs.get("is_default") and not pool.is_default:
            _check_default(session, pool.ip_version)
        scope_id = attrs.get("address_scope_id", pool.address_scope_id)
        if scope_id:
            _check_scope(session, ctx, pool_id, scope_id, pool.ip_version, prefixes)
        elif pool.address_scope_id:
            _check_rescoping(session, pool_id, pool.ip_version)
        if apply(pool, attrs):
            touch(pool)
            session.flush()
        return pool

    def add_prefixes(self, ctx: Context, pool_id: str, added: list[str]) -> list[str]:
        """The pool's prefixes with *added* merged in (``subnetpool-prefix-ops``)."""
        def body(session: Session) -> list[str]:
            check_pool_visible(session, ctx, pool_id)
            current = pool_or_404(session, pool_id).prefixes
            if not added:
                return list(current)
            return list(self._update(session, ctx, pool_id, {"prefixes": [*current, *added]},
                                     None).prefixes)

        return self.writes.transaction(body)

    def remove_prefixes(self, ctx: Context, pool_id: str, removed: list[str]) -> list[str]:
        """The pool's prefixes without *removed*; refused (400) if a subnet of the pool
        has addresses in them."""
        def body(session: Session) -> list[str]:
            check_pool_visible(session, ctx, pool_id)
            pool = pool_or_404(session, pool_id, lock=True)
            if not removed or not px.overlaps(pool.prefixes, removed):
                return list(pool.prefixes)
            if px.overlaps(allocated(session, pool_id), removed):
                raise exc.IllegalSubnetPoolPrefixUpdate(
                    msg="One or more the prefixes to be removed is in use by a subnet")
            pool.prefixes = px.remove(pool.prefixes, removed)
            touch(pool)
            session.flush()
            return list(pool.prefixes)

        return self.writes.transaction(body)

    def delete(self, ctx: Context, pool_id: str, if_match: int | None = None) -> None:
        self.writes.transaction(lambda s: self._delete(s, ctx, pool_id, if_match))

    def _delete(self, session: Session, ctx: Context, pool_id: str, if_match: int | None) -> None:
        """Refused while the pool has subnets (their foreign key holds it against one
        allocated meanwhile: the delete fails and is retried)."""
        check_pool_visible(session, ctx, pool_id)
        pool = pool_or_404(session, pool_id, lock=True)
        check_revision(pool, if_match)
        if allocated(session, pool_id):
            raise exc.SubnetPoolDeleteError(reason="Subnet pool has existing allocations")
        SHAREABLE.forget(session, pool_id)
        session.delete(pool)
