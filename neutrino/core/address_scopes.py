"""Address scopes (``address-scope``): create, read, list, update, delete.

A scope is a name for an address space: the subnet pools that join it never
overlap (:mod:`~neutrino.core.subnetpools` checks it, holding the scope's row),
and a network's subnets of one IP version all belong to one scope, which the
network shows as ``ipv4_address_scope`` / ``ipv6_address_scope``.  No
mechanism driver hears of scopes (nothing in OVN depends on them), so their
writes are one transaction each, as RBAC policies'.  As in Neutron, scopes carry
no tags.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from neutrino.core import exceptions as exc
from neutrino.core.context import Context, owned
from neutrino.core.query import ListQuery, check_visible, visible_page
from neutrino.core.rbac import Shareable
from neutrino.core.resources import address_scope_dict
from neutrino.core.rows import apply, check_revision
from neutrino.core.writes import Writes
from neutrino.db.models import ACCESS_SHARED, WILDCARD, AddressScope, SubnetPool, touch
from neutrino.db.session import Database


def not_found(scope_id: str) -> exc.AddressScopeNotFound:
    return exc.AddressScopeNotFound(address_scope_id=scope_id)


def _pool_projects(session: Session, scope_id: str) -> set[str]:
    """The projects with subnet pools in the scope."""
    return set(session.scalars(select(SubnetPool.project_id).distinct().where(
        SubnetPool.address_scope_id == scope_id)))


#: Scopes are shared through RBAC policies; ``shared`` is the one to every project.
SHAREABLE = Shareable(AddressScope, "address_scope", not_found, (ACCESS_SHARED,),
                      {ACCESS_SHARED: _pool_projects}, service_sees_all=False)


def _columns() -> dict[str, Any]:
    c = AddressScope.__table__.c
    return {"id": c.id, "name": c.name, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "ip_version": c.ip_version,
            "revision_number": c.revision_number, "created_at": c.created_at,
            "updated_at": c.updated_at}


COLUMNS = _columns()


def shared_with(ctx: Context, id_column: Any = None) -> ColumnElement:
    """A scope's ``shared`` as *ctx* sees it: shared with everyone or with its project."""
    return SHAREABLE.granted(ctx.project_id, (ACCESS_SHARED,), id_column)


def check_scope_visible(session: Session, ctx: Context, scope_id: str) -> None:
    check_visible(session, SHAREABLE.visible(ctx), AddressScope.id, scope_id,
                  not_found(scope_id))


def scope_or_404(session: Session, scope_id: str, lock: bool = False) -> AddressScope:
    scope = session.get(AddressScope, scope_id, with_for_update=lock)
    if scope is None:
        raise not_found(scope_id)
    return scope


def _as_seen_by(session: Session, ctx: Context, scope: AddressScope) -> dict[str, Any]:
    shared = scope.shared or bool(session.scalar(select(shared_with(ctx, literal(scope.id)))))
    return address_scope_dict(scope, shared)


class AddressScopes:
    def __init__(self, db: Database, writes: Writes):
        self.db = db
        self.writes = writes

    def create(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.writes.transaction(lambda s: self._create(s, ctx, owned(ctx, attrs)))

    def _create(self, session: Session, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        shared = attrs.pop("shared", False)
        scope = AddressScope(**attrs)
        session.add(scope)
        session.flush()
        if shared:
            SHAREABLE.grant(session, scope, ACCESS_SHARED, WILDCARD)
            session.flush()
            session.refresh(scope, ["shared"])
        return _as_seen_by(session, ctx, scope)

    def get(self, ctx: Context, scope_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            check_scope_visible(session, ctx, scope_id)
            return _as_seen_by(session, ctx, scope_or_404(session, scope_id))

    def list_page(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        visible = SHAREABLE.visible(ctx)
        filterable = {**COLUMNS, "shared": shared_with(ctx)}
        with self.db.read() as session:
            rows, more = visible_page(session, AddressScope.__table__, filterable, visible,
                                      query, filterable["shared"].label("shared"))
            return [address_scope_dict(r, r.shared) for r in rows], more

    def update(self, ctx: Context, scope_id: str, attrs: dict[str, Any],
               if_match: int | None = None) -> dict[str, Any]:
        return self.writes.transaction(lambda s: self._update(s, ctx, scope_id, dict(attrs),
                                                              if_match))

    def _update(self, session: Session, ctx: Context, scope_id: str, attrs: dict[str, Any],
                if_match: int | None) -> dict[str, Any]:
        check_scope_visible(session, ctx, scope_id)
        scope = scope_or_404(session, scope_id)
        check_revision(scope, if_match)
        shared = attrs.pop("shared", None)
        if shared is False and scope.shared:
            raise exc.AddressScopeUpdateError(address_scope_id=scope_id,
                                              reason="Shared address scope can't be unshared")
        # Granting reads the policies (an autoflush): before the attributes change, so the
        # update is one revision.
        sharing = bool(shared) and not scope.shared
        if sharing:
            SHAREABLE.grant(session, scope, ACCESS_SHARED, WILDCARD)
        if apply(scope, attrs) or sharing:
            touch(scope)
            session.flush()
            session.refresh(scope, ["shared"])
        return _as_seen_by(session, ctx, scope)

    def delete(self, ctx: Context, scope_id: str, if_match: int | None = None) -> None:
        self.writes.transaction(lambda s: self._delete(s, ctx, scope_id, if_match))

    def _delete(self, session: Session, ctx: Context, scope_id: str,
                if_match: int | None) -> None:
        """Refused while a pool is in the scope (the pools' foreign key holds it against a
        pool joining meanwhile: the delete fails and is retried)."""
        check_scope_visible(session, ctx, scope_id)
        scope = scope_or_404(session, scope_id)
        check_revision(scope, if_match)
        if session.scalar(select(SubnetPool.id).where(
                SubnetPool.address_scope_id == scope_id).limit(1)) is not None:
            raise exc.AddressScopeInUse(address_scope_id=scope_id)
        SHAREABLE.forget(session, scope_id)
        session.delete(scope)
