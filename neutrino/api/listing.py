"""Query-string handling of list requests: filters, fields, sorting, pagination."""
from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any
from urllib.parse import urlencode

from starlette.datastructures import QueryParams

from neutrino.core import exceptions as exc
from neutrino.core.query import FALSE_WORDS, TRUE_WORDS, ListQuery

RESERVED = {"fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir"}
#: Items read, rendered and sent at a time by a long list: a worker's memory then
#: peaks at one batch's objects, not at those of the whole collection (pymalloc
#: keeps the arenas of such a peak: 13 MB for good after a 10,000-port list).
BATCH = 500
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
            msg = f"limit '{params['limit']}' is not an integer"
            raise exc.BadRequest(resource="list", msg=msg) from None
        if limit < 0:
            raise exc.BadRequest(resource="list", msg="limit must be a non-negative integer")
        limit = min(limit, MAX_PAGE) or None
    if max_limit > 0:
        limit = min(limit or max_limit, max_limit)
    reverse = params.get("page_reverse", "false").lower()
    if reverse not in TRUE_WORDS | FALSE_WORDS:
        raise exc.BadRequest(resource="list", msg=f"page_reverse '{reverse}' is not a boolean")
    return ListQuery(filters=filters, sort_keys=params.getlist("sort_key"),
                     sort_dirs=params.getlist("sort_dir"), limit=limit,
                     marker=params.get("marker"), page_reverse=reverse in TRUE_WORDS)


def select_fields(item: dict[str, Any], fields: list[str]) -> dict[str, Any]:
    return {k: v for k, v in item.items() if k in fields} if fields else item


def page_links(base_url: str, params: QueryParams, items: list[dict], count: int,
               query: ListQuery) -> list[dict[str, str]]:
    """``next``/``previous`` links exactly as Neutron gives them.

    A page of *count* items (*items* needs only its first and last) has a ``next``
    link unless it is short and forward, and a ``previous`` link unless it is short
    and reversed: a full last page still links to the (empty) page after it, and a
    first page to the one before it.  Clients walk the links until a short page,
    and tempest checks they do.
    """
    if query.limit is None:
        return []
    kept = [(k, v) for k, v in params.multi_items() if k not in ("marker", "page_reverse")]
    short = count < query.limit
    links = []
    if not (short and not query.page_reverse):
        marker = [("marker", items[-1]["id"])] if items else []
        links.append({"rel": "next", "href": f"{base_url}?" + urlencode(kept + marker)})
    if not (short and query.page_reverse):
        marker = [("marker", items[0]["id"])] if items else []
        links.append({"rel": "previous", "href": f"{base_url}?" + urlencode(
            kept + marker + [("page_reverse", "True")])})
    return links


class Batches:
    """The items of *query*, read :data:`BATCH` at a time, each batch in its own read.

    Only for lists ordered by id alone, where the last id read is where the
    next batch starts: every item that exists throughout the listing is in it
    exactly once, and no database connection or snapshot is held while a slow
    client takes its time over the response.  Iterate once; :attr:`more` and
    :attr:`ends` (its first and last item) then describe the whole page for its links.
    """

    def __init__(self, lister: Callable[[ListQuery], tuple[list[dict], bool]], query: ListQuery):
        self.lister, self.query = lister, query
        self.more = False
        self.first: dict[str, Any] | None = None
        self.last: dict[str, Any] | None = None
        self.count = 0
        self._next = self._read(query.marker)  # now: a bad filter is a 4xx before any byte is sent

    @staticmethod
    def apply_to(query: ListQuery) -> bool:
        return not query.page_reverse and all(key == "id" for key in query.sort_keys)

    def _read(self, marker: str | None) -> list[dict]:
        size = BATCH if self.query.limit is None else min(BATCH, self.query.limit - self.count)
        items, self.more = self.lister(replace(self.query, limit=size, marker=marker))
        if items:
            self.first = self.first or items[0]
            self.last = items[-1]
        self.count += len(items)
        return items

    @property
    def complete(self) -> bool:
        """Everything has been read (after the first batch: the list fits in one)."""
        return not self.more or self.count == self.query.limit

    @property
    def ends(self) -> list[dict]:
        """The first and the last item read, for :func:`page_links`."""
        return [self.first, self.last] if self.first and self.last else []

    def __iter__(self) -> Iterator[list[dict]]:
        items = self._next
        while True:
            yield items
            if self.complete or not items:
                return
            items = self._read(items[-1]["id"])
