"""The package's rooms and which may import which (docs/architecture.md).

Data flows one way: ``api → core → db / drivers``; ``ovn`` implements the
driver contract and never reaches back into the core; the plug agent is a
daemon of its own that shares only two leaf modules with the server.  The
imports are read from the source (not from ``sys.modules``), so a lazy import
inside a function counts as much as one at the top of a module.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "neutrino"

#: Leaf modules at the top of the package, importable from every room.
LEAVES = {"config", "log", "metrics", "plugproto", "workqueue"}

#: For each room, the other rooms it may import (leaves aside).
ALLOWED: dict[str, set[str]] = {
    "db": set(),
    "drivers": set(),
    "core": {"db", "drivers"},
    "api": {"core", "db", "drivers", "policy"},
    # Neutron's rules (oslo.policy): what the API allows; knows nothing of the core.
    "policy": set(),
    "ovn": {"drivers"},
    # The provider conformance kit (``agent.conformance``, ``agent.harness``) runs a
    # provider against real OVS daemons, so it alone may start a sandbox.
    "agent": {"sandbox"},
    "sandbox": set(),
}

#: Agent modules that are test kits for provider authors rather than the daemon.
AGENT_KITS = {"conformance", "harness"}


def imports_of(path: Path) -> set[str]:
    """The ``neutrino.*`` modules *path* imports, anywhere in the file."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif isinstance(node, ast.ImportFrom) and node.level:
            raise AssertionError(f"{path}: relative import (the package uses absolute ones)")
    return {name for name in found if name.startswith("neutrino.")}


def room_of(module: str) -> str:
    return module.split(".")[1]


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


@pytest.mark.parametrize("room", sorted(ALLOWED))
def test_each_room_imports_only_what_it_may(room: str) -> None:
    wrong = []
    for path in (PACKAGE / room).rglob("*.py"):
        allowed = ALLOWED[room] | LEAVES | {room}
        if room == "agent" and path.stem not in AGENT_KITS:
            allowed = allowed - {"sandbox"}
        wrong += [f"{path.relative_to(PACKAGE.parent)} imports {name}"
                  for name in imports_of(path) if room_of(name) not in allowed]
    assert not wrong, "\n".join(wrong)


@pytest.mark.parametrize("leaf", sorted(LEAVES))
def test_leaves_import_nothing_of_neutrino_but_config(leaf: str) -> None:
    # A leaf imported by both the server and the agent must not drag either in.
    assert {room_of(m) for m in imports_of(PACKAGE / f"{leaf}.py")} <= {"config"}


def test_every_room_is_ruled() -> None:
    """A new room must say what it may import (this test fails until it does)."""
    wiring = {"bench", "cli", "conformance", "server", "worker", "up", "upkeep", "__init__"}
    rooms = {p.name for p in PACKAGE.iterdir() if p.is_dir() and (p / "__init__.py").exists()}
    rooms |= {p.stem for p in PACKAGE.glob("*.py")}
    assert rooms - set(ALLOWED) - LEAVES - wiring == set()


def test_shipped_modules_import_no_test_kit() -> None:
    """pytest and friends are test dependencies, not the package's; only the pytest
    plugin that starts real daemons for tests may import them."""
    kits = {"pytest", "hypothesis", "schemathesis"}
    wrong = []
    for path in modules():
        if path.name == "pytest_plugin.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            wrong += [f"{path.relative_to(PACKAGE.parent)}: {n}" for n in names
                      if n.split(".")[0] in kits]
    assert not wrong, "\n".join(wrong)
