"""Fixtures shared by all tests: real databases (SQLite and PostgreSQL) and the core.

Core and API tests run once per database backend (``db_url`` is
parametrized).  ``NEUTRINO_TEST_DATABASES=sqlite`` narrows the run while
developing; CI runs both.
"""
from __future__ import annotations

import itertools
import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.config import Settings
from neutrino.core.plugin import Plugin
from neutrino.db.migrate import upgrade
from neutrino.db.session import Database
from neutrino.sandbox.postgres import PostgresServer

pytest_plugins = ["neutrino.sandbox.pytest_plugin"]

BACKENDS = os.environ.get("NEUTRINO_TEST_DATABASES", "sqlite,postgresql").split(",")
_counter = itertools.count()


#: The longest tests (minutes each), started first: pytest-xdist then gives each worker
#: one at the start, where in collection order they came last and one worker ended the
#: run alone with them.
STARTED_FIRST = ("tests/test_fuzz.py::test_openapi_operations_never_fail_the_server",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    items.sort(key=lambda item: not item.nodeid.startswith(STARTED_FIRST))


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    server = PostgresServer()
    server.start()
    yield server
    server.stop()


def migrated(url: str) -> str:
    db = Database(url)
    upgrade(db)
    db.dispose()
    return url


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A migrated PostgreSQL database that each test's database is copied from."""
    migrated(pg_server.create_database("neutrino_template"))
    return "neutrino_template"


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "neutrino.db"
    migrated(f"sqlite:///{path}")
    return path


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated database of each backend (a copy of a migrated template)."""
    if request.param == "sqlite":
        path = tmp_path / "neutrino.db"
        shutil.copy(request.getfixturevalue("sqlite_template"), path)
        return f"sqlite:///{path}"
    server = request.getfixturevalue("pg_server")
    return server.create_database(f"t{os.getpid()}_{next(_counter)}",
                                  template=request.getfixturevalue("pg_template"))


PluginFactory = Callable[..., Plugin]


@pytest.fixture
def make_plugin(db_url: str) -> Iterator[PluginFactory]:
    """Build plugins on the test database; settings default to no mechanism driver and
    ``noauth`` (tests of identity and policy choose keystone)."""
    made: list[Plugin] = []

    def make(**overrides: Any) -> Plugin:
        overrides.setdefault("mechanism_drivers", [])
        overrides.setdefault("auth_strategy", "noauth")
        overrides.setdefault("network_vlan_ranges", ["physnet1:100:109", "physnet2"])
        settings = Settings.load(database_url=db_url, **overrides)
        plugin = Plugin(settings, Database(db_url))
        made.append(plugin)
        return plugin

    yield make
    for plugin in made:
        plugin.stop()
        plugin.db.dispose()


@pytest.fixture
def plugin(make_plugin: PluginFactory) -> Plugin:
    return make_plugin()


@pytest.fixture
def client(plugin: Plugin) -> TestClient:
    """The real ASGI app over the test database, called in-process."""
    return TestClient(create_app(plugin))
