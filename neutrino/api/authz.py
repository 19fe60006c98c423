"""The policy applied to the API's calls: 403 for forbidden writes, 404 for hidden
resources, hidden attributes removed from every answer.

Which resources a caller sees at all is decided by the core's queries
(:mod:`neutrino.core.context`); here the rules decide what it may do with what
it sees.  A target is a resource's ownership fields only (see
:mod:`neutrino.policy.engine`): the item's ``project_id`` and, for subnets and ports,
the network's ``project_id``, ``shared`` (as the caller sees it) and
``router:external`` (``network:…``; for subnets also ``router:external``, as
Neutron's subnets carry it), for ports also ``device_owner``, for RBAC policies
``target_tenant``/``target_project``, for security group rules the group's
``project_id`` (``security_group:project_id``), for networks, security groups, subnet
pools and address scopes their ``shared`` as the caller sees it.  A list reads each
parent's fields once per request.
"""
from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from neutrino.core import address_scopes, floatingips, rbac, routers, subnetpools, tags
from neutrino.core import exceptions as exc
from neutrino.core.context import Context
from neutrino.core.plugin import Plugin
from neutrino.policy import RESOURCES, Creds, Decisions, Rules
from neutrino.policy.base import TAGS

NOT_FOUND: dict[str, Callable[[str], exc.NotFound]] = {
    "network": lambda i: exc.NetworkNotFound(net_id=i),
    "subnet": lambda i: exc.SubnetNotFound(subnet_id=i),
    "port": lambda i: exc.PortNotFound(port_id=i),
    "security_group": lambda i: exc.SecurityGroupNotFound(id=i),
    "security_group_rule": lambda i: exc.SecurityGroupRuleNotFound(id=i),
    "rbac_policy": rbac.not_found,
    "subnetpool": subnetpools.not_found,
    "address_scope": address_scopes.not_found,
    "router": routers.not_found,
    "floatingip": floatingips.not_found,
}
#: Resources whose target carries ``shared`` (as the caller sees it).
SHARED = ("network", "security_group", "subnetpool", "address_scope")
#: The fields of its own, besides ``project_id`` and its parent's id, that a resource's
#: target is made of (:meth:`Guard.target`).
OWN_FIELDS: dict[str, tuple[str, ...]] = {
    **{resource: ("shared",) for resource in SHARED}, "network": ("shared", "router:external"),
    "port": ("device_owner",), "rbac_policy": ("target_tenant",)}
#: The owner fields of a network the caller does not see.
HIDDEN_NETWORK = {"project_id": None, "shared": False, "router:external": False}
#: Resources whose target names their parent's owner: the parent, the item's key of it,
#: and the owner fields of a parent the caller does not see.
PARENTS: dict[str, tuple[str, str, dict[str, Any]]] = {
    "subnet": ("network", "network_id", HIDDEN_NETWORK),
    "port": ("network", "network_id", HIDDEN_NETWORK),
    "security_group_rule": ("security_group", "security_group_id", {"project_id": None}),
}


def caller(policy: Rules, ctx: Context) -> Decisions:
    return policy.caller(Creds(ctx.user_id, ctx.project_id, ctx.roles, ctx.system_scope))


class Guard:
    """The rules of one resource type (``network``, ``subnet``, ``port`` …)."""

    def __init__(self, policy: Rules, plugin: Plugin, resource: str):
        self.policy, self.plugin, self.resource = policy, plugin, resource
        self.defaults = RESOURCES[resource].DEFAULTS
        self.parent = PARENTS.get(resource)
        #: Further names each attribute's rules are checked under (``target_project``).
        self.aliases: dict[str, str] = RESOURCES[resource].ALIASES
        #: The fields of an item that :meth:`target` reads: items alike in them have one
        #: target, so a list decides what to hide once per kind of item, not per item.
        self.owner_fields = ("project_id", *OWN_FIELDS.get(resource, ()),
                             *((self.parent[1],) if self.parent else ()))

    def target(self, ctx: Context, item: dict[str, Any],
               parent: Callable[[str], dict[str, Any]] | None) -> dict[str, Any]:
        """*item*'s target, made of its :attr:`owner_fields`; with *parent* (its parent's
        id → the parent's owner fields) those too, as ``<parent>:<field>``."""
        target = {"project_id": item.get("project_id") or ""}
        if self.resource in SHARED:
            target["shared"] = bool(item.get("shared", False))
        if self.resource == "network":
            target["router:external"] = bool(item.get("router:external", False))
        if self.resource == "port":
            target["device_owner"] = item.get("device_owner") or ""
        if self.resource == "rbac_policy":
            target["target_tenant"] = target["target_project"] = item.get("target_tenant")
        if self.parent is not None and parent is not None:
            name, key, _ = self.parent
            target.update({f"{name}:{field}": value
                           for field, value in parent(item[key]).items()})
        if self.resource == "subnet" and "network:router:external" in target:
            target["router:external"] = target["network:router:external"]
        return target

    def owner(self, ctx: Context, parent_id: str) -> dict[str, Any]:
        """The parent's owner fields; 404 if *ctx* does not see it."""
        assert self.parent is not None
        return getattr(self.plugin, f"{self.parent[0]}_owner")(ctx, parent_id)

    def parents(self, ctx: Context) -> Callable[[str], dict[str, Any]]:
        """A parent's (the network's, or a rule's group's) owner fields as *ctx* may read
        them, each parent read once."""
        seen: dict[str, dict[str, Any]] = {}

        def owner(parent_id: str) -> dict[str, Any]:
            if parent_id not in seen:
                assert self.parent is not None
                try:
                    seen[parent_id] = self.owner(ctx, parent_id)
                except exc.NotFound:
                    seen[parent_id] = self.parent[2]
            return seen[parent_id]
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
        """May *ctx* create a resource with *attrs* (the body, API names)?  Only admins and
        services name another project as owner (else 400, before any rule, as Neutron);
        the owner named is the target's."""
        return self.create_all(ctx, [attrs])[0]

    def create_all(self, ctx: Context,
                   items: list[dict[str, Any]]) -> list[tuple[Decisions, dict[str, Any]]]:
        """:meth:`create` of each of a bulk create's *items*, each parent read once; every
        item's owner is checked before any rule (Neutron's ``prepare_request_body``)."""
        who = caller(self.policy, ctx)
        owners = functools.cache(functools.partial(self.owner, ctx))  # 404 if not visible
        checked = []
        for attrs in items:
            owner = attrs.get("project_id") or attrs.get("tenant_id")
            if owner and owner != ctx.project_id and not ctx.sees_all_projects:
                raise exc.ProjectNotOwn()
        for attrs in items:
            owner = attrs.get("project_id") or attrs.get("tenant_id")
            if self.parent is not None:
                parent = owners(attrs[self.parent[1]])
                if self.resource == "security_group_rule":  # a rule is its group's project's
                    owner = parent["project_id"]
            item = {**self.defaults, **attrs, "project_id": owner or ctx.project_id}
            target = self.target(ctx, item, owners)
            self._authorize(who, f"create_{self.resource}", target, attrs)
            checked.append((who, target))
        return checked

    def attributes(self, verb: str) -> frozenset[str]:
        """The attributes that rules of their own restrict on *verb* (``create``, ``update``)."""
        prefix = f"{verb}_{self.resource}:"
        return frozenset(r.name.removeprefix(prefix)
                         for r in RESOURCES[self.resource].RULES if r.name.startswith(prefix))

    def refuse_unvalidated(self, ctx: Context, items: list[dict[str, Any]],
                           stored: Callable[[], dict[str, Any]] | None = None) -> None:
        """403 if the policy refuses a create of *items*, or with *stored* (which reads the
        resource) an update by ``items[0]``: attributes not yet validated, each read alone
        (:meth:`neutrino.api.schemas.Body.read_alone`).  What it cannot judge (no parent
        id, an unknown or hidden resource, text no database can compare against) is left
        to validation, which answers 400."""
        if not _comparable(items):
            return
        try:
            if stored is not None:
                self.write(ctx, "update", stored(), items[0])
            elif self.parent is None or all(isinstance(item.get(self.parent[1]), str)
                                            for item in items):
                self.create_all(ctx, items)
        except exc.NotFound:
            return

    def show(self, ctx: Context, item: dict[str, Any]) -> tuple[Decisions, dict[str, Any]]:
        """The item, or 404 if ``get_<resource>`` refuses it to the caller."""
        who = caller(self.policy, ctx)
        target = self.target(ctx, item, self.parents(ctx))
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

    def viewer(self, ctx: Context,
               who: Decisions) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
        """The items of a list as *ctx* may see them: those ``get_<resource>`` allows (as
        Neutron, whose lists drop the others: a list shows what a show would), each
        without the attributes hidden from the caller; each parent read once, and each
        kind of item (the same :attr:`owner_fields`: a page of one project's ports on one
        network) decided once.  Nothing to do for a caller from whom nothing is hidden."""
        if who.hides_nothing:
            return lambda items: items
        parents = self.parents(ctx)
        action = f"get_{self.resource}"
        decided: dict[tuple, tuple[bool, list[str]]] = {}

        def view(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
            seen = []
            for item in items:
                key = tuple(map(item.get, self.owner_fields))
                if key not in decided:
                    target = self.target(ctx, item, parents)
                    decided[key] = (who.allowed(action, target),
                                    who.hidden(self.resource, target))
                allowed, hidden = decided[key]
                if allowed:
                    seen.append({k: v for k, v in item.items() if k not in hidden}
                                if hidden else item)
            return seen
        return view

    def unreadable(self, who: Decisions, ctx: Context) -> set[str]:
        """Attributes hidden from the caller on its own project's items: not filterable,
        not sortable (a filter on them would reveal their values); hidden tags take the
        four tag filters with them."""
        hidden = set(who.hidden(self.resource, {"project_id": ctx.project_id or ""}))
        return hidden | set(tags.FILTERS) if TAGS in hidden else hidden


def _comparable(value: Any) -> bool:
    """Whether unvalidated *value* holds only text a database can look up: PostgreSQL
    refuses a NUL character or a lone surrogate even in a WHERE clause."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, dict):
        return all(_comparable(k) and _comparable(v) for k, v in value.items())
    if isinstance(value, list):
        return all(_comparable(v) for v in value)
    return True
