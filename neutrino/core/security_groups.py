"""Security groups: create (with Neutron's default egress rules), read, list, update,
delete; a project's ``default`` group, created on its first use.

A group's rules are part of it: every change of its rules moves its revision,
and the drivers see a rule's create or delete as an update of the group
(:class:`~neutrino.drivers.api.SecurityGroupContext`).
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import bindparam, delete, exists, literal, select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from neutrino.core import exceptions as exc
from neutrino.core import sg_rules
from neutrino.core.context import ADMIN, Context, owned
from neutrino.core.mech_manager import MechanismManager
from neutrino.core.query import ListQuery, check_visible, visible_page
from neutrino.core.resources import security_group_dict, tag_names
from neutrino.core.rows import apply, check_revision
from neutrino.core.tags import Tagged
from neutrino.core.writes import Writes
from neutrino.db.models import (
    DefaultSecurityGroup,
    PortSecurityGroup,
    SecurityGroup,
    SecurityGroupRule,
    touch,
)
from neutrino.db.session import Database
from neutrino.drivers.api import SecurityGroupContext

DEFAULT_NAME = "default"


def _columns() -> dict[str, Any]:
    c = SecurityGroup.__table__.c
    return {"id": c.id, "name": c.name, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "stateful": c.stateful, "shared": literal(False),
            "revision_number": c.revision_number, "created_at": c.created_at,
            "updated_at": c.updated_at}


#: Security groups carry tags.
TAGGED = Tagged(SecurityGroup, "security_group", lambda sg_id: exc.SecurityGroupNotFound(id=sg_id))
#: Filterable attributes of a security group listing.
COLUMNS = {**_columns(), **TAGGED.filters()}


def visible_groups(ctx: Context) -> ColumnElement | None:
    """The groups *ctx* may see: its project's (None: all, for admins).  The ``service``
    role reads its own project's only: ``get_security_group`` does not name it, and a list
    must not show what a show refuses."""
    if ctx.is_admin:
        return None
    return SecurityGroup.project_id == ctx.project_id


def check_group_visible(session: Session, ctx: Context, sg_id: str) -> None:
    check_visible(session, visible_groups(ctx), SecurityGroup.id, sg_id,
                  exc.SecurityGroupNotFound(id=sg_id))


def group_or_404(session: Session, sg_id: str, lock: bool = False) -> SecurityGroup:
    group = session.get(SecurityGroup, sg_id, with_for_update=lock)
    if group is None:
        raise exc.SecurityGroupNotFound(id=sg_id)
    return group


def is_default(session: Session, sg_id: str) -> bool:
    return bool(sg_rules.defaults_among(session, [sg_id]))


def group_dict(session: Session, group: SecurityGroup) -> dict[str, Any]:
    """The group as the API shows it, with its rules."""
    defaults = sg_rules.defaults_among(session, [group.id])
    return security_group_dict(group, sg_rules.rules_of(session, [group.id], defaults)[group.id],
                               tag_names(group))


#: A project's ``default`` group: read by every port create, so built once, on the table
#: (a statement on the mapped class takes the ORM's slower way).
DEFAULT_GROUP_OF = select(DefaultSecurityGroup.__table__.c.security_group_id).where(
    DefaultSecurityGroup.__table__.c.project_id == bindparam("project"))


def default_group_id(session: Session, project_id: str) -> str | None:
    return session.scalar(DEFAULT_GROUP_OF, {"project": project_id})


def changed(session: Session, group: SecurityGroup,
            original: dict[str, Any]) -> SecurityGroupContext:
    """The context of a group whose rules (or attributes) were just changed: its revision
    moves, and ``current`` shows it as it is now."""
    touch(group)
    session.flush()
    return SecurityGroupContext(current=group_dict(session, group), original=original,
                                session=session)


class SecurityGroups:
    def __init__(self, db: Database, writes: Writes, mech: MechanismManager):
        self.db = db
        self.writes = writes
        self.mech = mech

    # -- the default group ------------------------------------------------------
    def ensure_default(self, project_id: str | None) -> str | None:
        """The id of *project_id*'s ``default`` group, created (with its rules, and in the
        backends) if it has none yet; None for no project."""
        if not project_id:
            return None
        with self.db.read() as session:
            found = default_group_id(session, project_id)
        if found is not None:
            return found
        return self.writes.write(
            "create_security_group", lambda s: self._create_default(s, project_id),
            undo=lambda sg_id: self.delete(ADMIN, sg_id), refusable=False).current["id"]

    def _create_default(self, session: Session, project_id: str) -> SecurityGroupContext:
        found = default_group_id(session, project_id)
        if found is not None:  # created since the read above; writing it again is harmless
            group = group_or_404(session, found)
            return SecurityGroupContext(current=group_dict(session, group), original=None,
                                        session=session)
        group = self._insert(session, {"project_id": project_id, "name": DEFAULT_NAME,
                                       "description": "Default security group"},
                             sg_rules.DEFAULT_RULES)
        # The primary key on the project: a concurrent first use fails here and retries.
        session.add(DefaultSecurityGroup(project_id=project_id, security_group_id=group.id))
        session.flush()
        return self._created(session, group)

    # -- the API's calls -----------------------------------------------------------
    def create(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [attrs])[0]

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Groups of *items*, in order, all or none (a bulk create, or one); each project's
        ``default`` group first, in a transaction of its own, as for one group."""
        items = [owned(ctx, attrs) for attrs in items]
        if any(attrs.get("name") == DEFAULT_NAME for attrs in items):
            raise exc.SecurityGroupDefaultAlreadyExists()
        for project in dict.fromkeys(attrs.get("project_id") for attrs in items):
            self.ensure_default(project)

        def body(attrs: dict[str, Any]) -> Callable[[Session], SecurityGroupContext]:
            def insert(session: Session) -> SecurityGroupContext:
                # A copy of the item per run: a lost race runs the transaction again.
                group = self._insert(session, dict(attrs), sg_rules.EGRESS_RULES)
                # The group's own egress rules count against the rule quota too (Neutron's).
                self.writes.limits.charge(session, "security_group_rule", group.project_id)
                return self._created(session, group)
            return insert

        contexts = self.writes.write_all("create_security_group",
                                         [body(attrs) for attrs in items],
                                         undo=lambda sg_id: self.delete(ADMIN, sg_id))
        return [c.current for c in contexts]

    def _insert(self, session: Session, attrs: dict[str, Any],
                rules: list[dict[str, Any]]) -> SecurityGroup:
        tags = attrs.pop("tags", [])
        group = SecurityGroup(**attrs)
        session.add(group)
        session.flush()
        TAGGED.create(session, group, tags)
        sg_rules.insert_rules(session, group.id, group.project_id, rules)
        return group

    def _created(self, session: Session, group: SecurityGroup) -> SecurityGroupContext:
        context = SecurityGroupContext(current=group_dict(session, group), original=None,
                                       session=session)
        self.mech.precommit("create_security_group_precommit", context)
        return context

    def get(self, ctx: Context, sg_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            check_group_visible(session, ctx, sg_id)
            return group_dict(session, group_or_404(session, sg_id))

    def owner(self, ctx: Context, sg_id: str) -> dict[str, Any]:
        """The group's ``project_id`` (what policy targets of its rules need of it)."""
        with self.db.read() as session:
            check_group_visible(session, ctx, sg_id)
            project = session.scalar(select(SecurityGroup.project_id).where(
                SecurityGroup.id == sg_id))
        if project is None:
            raise exc.SecurityGroupNotFound(id=sg_id)
        return {"project_id": project}

    def list_page(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        """A page of groups; a project's first listing creates its ``default`` group, and
        so does an admin's listing filtered on one project (as Neutron: a client counting
        a new project's groups before setting its quota finds the group it will get)."""
        query = query or ListQuery()
        self.ensure_default(ctx.project_id)
        asked = query.filters.get("project_id") or query.filters.get("tenant_id") or []
        if ctx.is_admin and len(asked) == 1:
            self.ensure_default(asked[0])
        visible = visible_groups(ctx)
        table = SecurityGroup.__table__
        with self.db.read() as session:
            rows, more = visible_page(session, table, COLUMNS, visible, query)
            ids = [r.id for r in rows]
            defaults = sg_rules.defaults_among(session, ids)
            rules = sg_rules.rules_of(session, ids, defaults)
            tags = TAGGED.of(session, ids)
            return [security_group_dict(r, rules[r.id], tags[r.id]) for r in rows], more

    def list_all(self) -> list[dict[str, Any]]:
        """Every group with its rules, without creating any (for backends' full resyncs)."""
        with self.db.read() as session:
            rows = session.execute(select(SecurityGroup.__table__)).all()
            ids = [r.id for r in rows]
            defaults = sg_rules.defaults_among(session, ids)
            rules = sg_rules.rules_of(session, ids, defaults)
            tags = TAGGED.of(session, ids)
            return [security_group_dict(r, rules[r.id], tags[r.id]) for r in rows]

    def update(self, ctx: Context, sg_id: str, attrs: dict[str, Any],
               if_match: int | None = None) -> dict[str, Any]:
        return self.writes.write("update_security_group",
                                 lambda s: self._update(s, ctx, sg_id, attrs, if_match)).current

    def _update(self, session: Session, ctx: Context, sg_id: str, attrs: dict[str, Any],
                if_match: int | None) -> SecurityGroupContext:
        check_group_visible(session, ctx, sg_id)
        group = group_or_404(session, sg_id)
        check_revision(group, if_match)
        if "name" in attrs and is_default(session, sg_id):
            raise exc.SecurityGroupCannotUpdateDefault()
        if attrs.get("name") == DEFAULT_NAME:
            raise exc.SecurityGroupDefaultAlreadyExists()
        if "stateful" in attrs and attrs["stateful"] != group.stateful and session.scalar(
                select(PortSecurityGroup.port_id).where(
                    PortSecurityGroup.security_group_id == sg_id).limit(1)):
            # Its ports' other groups would then mix both kinds (Neutron refuses it too).
            raise exc.SecurityGroupInUse(id=sg_id)
        original = group_dict(session, group)
        if not apply(group, attrs):
            return SecurityGroupContext(current=original, original=original, session=session)
        context = changed(session, group, original)
        self.mech.precommit("update_security_group_precommit", context)
        return context

    def delete(self, ctx: Context, sg_id: str, if_match: int | None = None) -> None:
        self.writes.write("delete_security_group",
                          lambda s: self._delete(s, ctx, sg_id, if_match))

    def _delete(self, session: Session, ctx: Context, sg_id: str,
                if_match: int | None) -> SecurityGroupContext:
        """Delete the group, its rules, and the rules of other groups naming it as their
        remote group (Neutron's order); not while a port is in it."""
        check_group_visible(session, ctx, sg_id)
        group = group_or_404(session, sg_id)
        check_revision(group, if_match)
        if is_default(session, sg_id) and not ctx.is_admin:
            raise exc.SecurityGroupCannotRemoveDefault()
        if session.scalar(select(exists().where(PortSecurityGroup.security_group_id == sg_id))):
            raise exc.SecurityGroupInUse(id=sg_id)
        context = SecurityGroupContext(current=group_dict(session, group), original=None,
                                       session=session)
        others = list(session.scalars(select(SecurityGroup).where(
            SecurityGroup.id != sg_id, SecurityGroup.id.in_(
                select(SecurityGroupRule.security_group_id).where(
                    SecurityGroupRule.remote_group_id == sg_id)))))
        session.execute(delete(SecurityGroupRule).where(SecurityGroupRule.remote_group_id == sg_id))
        for other in others:
            touch(other)
        session.flush()
        context.affected = [group_dict(session, other) for other in others]
        self.mech.precommit("delete_security_group_precommit", context)
        session.delete(group)
        session.flush()
        return context
