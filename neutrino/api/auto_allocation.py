"""``/v2.0/auto-allocated-topology/{project_id}``: Neutron's ``auto-allocated-topology``.

``GET`` makes the project's topology if it has none and answers its network's id;
``?fields=dry-run`` only checks that one could be made (any other ``fields`` is 400,
as Neutron's).  The project is checked first (another project's: 403 ``NotAuthorized``
unless the caller is an admin; ``None``: the caller's), then the rule, whose target
is that project, before anything is made.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from neutrino.api.auth import context_of
from neutrino.api.authz import caller
from neutrino.api.quotas import MAX_PROJECT_ID
from neutrino.api.routes import json
from neutrino.core import exceptions as exc
from neutrino.core.context import Context
from neutrino.core.plugin import Plugin
from neutrino.policy import Rules

PATH = "/v2.0/auto-allocated-topology/{project_id}"
#: The only ``fields`` value Neutron takes here: check the requirements, make nothing.
DRY_RUN = "dry-run"


def topology(network_id: str, project_id: str) -> dict[str, Any]:
    return {"auto_allocated_topology": {"id": network_id, "tenant_id": project_id,
                                        "project_id": project_id}}


def add_auto_allocation_routes(router: APIRouter, plugin: Plugin, policy: Rules) -> None:
    def authorized(ctx: Context, rule: str, project_id: str) -> str:
        """The project the request is for, once the caller may act on it."""
        project_id = plugin.auto_allocated_project(ctx, project_id)
        if len(project_id) > MAX_PROJECT_ID:  # an admin's: it would own the topology
            raise exc.InvalidInput(
                error_message=f"a project id has at most {MAX_PROJECT_ID} characters")
        if not caller(policy, ctx).allowed(rule, {"project_id": project_id}):
            raise exc.PolicyNotAuthorized(rule=f"rule:{rule}")
        return project_id

    @router.get(PATH, tags=["auto-allocated-topology"])
    def get_topology(request: Request, project_id: str) -> JSONResponse:
        ctx = context_of(request.scope)
        project_id = authorized(ctx, "get_auto_allocated_topology", project_id)
        fields = request.query_params.getlist("fields")
        if DRY_RUN in fields:
            plugin.check_auto_allocation(ctx)
            return json(topology(f"{DRY_RUN}=pass", project_id))
        if fields:
            raise exc.BadRequest(resource="auto_allocate", msg="Unrecognized field")
        return json(topology(plugin.get_auto_allocated_topology(ctx, project_id), project_id))

    @router.delete(PATH, tags=["auto-allocated-topology"], status_code=204)
    def delete_topology(request: Request, project_id: str) -> Response:
        ctx = context_of(request.scope)
        project_id = authorized(ctx, "delete_auto_allocated_topology", project_id)
        plugin.delete_auto_allocated_topology(ctx, project_id)
        return Response(status_code=204)
