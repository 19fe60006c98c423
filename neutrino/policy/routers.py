"""Routers: Neutron's defaults (neutron/conf/policies/router.py) for what Neutrino has.

A project member manages its routers and picks their external network; only an
admin chooses whether the gateway does SNAT or which addresses it takes.
"""
from __future__ import annotations

from neutrino.policy.base import (
    ADMIN,
    ADMIN_OR_PROJECT_MEMBER,
    ADMIN_OR_PROJECT_READER,
    rule,
    tag_rules,
)

COLLECTION, RESOURCE = "/routers", "/routers/{id}"
DEFAULTS: dict[str, object] = {}
ALIASES: dict[str, str] = {}
GATEWAY = "external_gateway_info"


def _gateway(verb: str, method: str, path: str) -> list:
    """The gateway rules create and update share (checked for each key the body gives)."""
    return [
        rule(f"{verb}_router:{GATEWAY}", ADMIN_OR_PROJECT_MEMBER,
             f"Specify ``{GATEWAY}`` when {verb[:-1]}ing a router", method, path),
        rule(f"{verb}_router:{GATEWAY}:network_id", ADMIN_OR_PROJECT_MEMBER,
             f"Specify ``network_id`` in ``{GATEWAY}`` when {verb[:-1]}ing a router",
             method, path),
        rule(f"{verb}_router:{GATEWAY}:enable_snat", ADMIN,
             f"Specify ``enable_snat`` in ``{GATEWAY}`` when {verb[:-1]}ing a router",
             method, path),
        rule(f"{verb}_router:{GATEWAY}:external_fixed_ips", ADMIN,
             f"Specify ``external_fixed_ips`` in ``{GATEWAY}`` when {verb[:-1]}ing a router",
             method, path),
    ]


RULES = [
    rule("create_router", ADMIN_OR_PROJECT_MEMBER, "Create a router", "POST", COLLECTION),
    *_gateway("create", "POST", COLLECTION),
    rule("get_router", ADMIN_OR_PROJECT_READER, "Get a router", "GET", RESOURCE),
    rule("update_router", ADMIN_OR_PROJECT_MEMBER, "Update a router", "PUT", RESOURCE),
    *_gateway("update", "PUT", RESOURCE),
    rule("delete_router", ADMIN_OR_PROJECT_MEMBER, "Delete a router", "DELETE", RESOURCE),
    rule("add_router_interface", ADMIN_OR_PROJECT_MEMBER, "Add an interface to a router",
         "PUT", f"{RESOURCE}/add_router_interface"),
    rule("remove_router_interface", ADMIN_OR_PROJECT_MEMBER,
         "Remove an interface from a router", "PUT", f"{RESOURCE}/remove_router_interface"),
    rule("add_extraroutes", ADMIN_OR_PROJECT_MEMBER, "Add extra routes to a router",
         "PUT", f"{RESOURCE}/add_extraroutes"),
    rule("remove_extraroutes", ADMIN_OR_PROJECT_MEMBER, "Remove extra routes from a router",
         "PUT", f"{RESOURCE}/remove_extraroutes"),
    *tag_rules("router", RESOURCE, ADMIN_OR_PROJECT_READER, ADMIN_OR_PROJECT_MEMBER,
               ADMIN_OR_PROJECT_MEMBER),
]
