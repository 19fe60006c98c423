"""The policy engine: oslo.policy with Neutron's defaults (:mod:`neutrino.policy.base` and
the resources' modules), ``enforce_new_defaults`` and ``enforce_scope`` on; an
operator's ``policy.yaml`` (setting ``policy_file``) overrides any rule.

Rules are decided per *target class*: a target is reduced to the ownership
fields the defaults look at (``project_id``, the network's ``project_id`` and
``shared``, ``device_owner`` …), with every project id other than the caller's
folded into one.  A decision is kept per rule, caller (user, project, roles,
scope) and class, for every later request of the worker, until the policy file
changes: an Enforcer call costs about half a millisecond (oslo.policy inspects
each check's signature on every call), so a caller's requests cost a handful of
them in all, not several per request, and a 10,000-port list no more than a
show.  Rules compare a target's project only with the caller's (as Neutron's
do); a rule matching a target project against a literal would be decided for
the first "other" project of the class.
"""
from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from oslo_config import cfg
from oslo_policy import opts, policy

from neutrino.policy import MODULES, Creds, base, extensions

#: Target fields holding a project id (compared with the caller's project only).
PROJECT_FIELDS = ("project_id", "tenant_id", "network:project_id", "network:tenant_id",
                  "security_group:project_id")
#: Neutron's secure-RBAC personas are project-scoped (``scope_types=['project']``).
PROJECT_SCOPE = ["project"]
#: Decisions a worker keeps (least recently used out first): a few per caller and rule.
DECISIONS_KEPT = 20_000


class FieldCheck(policy.Check):
    """Neutron's ``field:<resource>:<attr>=<value>`` (``=~`` a regex) check.

    The attribute is read from the target, as ``<resource>:<attr>`` (the parent
    network's ``network:shared`` in a port's target) or else as ``<attr>``.
    """

    def __init__(self, kind: str, match: str) -> None:
        resource, field_value = match.split(":", 1)
        name, value = field_value.rsplit("=", 1)
        super().__init__(kind, f"{resource}:{name}={value}")
        singular = resource[:-1] if resource.endswith("s") else resource
        self.keys = (f"{singular}:{name}", name)
        self.regex = re.compile(value[1:]) if value.startswith("~") else None
        self.value = value

    def __call__(self, target: Mapping[str, Any], creds: Any, enforcer: Any,
                 current_rule: str | None = None) -> bool:
        key = next((k for k in self.keys if k in target), None)
        if key is None:
            return False
        actual = target[key]
        if self.regex is not None:
            return isinstance(actual, str) and self.regex.match(actual) is not None
        return str(actual) == self.value


#: Registered before any rule is parsed (a RuleDefault parses its check at once).
policy.register("field", FieldCheck)
extensions.install()


class PolicyFileMissing(ValueError):
    pass


def _default(rule: base.Rule) -> policy.RuleDefault:
    if rule.method is None or rule.path is None:
        return policy.RuleDefault(rule.name, rule.check, description=rule.description)
    return policy.DocumentedRuleDefault(
        name=rule.name, check_str=rule.check, description=rule.description,
        operations=[{"method": rule.method, "path": rule.path}], scope_types=PROJECT_SCOPE)


def _enforcer(policy_file: str) -> policy.Enforcer:
    conf = cfg.ConfigOpts()
    conf([], project="neutrino", default_config_files=[])
    if policy_file and not Path(policy_file).is_file():
        raise PolicyFileMissing(f"policy_file {policy_file!r} does not exist")
    opts.set_defaults(conf, policy_file=str(Path(policy_file).resolve()) if policy_file
                      else "policy.yaml", enforce_scope=True, enforce_new_defaults=True)
    # The policy file is the one ``policy_file`` names, nothing else: no ``policy.d``
    # to look for (oslo.policy would search the config directories on every call).
    conf.set_override("policy_dirs", [], group="oslo_policy")
    enforcer = policy.Enforcer(conf)
    enforcer.register_defaults([_default(r) for r in base.RULES])
    for module in MODULES:
        enforcer.register_defaults([_default(r) for r in module.RULES])
    enforcer.load_rules()
    # Without a file there is nothing to reload: no search for one on every call either.
    enforcer.use_conf = bool(policy_file)
    return enforcer


class Policy:
    """The server's rules; :meth:`caller` gives one request's view of them."""

    def __init__(self, policy_file: str = "") -> None:
        self.enforcer = _enforcer(policy_file)
        #: The rules the decisions were made with (a reloaded file replaces them).
        self._rules = self.enforcer.rules
        self._decisions: OrderedDict[tuple, bool] = OrderedDict()
        self._lock = threading.Lock()
        #: ``<verb>_<resource>:<attr>`` rules by action (what attributes have rules);
        #: of the tags rules only ``get_<resource>:tags`` is one (see ``base.TAGS``).
        self.attr_rules: dict[str, dict[str, str]] = {}
        for module in MODULES:
            for default in module.RULES:
                action, _, attr = default.name.partition(":")
                if attr and (attr != base.TAGS or action.startswith("get_")):
                    self.attr_rules.setdefault(action, {})[attr] = default.name

    def is_admin(self, creds: Creds) -> bool:
        return self.caller(creds).allowed("context_is_admin", {})

    def caller(self, creds: Creds) -> Caller:
        """One request's view; a policy file changed since the last request is read
        again first (one ``stat``), and every decision made is forgotten."""
        self.enforcer.load_rules()
        if self.enforcer.rules is not self._rules:
            with self._lock:
                self._decisions.clear()
                self._rules = self.enforcer.rules
        return Caller(self, creds)

    def decide(self, key: tuple, rule: str, target: Mapping[str, Any],
               creds: dict[str, Any]) -> bool:
        """*rule* for the caller and target class *key* stands for, made once."""
        with self._lock:
            known = self._decisions.get(key)
            if known is not None:
                self._decisions.move_to_end(key)
                return known
        allowed = self.check(rule, target, creds)
        with self._lock:
            self._decisions[key] = allowed
            if len(self._decisions) > DECISIONS_KEPT:
                self._decisions.popitem(last=False)
        return allowed

    def check(self, rule: str, target: Mapping[str, Any], creds: dict[str, Any]) -> bool:
        """One rule, uncached; a token of the wrong scope fails it."""
        try:
            return bool(self.enforcer.enforce(rule, target, creds))
        except policy.InvalidScope:
            return False


class Caller:
    """One request's decisions, made once per caller and target class (see the module)."""

    hides_nothing = False

    def __init__(self, rules: Policy, creds: Creds) -> None:
        self.rules = rules
        self.creds = creds
        self._values = creds.values()
        #: :meth:`hidden` by resource and target.
        self._hidden: dict[tuple[str, tuple], list[str]] = {}

    def _class_of(self, target: Mapping[str, Any]) -> tuple:
        return tuple(sorted(
            (k, v == self.creds.project_id if k in PROJECT_FIELDS else _hashable(v))
            for k, v in target.items()))

    def allowed(self, rule: str, target: Mapping[str, Any]) -> bool:
        return self._allowed(rule, target, self._class_of(target))

    def _allowed(self, rule: str, target: Mapping[str, Any], target_class: tuple) -> bool:
        return self.rules.decide((rule, self.creds, target_class), rule, target, self._values)

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
        """The attributes of *resource* that ``get_<resource>:<attr>`` hides from the caller
        (remembered by the target itself, whose values the API keeps scalar: a list's
        items share a few targets)."""
        key = (resource, tuple(target.items()))
        if key not in self._hidden:
            target_class = self._class_of(target)
            self._hidden[key] = [
                attr for attr, name in self.rules.attr_rules.get(f"get_{resource}", {}).items()
                if not self._allowed(name, target, target_class)]
        return self._hidden[key]


def _hashable(value: Any) -> Any:
    if isinstance(value, dict):
        return tuple(sorted((k, _hashable(v)) for k, v in value.items()))
    if isinstance(value, Iterable) and not isinstance(value, str):
        return tuple(_hashable(v) for v in value)
    return value
