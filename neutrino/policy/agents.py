"""Agents: admin only, as Neutron's defaults (neutron/conf/policies/agent.py)."""
from __future__ import annotations

from neutrino.policy.base import ADMIN, rule

DEFAULTS: dict[str, object] = {}

RULES = [rule("get_agent", ADMIN, "Get or list agents", "GET", "/agents")]
