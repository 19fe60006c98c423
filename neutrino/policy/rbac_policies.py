"""RBAC policies: Neutron's defaults (neutron/conf/policies/rbac.py).

Any member may make policies in its own project (whether it may share the
object at all, being its owner or an admin, is the core's check, as in
Neutron); only an admin may grant to every project (``target_tenant: *``).
Readers of the policy's project see it.  ``target_tenant`` is the API's name,
``target_project`` Neutron's newer one: a request's ``target_tenant`` is
checked under both, so a ``policy.yaml`` may name either.
"""
from __future__ import annotations

from neutrino.policy.base import (
    ADMIN,
    ADMIN_OR_PROJECT_MEMBER,
    ADMIN_OR_PROJECT_READER,
    Rule,
    either,
    rule,
)

COLLECTION, RESOURCE = "/rbac-policies", "/rbac-policies/{id}"
DEFAULTS: dict[str, object] = {}
#: The API attribute, and the name Neutron's newer rules use for it.
ALIASES = {"target_tenant": "target_project"}
NOT_TO_EVERYONE = ("not field:rbac_policy:target_tenant=* and "
                   "not field:rbac_policy:target_project=*")
PROJECT_NOT_EVERYONE = "not field:rbac_policy:target_project=*"

RULES = [
    # Neutron's shorthand, kept for operators' policy files that use it.
    Rule("restrict_wildcard", either(f"({NOT_TO_EVERYONE})", ADMIN),
         "Definition of a wildcard target_project"),
    rule("create_rbac_policy", ADMIN_OR_PROJECT_MEMBER, "Create an RBAC policy", "POST",
         COLLECTION),
    rule("create_rbac_policy:target_tenant", either(ADMIN, f"({NOT_TO_EVERYONE})"),
         "Specify ``target_tenant`` when creating an RBAC policy", "POST", COLLECTION),
    rule("create_rbac_policy:target_project", either(ADMIN, PROJECT_NOT_EVERYONE),
         "Specify ``target_project`` when creating an RBAC policy", "POST", COLLECTION),
    rule("update_rbac_policy", ADMIN_OR_PROJECT_MEMBER, "Update an RBAC policy", "PUT", RESOURCE),
    rule("update_rbac_policy:target_tenant", either(ADMIN, f"({NOT_TO_EVERYONE})"),
         "Update ``target_tenant`` attribute of an RBAC policy", "PUT", RESOURCE),
    rule("update_rbac_policy:target_project", either(ADMIN, PROJECT_NOT_EVERYONE),
         "Update ``target_project`` attribute of an RBAC policy", "PUT", RESOURCE),
    rule("get_rbac_policy", ADMIN_OR_PROJECT_READER, "Get an RBAC policy", "GET", RESOURCE),
    rule("delete_rbac_policy", ADMIN_OR_PROJECT_MEMBER, "Delete an RBAC policy", "DELETE",
         RESOURCE),
]
