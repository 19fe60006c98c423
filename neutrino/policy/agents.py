"""Agents: admin only, as Neutron's defaults (neutron/conf/policies/agent.py)."""
from __future__ import annotations

from neutrino.policy.base import ADMIN, rule

COLLECTION, RESOURCE = "/agents", "/agents/{id}"
DEFAULTS: dict[str, object] = {}
ALIASES: dict[str, str] = {}

RULES = [
    rule("get_agent", ADMIN, "Get or list agents", "GET", COLLECTION),
    rule("update_agent", ADMIN, "Update an agent", "PUT", RESOURCE),
    rule("delete_agent", ADMIN, "Delete an agent", "DELETE", RESOURCE),
]
