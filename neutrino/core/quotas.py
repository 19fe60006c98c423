"""Quotas: each project's limits, their enforcement on every create, and their API.

What is counted
    :data:`COUNTED` names every resource a quota applies to and the table its
    usage is counted in.  A resource that lands adds its line there and nothing
    else: the write sequence (:mod:`neutrino.core.writes`) then checks each of
    its creates, and the quota API shows and sets its limit, whose default is
    the setting ``quota_<name>``.  Usage is never stored: it is the number of
    the project's rows, counted when needed, so no path that deletes a
    resource (a network taking its subnets along, an undone create) can leave
    a stale count behind.

Enforcement
    :meth:`Limits.charge` runs at the end of every create's transaction, after
    the new row is written and the drivers' precommit ran.  If the project now
    has more rows than its limit, the create fails with 409 ``OverQuota`` and
    its whole transaction rolls back: nothing of it remains, and no driver's
    postcommit ran.  A negative limit is unlimited: neither counted nor locked,
    as in Neutron.  Rows of no project (the core's own callers, with the ADMIN
    context) are not charged to anyone.

Why it holds under concurrent creates
    Neutron's ``DbQuotaNoLockDriver`` counts used and reserved resources and
    inserts a reservation in one transaction; its docstring admits that under
    READ COMMITTED two requests can count the same number and both commit, past
    the limit.  The lesson: one transaction is not enough; counting and
    committing the new row must be serialised per project and resource.

    * SQLite serialises every write transaction already (``BEGIN IMMEDIATE``
      behind the writer lock, :mod:`neutrino.db.session`): no other create can
      commit between this count and this commit.
    * PostgreSQL (READ COMMITTED): the transaction takes a transaction-scoped
      advisory lock on (resource, project), then counts in a new statement.
      The lock is released only once the transaction holding it has committed
      or rolled back, and READ COMMITTED gives each statement a fresh snapshot,
      so the count sees the rows of every create that held the lock before:
      of two creates that both pass, the later one counted the earlier one's
      row.  The lock is taken after the row is written, so creates in one
      project wait for each other only from the count to the commit, other
      projects' creates not at all, and the holder waits for nothing (no
      deadlock).  The guarantee needs READ COMMITTED (Neutrino's sessions);
      under REPEATABLE READ the count would read the transaction's first
      snapshot.

    A change of limit takes the same lock to compare the new limit with the
    usage, and a create reads its limit again once it holds the lock, so a
    lowered limit holds against the creates in flight.  Only a limit that was
    unlimited when a create began (that create neither counts nor locks) can
    end up below the usage of the creates in flight when it is set; further
    creates are then refused, as after any limit set below usage.

    Check and create being one transaction, nothing is ever reserved between
    them: the details API's ``reserved`` is always 0.
"""
from __future__ import annotations

import hashlib
from typing import TYPE_CHECKING, Any

from sqlalchemy import bindparam, delete, func, select
from sqlalchemy.orm import Session

from neutrino.config import Settings
from neutrino.core import exceptions as exc
from neutrino.core.context import Context
from neutrino.db.models import (
    FloatingIP,
    Network,
    Port,
    Quota,
    RbacPolicy,
    Router,
    SecurityGroup,
    SecurityGroupRule,
    StandardAttrs,
    Subnet,
)
from neutrino.db.session import Database

if TYPE_CHECKING:
    from neutrino.core.writes import Writes

#: Each resource a quota applies to, by its quota name (the resource's API name), with
#: the table its usage is counted in.
COUNTED: dict[str, type[StandardAttrs] | type[RbacPolicy]] = {
    "network": Network, "subnet": Subnet, "port": Port, "rbac_policy": RbacPolicy,
    "security_group": SecurityGroup, "security_group_rule": SecurityGroupRule,
    "router": Router, "floatingip": FloatingIP}
#: Neutron's "no limit" (any negative limit counts as unlimited).
UNLIMITED = -1

OWN_LIMIT = select(Quota.limit).where(Quota.project_id == bindparam("project"),
                                      Quota.resource == bindparam("resource"))
OWN_LIMITS = select(Quota.resource, Quota.limit).where(
    Quota.project_id == bindparam("project"), Quota.resource.in_(list(COUNTED)))
#: Statements of the hot path, built once (building a statement costs as much as a SELECT).
COUNT = {name: select(func.count()).select_from(model).where(
    model.project_id == bindparam("project")) for name, model in COUNTED.items()}
#: The count and the project's own limit in one round trip (a create's check).
COUNT_AND_LIMIT = {name: select(count.scalar_subquery(), OWN_LIMIT.scalar_subquery())
                   for name, count in COUNT.items()}
LOCK = select(func.pg_advisory_xact_lock(bindparam("key")))


def lock_key(resource: str, project_id: str) -> int:
    """The advisory lock of one project's usage of *resource*: a signed 64-bit key, the
    same in every process (a collision only makes two projects take turns)."""
    digest = hashlib.blake2b(f"{resource}\0{project_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class Limits:
    """Every project's limits (its own where it has one, else the defaults), what it
    uses, and the check every create passes."""

    def __init__(self, settings: Settings, db: Database):
        #: A missing ``quota_<name>`` setting fails here, at start.
        self.defaults = {name: int(getattr(settings, f"quota_{name}")) for name in COUNTED}
        self.is_sqlite = db.is_sqlite

    def of(self, session: Session, project_id: str) -> dict[str, int]:
        """The project's limit on every counted resource."""
        own: dict[str, int] = dict(session.execute(OWN_LIMITS, {"project": project_id}).all())
        return {name: own.get(name, default) for name, default in self.defaults.items()}

    def limit(self, session: Session, project_id: str, resource: str) -> int:
        own = session.scalar(OWN_LIMIT, {"project": project_id, "resource": resource})
        return self.defaults[resource] if own is None else own

    def lock(self, session: Session, project_id: str, resource: str) -> None:
        """Wait until no other transaction is counting the project's *resource*, and keep
        them waiting until this one ends (PostgreSQL; SQLite has one writer anyway)."""
        if not self.is_sqlite:
            session.execute(LOCK, {"key": lock_key(resource, project_id)})

    def used(self, session: Session, project_id: str, resource: str) -> int:
        """How many of *resource* the project has, including what this transaction wrote."""
        return session.scalar(COUNT[resource], {"project": project_id}) or 0

    def charge(self, session: Session, resource: str, project_id: str) -> None:
        """Refuse the create of *resource* this transaction made if it took the project
        over its limit (409 ``OverQuota``, the transaction rolls back)."""
        if resource not in COUNTED or not project_id:
            return
        if self.limit(session, project_id, resource) < 0:
            return
        self.lock(session, project_id, resource)
        # The limit is read again under the lock: one changed meanwhile (its update takes
        # the same lock) applies to this create.
        used, own = session.execute(COUNT_AND_LIMIT[resource],
                                    {"project": project_id, "resource": resource}).one()
        limit = self.defaults[resource] if own is None else own
        if 0 <= limit < used:
            raise exc.OverQuota(overs=[resource])


class Quotas:
    """Neutron's quota API: limits, defaults, usage details, changes and resets."""

    def __init__(self, db: Database, writes: Writes):
        self.db = db
        self.writes = writes
        self.limits = writes.limits

    @property
    def resources(self) -> list[str]:
        return list(COUNTED)

    def defaults(self) -> dict[str, int]:
        return dict(self.limits.defaults)

    def get(self, project_id: str) -> dict[str, int]:
        with self.db.read() as session:
            return self.limits.of(session, project_id)

    def details(self, project_id: str) -> dict[str, dict[str, int]]:
        """Limit, usage and reservations (none, see the module) of every resource."""
        with self.db.read() as session:
            limits = self.limits.of(session, project_id)
            return {name: {"limit": limit, "used": self.limits.used(session, project_id, name),
                           "reserved": 0}
                    for name, limit in limits.items()}

    def list(self, ctx: Context) -> list[dict[str, Any]]:
        """The projects with limits of their own, each with all its limits (Neutron's
        "non-default quotas"): every such project for an admin, else only the caller's."""
        stmt = select(Quota.project_id, Quota.resource, Quota.limit).where(
            Quota.resource.in_(list(COUNTED))).order_by(Quota.project_id, Quota.resource)
        if not ctx.is_admin:
            stmt = stmt.where(Quota.project_id == ctx.project_id)
        with self.db.read() as session:
            rows = session.execute(stmt).all()
        projects: dict[str, dict[str, Any]] = {}
        for project_id, resource, limit in rows:
            entry = projects.setdefault(project_id, {**self.limits.defaults,
                                                     "project_id": project_id,
                                                     "tenant_id": project_id})
            entry[resource] = limit
        return list(projects.values())

    def update(self, project_id: str, limits: dict[str, int], force: bool) -> dict[str, int]:
        """Set the project's own *limits*; unless *force*, a limit below what the project
        already uses is refused (Neutron's ``quota-check-limit-default``).  Returns all of
        the project's limits."""
        def body(session: Session) -> dict[str, int]:
            for resource, limit in sorted(limits.items()):
                if not force and limit >= 0:
                    self.limits.lock(session, project_id, resource)
                    used = self.limits.used(session, project_id, resource)
                    if used > limit:
                        raise exc.QuotaBelowUsage(limit=limit, resource=resource, used=used)
                row = session.get(Quota, (project_id, resource))
                if row is None:
                    session.add(Quota(project_id=project_id, resource=resource, limit=limit))
                else:
                    row.limit = limit
            session.flush()
            return self.limits.of(session, project_id)

        return self.writes.transaction(body)

    def delete(self, project_id: str) -> None:
        """Back to the defaults; 404 if the project has no limits of its own."""
        def body(session: Session) -> None:
            deleted = session.connection().execute(
                delete(Quota).where(Quota.project_id == project_id)).rowcount
            if not deleted:
                raise exc.TenantQuotaNotFound(tenant_id=project_id)

        self.writes.transaction(body)
