"""``/v2.0/{collection}/{id}/tags``: the tags API, once for every tagged collection.

Handlers only translate between HTTP and the plugin's tag calls (Neutron's tag
plugin's names: ``get_tags``, ``update_tag`` …), each given the collection, so
whatever wraps the plugin's calls wraps these the same way; in Neutron tag
changes are allowed to whoever may update the resource.
"""
from __future__ import annotations

from fastapi import APIRouter, Header, Response
from fastapi.responses import JSONResponse

from neutrino.api.routes import if_match_revision, json
from neutrino.api.schemas import TagsBody
from neutrino.core.plugin import Plugin


def add_tag_routes(router: APIRouter, plugin: Plugin) -> None:
    """The tags routes of every collection the core tags."""
    for collection in plugin.tags.tagged:
        _add(router, plugin, collection)


def _add(router: APIRouter, plugin: Plugin, collection: str) -> None:
    base = f"/v2.0/{collection}/{{item_id}}/tags"

    @router.get(base, name=f"get_{collection}_tags", tags=[collection])
    def get_tags(item_id: str) -> JSONResponse:
        return json({"tags": plugin.get_tags(collection, item_id)})

    @router.put(base, name=f"update_{collection}_tags", tags=[collection])
    def update_tags(item_id: str, body: TagsBody,
                    if_match: str | None = Header(None)) -> JSONResponse:
        return json({"tags": plugin.update_tags(collection, item_id, body.tags,
                                                if_match_revision(if_match))})

    @router.delete(base, name=f"delete_{collection}_tags", tags=[collection], status_code=204)
    def delete_tags(item_id: str, if_match: str | None = Header(None)) -> Response:
        plugin.delete_tags(collection, item_id, if_match_revision(if_match))
        return Response(status_code=204)

    @router.get(base + "/{tag}", name=f"get_{collection}_tag", tags=[collection], status_code=204)
    def get_tag(item_id: str, tag: str) -> Response:
        plugin.get_tag(collection, item_id, tag)
        return Response(status_code=204)

    @router.put(base + "/{tag}", name=f"update_{collection}_tag", tags=[collection],
                status_code=201)
    def update_tag(item_id: str, tag: str, if_match: str | None = Header(None)) -> Response:
        plugin.update_tag(collection, item_id, tag, if_match_revision(if_match))
        return Response(status_code=201)

    @router.delete(base + "/{tag}", name=f"delete_{collection}_tag", tags=[collection],
                   status_code=204)
    def delete_tag(item_id: str, tag: str, if_match: str | None = Header(None)) -> Response:
        plugin.delete_tag(collection, item_id, tag, if_match_revision(if_match))
        return Response(status_code=204)
