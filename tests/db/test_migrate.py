"""Schema migrations: `neutrino db upgrade` creates the schema and is idempotent; data
migrations carry existing rows over."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.script import ScriptDirectory
from fastapi.testclient import TestClient
from sqlalchemy import inspect

from neutrino.api.app import create_app
from neutrino.config import Settings
from neutrino.core.context import NOAUTH_PROJECT_ID
from neutrino.core.plugin import Plugin
from neutrino.db import migrate
from neutrino.db.models import Base
from neutrino.db.session import Database
from tests.conftest import BACKENDS
from tests.db import before_security_groups
from tests.db.before_security_groups import OldPort

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


@pytest.fixture(params=BACKENDS)
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """An empty database of each backend (no schema)."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'old.db'}"
    return request.getfixturevalue("pg_server").create_database(f"old{os.getpid()}")


DEMO_A, DEMO_B, ROUTER, NO_IP, NO_PROJECT, ALT = (f"0006000{i}-0000-4000-8000-000000000000"
                                                  for i in range(6))


def without_ids(rules: list[dict[str, Any]], group_id: str) -> list[tuple]:
    """Rules as what they mean (a group's own id as ``self``), in a stable order."""
    drop = {"id", "security_group_id", "project_id", "tenant_id", "created_at", "updated_at"}
    return sorted(tuple(sorted((k, "self" if v == group_id else v) for k, v in r.items()
                               if k not in drop)) for r in rules)


def test_security_groups_migration_puts_existing_ports_in_their_default_group(
        empty_db_url: str) -> None:
    """0006 on a database with ports: each filtered port of a project (with an address or
    not) joins the project's ``default`` group, made as the API makes it; a port of no
    project keeps no filtering (port security off); routers' ports stay unfiltered and
    groupless."""
    net, subnet = "0006aaaa-0000-4000-8000-000000000000", "0006bbbb-0000-4000-8000-000000000000"
    before_security_groups.build(empty_db_url, net, subnet, "10.6.0.0/24", [
        OldPort(DEMO_A, "demo", "10.6.0.10"), OldPort(DEMO_B, "demo", "10.6.0.11"),
        OldPort(ROUTER, "demo", "10.6.0.1", device_owner="network:router_interface"),
        OldPort(NO_IP, "demo", None), OldPort(NO_PROJECT, "", "10.6.0.12"),
        OldPort(ALT, "alt", "10.6.0.13")])
    db = Database(empty_db_url)
    migrate.upgrade(db)
    plugin = Plugin(Settings.load(database_url=empty_db_url, mechanism_drivers=[],
                                  auth_strategy="noauth"), db)
    try:
        api = TestClient(create_app(plugin))

        def port(port_id: str) -> dict[str, Any]:
            return api.get(f"/v2.0/ports/{port_id}").json()["port"]

        def default_of(project: str) -> dict[str, Any]:
            """The project's default group, as the project lists it (a first listing
            would create one)."""
            found = api.get("/v2.0/security-groups", headers={"X-Project-Id": project},
                            params={"name": "default", "project_id": project}).json()
            [group] = found["security_groups"]
            return group

        demo, alt = default_of("demo"), default_of("alt")
        for port_id, group in ((DEMO_A, demo), (DEMO_B, demo), (NO_IP, demo), (ALT, alt)):
            got = port(port_id)
            assert got["security_groups"] == [group["id"]]
            assert got["port_security_enabled"] is True
            assert got["revision_number"] == before_security_groups.PORT_REVISION + 1
        router = port(ROUTER)
        assert router["security_groups"] == [] and router["port_security_enabled"] is True
        assert router["revision_number"] == before_security_groups.PORT_REVISION
        unfiltered = port(NO_PROJECT)
        assert unfiltered["security_groups"] == []
        assert unfiltered["port_security_enabled"] is False
        assert unfiltered["revision_number"] == before_security_groups.PORT_REVISION + 1
        # The migrated group is the one the API makes for a project's first use.
        fresh = default_of("fresh")
        # No group for the project-less port.
        groups = api.get("/v2.0/security-groups").json()["security_groups"]
        assert sorted(g["project_id"] for g in groups) == sorted(
            ["alt", "demo", "fresh", NOAUTH_PROJECT_ID])
        for group in (demo, alt):
            for key in ("name", "description", "stateful", "revision_number", "tags",
                        "shared"):
                assert group[key] == fresh[key], key
            assert without_ids(group["security_group_rules"], group["id"]) == \
                without_ids(fresh["security_group_rules"], fresh["id"])
            assert all(r["revision_number"] == 1 for r in group["security_group_rules"])
        # Its rules carry the fingerprint a rule of the API would: the same rule is a
        # duplicate, and the group is a default group (it cannot be renamed).
        duplicate = api.post("/v2.0/security-group-rules", headers={"X-Project-Id": "demo"},
                             json={"security_group_rule": {
                                 "security_group_id": demo["id"], "direction": "ingress",
                                 "ethertype": "IPv6", "remote_group_id": demo["id"]}})
        assert duplicate.status_code == 409, duplicate.text
        assert duplicate.json()["NeutronError"]["type"] == "SecurityGroupRuleExists"
        renamed = api.put(f"/v2.0/security-groups/{demo['id']}",
                          json={"security_group": {"name": "other"}})
        assert renamed.status_code == 409
        # A new port of demo joins the same group: the project has exactly one default.
        new = api.post("/v2.0/ports", headers={"X-Project-Id": "demo"},
                       json={"port": {"network_id": net}}).json()["port"]
        assert new["security_groups"] == [demo["id"]]
    finally:
        plugin.stop()
        db.dispose()
