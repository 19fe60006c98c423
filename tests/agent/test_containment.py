"""One port's failure never blocks another (P9), and the provider contract holds
through failed transactions (P2)."""
from __future__ import annotations

import json
import time
from collections import Counter
from typing import ClassVar

from neutrino.agent.harness import _ovsdb_value, bridge_rows
from neutrino.agent.provider import OpType, PortContextIn, PortContextOut, VifPlugProvider
from neutrino.agent.providers.dummy import DummyProvider, ifname
from neutrino.agent.registry import ProviderRegistry
from neutrino.sandbox import Chassis, Sandbox, SandboxError
from neutrino.sandbox.pytest_plugin import SandboxFactory
from neutrino.sandbox.wait import wait_for


def request(sb: Sandbox, names: list[str], plug_type: str = "dummy",
            **extra: dict[str, str]) -> None:
    args: list[str] = []
    for name in names:
        opts = [f"{k}={v}" for k, v in extra.get(name, {}).items()]
        args += ["--", "lsp-add", "sw0", name, "--", "lsp-set-options", name,
                 "requested-chassis=hv1", f"vif-plug-type={plug_type}", *opts]
    sb.nbctl(*args[1:])


def sb_report(sb: Sandbox, chassis: str = "hv1") -> dict[str, str]:
    out = json.loads(sb.sbctl("--format=json", "--columns=name,external_ids", "list",
                              "Chassis_Private"))
    for name, ids in out["data"]:
        if name == chassis:
            return {k: v for k, v in _ovsdb_value(ids).items()
                    if k.startswith("neutrino-plug-agent")}
    return {}


def up(sb: Sandbox, name: str) -> bool:
    return sb.nbctl("get", "Logical_Switch_Port", name, "up") == "true"


PAIR = ["collision-name-a1", "collision-name-a2"]  # both cut to "collision-name-"
OTHERS = ["ok1", "ok2", "ok3", "ok4"]


def test_colliding_names_are_contained_and_reported(sandbox_factory: SandboxFactory,
                                                     agents) -> None:
    ref, ours = sandbox_factory(), sandbox_factory()
    for sb in (ref, ours):
        sb.nbctl("ls-add", "sw0")
    ref.add_chassis("hv1", dummy_vif_plug=True)
    agents(ours.add_chassis("hv1"))
    for sb in (ref, ours):
        request(sb, PAIR + OTHERS)

    for name in OTHERS + PAIR[:1]:
        ours.wait_port_up(name)
    wait_for(lambda: "neutrino-plug-agent-error:collision-name-a2" in sb_report(ours), 5,
             "conflict reported")
    assert sb_report(ours)["neutrino-plug-agent-error:collision-name-a2"] == (
        "name-conflict: interface name collision-name- is already used by lport "
        "collision-name-a1")
    assert not up(ours, PAIR[1])
    # OVN's C code puts every port into one transaction: the pair stalls them all.
    assert not any(up(ref, name) for name in OTHERS + PAIR)
    assert "multiple rows in" in (ref.chassis["hv1"].directory / "ovn-controller.log"
                                  ).read_text()

    ours.nbctl("lsp-del", PAIR[0])
    ours.wait_port_up(PAIR[1])  # the name is free again: plugged, report cleared
    wait_for(lambda: not any("error" in k for k in sb_report(ours)), 5, "report cleared")


class Racer(VifPlugProvider):
    """Dummy-like provider that, for ports with option ``vif-plug:racer:steal``,
    creates a foreign port with the wanted name while ``prepare`` runs: the agent's
    name check cannot see it yet, so the batch transaction fails."""

    type: ClassVar[str] = "racer"

    def __init__(self, chassis: Chassis) -> None:
        self.chassis = chassis
        self.stolen: set[str] = set()
        self.prepared: Counter[str] = Counter()
        self.finished: Counter[str] = Counter()
        self.released: Counter[str] = Counter()
        self.finished_before_commit: list[str] = []
        self.removed: Counter[str] = Counter()

    def prepare(self, ctx_in: PortContextIn, ctx_out: PortContextOut | None) -> bool:
        if ctx_in.op is OpType.REMOVE or ctx_out is None:
            return True
        if "vif-plug:racer:decline" in ctx_in.lport_options:
            ctx_out.reason = "asked to decline"
            return False
        name = ifname(ctx_in.lport_name)
        if "vif-plug:racer:steal" in ctx_in.lport_options and name not in self.stolen:
            self.stolen.add(name)
            self.chassis.vsctl("add-port", "br-int", name, wait=False)
        ctx_out.name, ctx_out.type = name, "internal"
        self.prepared[ctx_in.lport_name] += 1
        return True

    def finish(self, ctx_in: PortContextIn, ctx_out: PortContextOut | None) -> None:
        if ctx_out is None:
            self.removed[ctx_in.lport_name] += 1
            return
        self.finished[ctx_in.lport_name] += 1
        try:
            self.chassis.vsctl("get", "Interface", ctx_out.name, "external_ids:iface-id",
                               wait=False)
        except SandboxError:
            self.finished_before_commit.append(ctx_in.lport_name)

    def release(self, ctx_in: PortContextIn, ctx_out: PortContextOut) -> None:
        self.released[ctx_in.lport_name] += 1


def test_failed_batch_is_retried_port_by_port(sandbox: Sandbox, hv1: Chassis, agents) -> None:
    racer = Racer(hv1)
    registry = ProviderRegistry()
    registry.register(racer)
    registry.register(DummyProvider())
    runner = agents(hv1, registry)
    runner.wait_unplug_enabled()
    names = ["victim"] + [f"bystander{i}" for i in range(6)]
    request(sandbox, names + ["shy"], plug_type="racer", victim={"vif-plug:racer:steal": "1"},
            shy={"vif-plug:racer:decline": "1"})

    for name in names[1:]:
        sandbox.wait_port_up(name)
    wait_for(lambda: "neutrino-plug-agent-error:victim" in sb_report(sandbox), 5,
             "victim reported")
    assert sb_report(sandbox)["neutrino-plug-agent-error:victim"].startswith("name-conflict:")
    assert hv1.vsctl("get", "Interface", "victim", "external_ids") == "{}", \
        "the foreign port is untouched"
    assert "victim" not in bridge_rows(hv1)
    assert runner.agent.writer.committed["plug"] == 6
    assert runner.agent.writer.isolated <= {"victim"}, "bystanders are batched again"
    # Posted finish/release calls run on the provider's thread after the pass.
    wait_for(lambda: racer.released == racer.prepared, 5,
             "every yes from prepare released exactly once")
    assert racer.finished_before_commit == []
    assert racer.finished["victim"] == 0
    assert all(racer.finished[n] >= 1 for n in names[1:])
    assert (racer.prepared["shy"], racer.finished["shy"], racer.released["shy"]) == (0, 0, 0), \
        "a provider that declines gets neither finish nor release"
    assert sb_report(sandbox)["neutrino-plug-agent-error:shy"] == (
        "declined: provider 'racer' declined: asked to decline")

    released = racer.released["bystander0"]
    sandbox.nbctl("lsp-del", "bystander0")
    wait_for(lambda: racer.removed["bystander0"] == 1, 5, "finish(REMOVE) after the unplug")
    assert "bystander0" not in bridge_rows(hv1)
    assert racer.released["bystander0"] == released, "removals have no release"
    time.sleep(0.2)
    assert racer.released == racer.prepared
