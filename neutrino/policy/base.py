"""The building blocks of Neutron's secure-RBAC defaults (neutron/conf/policies/base.py).

Check strings are Neutron's (release 2026.1, ``stable/2026.1``), so an
operator's ``policy.yaml`` written for Neutron means the same here;
``tests/api/test_policy_matrix.py`` checks the API against them.
``%(network:project_id)s`` is the project owning the network a subnet or port
is on; the API puts it in the target.

Rules here and in the resources' modules are plain data: :mod:`neutrino.policy.engine`
hands them to oslo.policy.  So a server that needs no policy engine (``noauth``)
imports neither oslo.policy nor oslo.config (about 5 MB of every API worker).
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rule:
    """One default rule: a building block, or (with *method* and *path*) the rule of an
    API call, documented and project-scoped as Neutron's are."""

    name: str
    check: str
    description: str
    method: str | None = None
    path: str | None = None


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
ADMIN_OR_NET_OWNER_READER = either(ADMIN, NET_OWNER_READER)

RULES = [
    Rule("context_is_admin", "role:admin", "Rule for cloud admin access"),
    Rule("service_api", "role:service", "Default rule for the service-to-service APIs."),
    Rule("admin_only", "rule:context_is_admin", "Rule for admin only access"),
    Rule("regular_user", "", "Rule for regular user access"),
    Rule("shared", "field:networks:shared=True", "Rule of shared network"),
    Rule("external", "field:networks:router:external=True", "Rule of external network"),
    Rule("network_device", "field:port:device_owner=~^network:", "Rule of network device"),
]


def rule(name: str, check: str, description: str, method: str, path: str) -> Rule:
    """The rule of one API call."""
    return Rule(name, check, description, method, path)


#: The attribute whose ``get_<resource>:tags`` hides it, and whose ``update_`` and
#: ``delete_<resource>:tags`` guard the tags API (``/{collection}/{id}/tags``) only:
#: Neutron checks create and update attribute rules only for attributes it marks
#: ``enforce_policy``, which ``tags`` is not.
TAGS = "tags"


def tag_rules(resource: str, path: str, read: str, update: str, remove: str) -> list[Rule]:
    """Neutron's rules of a resource's tags: reading them (also as an attribute of the
    resource), setting them (``PUT``) and removing them (``DELETE``)."""
    tags = f"{path}/tags"
    return [
        rule(f"get_{resource}:{TAGS}", read, f"Get the {resource} tags", "GET", tags),
        rule(f"update_{resource}:{TAGS}", update, f"Update the {resource} tags", "PUT", tags),
        rule(f"delete_{resource}:{TAGS}", remove, f"Delete the {resource} tags", "DELETE",
             tags),
    ]
