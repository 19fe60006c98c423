"""Network IP availability: admin only, as Neutron's defaults
(neutron/conf/policies/network_ip_availability.py)."""
from __future__ import annotations

from neutrino.policy.base import ADMIN, rule

COLLECTION, RESOURCE = "/network-ip-availabilities", "/network-ip-availabilities/{network_id}"
DEFAULTS: dict[str, object] = {}
ALIASES: dict[str, str] = {}

RULES = [
    rule("get_network_ip_availability", ADMIN, "Get network IP availability", "GET",
         RESOURCE),
]
