"""Neutron's policy with Neutron's secure-RBAC defaults, for the API.

The defaults are data, one module per resource (``networks``, ``subnets``,
``subnetpools``, ``address_scopes``, ``ports``, ``rbac_policies``, ``agents``, ``quotas``,
``security_groups`` with their rules, ``routers``, ``floatingips``,
``network_ip_availability``, ``auto_allocated_topology``: a resource that lands adds
one), built from :mod:`neutrino.policy.base`.  Each names its ``RULES``, the create
``DEFAULTS`` that need no attribute rule, and its ``ALIASES`` (further names an
attribute's rules are checked under, most often none).  :mod:`neutrino.policy.engine`
decides them with oslo.policy.  :func:`load_policy` gives the API what it needs: the
engine, or under ``noauth`` with no ``policy_file`` nothing at all
(:class:`Unrestricted`): its callers hold every role, and no default rule refuses such a
caller.  Only the
API uses this room; it knows nothing of the core.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from neutrino.policy import (
    address_scopes,
    agents,
    auto_allocated_topology,
    floatingips,
    network_ip_availability,
    networks,
    ports,
    quotas,
    rbac_policies,
    routers,
    security_groups,
    subnetpools,
    subnets,
)

#: Each resource's rules and the create defaults of its attributes, by resource name.
RESOURCES = {"network": networks, "subnet": subnets, "subnetpool": subnetpools,
             "address_scope": address_scopes, "port": ports,
             "rbac_policy": rbac_policies, "agent": agents, "quota": quotas,
             "security_group": security_groups, "security_group_rule": security_groups,
             "router": routers, "floatingip": floatingips,
             "network_ip_availability": network_ip_availability,
             "auto_allocated_topology": auto_allocated_topology}
#: The modules of RESOURCES, each once (groups and their rules share one).
MODULES = tuple({id(m): m for m in RESOURCES.values()}.values())


@dataclass(frozen=True)
class Creds:
    """What the rules see of a caller (oslo.context's policy values)."""
    user_id: str | None
    project_id: str | None
    roles: frozenset[str]
    system_scope: str | None = None

    def values(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "project_id": self.project_id,
                "roles": sorted(self.roles), "system_scope": self.system_scope}


class Decisions(Protocol):
    """One request's decisions (the engine's :class:`~neutrino.policy.engine.Caller`)."""

    #: No attribute is ever hidden: answers need no targets to be stripped.
    hides_nothing: bool

    def allowed(self, rule: str, target: Mapping[str, Any]) -> bool: ...

    def denied_attribute(self, action: str, target: Mapping[str, Any],
                         attrs: Mapping[str, Any], defaults: Mapping[str, Any]) -> str | None: ...

    def hidden(self, resource: str, target: Mapping[str, Any]) -> list[str]: ...


class Rules(Protocol):
    """The server's rules (the engine's :class:`~neutrino.policy.engine.Policy`)."""

    def is_admin(self, creds: Creds) -> bool: ...

    def caller(self, creds: Creds) -> Decisions: ...


class Unrestricted:
    """``noauth`` without a ``policy_file``: every caller holds every role (admin and
    service), which every default rule lets through (``tests/policy`` checks each
    one), so nothing is checked and oslo.policy is never imported."""

    hides_nothing = True

    def is_admin(self, creds: Creds) -> bool:
        return True

    def caller(self, creds: Creds) -> Unrestricted:
        return self

    def allowed(self, rule: str, target: Mapping[str, Any]) -> bool:
        return True

    def denied_attribute(self, action: str, target: Mapping[str, Any],
                         attrs: Mapping[str, Any], defaults: Mapping[str, Any]) -> str | None:
        return None

    def hidden(self, resource: str, target: Mapping[str, Any]) -> list[str]:
        return []


def load_policy(policy_file: str, auth_strategy: str) -> Rules:
    """The rules a server applies: Neutron's defaults and *policy_file* through the
    engine, unless no caller can be refused anything (``noauth``, no file)."""
    if auth_strategy == "noauth" and not policy_file:
        return Unrestricted()
    from neutrino.policy.engine import Policy  # oslo.policy: only when rules are applied

    return Policy(policy_file)
