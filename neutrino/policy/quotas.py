"""Quotas: Neutron's defaults (neutron/conf/policies/quotas.py).

Reading one's own project's limits needs no rule (Neutron's quota controller
checks ``get_quota`` only for another project); see ``neutrino.api.quotas``.
"""
from __future__ import annotations

from neutrino.policy.base import ADMIN, ADMIN_OR_PROJECT_MANAGER, rule

COLLECTION, RESOURCE = "/quota", "/quota/{id}"
DEFAULTS: dict[str, object] = {}
ALIASES: dict[str, str] = {}

RULES = [
    rule("get_quota", ADMIN_OR_PROJECT_MANAGER, "Get a resource quota", "GET", RESOURCE),
    rule("update_quota", ADMIN, "Update a resource quota", "PUT", RESOURCE),
    rule("delete_quota", ADMIN, "Delete a resource quota", "DELETE", RESOURCE),
]
