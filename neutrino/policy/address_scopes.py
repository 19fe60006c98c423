"""Address scopes: Neutron's defaults (neutron/conf/policies/address_scope.py).

Only an admin shares a scope (``shared``); a scope shared with the caller's
project is readable by its readers.
"""
from __future__ import annotations

from neutrino.policy.base import (
    ADMIN,
    ADMIN_OR_PROJECT_MEMBER,
    PROJECT_READER,
    Rule,
    either,
    rule,
)

COLLECTION, RESOURCE = "/address-scopes", "/address-scopes/{id}"
#: Values a create may give without the attribute's own rule being checked.
DEFAULTS = {"shared": False}
ALIASES: dict[str, str] = {}

RULES = [
    Rule("shared_address_scopes", "field:address_scopes:shared=True",
         "Definition of a shared address scope"),
    rule("create_address_scope", ADMIN_OR_PROJECT_MEMBER, "Create an address scope", "POST",
         COLLECTION),
    rule("create_address_scope:shared", ADMIN, "Create a shared address scope", "POST",
         COLLECTION),
    rule("get_address_scope", either(ADMIN, PROJECT_READER, "rule:shared_address_scopes"),
         "Get an address scope", "GET", RESOURCE),
    rule("update_address_scope", ADMIN_OR_PROJECT_MEMBER, "Update an address scope", "PUT",
         RESOURCE),
    rule("update_address_scope:shared", ADMIN, "Update ``shared`` attribute of an address "
         "scope", "PUT", RESOURCE),
    rule("delete_address_scope", ADMIN_OR_PROJECT_MEMBER, "Delete an address scope", "DELETE",
         RESOURCE),
]
