"""The building blocks of Neutron's secure-RBAC defaults (neutron/conf/policies/base.py).

Check strings are Neutron's, so an operator's ``policy.yaml`` written for
Neutron means the same here.  ``%(network:project_id)s`` is the project owning
the network a subnet or port is on; the API puts it in the target.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from oslo_policy import policy


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


#: Registered before any rule below is parsed (a RuleDefault parses its check at once).
policy.register("field", FieldCheck)


ADMIN = "rule:admin_only"
SERVICE = "rule:service_api"
PROJECT_MANAGER = "role:manager and project_id:%(project_id)s"
PROJECT_MEMBER = "role:member and project_id:%(project_id)s"
PROJECT_READER = "role:reader and project_id:%(project_id)s"
NET_OWNER_MANAGER = "role:manager and project_id:%(network:project_id)s"
NET_OWNER_MEMBER = "role:member and project_id:%(network:project_id)s"
NET_OWNER_READER = "role:reader and project_id:%(network:project_id)s"


def either(*checks: str) -> str:
    """``(a) or (b) …``: Neutron's ``policy_or``."""
    return " or ".join(f"({check})" for check in checks)


ADMIN_OR_SERVICE = either(ADMIN, SERVICE)
ADMIN_OR_PROJECT_MANAGER = either(ADMIN, PROJECT_MANAGER)
ADMIN_OR_PROJECT_MEMBER = either(ADMIN, PROJECT_MEMBER)
ADMIN_OR_PROJECT_READER = either(ADMIN, PROJECT_READER)
ADMIN_OR_NET_OWNER_MEMBER = either(ADMIN, NET_OWNER_MEMBER)

#: Neutron's secure-RBAC personas are project-scoped (``scope_types=['project']``).
PROJECT_SCOPE = ["project"]

RULES = [
    policy.RuleDefault("context_is_admin", "role:admin",
                       description="Rule for cloud admin access"),
    policy.RuleDefault("service_api", "role:service",
                       description="Default rule for the service-to-service APIs."),
    policy.RuleDefault("admin_only", "rule:context_is_admin",
                       description="Rule for admin only access"),
    policy.RuleDefault("regular_user", "", description="Rule for regular user access"),
    policy.RuleDefault("shared", "field:networks:shared=True",
                       description="Rule of shared network"),
    policy.RuleDefault("external", "field:networks:router:external=True",
                       description="Rule of external network"),
    policy.RuleDefault("network_device", "field:port:device_owner=~^network:",
                       description="Rule of network device"),
]


def rule(name: str, check: str, description: str, method: str,
         path: str) -> policy.DocumentedRuleDefault:
    """One documented, project-scoped rule of a resource's API."""
    return policy.DocumentedRuleDefault(name=name, check_str=check, description=description,
                                        operations=[{"method": method, "path": path}],
                                        scope_types=PROJECT_SCOPE)
