"""Who is asking: the request context every API call hands to the core.

The API builds it from the identity headers keystonemiddleware set (or, under
``noauth``, as an admin).  The core needs it to scope what it reads: a caller
who is neither admin nor service sees only its project's resources and those
an RBAC policy shares with its project or with everyone (Neutron's model-query
filtering, :mod:`neutrino.core.rbac`), so another project's resources are "not
found" rather than "forbidden".
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

#: The project of a ``noauth`` caller that names none (``X-Project-Id``), as Neutron's noauth.
NOAUTH_PROJECT_ID = "fake_project_id"


@dataclass(frozen=True)
class Context:
    user_id: str | None
    project_id: str | None
    roles: frozenset[str] = field(default_factory=frozenset)
    #: The policy's ``context_is_admin`` holds for the caller (decided by the API's policy).
    is_admin: bool = False
    #: The caller has the ``service`` role (another OpenStack service, e.g. Nova).
    is_service: bool = False
    #: ``all`` for a system-scoped token, else None.
    system_scope: str | None = None

    @property
    def sees_all_projects(self) -> bool:
        """Admins and services read every project's resources (Neutron's query hooks)."""
        return self.is_admin or self.is_service


#: The context of Neutrino's own work (backends' resyncs, benchmarks, tests of the core).
ADMIN = Context(user_id=None, project_id=None, roles=frozenset({"admin"}), is_admin=True)


def owned(ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
    """A copy of a create's *attrs* owned by the caller's project unless they name one
    (Neutron's default ``tenant_id``)."""
    attrs = dict(attrs)
    if not attrs.get("project_id") and ctx.project_id:
        attrs["project_id"] = ctx.project_id
    return attrs
