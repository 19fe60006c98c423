"""``/v2.0/quotas``: Neutron's quota API (``quotas``, ``quota_details``,
``quota-check-limit``, ``quota-check-limit-default``).

Who may do what, as Neutron's quota controller decides it:

* a project's own limits, defaults and usage details are open to anyone in
  the project, with no rule checked;
* another project's limits and defaults need ``get_quota`` (else 403
  ``PolicyNotAuthorized``), its details an admin (else 403 ``AdminRequired``);
* the list of projects with limits of their own needs ``get_quota`` on the
  caller's own project, and shows a non-admin only that project;
* changing and resetting limits need ``update_quota`` and ``delete_quota``
  (403).

Neutron's target for these rules is always the caller's own project, so a
project manager passes ``get_quota`` for every project; here the target is
the project asked about (a manager reads only its own project's limits, which
needs no rule anyway).
"""
# No ``from __future__ import annotations``: FastAPI must evaluate the annotation that
# names the update body's model, which is built at run time (as in routes.py).
from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse

from neutrino.api import schemas
from neutrino.api.auth import context_of
from neutrino.api.authz import caller
from neutrino.api.routes import create_model_for, json
from neutrino.core import exceptions as exc
from neutrino.core.context import Context
from neutrino.core.plugin import Plugin
from neutrino.policy import Rules

#: The longest project id a limit can be stored for (Neutron's ``PROJECT_ID_FIELD_SIZE``).
MAX_PROJECT_ID = 255


def add_quota_routes(router: APIRouter, plugin: Plugin, policy: Rules) -> None:
    update_body = create_model_for("quota", schemas.quota_update(plugin.quotas.resources),
                                   "Update")

    def authorize(ctx: Context, rule: str, project_id: str | None) -> None:
        if not caller(policy, ctx).allowed(rule, {"project_id": project_id or ""}):
            raise exc.PolicyNotAuthorized(rule=f"rule:{rule}")

    def may_read(request: Request, project_id: str) -> None:
        ctx = context_of(request.scope)
        if project_id != ctx.project_id:
            authorize(ctx, "get_quota", project_id)

    @router.get("/v2.0/quotas", name="list_quotas", tags=["quotas"])
    def list_quotas(request: Request) -> JSONResponse:
        ctx = context_of(request.scope)
        authorize(ctx, "get_quota", ctx.project_id)
        return json({"quotas": plugin.list_quotas(ctx)})

    @router.get("/v2.0/quotas/{project_id}", name="show_quota", tags=["quotas"])
    def show_quota(request: Request, project_id: str) -> JSONResponse:
        may_read(request, project_id)
        return json({"quota": plugin.get_quota(project_id)})

    @router.get("/v2.0/quotas/{project_id}/default", name="show_default_quota", tags=["quotas"])
    def show_default_quota(request: Request, project_id: str) -> JSONResponse:
        may_read(request, project_id)
        return json({"quota": plugin.get_default_quota()})

    @router.get("/v2.0/quotas/{project_id}/details", name="show_quota_details", tags=["quotas"])
    def show_quota_details(request: Request, project_id: str) -> JSONResponse:
        ctx = context_of(request.scope)
        if project_id != ctx.project_id and not ctx.is_admin:
            raise exc.AdminRequired(
                reason="Only admin is authorized to access quotas for another project")
        return json({"quota": plugin.get_quota_details(project_id)})

    @router.put("/v2.0/quotas/{project_id}", name="update_quota", tags=["quotas"])
    def update_quota(request: Request, project_id: str,
                     body: update_body) -> JSONResponse:  # type: ignore[valid-type]  # a run-time model
        authorize(context_of(request.scope), "update_quota", project_id)
        if len(project_id) > MAX_PROJECT_ID:
            raise exc.InvalidInput(
                error_message=f"a project id has at most {MAX_PROJECT_ID} characters")
        limits = body.quota.attrs()  # type: ignore[attr-defined]  # a run-time model
        force = limits.pop("force", False)
        limits.pop("check_limit", None)
        return json({"quota": plugin.update_quota(project_id, limits, force)})

    @router.delete("/v2.0/quotas/{project_id}", name="delete_quota", tags=["quotas"],
                   status_code=204)
    def delete_quota(request: Request, project_id: str) -> Response:
        authorize(context_of(request.scope), "delete_quota", project_id)
        plugin.delete_quota(project_id)
        return Response(status_code=204)
