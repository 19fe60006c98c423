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


def test_rbac_migration_turns_shared_networks_into_wildcard_policies(tmp_path) -> None:
    """0005: a network's ``shared`` column becomes its ``*`` access_as_shared policy, made
    by its owner; the tags trigger of ``networks`` survives the column's removal."""
    db = Database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        before = ScriptDirectory.from_config(migrate.alembic_config(db.url)).get_revision(
            "0005").down_revision
        migrate.upgrade(db, before)
        with db.write_engine.begin() as conn:
            for net_id, shared in (("n-shared", 1), ("n-private", 0)):
                conn.exec_driver_sql(
                    "INSERT INTO networks (id, project_id, name, description, revision_number,"
                    " created_at, updated_at, admin_state_up, status, shared, mtu) VALUES"
                    f" ('{net_id}', 'p1', '', '', 1, '2026-01-01', '2026-01-01', 1, 'ACTIVE',"
                    f" {shared}, 1500)")
            conn.exec_driver_sql("INSERT INTO tags VALUES ('networks', 'n-private', 't')")
        migrate.upgrade(db)
        with db.write_engine.begin() as conn:
            policies = conn.exec_driver_sql(
                "SELECT project_id, object_type, object_id, action, target_project"
                " FROM rbac_policies").all()
            assert [tuple(p) for p in policies] == [
                ("p1", "network", "n-shared", "access_as_shared", "*")]
            conn.exec_driver_sql("DELETE FROM networks WHERE id = 'n-private'")
            assert conn.exec_driver_sql("SELECT count(*) FROM tags").scalar() == 0
    finally:
        db.dispose()
