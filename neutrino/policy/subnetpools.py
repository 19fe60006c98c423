"""Subnet pools: Neutron's defaults (neutron/conf/policies/subnetpool.py).

``shared`` and ``is_default`` are an admin's to set; a pool shared with the
caller's project (``shared`` in its target, as the caller sees it) is readable
by its readers.  ``add_prefixes`` and ``remove_prefixes`` are rules of their own.
"""
from __future__ import annotations

from neutrino.policy.base import (
    ADMIN,
    ADMIN_OR_PROJECT_MEMBER,
    ADMIN_OR_PROJECT_READER,
    Rule,
    either,
    rule,
    tag_rules,
)

COLLECTION, RESOURCE = "/subnetpools", "/subnetpools/{id}"
#: Values a create may give without the attribute's own rule being checked.
DEFAULTS = {"shared": False, "is_default": False}
ALIASES: dict[str, str] = {}
READ = either(ADMIN_OR_PROJECT_READER, "rule:shared_subnetpools")

RULES = [
    Rule("shared_subnetpools", "field:subnetpools:shared=True",
         "Definition of a shared subnetpool"),
    rule("create_subnetpool", ADMIN_OR_PROJECT_MEMBER, "Create a subnetpool", "POST",
         COLLECTION),
    rule("create_subnetpool:shared", ADMIN, "Create a shared subnetpool", "POST", COLLECTION),
    rule("create_subnetpool:is_default", ADMIN,
         "Specify ``is_default`` attribute when creating a subnetpool", "POST", COLLECTION),
    rule("get_subnetpool", READ, "Get a subnetpool", "GET", RESOURCE),
    rule("update_subnetpool", ADMIN_OR_PROJECT_MEMBER, "Update a subnetpool", "PUT", RESOURCE),
    rule("update_subnetpool:is_default", ADMIN,
         "Update ``is_default`` attribute of a subnetpool", "PUT", RESOURCE),
    rule("delete_subnetpool", ADMIN_OR_PROJECT_MEMBER, "Delete a subnetpool", "DELETE",
         RESOURCE),
    rule("add_prefixes", ADMIN_OR_PROJECT_MEMBER, "Add prefixes to a subnetpool", "PUT",
         f"{RESOURCE}/add_prefixes"),
    rule("remove_prefixes", ADMIN_OR_PROJECT_MEMBER, "Remove unallocated prefixes from a "
         "subnetpool", "PUT", f"{RESOURCE}/remove_prefixes"),
    *tag_rules("subnetpool", RESOURCE, READ, ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_MEMBER),
]
