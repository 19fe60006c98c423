"""Chassis liveness: a busy ovn-controller that still claims and sets up ports is alive.

The directory watches the sandbox's real SB; the clock is injected, so "longer
than down_time ago" needs no waiting.  The chassis has no ovn-controller: its
rows are written with ovn-sbctl, as a busy one's would be (answering no
heartbeat, still claiming ports and setting them up).
"""
from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from neutrino.ovn.chassis import ChassisDirectory
from neutrino.ovn.connection import Southbound
from neutrino.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for

DOWN_TIME = 75.0


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> Clock:
    return Clock()


@dataclass
class Watch:
    directory: ChassisDirectory
    sb: Southbound
    #: hv1's Chassis row.
    hv1: str

    def sees_port(self, name: str) -> bool:
        return any(r.logical_port == name for r in self.sb.tables["Port_Binding"].rows.values())


@pytest.fixture
def watch(sandbox: Sandbox, clock: Clock) -> Iterator[Watch]:
    """A directory on the sandbox's SB, with chassis ``hv1`` judged down: five
    heartbeats behind and silent for longer than down_time."""
    sandbox.nbctl("ls-add", "sw")
    for port in ("p1", "p2"):
        sandbox.nbctl("lsp-add", "sw", port)
    sandbox.sbctl("chassis-add", "hv1", "geneve", "127.0.0.1")
    hv1 = sandbox.sbctl("--bare", "--columns=_uuid", "find", "Chassis", "name=hv1")
    if not sandbox.sbctl("--bare", "--columns=_uuid", "find", "Chassis_Private", "name=hv1"):
        sandbox.sbctl("create", "Chassis_Private", "name=hv1", f"chassis={hv1}")
    directory = ChassisDirectory(down_time=DOWN_TIME, clock=clock)
    sb = Southbound(sandbox.sb_remote, 5, listener=directory)
    try:
        sandbox.nbctl("set", "NB_Global", ".", "nb_cfg=5")
        wait_for(lambda: directory.global_nb_cfg == 5 and directory.all(), 10, "SB seen")
        assert directory.alive("hv1")  # appeared just now: its first sign of life
        clock.advance(DOWN_TIME + 1)
        assert not directory.alive("hv1")
        yield Watch(directory, sb, hv1)
    finally:
        sb.close()


def told(directory: ChassisDirectory) -> list[set[str]]:
    calls: list[set[str]] = []
    directory.subscribe(calls.append)
    return calls


def claim(sandbox: Sandbox, watch: Watch, port: str) -> None:
    sandbox.sbctl("set", "Port_Binding", port, f"chassis={watch.hv1}")


def test_a_claim_is_a_sign_of_life(sandbox: Sandbox, watch: Watch, clock: Clock) -> None:
    calls = told(watch.directory)
    claim(sandbox, watch, "p1")
    wait_for(lambda: watch.directory.alive("hv1"), 10, "hv1 alive after claiming p1")
    assert calls == [{"hv1"}]  # subscribers re-judge its ports at once
    clock.advance(DOWN_TIME - 1)
    assert watch.directory.alive("hv1")
    clock.advance(2)
    assert not watch.directory.alive("hv1")  # the claim too is older than down_time


def test_a_port_set_up_is_a_sign_of_life(sandbox: Sandbox, watch: Watch, clock: Clock) -> None:
    claim(sandbox, watch, "p1")
    wait_for(lambda: watch.directory.alive("hv1"), 10, "hv1 alive after claiming p1")
    clock.advance(DOWN_TIME + 1)
    assert not watch.directory.alive("hv1")
    calls = told(watch.directory)
    sandbox.sbctl("set", "Port_Binding", "p1", "up=true")
    wait_for(lambda: watch.directory.alive("hv1"), 10, "hv1 alive after setting p1 up")
    assert calls == [{"hv1"}]


def test_what_is_not_the_chassis_s_doing_is_no_sign(
        sandbox: Sandbox, watch: Watch, clock: Clock) -> None:
    calls = told(watch.directory)
    sandbox.sbctl("set", "Port_Binding", "p2", "up=true")  # claimed by no chassis
    claim(sandbox, watch, "p1")
    sandbox.sbctl("clear", "Port_Binding", "p1", "chassis")  # released
    clock.advance(DOWN_TIME + 1)
    sandbox.sbctl("set", "Port_Binding", "p1", "up=true")  # not hv1's any more
    sandbox.nbctl("lsp-add", "sw", "p3")  # a new port, read after all of the above
    wait_for(lambda: watch.sees_port("p3"), 10, "p3 in the directory's SB")
    assert not watch.directory.alive("hv1")
    assert calls == [{"hv1"}]  # the claim only
