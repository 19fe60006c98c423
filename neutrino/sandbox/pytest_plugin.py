"""pytest fixtures that give a test a running OVN sandbox or a real Keystone.

Use from a conftest: ``from neutrino.sandbox.pytest_plugin import sandbox, sandbox_factory``
(or ``pytest_plugins = ["neutrino.sandbox.pytest_plugin"]`` in the root conftest).
Set ``NEUTRINO_KEEP_SANDBOX=1`` to keep the directories (logs, DBs) after the test.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from neutrino.sandbox.keystone import Keystone
from neutrino.sandbox.sandbox import Sandbox

SandboxFactory = Callable[..., Sandbox]


def keep_dirs() -> bool:
    return os.environ.get("NEUTRINO_KEEP_SANDBOX") == "1"


@pytest.fixture
def sandbox_factory() -> Iterator[SandboxFactory]:
    """Make sandboxes with central started (``start_central`` kwargs are passed on);
    every one is stopped at teardown."""
    keep = keep_dirs()
    made: list[Sandbox] = []

    def make(**central: Any) -> Sandbox:
        sb = Sandbox(keep_dir=keep)
        made.append(sb)
        sb.start_central(**central)
        return sb

    yield make
    for sb in reversed(made):
        sb.stop()


@pytest.fixture
def sandbox(sandbox_factory: SandboxFactory) -> Sandbox:
    """A sandbox with standalone NB, SB and ovn-northd running, and no chassis yet."""
    return sandbox_factory()


@pytest.fixture(scope="session")
def keystone() -> Iterator[Keystone]:
    """A real Keystone with the users, projects and catalog of ``neutrino up``, started
    once per test process: a first start costs seconds (schema, keys, bootstrap).

    Shared by every test of the session, so tests must not change its users,
    roles or catalog; a test that needs to restart or break Keystone makes its own.
    """
    server = Keystone(keep_dir=keep_dirs())
    server.start()
    yield server
    server.stop()
