"""Query-string handling of list requests: filters, fields, sorting, pagination."""
from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from neutrino.core import exceptions as exc
from neutrino.core.query import TRUE_WORDS, ListQuery

RESERVED = {"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir"}
#: Larger page sizes mean "everything"; the cap keeps LIMIT within every backend's integer.
MAX_PAGE = 2**31 - 2


def list_query(params: QueryParams, max_limit: int) -> ListQuery:
    filters: dict[str, list[str]] = {}
    for key, value in params.multi_items():
        if key not in RESERVED:
            filters.setdefault("project_id" if key == "tenant_id" else key, []).append(value)
    limit = None
    if "limit" in params:
        try:
            limit = int(params["limit"])
        except ValueError:
            raise exc.BadRequest(resource="list", msg=f"limit '{params['limit']}' is not an integer") \
                from None
        if limit < 0:
            raise exc.BadRequest(resource="list", msg="limit must be a non-negative integer")
        limit = min(limit, MAX_PAGE) or None
    if max_limit > 0:
        limit = min(limit or max_limit, max_limit)
    return ListQuery(filters=filters, sort_keys=params.getlist("sort_key"),
                     sort_dirs=params.getlist("sort_dir"), limit=limit,
                     marker=params.get("marker"),
                     page_reverse=params.get("page_reverse", "").lower() in TRUE_WORDS)


def select_fields(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k in fields} if fields else item


def page_links(base_url: str, params: QueryParams, items: list[dict], more: bool,
               query: ListQuery) -> list[dict[str, str]]:
    """``next``/``previous`` links the way Neutron builds them."""
    if query.limit is None or not items:
        return []
    kept = [(k, v) for k, v in params.multi_items() if k not in ("marker", "page_reverse")]
    links = []
    has_next = more if not query.page_reverse else bool(query.marker)
    has_prev = bool(query.marker) if not query.page_reverse else more
    if has_next:
        links.append({"rel": "next", "href": f"{base_url}?" + urlencode(
            kept + [("marker", items[-1]["id"])])})
    if has_prev:
        links.append({"rel": "previous", "href": f"{base_url}?" + urlencode(
            kept + [("marker", items[0]["id"]), ("page_reverse", "True")])})
    return links
