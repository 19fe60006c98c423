"""Neutron's policy engine (oslo.policy) with Neutron's secure-RBAC defaults.

Rules are registered in code, one module per resource (``networks``,
``subnets``, ``ports``, ``rbac_policies``, ``agents``, ``quotas``, ``routers``,
``floatingips``: a resource that lands adds one), with ``enforce_new_defaults`` and
``enforce_scope`` on; an operator's
``policy.yaml`` (setting ``policy_file``) overrides any of them.  Only the API
uses this room; it knows nothing of the core.

Rules are decided per *target class*: a target is reduced to the ownership
fields the defaults look at (``project_id``, the network's ``project_id`` and
``shared``, ``device_owner`` …), with every project id other than the caller's
folded into one, and each rule is evaluated once per class and request.  A
10,000-port list thus costs a handful of Enforcer calls, not one per port and
attribute.  Rules compare a target's project only with the caller's (as
Neutron's do); a rule matching a target project against a literal would be
decided for the first "other" project of the class.
"""
from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from oslo_config import cfg
from oslo_policy import opts, policy

from neutrino.policy import (
    agents,
    base,
    floatingips,
    networks,
    ports,
    quotas,
    rbac_policies,
    routers,
    subnets,
)

#: Each resource's rules and the create defaults of its attributes, by resource name.
RESOURCES = {"network": networks, "subnet": subnets, "port": ports,
             "rbac_policy": rbac_policies, "agent": agents, "quota": quotas,
             "router": routers, "floatingip": floatingips}
#: Target fields holding a project id (compared with the caller's project only).
PROJECT_FIELDS = ("project_id", "tenant_id", "network:project_id", "network:tenant_id")
OTHER_PROJECT = "\x00other"


class PolicyFileMissing(ValueError):
    pass


def _enforcer(policy_file: str) -> policy.Enforcer:
    conf = cfg.ConfigOpts()
    conf([], project="neutrino", default_config_files=[])
    if policy_file and not Path(policy_file).is_file():
        raise PolicyFileMissing(f"policy_file {policy_file!r} does not exist")
    opts.set_defaults(conf, policy_file=str(Path(policy_file).resolve()) if policy_file
                      else "policy.yaml", enforce_scope=True, enforce_new_defaults=True)
    enforcer = policy.Enforcer(conf)
    enforcer.register_defaults(base.RULES)
    for module in RESOURCES.values():
        enforcer.register_defaults(module.RULES)
    enforcer.load_rules()
    return enforcer


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


class Policy:
    """The server's rules; :meth:`caller` gives one request's view of them."""

    def __init__(self, policy_file: str = "") -> None:
        self.enforcer = _enforcer(policy_file)
        self._admin: dict[tuple[frozenset[str], str | None], bool] = {}
        #: ``<verb>_<resource>:<attr>`` rules by action (what attributes have rules).
        self.attr_rules: dict[str, dict[str, str]] = {}
        for module in RESOURCES.values():
            for default in module.RULES:
                action, _, attr = default.name.partition(":")
                if attr:
                    self.attr_rules.setdefault(action, {})[attr] = default.name

    def is_admin(self, creds: Creds) -> bool:
        """``context_is_admin``, remembered per set of roles (it looks at nothing else)."""
        key = (creds.roles, creds.system_scope)
        if key not in self._admin:
            self._admin[key] = self.check("context_is_admin", {}, creds.values())
        return self._admin[key]

    def caller(self, creds: Creds) -> Caller:
        return Caller(self, creds)

    def check(self, rule: str, target: Mapping[str, Any], creds: dict[str, Any]) -> bool:
        """One rule, uncached; a token of the wrong scope fails it."""
        try:
            return bool(self.enforcer.enforce(rule, target, creds))
        except policy.InvalidScope:
            return False


class Caller:
    """One request's decisions, each made once per target class (see the module)."""

    def __init__(self, rules: Policy, creds: Creds) -> None:
        self.rules = rules
        self.creds = creds
        self._values = creds.values()
        self._memo: dict[tuple[str, tuple], bool] = {}

    def _class_of(self, target: Mapping[str, Any]) -> tuple:
        return tuple(sorted(
            (k, v == self.creds.project_id if k in PROJECT_FIELDS else _hashable(v))
            for k, v in target.items()))

    def allowed(self, rule: str, target: Mapping[str, Any]) -> bool:
        key = (rule, self._class_of(target))
        if key not in self._memo:
            self._memo[key] = self.rules.check(rule, target, self._values)
        return self._memo[key]

    def denied_attribute(self, action: str, target: Mapping[str, Any],
                         attrs: Mapping[str, Any], defaults: Mapping[str, Any]) -> str | None:
        """The first ``<action>:<attr>`` rule that *attrs* (a request's body) fail.

        On create an attribute counts only when given with a value other than its
        default; on update whenever given (Neutron's "explicitly set"). ``fixed_ips``
        entries also check ``:ip_address`` / ``:subnet_id`` when they name one, and a dict
        (``external_gateway_info``) ``:<key>`` for each key it gives.
        """
        rules = self.rules.attr_rules.get(action, {})
        create = action.startswith("create_")
        for attr, value in attrs.items():
            if attr not in rules or (create and attr in defaults and value == defaults[attr]):
                continue
            names = [rules[attr]]
            if isinstance(value, dict):  # a sub-attribute's own rule, for each one given
                names += [rules[f"{attr}:{key}"] for key in value if f"{attr}:{key}" in rules]
            if attr == "fixed_ips" and isinstance(value, list):
                names += [rules[f"fixed_ips:{key}"] for key in ("ip_address", "subnet_id")
                          if f"fixed_ips:{key}" in rules
                          and any(isinstance(e, dict) and key in e for e in value)]
            for name in names:
                if not self.allowed(name, target):
                    return name
        return None

    def hidden(self, resource: str, target: Mapping[str, Any]) -> list[str]:
        """The attributes of *resource* that ``get_<resource>:<attr>`` hides from the caller."""
        return [attr for attr, name in self.rules.attr_rules.get(f"get_{resource}", {}).items()
                if not self.allowed(name, target)]


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, Iterable) and not isinstance(value, str):
        return tuple(_hashable(v) for v in value)
    return value
