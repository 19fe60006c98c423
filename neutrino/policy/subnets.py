"""Subnets: Neutron's defaults (neutron/conf/policies/subnet.py) for what Neutrino has."""
from __future__ import annotations

from neutrino.policy.base import (
    ADMIN_OR_NET_OWNER_MEMBER,
    ADMIN_OR_NET_OWNER_READER,
    PROJECT_MEMBER,
    PROJECT_READER,
    SERVICE,
    Rule,
    either,
    rule,
    tag_rules,
)

COLLECTION, RESOURCE = "/subnets", "/subnets/{id}"
#: Neutron also defines ``create_subnet:service_types`` and ``update_subnet:service_types``
#: (admin), but never checks them: the attribute lacks ``enforce_policy``, so any member
#: sets a subnet's service types (OpenStack's own tests do).  Neutrino has no such rules.
DEFAULTS: dict[str, object] = {}
ALIASES: dict[str, str] = {}
#: The subnet's own project may change it as well as the network's (a subnet an admin
#: made for a project on another project's network).
MEMBER_OR_NET_OWNER = either(PROJECT_MEMBER, ADMIN_OR_NET_OWNER_MEMBER)

RULES = [
    Rule("external_network", "field:subnets:router:external=True",
         "Definition of a wildcard external network"),
    rule("create_subnet", ADMIN_OR_NET_OWNER_MEMBER, "Create a subnet", "POST", COLLECTION),
    rule("get_subnet", either(PROJECT_READER, "rule:shared", "rule:external_network",
                              ADMIN_OR_NET_OWNER_READER, SERVICE),
         "Get a subnet", "GET", RESOURCE),
    rule("update_subnet", MEMBER_OR_NET_OWNER, "Update a subnet", "PUT", RESOURCE),
    rule("delete_subnet", MEMBER_OR_NET_OWNER, "Delete a subnet", "DELETE", RESOURCE),
    *tag_rules("subnet", RESOURCE, either(PROJECT_READER, "rule:shared", "rule:external_network",
                                          ADMIN_OR_NET_OWNER_READER),
               MEMBER_OR_NET_OWNER, MEMBER_OR_NET_OWNER),
]
