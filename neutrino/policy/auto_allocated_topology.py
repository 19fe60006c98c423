"""Auto-allocated topologies: Neutron's defaults
(neutron/conf/policies/auto_allocated_topology.py).

A project's reader may get its topology, which makes it if it has none (Neutron's
default, kept: the call is how a project gets its network); deleting it takes a
member.  Whatever the rules, only an admin acts for another project (the core's
``NotAuthorized``)."""
from __future__ import annotations

from neutrino.policy.base import ADMIN_OR_PROJECT_MEMBER, ADMIN_OR_PROJECT_READER, rule

RESOURCE = "/auto-allocated-topology/{project_id}"
DEFAULTS: dict[str, object] = {}
ALIASES: dict[str, str] = {}

RULES = [
    rule("get_auto_allocated_topology", ADMIN_OR_PROJECT_READER,
         "Get a project's auto-allocated topology", "GET", RESOURCE),
    rule("delete_auto_allocated_topology", ADMIN_OR_PROJECT_MEMBER,
         "Delete a project's auto-allocated topology", "DELETE", RESOURCE),
]
