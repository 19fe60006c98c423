"""Small helpers every resource module uses on its rows."""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, TypeVar

from neutrino.core import exceptions as exc

T = TypeVar("T")


class RowView:
    """A row and its related rows, read with plain SELECTs, read like the ORM object.

    Requests that only read a network (or delete a port) skip the ORM's
    identity map and eager loaders, which cost a third of such a request.
    Attribute access like :class:`Network` / :class:`Port`, so allocation,
    rendering and PortContext take either.
    """

    def __init__(self, row: Any, **related: Sequence[Any]):
        self.__dict__.update(related)
        self._row = row

    def __getattr__(self, name: str) -> Any:
        return getattr(self._row, name)


def column_values(obj: Any) -> dict[str, Any]:
    """The column values set on a transient ORM object (unset ones get their defaults),
    to write it with a plain INSERT instead of the unit of work's flush."""
    return {c.key: value for c in obj.__table__.columns
            if (value := getattr(obj, c.key)) is not None}


def apply(row: Any, attrs: dict[str, Any]) -> bool:
    """Set *attrs* on *row*; whether any value changed (an unchanged row keeps its revision)."""
    changed = False
    for key, value in attrs.items():
        if getattr(row, key) != value:
            setattr(row, key, value)
            changed = True
    return changed


def check_revision(row: Any, if_match: int | None) -> None:
    """Refuse a conditional write (``If-Match: revision_number=N``) to a row that moved on."""
    if if_match is not None and row.revision_number != if_match:
        raise exc.PreconditionFailed(required=if_match, resource_id=row.id,
                                     current=row.revision_number)


def chunks(items: list[T], size: int = 500) -> list[list[T]]:
    """*items* in slices small enough for one ``IN (...)`` or one executemany."""
    return [items[i:i + size] for i in range(0, len(items), size)]
