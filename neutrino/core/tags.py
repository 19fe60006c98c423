"""Tags of any resource (``standard-attr-tag``): the writes, the reads, the list filters.

Every tagged resource type is one :class:`Tagged` (its model and its NotFound
error) declared by its module; everything here works from that alone, so a new
resource gets tags, their API and their filters from that one declaration (and
the trigger its migration adds, :mod:`neutrino.db.tag_cascade`).

As in Neutron, changing a resource's tags is a change of the resource (its
``revision_number`` and ``updated_at`` move, ``If-Match`` applies) but not one
the mechanism drivers hear of: no backend stores tags, so no ``*_precommit``
or ``*_postcommit`` is called.
"""
from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Row, bindparam, delete, func, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.sql.elements import ColumnElement

from neutrino.core import exceptions as exc
from neutrino.core.query import Filter
from neutrino.core.rows import check_revision, chunks
from neutrino.core.writes import Writes
from neutrino.db.models import StandardAttrs, Tag, touch
from neutrino.db.session import Database

#: Neutron's limit (neutron-lib ``tagging.MAX_TAG_LEN``).
MAX_TAG_LEN = 255


#: One resource's tag rows, for a RowView of it (plain SELECTs, no ORM load).
TAGS_OF = select(Tag.tag).where(Tag.resource_type == bindparam("type"),
                                Tag.resource_id == bindparam("id"))


def validate(tag: str) -> str:
    """Neutron's rule for a tag (a string of 1..255 characters), plus what no database stores."""
    if not tag or len(tag) > MAX_TAG_LEN:
        raise exc.InvalidInput(
            error_message=f"'{tag[:MAX_TAG_LEN]}' is not a tag of 1 to {MAX_TAG_LEN} characters")
    if "\x00" in tag:
        raise exc.InvalidInput(error_message="NUL characters are not allowed in tags")
    try:
        tag.encode("utf-8")
    except UnicodeEncodeError:
        raise exc.InvalidInput(error_message="tags must be valid Unicode") from None
    return tag


def split(values: Iterable[str]) -> set[str]:
    """The tags of a filter's values: comma-separated lists, repeated keys adding to them
    (Neutron's reading; a tag with a comma in it cannot be filtered on)."""
    return {tag for value in values for tag in value.split(",")}


@dataclass(frozen=True)
class TagFilter(Filter):
    """One of the four tag filters of a resource's list."""

    resource_type: str
    id_column: Any
    #: The resource must carry every tag given (``tags``), not just one (``tags-any``).
    all_of: bool
    negate: bool

    def clause(self, values: list[str]) -> ColumnElement[bool]:
        wanted = split(values)
        tagged = select(Tag.resource_id).where(Tag.resource_type == self.resource_type,
                                               Tag.tag.in_(wanted))
        if self.all_of:  # the primary key makes a resource's tags distinct
            tagged = tagged.group_by(Tag.resource_id).having(func.count() == len(wanted))
        return self.id_column.not_in(tagged) if self.negate else self.id_column.in_(tagged)


#: The list filters on tags, each with (must carry every tag given, negated).
FILTERS = {"tags": (True, False), "tags-any": (False, False), "not-tags": (True, True),
           "not-tags-any": (False, True)}


@dataclass(frozen=True)
class Tagged:
    """A resource type that carries tags: its model, its API name (``network``: policy
    rules are named after it) and the error naming a missing one."""

    model: type[StandardAttrs]
    name: str
    not_found: Callable[[str], exc.NotFound]

    @property
    def resource_type(self) -> str:
        return self.model.__tablename__

    def filters(self) -> dict[str, TagFilter]:
        """The four filters, for the resource's filterable columns."""
        id_column = self.model.__table__.c.id  # type: ignore[attr-defined]
        return {key: TagFilter(self.resource_type, id_column, all_of, negate)
                for key, (all_of, negate) in FILTERS.items()}

    def rows(self, conn: Connection, resource_id: str) -> list[Row]:
        """The tag rows of one resource, as :func:`~neutrino.core.resources.tag_names`
        reads them from a RowView."""
        return list(conn.execute(TAGS_OF, {"type": self.resource_type, "id": resource_id}))

    def of(self, session: Session, ids: list[str]) -> dict[str, list[str]]:
        """The tags of each of *ids*, sorted (a list's items; unknown ids get none)."""
        found: dict[str, list[str]] = {i: [] for i in ids}
        for chunk in chunks(ids):
            for rid, tag in session.execute(select(Tag.resource_id, Tag.tag).where(
                    Tag.resource_type == self.resource_type, Tag.resource_id.in_(chunk))):
                found[rid].append(tag)
        for tags in found.values():
            tags.sort()
        return found

    def create(self, session: Session, row: Any, tags: list[str]) -> None:
        """Give the new *row* (an ORM object, written already) its *tags*, shown at once
        by its rendering."""
        wanted = sorted({validate(t) for t in tags})
        if wanted:
            session.execute(insert(Tag), [
                {"resource_type": self.resource_type, "resource_id": row.id, "tag": t}
                for t in wanted])
        set_committed_value(row, "tags", [Tag(resource_type=self.resource_type,
                                              resource_id=row.id, tag=t) for t in wanted])


class Tags:
    """The tags API of every tagged resource type, by collection name."""

    def __init__(self, db: Database, writes: Writes, tagged: dict[str, Tagged]):
        self.db = db
        self.writes = writes
        self.tagged = tagged

    def _row(self, session: Session, collection: str, resource_id: str,
             lock: bool = False) -> StandardAttrs:
        tagged = self.tagged[collection]
        # FOR UPDATE (PostgreSQL): concurrent tag writes to one resource queue here
        # instead of failing their revision check; SQLite has one writer anyway.  OF the
        # resource's table: PostgreSQL cannot lock the outer side of its eager joins.
        lock = lock and not self.db.is_sqlite
        row = session.get(tagged.model, resource_id,
                          with_for_update={"of": tagged.model} if lock else None)
        if row is None:
            raise tagged.not_found(resource_id)
        return row

    def get(self, collection: str, resource_id: str) -> list[str]:
        with self.db.read() as session:
            return sorted(t.tag for t in self._row(session, collection, resource_id).tags)

    def check(self, collection: str, resource_id: str, tag: str) -> None:
        """Nothing if the resource carries *tag*; TagNotFound if not."""
        if tag not in self.get(collection, resource_id):
            raise exc.TagNotFound(tag=tag)

    def add(self, collection: str, resource_id: str, tag: str,
            if_match: int | None = None) -> None:
        validate(tag)
        self._change(collection, resource_id, lambda tags: tags | {tag}, if_match)

    def replace(self, collection: str, resource_id: str, tags: list[str],
                if_match: int | None = None) -> list[str]:
        wanted = {validate(t) for t in tags}
        return self._change(collection, resource_id, lambda _: wanted, if_match)

    def remove(self, collection: str, resource_id: str, tag: str,
               if_match: int | None = None) -> None:
        def without(tags: set[str]) -> set[str]:
            if tag not in tags:
                raise exc.TagNotFound(tag=tag)
            return tags - {tag}

        self._change(collection, resource_id, without, if_match)

    def clear(self, collection: str, resource_id: str, if_match: int | None = None) -> None:
        self._change(collection, resource_id, lambda _: set(), if_match)

    def _change(self, collection: str, resource_id: str,
                new: Callable[[set[str]], set[str]], if_match: int | None) -> list[str]:
        """Set the resource's tags to ``new(current tags)``; its revision moves if they changed."""
        def body(session: Session) -> list[str]:
            row = self._row(session, collection, resource_id, lock=True)
            check_revision(row, if_match)
            current = {t.tag for t in row.tags}
            wanted = new(current)
            if wanted != current:
                resource_type = self.tagged[collection].resource_type
                if current - wanted:
                    session.execute(delete(Tag).where(
                        Tag.resource_type == resource_type, Tag.resource_id == resource_id,
                        Tag.tag.in_(sorted(current - wanted))))
                if wanted - current:
                    session.execute(insert(Tag), [
                        {"resource_type": resource_type, "resource_id": resource_id, "tag": t}
                        for t in sorted(wanted - current)])
                touch(row)
                session.flush()
            return sorted(wanted)

        return self.writes.transaction(body)
