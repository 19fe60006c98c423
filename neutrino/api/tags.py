"""``/v2.0/{collection}/{id}/tags``: the tags API, once for every tagged collection.

Handlers translate between HTTP and the plugin's tag calls (Neutron's tag
plugin's names: ``get_tags``, ``update_tag`` …), each given the collection.
Policy is Neutron's tags rules: reading tags needs ``get_<resource>:tags``,
setting them ``update_<resource>:tags``, removing them
``delete_<resource>:tags`` (403 on a visible resource); a resource the caller
may not see (``get_<resource>``) is a 404.
"""
from __future__ import annotations

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse

from neutrino.api.auth import context_of
from neutrino.api.authz import Guard
from neutrino.api.routes import if_match_revision, json
from neutrino.api.schemas import TagsBody
from neutrino.core.plugin import Plugin
from neutrino.policy import Rules


def add_tag_routes(router: APIRouter, plugin: Plugin, policy: Rules) -> None:
    """The tags routes of every collection the core tags."""
    for collection, tagged in plugin.tags.tagged.items():
        _add(router, plugin, Guard(policy, plugin, tagged.name), tagged.name, collection)


def _add(router: APIRouter, plugin: Plugin, guard: Guard, name: str, collection: str) -> None:
    base = f"/v2.0/{collection}/{{item_id}}/tags"
    show = getattr(plugin, f"get_{name}")

    def may(verb: str, request: Request, item_id: str) -> None:
        ctx = context_of(request.scope)
        guard.tags(ctx, verb, show(ctx, item_id))

    @router.get(base, name=f"get_{collection}_tags", tags=[collection])
    def get_tags(request: Request, item_id: str) -> JSONResponse:
        may("get", request, item_id)
        return json({"tags": plugin.get_tags(collection, item_id)})

    @router.put(base, name=f"update_{collection}_tags", tags=[collection])
    def update_tags(request: Request, item_id: str, body: TagsBody,
                    if_match: str | None = Header(None)) -> JSONResponse:
        may("update", request, item_id)
        return json({"tags": plugin.update_tags(collection, item_id, body.tags,
                                                if_match_revision(if_match))})

    @router.delete(base, name=f"delete_{collection}_tags", tags=[collection], status_code=204)
    def delete_tags(request: Request, item_id: str,
                    if_match: str | None = Header(None)) -> Response:
        may("delete", request, item_id)
        plugin.delete_tags(collection, item_id, if_match_revision(if_match))
        return Response(status_code=204)

    @router.get(base + "/{tag}", name=f"get_{collection}_tag", tags=[collection], status_code=204)
    def get_tag(request: Request, item_id: str, tag: str) -> Response:
        may("get", request, item_id)
        plugin.get_tag(collection, item_id, tag)
        return Response(status_code=204)

    @router.put(base + "/{tag}", name=f"update_{collection}_tag", tags=[collection],
                status_code=201)
    def update_tag(request: Request, item_id: str, tag: str,
                   if_match: str | None = Header(None)) -> Response:
        may("update", request, item_id)
        plugin.update_tag(collection, item_id, tag, if_match_revision(if_match))
        return Response(status_code=201)

    @router.delete(base + "/{tag}", name=f"delete_{collection}_tag", tags=[collection],
                   status_code=204)
    def delete_tag(request: Request, item_id: str, tag: str,
                   if_match: str | None = Header(None)) -> Response:
        may("delete", request, item_id)
        plugin.delete_tag(collection, item_id, tag, if_match_revision(if_match))
        return Response(status_code=204)
