"""``/v2.0/network-ip-availabilities``: Neutron's network IP availability API
(``network-ip-availability``, ``network-ip-availability-details``).

Neutron's default gives ``get_network_ip_availability`` to admins alone; its target is
the network's project, so a policy file that opens it to a project's readers shows
them their own networks only.  An entry the caller may not get is left out of lists
and answers 404, as the network itself would.
"""
from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from neutrino.api.auth import context_of
from neutrino.api.authz import caller
from neutrino.api.listing import select_fields
from neutrino.api.routes import json
from neutrino.core import exceptions as exc
from neutrino.core.ip_availability import FILTERS
from neutrino.core.plugin import Plugin
from neutrino.policy import Decisions, Rules

RULE = "get_network_ip_availability"


def add_ip_availability_routes(router: APIRouter, plugin: Plugin, policy: Rules) -> None:
    def gettable(who: Decisions, item: dict[str, Any]) -> bool:
        return who.allowed(RULE, {"project_id": item["project_id"] or ""})

    @router.get("/v2.0/network-ip-availabilities", tags=["network-ip-availabilities"])
    def list_availabilities(request: Request) -> JSONResponse:
        who = caller(policy, context_of(request.scope))
        params = request.query_params
        filters = {k: params.getlist(k) for k in params if k != "fields"}
        for key in filters:
            if key not in FILTERS:
                raise exc.BadRequest(resource="list", msg=f"'{key}' is not a valid filter")
        items = [item for item in plugin.list_network_ip_availabilities(filters)
                 if gettable(who, item)]
        return json({"network_ip_availabilities": [
            select_fields(item, params.getlist("fields")) for item in items]})

    @router.get("/v2.0/network-ip-availabilities/{network_id}",
                tags=["network-ip-availabilities"])
    async def show_availability(network_id: str, request: Request) -> JSONResponse:
        who = caller(policy, context_of(request.scope))
        item = await run_in_threadpool(plugin.get_network_ip_availability, network_id)
        if not gettable(who, item):
            raise exc.NetworkNotFound(net_id=network_id)
        return json({"network_ip_availability": select_fields(
            item, request.query_params.getlist("fields"))})
