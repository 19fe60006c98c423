"""The member actions of routers: ``PUT /v2.0/routers/{id}/<action>``.

``add_router_interface`` / ``remove_router_interface`` take an unwrapped body
(``{"subnet_id": …}`` or ``{"port_id": …}``) and answer the interface;
``add_extraroutes`` / ``remove_extraroutes`` take and answer ``{"router": …}``.
Each is its own policy rule, checked against the router as the caller sees it.
"""

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from neutrino.api import schemas
from neutrino.api.auth import context_of
from neutrino.api.authz import Guard
from neutrino.api.routes import create_model_for
from neutrino.core.plugin import Plugin
from neutrino.policy import Rules


def add_router_actions(router: APIRouter, plugin: Plugin, policy: Rules) -> None:
    guard = Guard(policy, plugin, "router")
    routes_body = create_model_for("router", schemas.RouterRoutes, "Routes")

    def interface(action: str) -> None:
        call = getattr(plugin, action)

        @router.put(f"/v2.0/routers/{{router_id}}/{action}", name=action, tags=["routers"])
        def change(request: Request, router_id: str,
                   body: schemas.RouterInterface) -> JSONResponse:
            ctx = context_of(request.scope)
            guard.act(ctx, action, plugin.get_router(ctx, router_id))
            return JSONResponse(call(ctx, router_id, body.attrs()))

    def extraroutes(action: str) -> None:
        call = getattr(plugin, action)

        @router.put(f"/v2.0/routers/{{router_id}}/{action}", name=action, tags=["routers"])
        def change(request: Request, router_id: str,
                   body: routes_body) -> JSONResponse:  # type: ignore[valid-type]  # run-time model
            ctx = context_of(request.scope)
            who, target = guard.act(ctx, action, plugin.get_router(ctx, router_id))
            routes = body.router.attrs()["routes"]  # type: ignore[attr-defined]
            # The router's owner, its target, is the same after the change.
            return JSONResponse({"router": guard.strip(who, target,
                                                       call(ctx, router_id, routes))})

    for action in ("add_router_interface", "remove_router_interface"):
        interface(action)
    for action in ("add_extraroutes", "remove_extraroutes"):
        extraroutes(action)
