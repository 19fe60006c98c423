"""Deleting a resource deletes its tags, in the database itself.

``tags`` holds the tags of every resource type, so no foreign key can cascade
into it.  An ``AFTER DELETE`` trigger on each tagged table does instead: it
runs in the deleting statement's transaction whatever deletes the row (an ORM
delete, a plain ``DELETE``, a network deleting its subnets), so no code path
can leave orphaned tags behind, and a new resource's code need not remember.

A migration creating a tagged table calls :func:`add` with its name (and
:func:`drop` in its downgrade): that is all a new resource needs here.
"""
from __future__ import annotations

from alembic import op

#: PostgreSQL's trigger function, shared by every table (``TG_TABLE_NAME`` is the type).
PG_FUNCTION = """
CREATE OR REPLACE FUNCTION neutrino_delete_tags() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    DELETE FROM tags WHERE resource_type = TG_TABLE_NAME AND resource_id = OLD.id;
    RETURN OLD;
END $$
"""


def _name(table: str) -> str:
    return f"tags_cascade_{table}"


def add(table: str) -> None:
    """Delete the tags of each row deleted from *table* (tags of type *table*)."""
    if op.get_bind().dialect.name == "postgresql":
        op.execute(PG_FUNCTION)
        op.execute(f"CREATE TRIGGER {_name(table)} AFTER DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION neutrino_delete_tags()")
    else:
        op.execute(f"CREATE TRIGGER {_name(table)} AFTER DELETE ON {table} FOR EACH ROW "
                   f"BEGIN DELETE FROM tags WHERE resource_type = '{table}' "
                   "AND resource_id = OLD.id; END")


def drop(table: str) -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute(f"DROP TRIGGER IF EXISTS {_name(table)} ON {table}")
    else:
        op.execute(f"DROP TRIGGER IF EXISTS {_name(table)}")
