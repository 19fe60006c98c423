"""``/v2.0/agents``: Neutron's agent API (extension ``agent``), admins only.

Neutron's defaults give ``get_agent``, ``update_agent`` and ``delete_agent`` to
admins alone.  Another caller's list is empty, and an agent it asks for by id
answers 404 (Neutron hides what a caller may not show, rather than 403).
"""
# No ``from __future__ import annotations``: FastAPI must evaluate the annotation that
# names the update body's model, which is built at run time (as in routes.py).
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from neutrino.api import schemas
from neutrino.api.auth import context_of
from neutrino.api.authz import caller
from neutrino.api.listing import select_fields
from neutrino.api.routes import create_model_for, json
from neutrino.core import exceptions as exc
from neutrino.core.plugin import Plugin
from neutrino.policy import Rules


def add_agent_routes(router: APIRouter, plugin: Plugin, policy: Rules) -> None:
    update_body = create_model_for("agent", schemas.AgentUpdate, "Update")

    def allowed(request: Request, rule: str) -> bool:
        return caller(policy, context_of(request.scope)).allowed(rule, {})

    def authorize(request: Request, rule: str, agent_id: str) -> None:
        """404 unless the caller may see agents, 403 unless it may also do *rule*."""
        if not allowed(request, "get_agent"):
            raise exc.AgentNotFound(id=agent_id)
        if not allowed(request, rule):
            raise exc.PolicyNotAuthorized(rule=f"rule:{rule}")

    @router.get("/v2.0/agents", tags=["agents"])
    def list_agents(request: Request) -> JSONResponse:
        """Others get an empty list, as Neutron's lists do."""
        if not allowed(request, "get_agent"):
            return json({"agents": []})
        fields = request.query_params.getlist("fields")
        filters = {k: request.query_params.getlist(k) for k in request.query_params
                   if k != "fields"}
        agents = [a for a in plugin.list_agents()
                  if all(str(a.get(k)).lower() in [v.lower() for v in vs]
                         for k, vs in filters.items())]
        return json({"agents": [select_fields(a, fields) for a in agents]})

    @router.get("/v2.0/agents/{agent_id}", tags=["agents"])
    async def show_agent(agent_id: str, request: Request) -> JSONResponse:
        authorize(request, "get_agent", agent_id)
        agent = await run_in_threadpool(plugin.get_agent, agent_id)
        return json({"agent": select_fields(agent, request.query_params.getlist("fields"))})

    @router.put("/v2.0/agents/{agent_id}", tags=["agents"])
    def update_agent(agent_id: str, request: Request,
                     body: update_body) -> JSONResponse:  # type: ignore[valid-type]  # run-time
        authorize(request, "update_agent", agent_id)
        attrs: dict[str, Any] = body.agent.attrs()  # type: ignore[attr-defined]
        return json({"agent": plugin.update_agent(agent_id, attrs)})

    @router.delete("/v2.0/agents/{agent_id}", tags=["agents"], status_code=204)
    def delete_agent(agent_id: str, request: Request) -> Response:
        authorize(request, "delete_agent", agent_id)
        plugin.delete_agent(agent_id)
        return Response(status_code=204)
