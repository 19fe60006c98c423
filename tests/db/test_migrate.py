"""Schema migrations: `neutrino db upgrade` creates the schema and is idempotent."""
from __future__ import annotations

import subprocess
import sys

from alembic.script import ScriptDirectory
from sqlalchemy import inspect

from neutrino.db import migrate
from neutrino.db.models import Base
from neutrino.db.session import Database

HEAD = ScriptDirectory.from_config(migrate.alembic_config("sqlite://")).get_current_head()


def test_upgrade_creates_every_model_table_and_is_idempotent(db_url: str) -> None:
    db = Database(db_url)
    try:
        before = migrate.current_revision(db)
        migrate.upgrade(db)  # already at head (db_url is migrated): a no-op
        assert migrate.current_revision(db) == before == HEAD
        with db.read_engine.connect() as conn:
            tables = set(inspect(conn).get_table_names())
        assert set(Base.metadata.tables) <= tables
    finally:
        db.dispose()


def test_db_upgrade_command_on_empty_database(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"
    for _ in range(2):  # the second run must change nothing and succeed
        out = subprocess.run([sys.executable, "-m", "neutrino.cli", "db", "upgrade",
                              "--database-url", url], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == HEAD
    db = Database(url)
    try:
        assert migrate.current_revision(db) == HEAD
    finally:
        db.dispose()
