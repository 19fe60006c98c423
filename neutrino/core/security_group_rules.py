"""Security group rules: create, read, list, delete (rules have no update).

A rule belongs to its group's project and is seen by whoever sees the group; a
rule's create or delete is, for the drivers, an update of its group.  What a
rule means and how it is validated is :mod:`~neutrino.core.sg_rules`.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from neutrino.core import exceptions as exc
from neutrino.core import sg_rules
from neutrino.core.context import Context
from neutrino.core.mech_manager import MechanismManager
from neutrino.core.query import ListQuery, check_visible, visible_page
from neutrino.core.rows import check_revision
from neutrino.core.security_groups import (
    changed,
    check_group_visible,
    group_dict,
    group_or_404,
)
from neutrino.core.writes import Writes
from neutrino.db.models import SecurityGroup, SecurityGroupRule
from neutrino.db.session import Database
from neutrino.drivers.api import SecurityGroupContext


def _columns() -> dict[str, Any]:
    c = SecurityGroupRule.__table__.c
    return {"id": c.id, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "security_group_id": c.security_group_id,
            "direction": c.direction, "ethertype": c.ethertype, "protocol": c.protocol,
            "port_range_min": c.port_range_min, "port_range_max": c.port_range_max,
            "remote_ip_prefix": c.remote_ip_prefix, "remote_group_id": c.remote_group_id,
            "revision_number": c.revision_number, "created_at": c.created_at,
            "updated_at": c.updated_at}


#: Filterable attributes of a rule listing.
COLUMNS = _columns()


def visible_rules(ctx: Context) -> ColumnElement | None:
    """The rules *ctx* may see: those of its project's groups (None: all, for admins; as
    :func:`~neutrino.core.security_groups.visible_groups`)."""
    if ctx.is_admin:
        return None
    return SecurityGroupRule.security_group_id.in_(
        select(SecurityGroup.id).where(SecurityGroup.project_id == ctx.project_id))


def rule_or_404(session: Session, ctx: Context, rule_id: str) -> Any:
    check_visible(session, visible_rules(ctx), SecurityGroupRule.id, rule_id,
                  exc.SecurityGroupRuleNotFound(id=rule_id))
    row = session.execute(select(SecurityGroupRule.__table__).where(
        SecurityGroupRule.id == rule_id)).first()
    if row is None:
        raise exc.SecurityGroupRuleNotFound(id=rule_id)
    return row


class SecurityGroupRules:
    def __init__(self, db: Database, writes: Writes, mech: MechanismManager):
        self.db = db
        self.writes = writes
        self.mech = mech

    def create(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        values = sg_rules.rule_values(attrs)  # a client's mistake, before any transaction
        made: list[str] = []
        context = self.writes.write(
            "update_security_group",
            lambda s: self._create(s, ctx, attrs["security_group_id"], values, made))
        return next(r for r in context.current["security_group_rules"] if r["id"] == made[-1])

    def _create(self, session: Session, ctx: Context, sg_id: str, values: dict[str, Any],
                made: list[str]) -> SecurityGroupContext:
        check_group_visible(session, ctx, sg_id)
        group = group_or_404(session, sg_id, lock=not self.db.is_sqlite)
        remote = values["remote_group_id"]
        if remote is not None and remote != sg_id:
            check_group_visible(session, ctx, remote)
            group_or_404(session, remote)
        sg_rules.check_unique(session, sg_id, values)
        original = group_dict(session, group)
        made.extend(sg_rules.insert_rules(session, sg_id, group.project_id, [values]))
        # For the drivers a rule's create is an update of its group, which the write
        # sequence does not charge: the rule is charged here.
        self.writes.limits.charge(session, "security_group_rule", group.project_id)
        context = changed(session, group, original)
        self.mech.precommit("update_security_group_precommit", context)
        return context

    def get(self, ctx: Context, rule_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            row = rule_or_404(session, ctx, rule_id)
            defaults = sg_rules.defaults_among(session, [row.security_group_id])
            return sg_rules.render(row, bool(defaults))

    def list_page(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        visible = visible_rules(ctx)
        table = SecurityGroupRule.__table__
        with self.db.read() as session:
            rows, more = visible_page(session, table, COLUMNS, visible, query)
            defaults = sg_rules.defaults_among(session,
                                               sorted({r.security_group_id for r in rows}))
            return [sg_rules.render(r, r.security_group_id in defaults) for r in rows], more

    def delete(self, ctx: Context, rule_id: str, if_match: int | None = None) -> None:
        self.writes.write("update_security_group",
                          lambda s: self._delete(s, ctx, rule_id, if_match))

    def _delete(self, session: Session, ctx: Context, rule_id: str,
                if_match: int | None) -> SecurityGroupContext:
        row = rule_or_404(session, ctx, rule_id)
        check_revision(row, if_match)
        group = group_or_404(session, row.security_group_id, lock=not self.db.is_sqlite)
        original = group_dict(session, group)
        session.execute(SecurityGroupRule.__table__.delete().where(
            SecurityGroupRule.id == rule_id))
        context = changed(session, group, original)
        self.mech.precommit("update_security_group_precommit", context)
        return context
