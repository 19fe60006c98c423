"""The policy applied to the API's calls: 403 for forbidden writes, 404 for hidden
resources, hidden attributes removed from every answer.

Which resources a caller sees at all is decided by the core's queries
(:mod:`neutrino.core.context`); here the rules decide what it may do with what
it sees.  A target is a resource's ownership fields only (see
:mod:`neutrino.policy`): the item's ``project_id`` and, for subnets and ports,
the network's ``project_id``, ``shared`` (as the caller sees it) and
``router:external`` (``network:…``; for subnets also ``router:external``, as
Neutron's subnets carry it), for ports also ``device_owner``, for RBAC policies
``target_tenant``/``target_project``.  In lists the network's fields are left
out (reading them for every item would cost a query per network): the default
rules for attributes do not look at them.  A write's target is the item as the
request would leave it, as in Neutron.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neutrino.core import exceptions as exc
from neutrino.core import floatingips, rbac, routers
from neutrino.core.context import Context
from neutrino.core.plugin import Plugin
from neutrino.policy import RESOURCES, Caller, Creds, Policy

NOT_FOUND: dict[str, Callable[[str], exc.NotFound]] = {
    "network": lambda i: exc.NetworkNotFound(net_id=i),
    "subnet": lambda i: exc.SubnetNotFound(subnet_id=i),
    "port": lambda i: exc.PortNotFound(port_id=i),
    "rbac_policy": rbac.not_found,
    "router": routers.not_found,
    "floatingip": floatingips.not_found,
}


def caller(policy: Policy, ctx: Context) -> Caller:
    return policy.caller(Creds(ctx.user_id, ctx.project_id, ctx.roles, ctx.system_scope))


class Guard:
    """The rules of one resource type (``network``, ``subnet``, ``port``, ``rbac_policy``)."""

    def __init__(self, policy: Policy, plugin: Plugin, resource: str):
        self.policy, self.plugin, self.resource = policy, plugin, resource
        self.defaults = RESOURCES[resource].DEFAULTS
        #: Further names each attribute's rules are checked under (``target_project``).
        self.aliases: dict[str, str] = getattr(RESOURCES[resource], "ALIASES", {})
        self.has_network = resource in ("subnet", "port")

    def target(self, ctx: Context, item: dict[str, Any], with_network: bool) -> dict[str, Any]:
        target = {"project_id": item.get("project_id") or ""}
        if self.resource == "network":
            target["shared"] = bool(item.get("shared", False))
            target["router:external"] = bool(item.get("router:external", False))
        if self.resource == "port":
            target["device_owner"] = item.get("device_owner") or ""
        if self.resource == "rbac_policy":
            target["target_tenant"] = target["target_project"] = item.get("target_tenant")
        if self.has_network and with_network:
            try:
                network = self.plugin.network_owner(ctx, item["network_id"])
            except exc.NetworkNotFound:
                network = {"project_id": None, "shared": False, "router:external": False}
            target["network:project_id"] = network["project_id"]
            target["network:shared"] = network["shared"]
            target["network:router:external"] = network["router:external"]
            if self.resource == "subnet":
                target["router:external"] = network["router:external"]
        return target

    def _authorize(self, who: Caller, action: str, target: dict[str, Any],
                   attrs: dict[str, Any]) -> None:
        if not who.allowed(action, target):
            raise exc.PolicyNotAuthorized(rule=f"rule:{action}")
        attrs = {**attrs, **{alias: attrs[name] for name, alias in self.aliases.items()
                             if name in attrs}}
        denied = who.denied_attribute(action, target, attrs, self.defaults)
        if denied:
            raise exc.PolicyNotAuthorized(rule=f"(rule:{action} and rule:{denied})")

    def create(self, ctx: Context, attrs: dict[str, Any]) -> Caller:
        """May *ctx* create a resource with *attrs* (the body, API names)?  The owner named
        in the body is the target's: a project member naming another project fails
        ``create_<resource>`` (403)."""
        who = caller(self.policy, ctx)
        owner = attrs.get("project_id") or attrs.get("tenant_id")
        if self.has_network:
            self.plugin.network_owner(ctx, attrs["network_id"])  # 404 if not visible
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
        if attrs:
            target = self.target(ctx, {**item, **attrs}, True)
        self._authorize(who, f"{verb}_{self.resource}", target, attrs)
        return who

    def act(self, ctx: Context, action: str, item: dict[str, Any]) -> Caller:
        """May *ctx* run the member *action* (its rule's name, e.g. ``add_router_interface``)
        on the visible *item*?  403 if not."""
        who, target = self.show(ctx, item)
        self._authorize(who, action, target, {})
        return who

    def strip(self, who: Caller, ctx: Context, item: dict[str, Any]) -> dict[str, Any]:
        """*item* without the attributes ``get_<resource>:<attr>`` hides from the caller."""
        hidden = who.hidden(self.resource, self.target(ctx, item, False))
        return {k: v for k, v in item.items() if k not in hidden} if hidden else item

    def unreadable(self, who: Caller, ctx: Context) -> set[str]:
        """Attributes hidden from the caller on its own project's items: not filterable,
        not sortable (a filter on them would reveal their values)."""
        return set(who.hidden(self.resource, {"project_id": ctx.project_id or ""}))
