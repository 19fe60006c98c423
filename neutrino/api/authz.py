"""The policy applied to the API's calls: 403 for forbidden writes, 404 for hidden
resources, hidden attributes removed from every answer.

Which resources a caller sees at all is decided by the core's queries
(:mod:`neutrino.core.context`); here the rules decide what it may do with what
it sees.  A target is a resource's ownership fields only (see
:mod:`neutrino.policy.engine`): the item's ``project_id`` and, for subnets and ports,
the network's ``project_id``, ``shared`` (as the caller sees it) and
``router:external`` (``network:…``; for subnets also ``router:external``, as
Neutron's subnets carry it), for ports also ``device_owner``, for RBAC policies
``target_tenant``/``target_project``.  A list reads each network's fields once per
request.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import Any

from neutrino.core import exceptions as exc
from neutrino.core import floatingips, rbac, routers, tags
from neutrino.core.context import Context
from neutrino.core.plugin import Plugin
from neutrino.policy import RESOURCES, Creds, Decisions, Rules
from neutrino.policy.base import TAGS

NOT_FOUND: dict[str, Callable[[str], exc.NotFound]] = {
    "network": lambda i: exc.NetworkNotFound(net_id=i),
    "subnet": lambda i: exc.SubnetNotFound(subnet_id=i),
    "port": lambda i: exc.PortNotFound(port_id=i),
    "rbac_policy": rbac.not_found,
    "router": routers.not_found,
    "floatingip": floatingips.not_found,
}


def caller(policy: Rules, ctx: Context) -> Decisions:
    return policy.caller(Creds(ctx.user_id, ctx.project_id, ctx.roles, ctx.system_scope))


class Guard:
    """The rules of one resource type (``network``, ``subnet``, ``port``, ``rbac_policy``)."""

    def __init__(self, policy: Rules, plugin: Plugin, resource: str):
        self.policy, self.plugin, self.resource = policy, plugin, resource
        self.defaults = RESOURCES[resource].DEFAULTS
        #: Further names each attribute's rules are checked under (``target_project``).
        self.aliases: dict[str, str] = getattr(RESOURCES[resource], "ALIASES", {})
        self.has_network = resource in ("subnet", "port")

    def target(self, ctx: Context, item: dict[str, Any],
               network: Callable[[str], dict[str, Any]] | None) -> dict[str, Any]:
        """*item*'s target; with *network* (``network_id`` → its owner fields) the
        network's ``project_id`` and ``shared`` too."""
        target = {"project_id": item.get("project_id") or ""}
        if self.resource == "network":
            target["shared"] = bool(item.get("shared", False))
            target["router:external"] = bool(item.get("router:external", False))
        if self.resource == "port":
            target["device_owner"] = item.get("device_owner") or ""
        if self.resource == "rbac_policy":
            target["target_tenant"] = target["target_project"] = item.get("target_tenant")
        if self.has_network and network is not None:
            owner = network(item["network_id"])
            target["network:project_id"] = owner["project_id"]
            target["network:shared"] = owner["shared"]
            target["network:router:external"] = owner["router:external"]
            if self.resource == "subnet":
                target["router:external"] = owner["router:external"]
        return target

    def network(self, ctx: Context) -> Callable[[str], dict[str, Any]]:
        """A network's owner fields as *ctx* may read them, each network read once."""
        seen: dict[str, dict[str, Any]] = {}

        def owner(net_id: str) -> dict[str, Any]:
            if net_id not in seen:
                try:
                    seen[net_id] = self.plugin.network_owner(ctx, net_id)
                except exc.NetworkNotFound:
                    seen[net_id] = {"project_id": None, "shared": False,
                                    "router:external": False}
            return seen[net_id]
        return owner

    def _authorize(self, who: Decisions, action: str, target: dict[str, Any],
                   attrs: dict[str, Any]) -> None:
        if not who.allowed(action, target):
            raise exc.PolicyNotAuthorized(rule=f"rule:{action}")
        attrs = {**attrs, **{alias: attrs[name] for name, alias in self.aliases.items()
                             if name in attrs}}
        denied = who.denied_attribute(action, target, attrs, self.defaults)
        if denied:
            raise exc.PolicyNotAuthorized(rule=f"(rule:{action} and rule:{denied})")

    def create(self, ctx: Context, attrs: dict[str, Any]) -> tuple[Decisions, dict[str, Any]]:
        """May *ctx* create a resource with *attrs* (the body, API names)?  The owner named
        in the body is the target's: a project member naming another project fails
        ``create_<resource>`` (403)."""
        who = caller(self.policy, ctx)
        owner = attrs.get("project_id") or attrs.get("tenant_id")
        if self.has_network:
            self.plugin.network_owner(ctx, attrs["network_id"])  # 404 if not visible
        item = {**self.defaults, **attrs,
                "project_id": owner or ctx.project_id}
        target = self.target(ctx, item, self.network(ctx))
        self._authorize(who, f"create_{self.resource}", target, attrs)
        return who, target

    def show(self, ctx: Context, item: dict[str, Any]) -> tuple[Decisions, dict[str, Any]]:
        """The item, or 404 if ``get_<resource>`` refuses it to the caller."""
        who = caller(self.policy, ctx)
        target = self.target(ctx, item, self.network(ctx))
        if not who.allowed(f"get_{self.resource}", target):
            raise NOT_FOUND[self.resource](item["id"])
        return who, target

    def write(self, ctx: Context, verb: str, item: dict[str, Any],
              attrs: dict[str, Any]) -> tuple[Decisions, dict[str, Any]]:
        """May *ctx* update (*attrs*) or delete the visible *item*?  403 if not.

        An update is judged on the item as it would become (Neutron's target is the
        stored resource with the request's values over it): setting ``device_owner`` to
        ``network:…`` is a network device's rule even on a port that is not one yet."""
        who, target = self.show(ctx, item)
        if attrs:
            target = {**target, **self.target(ctx, {**item, **attrs}, None)}
        self._authorize(who, f"{verb}_{self.resource}", target, attrs)
        return who, target

    def act(self, ctx: Context, action: str,
            item: dict[str, Any]) -> tuple[Decisions, dict[str, Any]]:
        """May *ctx* run the member *action* (its rule's name, e.g. ``add_router_interface``)
        on the visible *item*?  403 if not."""
        who, target = self.show(ctx, item)
        self._authorize(who, action, target, {})
        return who, target

    def tags(self, ctx: Context, verb: str, item: dict[str, Any]) -> None:
        """May *ctx* ``get``, ``update`` or ``delete`` the tags of *item*?  404 if it may
        not see *item*, 403 if ``<verb>_<resource>:tags`` refuses (Neutron answers 403 for
        both: it reads the resource as an admin; hiding it is Neutrino's promise)."""
        who, target = self.show(ctx, item)
        name = f"{verb}_{self.resource}:{TAGS}"
        if not who.allowed(name, target):
            raise exc.PolicyNotAuthorized(rule=f"rule:{name}")

    def strip(self, who: Decisions, target: dict[str, Any], item: dict[str, Any]) -> dict[str, Any]:
        """*item* (whose target is *target*) without the attributes ``get_<resource>:<attr>``
        hides from the caller."""
        hidden = who.hidden(self.resource, target)
        return {k: v for k, v in item.items() if k not in hidden} if hidden else item

    def stripper(self, who: Decisions, ctx: Context) -> Callable[[dict[str, Any]], dict[str, Any]]:
        """:meth:`strip` for the items of one list (nothing to do, no network to read, for
        a caller from whom nothing is hidden)."""
        if who.hides_nothing:
            return lambda item: item
        network = self.network(ctx)
        return lambda item: self.strip(who, self.target(ctx, item, network), item)

    def unreadable(self, who: Decisions, ctx: Context) -> set[str]:
        """Attributes hidden from the caller on its own project's items: not filterable,
        not sortable (a filter on them would reveal their values); hidden tags take the
        four tag filters with them."""
        hidden = set(who.hidden(self.resource, {"project_id": ctx.project_id or ""}))
        return hidden | set(tags.FILTERS) if TAGS in hidden else hidden
