"""Floating IPs: Neutron's defaults (neutron/conf/policies/floatingip.py).

A project member allocates and associates its floating IPs; only an admin picks
the address.
"""
from __future__ import annotations

from neutrino.policy.base import (
    ADMIN,
    ADMIN_OR_PROJECT_MEMBER,
    ADMIN_OR_PROJECT_READER,
    rule,
    tag_rules,
)

COLLECTION, RESOURCE = "/floatingips", "/floatingips/{id}"
DEFAULTS: dict[str, object] = {}
ALIASES: dict[str, str] = {}

RULES = [
    rule("create_floatingip", ADMIN_OR_PROJECT_MEMBER, "Create a floating IP", "POST",
         COLLECTION),
    rule("create_floatingip:floating_ip_address", ADMIN,
         "Create a floating IP with a specific IP address", "POST", COLLECTION),
    rule("get_floatingip", ADMIN_OR_PROJECT_READER, "Get a floating IP", "GET", RESOURCE),
    rule("update_floatingip", ADMIN_OR_PROJECT_MEMBER, "Update a floating IP", "PUT", RESOURCE),
    rule("delete_floatingip", ADMIN_OR_PROJECT_MEMBER, "Delete a floating IP", "DELETE",
         RESOURCE),
    *tag_rules("floatingip", RESOURCE, ADMIN_OR_PROJECT_READER, ADMIN_OR_PROJECT_MEMBER,
               ADMIN_OR_PROJECT_MEMBER),
]
