"""Mechanism drivers of the tests' own, loaded by dotted path like a third party's.

``RecordingDriver`` records what every hook saw (the six PortContext fields
of B1) and binds ports whose host is not ``nowhere``.  ``GatedDriver`` can
hold ``bind_port`` until a test lets it go, to stage concurrent bindings.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

from neutrino.drivers.api import DriverError, MechanismDriver, PortContext

RECORDER = "tests.drivers:RecordingDriver"
GATED = "tests.drivers:GatedDriver"
FAILING = "tests.drivers:FailingDriver"
AGENT = "tests.drivers:AgentDriver"


@dataclass
class Seen:
    method: str
    original: dict[str, Any] | None
    current: dict[str, Any]
    bound_segment: dict[str, Any] | None
    original_bound_segment: dict[str, Any] | None
    bound_driver: str | None
    original_bound_driver: str | None
    in_transaction: bool


class RecordingDriver(MechanismDriver):
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self.bind_calls = 0

    def _record(self, method: str, context: Any) -> None:
        if isinstance(context, PortContext):
            self.seen.append(Seen(method, context.original, context.current, context.bound_segment,
                                  context.original_bound_segment, context.bound_driver,
                                  context.original_bound_driver, context.session is not None))

    def calls(self, method: str) -> list[Seen]:
        return [s for s in self.seen if s.method == method]

    def bind_port(self, context: PortContext) -> None:
        self.bind_calls += 1
        self.seen.append(Seen("bind_port", None, context.current, None, None, None, None,
                              context.session is not None))
        if context.host == "nowhere":
            context.add_failure_reason("host 'nowhere' is not served by recording driver")
            return
        segment = context.segments_to_bind[0]
        context.set_binding(segment["id"], "ovs", {"port_filter": True, "host": context.host})


for _hook in ("create", "update", "delete"):
    for _res in ("port", "network", "subnet"):
        for _phase in ("precommit", "postcommit"):
            _name = f"{_hook}_{_res}_{_phase}"
            setattr(RecordingDriver, _name,
                    (lambda name: lambda self, ctx: self._record(name, ctx))(_name))


class GatedDriver(RecordingDriver):
    """Binds like RecordingDriver, but each bind_port waits at ``gate`` first."""

    def __init__(self) -> None:
        super().__init__()
        self.entered = threading.Semaphore(0)
        self.gate = threading.Event()
        self.gate.set()

    def bind_port(self, context: PortContext) -> None:
        self.entered.release()
        assert self.gate.wait(30), "test never opened the gate"
        super().bind_port(context)


class FailingDriver(MechanismDriver):
    """Refuses networks named ``refuse-pre`` in precommit and ``refuse-post`` in postcommit,
    and in postcommit an auto-allocated topology's router (the last of its writes)."""

    def create_network_precommit(self, context: Any) -> None:
        if context.current["name"] == "refuse-pre":
            raise DriverError("network name refused by policy")

    def create_network_postcommit(self, context: Any) -> None:
        if context.current["name"] == "refuse-post":
            raise RuntimeError("backend exploded")

    def create_router_postcommit(self, context: Any) -> None:
        if context.current["name"] == "auto_allocated_router":
            raise RuntimeError("backend exploded")


class AgentDriver(RecordingDriver):
    """Binds like RecordingDriver and lists one agent, as the OVN driver lists chassis,
    until it is deleted (``come_back`` registers it again, as a running agent would)."""

    AGENT = {"id": "5d6a6d1c-0000-4000-8000-000000000001", "agent_type": "Recording agent",
             "binary": "recording-agent", "host": "hv1", "alive": True, "admin_state_up": True,
             "description": ""}

    def __init__(self) -> None:
        super().__init__()
        self.deleted: list[str] = []

    def list_agents(self) -> list[dict[str, Any]]:
        return [] if self.AGENT["id"] in self.deleted else [dict(self.AGENT)]

    def delete_agent(self, agent_id: str) -> None:
        self.deleted.append(agent_id)

    def come_back(self) -> None:
        self.deleted.clear()
