"""Networks: Neutron's defaults (neutron/conf/policies/network.py) for what Neutrino has.

``is_default`` (``auto-allocated-topology``) is an admin's to set, as ``router:external``.
``dns_domain`` (``dns-integration``) has no rule of its own, as in Neutron: the network's
create and update rules decide it."""
from __future__ import annotations

from neutrino.policy.base import (
    ADMIN,
    ADMIN_OR_PROJECT_MEMBER,
    ADMIN_OR_PROJECT_READER,
    SERVICE,
    either,
    rule,
    tag_rules,
)

COLLECTION, RESOURCE = "/networks", "/networks/{id}"
#: Attributes only an admin may set (create and update) or read.
ADMIN_ATTRS = ("provider:network_type", "provider:physical_network",
               "provider:segmentation_id", "segments")
#: Values a create may give without the attribute's own rule being checked (Neutron's
#: "explicitly set" means different from the default).
DEFAULTS = {"shared": False, "router:external": False, "is_default": False,
            "port_security_enabled": True}
ALIASES: dict[str, str] = {}

RULES = [
    rule("create_network", ADMIN_OR_PROJECT_MEMBER, "Create a network", "POST", COLLECTION),
    rule("create_network:shared", ADMIN, "Create a shared network", "POST", COLLECTION),
    rule("create_network:router:external", ADMIN, "Create an external network", "POST",
         COLLECTION),
    rule("create_network:is_default", ADMIN,
         "Specify ``is_default`` attribute when creating a network", "POST", COLLECTION),
    rule("create_network:port_security_enabled", ADMIN_OR_PROJECT_MEMBER,
         "Specify ``port_security_enabled`` when creating a network", "POST", COLLECTION),
    *(rule(f"create_network:{attr}", ADMIN, f"Specify ``{attr}`` when creating a network",
           "POST", COLLECTION) for attr in ADMIN_ATTRS),
    rule("get_network", either(ADMIN_OR_PROJECT_READER, "rule:shared", "rule:external", SERVICE),
         "Get a network", "GET", RESOURCE),
    *(rule(f"get_network:{attr}", ADMIN, f"Get ``{attr}`` of a network", "GET", RESOURCE)
      for attr in ADMIN_ATTRS),
    rule("update_network", ADMIN_OR_PROJECT_MEMBER, "Update a network", "PUT", RESOURCE),
    rule("update_network:shared", ADMIN, "Update ``shared`` of a network", "PUT", RESOURCE),
    rule("update_network:router:external", ADMIN, "Update ``router:external`` of a network",
         "PUT", RESOURCE),
    rule("update_network:is_default", ADMIN, "Update ``is_default`` attribute of a network",
         "PUT", RESOURCE),
    rule("update_network:port_security_enabled", ADMIN_OR_PROJECT_MEMBER,
         "Update ``port_security_enabled`` of a network", "PUT", RESOURCE),
    *(rule(f"update_network:{attr}", ADMIN, f"Update ``{attr}`` of a network", "PUT", RESOURCE)
      for attr in ADMIN_ATTRS),
    rule("delete_network", ADMIN_OR_PROJECT_MEMBER, "Delete a network", "DELETE", RESOURCE),
    *tag_rules("network", RESOURCE, either(ADMIN_OR_PROJECT_READER, "rule:shared", "rule:external"),
               ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_MEMBER),
]
