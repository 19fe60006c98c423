"""The policy applied to the API's calls: 403 for forbidden writes, 404 for hidden
resources, hidden attributes removed from every answer.

Which resources a caller sees at all is decided by the core's queries
(:mod:`neutrino.core.context`); here the rules decide what it may do with what
it sees.  A target is a resource's ownership fields only (see
:mod:`neutrino.policy`): the item's ``project_id`` and, for subnets and ports,
the network's ``project_id`` and ``shared`` (``network:…``), for ports also
``device_owner``, for security group rules the group's ``project_id``
(``security_group:project_id``).  In lists the parent's fields are left out
(reading them for every item would cost a query per parent): the default rules
for attributes do not look at them.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neutrino.core import exceptions as exc
from neutrino.core.context import Context
from neutrino.core.plugin import Plugin
from neutrino.policy import RESOURCES, Caller, Creds, Policy

NOT_FOUND: dict[str, Callable[[str], exc.NotFound]] = {
    "network": lambda i: exc.NetworkNotFound(net_id=i),
    "subnet": lambda i: exc.SubnetNotFound(subnet_id=i),
    "port": lambda i: exc.PortNotFound(port_id=i),
    "security_group": lambda i: exc.SecurityGroupNotFound(id=i),
    "security_group_rule": lambda i: exc.SecurityGroupRuleNotFound(id=i),
}
#: Resources whose target names their parent's owner: the parent, and the item's key of it.
PARENTS = {"subnet": ("network", "network_id"), "port": ("network", "network_id"),
           "security_group_rule": ("security_group", "security_group_id")}


def caller(policy: Policy, ctx: Context) -> Caller:
    return policy.caller(Creds(ctx.user_id, ctx.project_id, ctx.roles, ctx.system_scope))


class Guard:
    """The rules of one resource type (``network``, ``subnet``, ``port`` …)."""

    def __init__(self, policy: Policy, plugin: Plugin, resource: str):
        self.policy, self.plugin, self.resource = policy, plugin, resource
        self.defaults = RESOURCES[resource].DEFAULTS
        self.parent = PARENTS.get(resource)

    def _parent_owner(self, ctx: Context, parent_id: str) -> dict[str, Any]:
        """The parent's ownership fields; 404 if the caller does not see it."""
        assert self.parent is not None
        return getattr(self.plugin, f"{self.parent[0]}_owner")(ctx, parent_id)

    def target(self, ctx: Context, item: dict[str, Any], with_parent: bool) -> dict[str, Any]:
        target = {"project_id": item.get("project_id") or ""}
        if self.resource in ("network", "security_group"):
            target["shared"] = bool(item.get("shared", False))
        if self.resource == "network":
            target["router:external"] = bool(item.get("router:external", False))
        if self.resource == "port":
            target["device_owner"] = item.get("device_owner") or ""
        if self.parent is not None and with_parent:
            parent, key = self.parent
            try:
                owner = self._parent_owner(ctx, item[key])
            except exc.NotFound:
                owner = {"project_id": None}
            target.update({f"{parent}:{field}": value for field, value in owner.items()})
        return target

    def _authorize(self, who: Caller, action: str, target: dict[str, Any],
                   attrs: dict[str, Any]) -> None:
        if not who.allowed(action, target):
            raise exc.PolicyNotAuthorized(rule=f"rule:{action}")
        denied = who.denied_attribute(action, target, attrs, self.defaults)
        if denied:
            raise exc.PolicyNotAuthorized(rule=f"(rule:{action} and rule:{denied})")

    def create(self, ctx: Context, attrs: dict[str, Any]) -> Caller:
        """May *ctx* create a resource with *attrs* (the body, API names)?  The owner named
        in the body is the target's: a project member naming another project fails
        ``create_<resource>`` (403)."""
        who = caller(self.policy, ctx)
        owner = attrs.get("project_id") or attrs.get("tenant_id")
        if self.parent is not None:
            parent = self._parent_owner(ctx, attrs[self.parent[1]])  # 404 if not visible
            if self.resource == "security_group_rule":  # a rule is its group's project's
                owner = parent["project_id"]
        item = {**self.defaults, **attrs,
                "project_id": owner or ctx.project_id}
        self._authorize(who, f"create_{self.resource}", self.target(ctx, item, True), attrs)
        return who

    def show(self, ctx: Context, item: dict[str, Any]) -> tuple[Caller, dict[str, Any]]:
        """The item, or 404 if ``get_<resource>`` refuses it to the caller."""
        who = caller(self.policy, ctx)
        target = self.target(ctx, item, True)
        if not who.allowed(f"get_{self.resource}", target):
            raise NOT_FOUND[self.resource](item["id"])
        return who, target

    def write(self, ctx: Context, verb: str, item: dict[str, Any],
              attrs: dict[str, Any]) -> Caller:
        """May *ctx* update (*attrs*) or delete the visible *item*?  403 if not."""
        who, target = self.show(ctx, item)
        self._authorize(who, f"{verb}_{self.resource}", target, attrs)
        return who

    def strip(self, who: Caller, ctx: Context, item: dict[str, Any]) -> dict[str, Any]:
        """*item* without the attributes ``get_<resource>:<attr>`` hides from the caller."""
        hidden = who.hidden(self.resource, self.target(ctx, item, False))
        return {k: v for k, v in item.items() if k not in hidden} if hidden else item

    def unreadable(self, who: Caller, ctx: Context) -> set[str]:
        """Attributes hidden from the caller on its own project's items: not filterable,
        not sortable (a filter on them would reveal their values)."""
        return set(who.hidden(self.resource, {"project_id": ctx.project_id or ""}))
