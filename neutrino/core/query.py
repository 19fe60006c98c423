"""Filtering, sorting and marker pagination of list requests, Neutron style.

Neutron's semantics: repeated filter keys are ORed, different keys ANDed;
``sort_key``/``sort_dir`` pairs with ``id`` as final tie-breaker; a
``marker`` is the last id of the previous page and the next page starts
strictly after it in sort order (before it with ``page_reverse``).
"""
from __future__ import annotations

import datetime as dt
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Integer,
    Select,
    String,
    and_,
    false,
    func,
    literal,
    or_,
    select,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from neutrino.core import exceptions as exc

TRUE_WORDS = {"true", "1", "yes", "on"}
FALSE_WORDS = {"false", "0", "no", "off"}
#: Integer columns are 32-bit signed in every backend; larger values cannot match.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1


@dataclass
class ListQuery:
    filters: dict[str, list[str]] = field(default_factory=dict)
    sort_keys: list[str] = field(default_factory=list)
    sort_dirs: list[str] = field(default_factory=list)
    limit: int | None = None
    marker: str | None = None
    page_reverse: bool = False


class Filter(ABC):
    """A filter that is not one column's value (e.g. ``tags``): it builds its own clause.

    Put in a resource's filterable columns under its query key, it makes every
    list of that resource take the filter; it cannot be a sort key.
    """

    @abstractmethod
    def clause(self, values: list[str]) -> ColumnElement[bool]:
        """The WHERE clause for the query key's *values* (each as given, in order)."""


def convert(column: Any, attr: str, raw: str) -> Any:
    if isinstance(column.type, Boolean):
        word = raw.lower()
        if word in TRUE_WORDS:
            return True
        if word in FALSE_WORDS:
            return False
        raise exc.InvalidInput(error_message=f"'{raw}' is not a valid boolean value for {attr}")
    if isinstance(column.type, Integer):
        try:
            value = int(raw)
        except ValueError:
            raise exc.InvalidInput(error_message=f"'{raw}' is not an integer for {attr}") from None
        if not INT_MIN <= value <= INT_MAX:
            raise exc.InvalidInput(error_message=f"'{raw}' is out of range for {attr}")
        return value
    if isinstance(column.type, DateTime):
        try:
            moment = dt.datetime.fromisoformat(raw)
        except ValueError:
            raise exc.InvalidInput(
                error_message=f"'{raw}' is not an ISO 8601 timestamp for {attr}") from None
        if moment.tzinfo is not None:  # stored as naive UTC
            moment = moment.astimezone(dt.UTC).replace(tzinfo=None)
        return moment
    return raw


def where_clauses(columns: dict[str, Any], filters: dict[str, list[str]]) -> list[ColumnElement]:
    clauses: list[ColumnElement] = []
    for attr, values in filters.items():
        column = columns.get(attr)
        if column is None:
            raise exc.BadRequest(resource="list", msg=f"'{attr}' is not a valid filter")
        if isinstance(column, Filter):
            clauses.append(column.clause(values))
            continue
        if not values:
            clauses.append(false())
            continue
        clauses.append(column.in_([convert(column, attr, v) for v in values]))
    return clauses


def check_visible(session: Session, visible: ColumnElement | None, id_column: Any, item_id: str,
                  not_found: exc.NotFound) -> None:
    """Raise *not_found* unless the row *item_id* is within *visible*: another project's
    resource is answered as missing, as Neutron does, so its existence is not revealed."""
    if visible is not None and session.scalar(
            select(id_column).where(id_column == item_id, visible)) is None:
        raise not_found


def visible_page(session: Session, table: Any, columns: dict[str, Any],
                 visible: ColumnElement | None, query: ListQuery, *extra: Any,
                 filters: dict[str, list[str]] | None = None,
                 also: tuple[ColumnElement, ...] = ()) -> tuple[list[Any], bool]:
    """One page of *table*'s rows that the caller may see (*visible*, None for all),
    filtered and sorted as *query* asks: the query every resource's list shares.

    *extra* are computed columns selected beside the table's (``shared``); *filters*
    replaces the query's when the resource handles some itself, and *also* adds the
    clauses it built for them.
    """
    stmt = select(table, *extra).where(
        *where_clauses(columns, query.filters if filters is None else filters), *also)
    if visible is not None:
        stmt = stmt.where(visible)
    return sorted_page(session, stmt, columns, table.c.id, query)


def sorted_page(session: Session, stmt: Select, columns: dict[str, Any], id_column: Any,
                query: ListQuery) -> tuple[list[Any], bool]:
    """Rows of *stmt* for one page, and whether more rows follow it."""
    if len(query.sort_dirs) not in (0, len(query.sort_keys)):
        raise exc.BadRequest(resource="list",
                             msg="The number of sort_keys and sort_dirs must be same")
    order: list[tuple[Any, bool]] = []
    for i, key in enumerate(query.sort_keys):
        column = columns.get(key)
        if column is None or isinstance(column, Filter):
            raise exc.BadRequest(resource="list",
                                 msg=f"'{key}' is an invalid attribute for sort_key")
        direction = query.sort_dirs[i] if query.sort_dirs else "asc"
        if direction not in ("asc", "desc"):
            raise exc.BadRequest(resource="list",
                                 msg=f"'{direction}' is an invalid value for sort_dir")
        order.append((column, direction == "asc"))
    if not any(col is id_column for col, _ in order):
        order.append((id_column, True))
    order = [(_sortable(col), asc) for col, asc in order]
    if query.page_reverse:
        order = [(col, not asc) for col, asc in order]
    if query.marker:
        if len(order) == 1:  # ordered by id alone: the marker is its own sort value
            stmt = stmt.where(_after(order, [query.marker]))
        else:
            marker_row = session.execute(
                select(*[col for col, _ in order]).where(id_column == query.marker)).first()
            if marker_row is not None:
                stmt = stmt.where(_after(order, list(marker_row)))
    stmt = stmt.order_by(*[col.asc() if asc else col.desc() for col, asc in order])
    if query.limit is not None:
        stmt = stmt.limit(query.limit + 1)
    rows = list(session.execute(stmt))
    more = query.limit is not None and len(rows) > query.limit
    rows = rows[: query.limit] if query.limit is not None else rows
    if query.page_reverse:
        rows.reverse()
    return rows, more


def _sortable(column: Any) -> Any:
    """*column* as a sort key: NULL strings sort as '' so every backend orders them alike
    and a marker row's value can be compared with."""
    if getattr(column, "nullable", False) and isinstance(column.type, String):
        return func.coalesce(column, "")
    return column


def _after(order: list[tuple[Any, bool]], values: list[Any]) -> ColumnElement:
    """Rows strictly after *values* in the lexicographic *order*."""
    # literal(): SQLAlchemy refuses ``column > True`` written with Python booleans.
    values = [literal(v, col.type) for (col, _), v in zip(order, values, strict=True)]
    alternatives = []
    for i, (col, asc) in enumerate(order):
        equal = [order[j][0] == values[j] for j in range(i)]
        beyond = col > values[i] if asc else col < values[i]
        alternatives.append(and_(*equal, beyond))
    return or_(*alternatives)
