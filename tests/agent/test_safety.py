"""Start-up and reconnect safety (P8): restarts never unplug or replug plugged ports,
and a port requested meanwhile is plugged without waiting for the guard."""
from __future__ import annotations

import time

from neutrino.agent.harness import AgentThread, bridge_rows
from neutrino.agent.idl import OVS_COLUMNS, SB_COLUMNS, TrackedIdl, fetch_schema
from neutrino.agent.install_watch import InstallWatch
from neutrino.agent.local import LocalState
from neutrino.agent.providers.dummy import DummyProvider
from neutrino.agent.reconcile import PassContext, Reconciler
from neutrino.agent.registry import ProviderRegistry
from neutrino.agent.report import PlugOutcomes
from neutrino.agent.southbound import SouthboundState
from neutrino.agent.writer import OvsWriter
from neutrino.sandbox import Chassis, Sandbox
from neutrino.sandbox.wait import wait_for

N = 20


def request(sb: Sandbox, *names: str, chassis: str = "hv1") -> None:
    args: list[str] = []
    for name in names:
        args += ["--", "lsp-add", "sw0", name, "--", "lsp-set-options", name,
                 f"requested-chassis={chassis}", "vif-plug-type=dummy"]
    sb.nbctl(*args[1:])


def plug_n(sb: Sandbox, hv1: Chassis, agents) -> tuple[AgentThread, dict[str, str]]:
    runner = agents(hv1)
    names = [f"lp{i:02d}" for i in range(N)]
    request(sb, *names)
    for name in names:
        sb.wait_port_up(name)
    return runner, {n: r.uuid for n, r in bridge_rows(hv1).items()}


def uuids(chassis: Chassis) -> dict[str, str]:
    return {n: r.uuid for n, r in bridge_rows(chassis).items()}


def test_agent_restart_keeps_ports_and_plugs_new_one_at_once(sandbox: Sandbox, hv1: Chassis,
                                                            agents) -> None:
    first, before = plug_n(sandbox, hv1, agents)
    first.stop()
    request(sandbox, "late")
    second = agents(hv1)
    wait_for(lambda: "late" in bridge_rows(hv1), 5, "late port plugged")
    second.wait_unplug_enabled()
    sandbox.wait_port_up("late")
    after = uuids(hv1)
    assert {n: u for n, u in after.items() if n != "late"} == before
    assert second.agent.writer.committed == {"plug": 1}


def test_sb_restart_causes_no_unplug_or_replug(sandbox: Sandbox, hv1: Chassis, agents) -> None:
    runner, before = plug_n(sandbox, hv1, agents)
    sandbox.kill("sb")
    wait_for(lambda: not runner.agent.unplug_enabled, 5, "guard re-armed on disconnect")
    time.sleep(0.5)
    sandbox.restart("sb")
    runner.wait_unplug_enabled()
    request(sandbox, "after-sb")
    sandbox.wait_port_up("after-sb")
    after = uuids(hv1)
    assert {n: u for n, u in after.items() if n != "after-sb"} == before
    assert runner.agent.writer.committed == {"plug": N + 1}


def test_ovs_db_restart_causes_no_unplug_or_replug(sandbox: Sandbox, hv1: Chassis,
                                                   agents) -> None:
    runner, before = plug_n(sandbox, hv1, agents)
    hv1.kill("ovsdb")
    wait_for(lambda: not runner.agent.unplug_enabled, 5, "guard re-armed on disconnect")
    hv1.start(("ovsdb",))
    runner.wait_unplug_enabled()
    request(sandbox, "after-ovs")
    sandbox.wait_port_up("after-ovs")
    assert {n: u for n, u in uuids(hv1).items() if n != "after-ovs"} == before
    assert runner.agent.writer.committed == {"plug": N + 1}


def test_chassis_reregistration_causes_no_unplug(sandbox: Sandbox, hv1: Chassis,
                                                 agents) -> None:
    """ovn-controller stopped for good (``exit`` deletes its Chassis row; northd then
    clears ``requested_chassis``) and started again with a new Chassis row."""
    runner, before = plug_n(sandbox, hv1, agents)
    hv1.daemons["controller"].stop()  # plain "exit": the Chassis row goes away
    wait_for(lambda: sandbox.sbctl("--bare", "--columns=name", "list", "Chassis") == "", 10,
             "chassis deleted")
    time.sleep(0.5)
    hv1.start(("controller",))
    sandbox.wait_chassis("hv1")
    for i in range(N):
        sandbox.wait_port_up(f"lp{i:02d}")
    runner.wait_unplug_enabled()
    assert uuids(hv1) == before
    assert runner.agent.writer.committed == {"plug": N}


def test_guard_blocks_unplug_but_never_plug(sandbox: Sandbox, hv1: Chassis) -> None:
    """A pass with the guard armed plugs a newly requested port and leaves a
    plugged port whose logical port is unknown; with the guard lifted it unplugs it."""
    hv1.vsctl("add-port", "br-int", "stale", "--", "set", "Interface", "stale",
              "type=internal", "external_ids:iface-id=stale", "external_ids:ovn-plugged=dummy")
    request(sandbox, "fresh")
    local, sb = LocalState(), SouthboundState("hv1")
    local.idl = TrackedIdl(hv1.ovs_remote, fetch_schema(hv1.ovs_remote, "Open_vSwitch",
                                                         OVS_COLUMNS), local.on_row)
    sb.idl = TrackedIdl(sandbox.sb_remote, fetch_schema(sandbox.sb_remote, "OVN_Southbound",
                                                         SB_COLUMNS), sb.on_row)
    sb.update_conditions(None)

    def loaded() -> bool:
        local.idl.run()
        sb.idl.run()
        sb.update_conditions(sb.chassis())
        return local.idl.loaded() and sb.loaded_for(sb.chassis())

    wait_for(loaded, 10, "both databases loaded")
    local.rebuild()
    sb.rebuild()
    registry = ProviderRegistry()
    registry.register(DummyProvider())
    reconciler = Reconciler(local, sb, registry, OvsWriter(), PlugOutcomes(), InstallWatch())
    bridge = local.bridge("br-int")
    for can_unplug, expected in ((False, [("plug", "fresh")]),
                                 (True, [("plug", "fresh"), ("unplug", "stale")])):
        ctx = PassContext(bridge=bridge, chassis=sb.chassis(), can_unplug=can_unplug)
        ops = reconciler.run(ctx, reconciler.all_keys(bridge) | {"stale"}).ops
        assert [(op.kind, op.lport) for op in ops] == expected
        for op in ops:
            op.release()
    registry.teardown_all()
    local.idl.close()
    sb.idl.close()


def test_clustered_sb_leader_loss_causes_no_unplug(sandbox_factory, agents) -> None:
    """With a 3-member SB cluster the agent follows the remaining members."""
    sb = sandbox_factory(clustered="sb")
    sb.nbctl("ls-add", "sw0")
    hv1 = sb.add_chassis("hv1")
    runner, before = plug_n(sb, hv1, agents)
    for member in ("sb1", "sb2"):  # at least one of them was the leader
        sb.kill(member)
        request(sb, f"after-{member}")
        sb.wait_port_up(f"after-{member}")
        sb.restart(member)
    runner.wait_unplug_enabled()
    assert {n: u for n, u in uuids(hv1).items() if not n.startswith("after-")} == before
    assert runner.agent.writer.committed == {"plug": N + 2}
