"""Subnets: Neutron's defaults (neutron/conf/policies/subnet.py) for what Neutrino has."""
from __future__ import annotations

from neutrino.policy.base import (
    ADMIN_OR_NET_OWNER_MEMBER,
    ADMIN_OR_PROJECT_READER,
    SERVICE,
    either,
    rule,
)

COLLECTION, RESOURCE = "/subnets", "/subnets/{id}"
DEFAULTS: dict[str, object] = {}

RULES = [
    rule("create_subnet", ADMIN_OR_NET_OWNER_MEMBER, "Create a subnet", "POST", COLLECTION),
    rule("get_subnet", either(ADMIN_OR_PROJECT_READER, "rule:shared", "rule:external_network",
                              SERVICE),
         "Get a subnet", "GET", RESOURCE),
    rule("update_subnet", ADMIN_OR_NET_OWNER_MEMBER, "Update a subnet", "PUT", RESOURCE),
    rule("delete_subnet", ADMIN_OR_NET_OWNER_MEMBER, "Delete a subnet", "DELETE", RESOURCE),
]
