"""RBAC policies (``rbac-policies``): which projects besides its owner may use an object.

A policy grants one *action* on one object to one project or to every project
(``*``): ``access_as_shared`` (use it as one's own: ports on a network) or
``access_as_external`` (a network that routers may take as their gateway).
Each resource that can be shared declares itself once, as a :class:`Shareable`
in its own module (``networks.SHAREABLE``), with the actions it takes and who
uses it through them; :class:`RbacPolicies` is given the registry of those
(``Plugin``), so a resource that lands later (QoS policies, security groups,
address scopes, subnet pools) is one more declaration and one more entry.

Neutron's rules, kept here:

* a caller who does not see every project sees its own project's objects and
  those a policy grants to its project or to ``*`` (:meth:`Shareable.visible`);
  it sees the policies of its own project only;
* only an object's owner, or an admin, may create or change policies on it
  (else 400 ``InvalidInput``, also when the object is not visible: nothing tells
  a hidden object from a missing one);
* a project must not lose an access it uses: revoking or retargeting a policy
  is refused (409 ``RbacPolicyInUse``) while a project that only that policy
  let in still uses the object; the owner never loses access.

Changing an object's policies is a change of the object (its revision moves,
as in Neutron) that mechanism drivers do not hear of, as with tags.
"""
from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import BindParameter, ColumnElement, delete, or_, select
from sqlalchemy.orm import Session

from neutrino.core import exceptions as exc
from neutrino.core.context import Context, owned
from neutrino.core.query import ListQuery, check_visible, visible_page
from neutrino.core.writes import Writes
from neutrino.db.models import WILDCARD, RbacPolicy, StandardAttrs, touch
from neutrino.db.session import Database

#: The projects using an object through one action (a network's ports' projects).
Users = Callable[[Session, str], set[str]]
#: What a new grant of an object to a target project must satisfy besides the object's
#: ownership (raises 400 if it does not).
GrantCheck = Callable[[Session, Any, str], None]
#: Why the policy of (object id, action, target) must stay whoever uses the object
#: (None: it may go).
Pinned = Callable[[Session, str, str, str], str | None]


@dataclass(frozen=True)
class Shareable:
    """A resource type that RBAC policies can share: its model, its API name (the
    policies' ``object_type``), the actions a policy on it may grant (each also
    makes it visible to the target) and, per action, who uses it that way."""

    model: type[StandardAttrs]
    object_type: str
    not_found: Callable[[str], exc.NotFound]
    actions: tuple[str, ...]
    users: Mapping[str, Users] = field(default_factory=dict)
    #: Whether the ``service`` role reads every project's objects, as admins do: so for
    #: networks, whose rules let it read them; objects whose rules do not name it (subnet
    #: pools, address scopes) are scoped to its project, so Neutron's lists (which drop
    #: what the caller may not get) and Neutrino's agree.
    service_sees_all: bool = True
    #: Checked before a policy on an object of this type is created (a subnet pool in an
    #: address scope may be shared only with a project that sees the scope).
    check_grant: GrantCheck | None = None
    #: Checked before the ``rbac-policies`` API deletes or retargets a policy on an object
    #: of this type (the default external network keeps its ``*`` access_as_external).
    pinned: Pinned | None = None

    def check_removable(self, session: Session, policy: RbacPolicy) -> None:
        """409 ``RbacPolicyInUse`` if *policy* must stay (:attr:`pinned`)."""
        reason = self.pinned and self.pinned(session, policy.object_id, policy.action,
                                             policy.target_project)
        if reason:
            raise exc.RbacPolicyInUse(object_id=policy.object_id, details=reason)

    def granted(self, project_id: str | BindParameter[str] | None, actions: Collection[str],
                id_column: Any = None) -> ColumnElement[bool]:
        """Whether a policy grants one of *actions* on the object (whose id is in
        *id_column*, by default the model's own) to *project_id* (a value, or a parameter
        of a statement built once) or to everyone.

        An uncorrelated ``IN``: both databases read the grants once per query and
        look each row up in them, instead of probing the policies row by row.  Its
        actions and targets are equalities, not ``IN`` lists: SQLAlchemy renders a list
        again on every execution, which was a third of the network owner's read that
        precedes every port create.
        """
        targets = (WILDCARD,) if project_id is None else (WILDCARD, project_id)
        return (self.model.id if id_column is None else id_column).in_(
            select(RbacPolicy.object_id).where(
                RbacPolicy.object_type == self.object_type,
                or_(*(RbacPolicy.action == action for action in actions)),
                or_(*(RbacPolicy.target_project == target for target in targets))))

    def visible(self, ctx: Context, id_column: Any = None,
                owner_column: Any = None) -> ColumnElement | None:
        """The objects *ctx* may see (or the rows of *id_column* on them): its project's
        and those granted to it; None: all (a semi-join: no join to multiply rows)."""
        if ctx.is_admin or (ctx.is_service and self.service_sees_all):
            return None
        owner = self.model.project_id if owner_column is None else owner_column
        return or_(owner == ctx.project_id, self.granted(ctx.project_id, self.actions, id_column))

    def targets(self, session: Session, object_id: str, action: str) -> set[str]:
        return set(session.scalars(select(RbacPolicy.target_project).where(
            RbacPolicy.object_type == self.object_type, RbacPolicy.object_id == object_id,
            RbacPolicy.action == action)))

    def grant(self, session: Session, obj: StandardAttrs, action: str, target: str) -> None:
        """Add the policy (made by the object's owner) unless it exists."""
        if target not in self.targets(session, obj.id, action):
            session.add(RbacPolicy(project_id=obj.project_id, object_type=self.object_type,
                                   object_id=obj.id, action=action, target_project=target))

    def forget(self, session: Session, object_id: str) -> None:
        """Delete every policy on the object (which is being deleted)."""
        session.execute(delete(RbacPolicy).where(RbacPolicy.object_type == self.object_type,
                                                 RbacPolicy.object_id == object_id))

    def revoke(self, session: Session, obj: StandardAttrs, action: str, targets: set[str],
               in_use: Callable[[set[str]], exc.NeutronError]) -> None:
        """Delete the policies of *action* to *targets*, unless a project that only they
        let in uses the object: then raise ``in_use(those projects)``."""
        before = self.targets(session, obj.id, action)
        self.check_kept(session, obj, action, before, before - targets, in_use)
        session.execute(delete(RbacPolicy).where(
            RbacPolicy.object_type == self.object_type, RbacPolicy.object_id == obj.id,
            RbacPolicy.action == action, RbacPolicy.target_project.in_(targets)))

    def check_kept(self, session: Session, obj: StandardAttrs, action: str, before: set[str],
                   after: set[str], in_use: Callable[[set[str]], exc.NeutronError]) -> None:
        """Raise ``in_use(projects)`` if projects using *obj* through *action* had access
        with the targets *before* and lose it with those *after*."""
        users = self.users.get(action)
        if users is None or WILDCARD in after:
            return
        lost = {p for p in users(session, obj.id) - after - {obj.project_id}
                if WILDCARD in before or p in before}
        if lost:
            raise in_use(lost)


def policy_dict(row: Any) -> dict[str, Any]:
    return {"id": row.id, "project_id": row.project_id, "tenant_id": row.project_id,
            "object_type": row.object_type, "object_id": row.object_id, "action": row.action,
            "target_tenant": row.target_project}


def _columns() -> dict[str, Any]:
    c = RbacPolicy.__table__.c
    return {"id": c.id, "project_id": c.project_id, "tenant_id": c.project_id,
            "object_type": c.object_type, "object_id": c.object_id, "action": c.action,
            "target_tenant": c.target_project}


#: Filterable attributes of a policy listing.
COLUMNS = _columns()


def visible_policies(ctx: Context) -> ColumnElement | None:
    """A caller that does not see every project sees its own project's policies only
    (not those that grant it something: they belong to the object's owner)."""
    return None if ctx.sees_all_projects else RbacPolicy.project_id == ctx.project_id


def not_found(policy_id: str) -> exc.RbacPolicyNotFound:
    return exc.RbacPolicyNotFound(id=policy_id, object_type="unknown")


class RbacPolicies:
    """The ``rbac-policies`` API over the registry of shareable types (by object type)."""

    def __init__(self, db: Database, writes: Writes, shareable: dict[str, Shareable]):
        self.db = db
        self.writes = writes
        self.shareable = shareable

    def _type(self, object_type: str, action: str) -> Shareable:
        shareable = self.shareable.get(object_type)
        if shareable is None:
            raise exc.InvalidInput(error_message=f"'{object_type}' is not a valid RBAC object type")
        if action not in shareable.actions:
            raise exc.InvalidInput(error_message=(
                f"Invalid action '{action}' for object type '{object_type}'. Valid actions: "
                f"{', '.join(shareable.actions)}"))
        return shareable

    def _owned_object(self, session: Session, ctx: Context, shareable: Shareable,
                      object_id: str) -> StandardAttrs:
        """The object the caller may make policies on: 400 (as Neutron) if it does not
        see it, or sees it without owning it and is no admin."""
        try:
            check_visible(session, shareable.visible(ctx), shareable.model.id, object_id,
                          shareable.not_found(object_id))
            obj = session.get(shareable.model, object_id)
            if obj is None:
                raise shareable.not_found(object_id)
        except exc.NotFound as missing:
            raise exc.InvalidInput(error_message=missing.msg.rstrip(".")) from None
        if not ctx.is_admin and obj.project_id != ctx.project_id:
            raise exc.InvalidInput(error_message=(
                f"Only admins can manipulate policies on {shareable.object_type}s "
                "they do not own"))
        return obj

    def create(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.writes.transaction(lambda s: self._create(s, ctx, owned(ctx, attrs)))

    def _create(self, session: Session, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        shareable = self._type(attrs["object_type"], attrs["action"])
        obj = self._owned_object(session, ctx, shareable, attrs["object_id"])
        if attrs["target_project"] in shareable.targets(session, obj.id, attrs["action"]):
            raise exc.DuplicateRbacPolicy()
        if shareable.check_grant is not None:
            shareable.check_grant(session, obj, attrs["target_project"])
        policy = RbacPolicy(project_id=attrs.get("project_id", ""),
                            object_type=attrs["object_type"], object_id=obj.id,
                            action=attrs["action"], target_project=attrs["target_project"])
        session.add(policy)
        touch(obj)
        session.flush()
        # No driver hears of a policy, so it takes no Writes.write: its quota is charged here.
        self.writes.limits.charge(session, "rbac_policy", policy.project_id)
        return policy_dict(policy)

    def _visible_policy(self, session: Session, ctx: Context, policy_id: str) -> RbacPolicy:
        check_visible(session, visible_policies(ctx), RbacPolicy.id, policy_id,
                      not_found(policy_id))
        policy = session.get(RbacPolicy, policy_id)
        if policy is None:
            raise not_found(policy_id)
        return policy

    def get(self, ctx: Context, policy_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            return policy_dict(self._visible_policy(session, ctx, policy_id))

    def list_page(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        visible = visible_policies(ctx)
        with self.db.read() as session:
            rows, more = visible_page(session, RbacPolicy.__table__, COLUMNS, visible, query)
            return [policy_dict(r) for r in rows], more

    def update(self, ctx: Context, policy_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
        """Retarget a policy (its only attribute that changes)."""
        return self.writes.transaction(lambda s: self._update(s, ctx, policy_id, attrs))

    def _update(self, session: Session, ctx: Context, policy_id: str,
                attrs: dict[str, Any]) -> dict[str, Any]:
        policy = self._visible_policy(session, ctx, policy_id)
        shareable = self._type(policy.object_type, policy.action)
        obj = self._owned_object(session, ctx, shareable, policy.object_id)
        new = attrs.get("target_project", policy.target_project)
        if new != policy.target_project:
            before = shareable.targets(session, obj.id, policy.action)
            if new in before:
                raise exc.DuplicateRbacPolicy()
            shareable.check_removable(session, policy)
            shareable.check_kept(session, obj, policy.action, before,
                                 before - {policy.target_project} | {new},
                                 lambda lost: in_use(policy, lost))
            policy.target_project = new
            touch(obj)
            session.flush()
        return policy_dict(policy)

    def delete(self, ctx: Context, policy_id: str) -> None:
        self.writes.transaction(lambda s: self._delete(s, ctx, policy_id))

    def _delete(self, session: Session, ctx: Context, policy_id: str) -> None:
        policy = self._visible_policy(session, ctx, policy_id)
        shareable = self.shareable[policy.object_type]
        obj = session.get(shareable.model, policy.object_id)
        if obj is None:  # deleted with its object meanwhile
            raise not_found(policy_id)
        shareable.check_removable(session, policy)
        shareable.revoke(session, obj, policy.action, {policy.target_project},
                         lambda lost: in_use(policy, lost))
        touch(obj)


def in_use(policy: RbacPolicy, lost: set[str]) -> exc.RbacPolicyInUse:
    return exc.RbacPolicyInUse(object_id=policy.object_id, details=(
        f"project(s) {', '.join(sorted(lost))} use it through this policy "
        f"({policy.action} to {policy.target_project})"))
