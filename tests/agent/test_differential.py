"""Differential tests: the agent + ``dummy`` provider against OVN's own C code (P3-P8, P11).

Each test runs two sandboxes with a chassis called ``hv1``: in ``ref`` the
ovn-controller plugs ports itself (``--enable-dummy-vif-plug``); in ``ours`` a
plain ovn-controller runs beside the Neutrino plug agent. Every NB change is
applied to both; once the reference has reached the state a step expects, the
agent's chassis must show the same Port/Interface rows (name, type, options,
mtu_request, iface-id, ovn-plugged) and the same ``Logical_Switch_Port.up``.
"""
from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from neutrino.agent.harness import AgentThread, PluggedRow, bridge_rows
from neutrino.sandbox import Chassis, Sandbox
from neutrino.sandbox.pytest_plugin import SandboxFactory

Rows = dict[str, PluggedRow]


@dataclass
class State:
    rows: Rows
    up: dict[str, bool]

    def comparable(self) -> tuple[list[tuple[object, ...]], dict[str, bool]]:
        return sorted(r.comparable() for r in self.rows.values()), self.up


def lsp_up(sb: Sandbox) -> dict[str, bool]:
    out = sb.nbctl("--bare", "--columns=name,up", "--format=csv", "--no-headings",
                   "list", "Logical_Switch_Port")
    result = {}
    for line in out.splitlines():
        name, _, up = line.partition(",")
        result[name] = up == "true"
    return result


class Pair:
    """The reference sandbox and ours, driven in lockstep."""

    def __init__(self, ref: Sandbox, ours: Sandbox, agent: AgentThread) -> None:
        self.ref, self.ours, self.agent = ref, ours, agent
        self.ref_hv = ref.chassis["hv1"]
        self.our_hv = ours.chassis["hv1"]

    def nbctl(self, *args: str) -> None:
        for sb in (self.ref, self.ours):
            sb.nbctl(*args)

    def vsctl(self, *args: str) -> None:
        for chassis in (self.ref_hv, self.our_hv):
            chassis.vsctl(*args)

    def state(self, sb: Sandbox) -> State:
        return State(bridge_rows(sb.chassis["hv1"]), lsp_up(sb))

    def converge(self, ready: Callable[[State], bool], timeout: float = 15.0) -> tuple[State,
                                                                                       State]:
        """Wait until the reference is ``ready``, then until ours equals it."""
        deadline = time.monotonic() + timeout
        while True:
            ref = self.state(self.ref)
            if ready(ref):
                ours = self.state(self.ours)
                if ours.comparable() == ref.comparable():
                    return ref, ours
            if time.monotonic() > deadline:
                assert ready(ref), f"reference never reached the expected state: {ref}"
                assert ours.comparable() == ref.comparable()
            time.sleep(0.05)


def ignore_startup_delay(chassis: Chassis) -> None:
    """OVN 23.03 does not unplug for 10 s after ovn-controller starts."""
    chassis.appctl("controller", "debug/ignore-startup-delay")


@pytest.fixture
def pair(sandbox_factory: SandboxFactory) -> Iterator[Pair]:
    ref, ours = sandbox_factory(), sandbox_factory()
    ignore_startup_delay(ref.add_chassis("hv1", dummy_vif_plug=True))
    agent = AgentThread(ours.add_chassis("hv1")).start()
    p = Pair(ref, ours, agent)
    p.nbctl("ls-add", "sw0")
    yield p
    agent.stop()


def plug_opts(lsp: str, *extra: str, chassis: str = "hv1") -> list[str]:
    return ["--", "lsp-set-options", lsp, f"requested-chassis={chassis}",
            "vif-plug-type=dummy", *extra]


def up(*names: str) -> Callable[[State], bool]:
    return lambda s: all(s.up.get(n) for n in names)


def test_plug(pair: Pair) -> None:
    pair.nbctl("lsp-add", "sw0", "lsp1", *plug_opts("lsp1"))
    ref, ours = pair.converge(up("lsp1"))
    row = ours.rows["lsp1"]
    assert (row.type, row.options, row.iface_id, row.ovn_plugged) == (
        "internal", (("vif-plug-dummy-option", "value"),), "lsp1", "dummy")
    assert pair.agent.agent.writer.committed["plug"] == 1


def test_long_lport_name_is_cut_to_15_bytes(pair: Pair) -> None:
    name = "lsp-with-a-rather-long-name"
    pair.nbctl("lsp-add", "sw0", name, *plug_opts(name))
    ref, ours = pair.converge(up(name))
    assert list(ours.rows) == ["lsp-with-a-rath"]
    assert ours.rows["lsp-with-a-rath"].iface_id == name


def test_mtu_request_set_changed_removed(pair: Pair) -> None:
    pair.nbctl("lsp-add", "sw0", "lsp1", *plug_opts("lsp1", "vif-plug-mtu-request=1400"))
    _, ours = pair.converge(lambda s: s.up.get("lsp1") and s.rows["lsp1"].mtu_request == 1400)
    first_uuid = ours.rows["lsp1"].uuid
    pair.nbctl(*plug_opts("lsp1", "vif-plug-mtu-request=1300")[1:])
    _, ours = pair.converge(lambda s: s.rows["lsp1"].mtu_request == 1300)
    pair.nbctl(*plug_opts("lsp1")[1:])
    _, ours = pair.converge(lambda s: s.rows["lsp1"].mtu_request is None)
    assert ours.rows["lsp1"].uuid == first_uuid, "updated in place, never re-created"


def test_local_drift_of_maintained_columns_is_reverted(pair: Pair) -> None:
    pair.nbctl("lsp-add", "sw0", "lsp1", *plug_opts("lsp1", "vif-plug-mtu-request=1400"))
    pair.converge(up("lsp1"))
    pair.vsctl("set", "Interface", "lsp1", "options:vif-plug-dummy-option=drift",
               "options:not-maintained=kept", "mtu_request=999")
    _, ours = pair.converge(lambda s: s.rows["lsp1"].mtu_request == 1400
                            and dict(s.rows["lsp1"].options).get("vif-plug-dummy-option")
                            == "value")
    assert dict(ours.rows["lsp1"].options) == {"vif-plug-dummy-option": "value",
                                               "not-maintained": "kept"}


def test_requested_chassis_moved_away_and_back(pair: Pair) -> None:
    pair.nbctl("lsp-add", "sw0", "lsp1", *plug_opts("lsp1"))
    pair.converge(up("lsp1"))
    pair.nbctl("set", "Logical_Switch_Port", "lsp1", "options:requested-chassis=hv2")
    pair.converge(lambda s: "lsp1" not in s.rows and not s.up.get("lsp1"))
    pair.nbctl("set", "Logical_Switch_Port", "lsp1", "options:requested-chassis=hv1")
    pair.converge(up("lsp1"))
    assert pair.agent.agent.writer.committed == {"plug": 2, "unplug": 1}


def test_lsp_deleted_unplugs(pair: Pair) -> None:
    pair.nbctl("lsp-add", "sw0", "lsp1", *plug_opts("lsp1"), "--",
               "lsp-add", "sw0", "lsp2", *plug_opts("lsp2"))
    pair.converge(up("lsp1", "lsp2"))
    pair.nbctl("lsp-del", "lsp2")
    _, ours = pair.converge(lambda s: set(s.rows) == {"lsp1"})
    assert pair.agent.agent.writer.committed["unplug"] == 1


def test_foreign_interface_with_same_iface_id_is_left_alone(pair: Pair) -> None:
    pair.vsctl("add-port", "br-int", "vif3", "--", "set", "Interface", "vif3",
               "type=internal", "external_ids:iface-id=lsp3")
    pair.nbctl("lsp-add", "sw0", "lsp3", *plug_opts("lsp3"))
    _, ours = pair.converge(lambda s: s.up.get("lsp3") and "vif3" in s.rows)
    assert set(ours.rows) == {"vif3"} and ours.rows["vif3"].ovn_plugged is None
    log = (pair.ref_hv.directory / "ovn-controller.log").read_text()
    assert "CMS requested plugging of lport lsp3" in log
    problems = pair.agent.agent.reconciler.problems
    assert problems["lsp3"].code == "foreign-interface"


def test_many_ports_at_once(pair: Pair) -> None:
    names = [f"lsp{i:03d}" for i in range(40)]
    args: list[str] = []
    for name in names:
        args += ["--", "lsp-add", "sw0", name, *plug_opts(name, "vif-plug-mtu-request=1450")]
    pair.nbctl(*args[1:])
    _, ours = pair.converge(up(*names), timeout=30)
    assert len(ours.rows) == 40


def test_restart_with_ports_plugged_keeps_interfaces(pair: Pair) -> None:
    names = [f"lsp{i}" for i in range(5)]
    args: list[str] = []
    for name in names:
        args += ["--", "lsp-add", "sw0", name, *plug_opts(name)]
    pair.nbctl(*args[1:])
    ref_before, ours_before = pair.converge(up(*names))

    pair.ref_hv.restart("controller")
    pair.agent.stop()
    pair.our_hv.restart("controller")
    pair.agent = AgentThread(pair.our_hv).start()
    pair.agent.wait_unplug_enabled()
    ignore_startup_delay(pair.ref_hv)
    pair.nbctl("lsp-add", "sw0", "late", *plug_opts("late"))
    ref_after, ours_after = pair.converge(up(*names, "late"))
    for before, after in ((ref_before, ref_after), (ours_before, ours_after)):
        assert {n: r.uuid for n, r in after.rows.items() if n != "late"} == {
            n: r.uuid for n, r in before.rows.items()}
    assert pair.agent.agent.writer.committed == {"plug": 1}
