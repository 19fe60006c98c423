"""Security groups and their rules: Neutron's defaults
(neutron/conf/policies/security_group.py).

A rule's target carries its group's owner (``security_group:project_id``): a
group's owner manages its rules.  Groups are never shared in Neutrino (no RBAC
sharing of groups), so ``shared_security_group`` never holds; it is kept so an
operator's ``policy.yaml`` written for Neutron means the same.
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

GROUPS, GROUP = "/security-groups", "/security-groups/{id}"
RULES_PATH, RULE = "/security-group-rules", "/security-group-rules/{id}"
SG_OWNER_MEMBER = "role:member and project_id:%(security_group:project_id)s"
SG_OWNER_READER = "role:reader and project_id:%(security_group:project_id)s"
#: Neither groups nor rules have attributes with rules of their own.
DEFAULTS: dict[str, object] = {}
ALIASES: dict[str, str] = {}

RULES = [
    Rule("shared_security_group", "field:security_groups:shared=True",
         "Definition of a shared security group"),
    rule("create_security_group", ADMIN_OR_PROJECT_MEMBER, "Create a security group", "POST",
         GROUPS),
    rule("get_security_group", either(ADMIN_OR_PROJECT_READER, "rule:shared_security_group"),
         "Get a security group", "GET", GROUP),
    rule("update_security_group", ADMIN_OR_PROJECT_MEMBER, "Update a security group", "PUT",
         GROUP),
    rule("delete_security_group", ADMIN_OR_PROJECT_MEMBER, "Delete a security group",
         "DELETE", GROUP),
    *tag_rules("security_group", GROUP,
               either(ADMIN_OR_PROJECT_READER, "rule:shared_security_group"),
               ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_MEMBER),
    rule("create_security_group_rule", either(ADMIN, SG_OWNER_MEMBER),
         "Create a security group rule", "POST", RULES_PATH),
    rule("get_security_group_rule", either(ADMIN, SG_OWNER_READER),
         "Get a security group rule", "GET", RULE),
    rule("delete_security_group_rule", either(ADMIN, SG_OWNER_MEMBER),
         "Delete a security group rule", "DELETE", RULE),
]
