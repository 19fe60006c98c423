"""Fixtures for plug agent tests: real OVN sandboxes, an in-process agent."""
from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from neutrino.agent.harness import AgentThread
from neutrino.sandbox import Chassis, Sandbox
from neutrino.sandbox.pytest_plugin import sandbox, sandbox_factory  # noqa: F401 - fixtures


@pytest.fixture
def agents() -> Iterator[Callable[..., AgentThread]]:
    """Start agents (``agents(chassis, registry=None, **config)``); all stopped at teardown."""
    started: list[AgentThread] = []

    def start(chassis: Chassis, registry=None, **config) -> AgentThread:
        runner = AgentThread(chassis, registry, **config).start()
        started.append(runner)
        return runner

    yield start
    for runner in reversed(started):
        runner.stop()


@pytest.fixture
def hv1(sandbox: Sandbox) -> Chassis:  # noqa: F811 - the fixture imported above
    """Chassis ``hv1`` with a plain ovn-controller (no plug providers of its own)."""
    sandbox.nbctl("ls-add", "sw0")
    return sandbox.add_chassis("hv1")
