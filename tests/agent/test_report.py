"""What the agent reports in SB (issue item 6), and providers that misbehave (P7, P10, P12)."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import ClassVar

from neutrino.agent.harness import bridge_rows
from neutrino.agent.provider import PortContextIn, PortContextOut, VifPlugProvider
from neutrino.agent.providers.dummy import DummyProvider
from neutrino.agent.providers.representor import RepresentorProvider
from neutrino.agent.registry import ProviderRegistry
from neutrino.sandbox import Chassis, Sandbox
from neutrino.sandbox.wait import wait_for

from .fake_sysfs import bluefield
from .test_containment import request, sb_report

ERR = "neutrino-plug-agent-error:"


def test_heartbeat_info_and_clean_withdrawal(sandbox: Sandbox, hv1: Chassis, agents) -> None:
    runner = agents(hv1, report_interval=0.5)
    wait_for(lambda: "neutrino-plug-agent-heartbeat" in sb_report(sandbox), 5, "heartbeat")
    first = int(sb_report(sandbox)["neutrino-plug-agent-heartbeat"])
    assert abs(first - time.time()) < 5
    info = json.loads(sb_report(sandbox)["neutrino-plug-agent-info"])
    assert info["providers"] == {"dummy": "ok"} and info["pid"] == os.getpid()
    wait_for(lambda: int(sb_report(sandbox)["neutrino-plug-agent-heartbeat"]) > first, 5,
             "next heartbeat")
    runner.stop()
    assert sb_report(sandbox) == {}


def test_idle_agent_does_nothing(sandbox: Sandbox, hv1: Chassis, agents) -> None:
    """With every port plugged and nothing changing, no pass runs and nothing is written."""
    runner = agents(hv1, resync_interval=3600, report_interval=3600)
    names = [f"lp{i}" for i in range(20)]
    request(sandbox, names)
    for name in names:
        sandbox.wait_port_up(name)
    time.sleep(1.0)  # ovn-controller's ovn-installed markers arrive and are looked at
    passes, report = runner.agent.passes, sb_report(sandbox)
    time.sleep(2.0)
    assert runner.agent.passes == passes
    assert sb_report(sandbox) == report
    assert runner.agent.writer.committed == {"plug": 20}


def test_unknown_type_is_reported_never_acted_on(sandbox: Sandbox, hv1: Chassis,
                                                 agents) -> None:
    hv1.vsctl("add-port", "br-int", "old", "--", "set", "Interface", "old", "type=internal",
              "external_ids:iface-id=gone", "external_ids:ovn-plugged=mystery")
    agents(hv1).wait_unplug_enabled()
    request(sandbox, ["lp1"], plug_type="mystery")
    wait_for(lambda: ERR + "lp1" in sb_report(sandbox), 5, "unknown type reported")
    assert sb_report(sandbox)[ERR + "lp1"] == (
        "unknown-type: no VIF plug provider for vif-plug-type 'mystery' on chassis hv1 "
        "(available: dummy)")
    assert set(bridge_rows(hv1)) == {"old"}, "nothing plugged, the unknown-type port kept"
    sandbox.nbctl("set", "Logical_Switch_Port", "lp1", "options:vif-plug-type=dummy")
    sandbox.wait_port_up("lp1")
    wait_for(lambda: ERR + "lp1" not in sb_report(sandbox), 5, "report cleared")
    assert set(bridge_rows(hv1)) == {"old", "lp1"}


def test_foreign_interface_is_reported(sandbox: Sandbox, hv1: Chassis, agents) -> None:
    agents(hv1)
    hv1.vsctl("add-port", "br-int", "tap9", "--", "set", "Interface", "tap9",
              "type=internal", "external_ids:iface-id=lp9")
    request(sandbox, ["lp9"])
    wait_for(lambda: ERR + "lp9" in sb_report(sandbox), 5, "conflict reported")
    assert sb_report(sandbox)[ERR + "lp9"].startswith("foreign-interface: interface tap9 (")
    hv1.vsctl("del-port", "tap9")
    sandbox.wait_port_up("lp9")
    assert bridge_rows(hv1)["lp9"].ovn_plugged == "dummy"
    wait_for(lambda: ERR + "lp9" not in sb_report(sandbox), 5, "report cleared")


class Named(VifPlugProvider):
    """Names the interface after option ``vif-plug:named:name``; raises on demand."""

    type: ClassVar[str] = "named"

    def prepare(self, ctx_in: PortContextIn, ctx_out: PortContextOut | None) -> bool:
        if ctx_out is None:
            return True
        if "vif-plug:named:raise" in ctx_in.lport_options:
            raise ValueError("cannot handle this port")
        ctx_out.name = ctx_in.lport_options["vif-plug:named:name"]
        ctx_out.type = "internal"
        return True


def test_name_change_is_refused_and_reported(sandbox: Sandbox, hv1: Chassis, agents) -> None:
    registry = ProviderRegistry()
    registry.register(Named())
    agents(hv1, registry)
    request(sandbox, ["lp1"], plug_type="named", lp1={"vif-plug:named:name": "first"})
    sandbox.wait_port_up("lp1")
    uuid = bridge_rows(hv1)["first"].uuid
    sandbox.nbctl("set", "Logical_Switch_Port", "lp1", 'options:"vif-plug:named:name"=second')
    wait_for(lambda: ERR + "lp1" in sb_report(sandbox), 5, "name change reported")
    assert sb_report(sandbox)[ERR + "lp1"] == (
        "name-change: provider now wants interface name second but first is plugged; "
        "recreate the port")
    assert {n: r.uuid for n, r in bridge_rows(hv1).items()} == {"first": uuid}


def test_raising_and_hanging_providers_block_no_other_port(sandbox: Sandbox, hv1: Chassis,
                                                           agents) -> None:
    gate = threading.Event()

    class Hanging(VifPlugProvider):
        type: ClassVar[str] = "hanging"

        def prepare(self, ctx_in: PortContextIn, ctx_out: PortContextOut | None) -> bool:
            gate.wait(10)
            return False

    registry = ProviderRegistry(timeout=0.3)
    for provider in (Named(), Hanging(), DummyProvider()):
        registry.register(provider)
    agents(hv1, registry)
    request(sandbox, ["stuck"], plug_type="hanging")
    request(sandbox, ["broken"], plug_type="named", broken={"vif-plug:named:raise": "1"})
    request(sandbox, ["fine1", "fine2"])
    # Well before the hanging provider's 10 s: its ports do not hold the others up.
    sandbox.wait_port_up("fine1", timeout=5)
    sandbox.wait_port_up("fine2", timeout=5)
    wait_for(lambda: {ERR + "stuck", ERR + "broken"} <= set(sb_report(sandbox)), 5, "reports")
    report = sb_report(sandbox)
    assert report[ERR + "broken"] == ("provider-error: provider 'named' failed: prepare raised "
                                      "ValueError: cannot handle this port")
    assert report[ERR + "stuck"].startswith("provider-error: provider 'hanging' failed:")
    info = json.loads(report["neutrino-plug-agent-info"])
    assert info["providers"]["dummy"] == "ok"
    assert info["providers"]["named"].startswith("degraded: prepare raised ValueError")
    assert info["providers"]["hanging"] != "ok"
    gate.set()


def test_representor_declines_until_the_vf_appears(sandbox: Sandbox, hv1: Chassis, agents,
                                                   tmp_path: Path) -> None:
    fake = bluefield(tmp_path, vfs=2)
    registry = ProviderRegistry()
    registry.register(RepresentorProvider(sysfs_root=tmp_path, rescan_interval=0.2))
    agents(hv1, registry)
    opts = {"vif-plug:representor:pf-mac": "00:53:00:00:00:42",
            "vif-plug:representor:vf-num": "1", "vif-plug-mtu-request": "9000"}
    request(sandbox, ["vm1"], plug_type="representor", vm1=opts)
    sandbox.wait_port_up("vm1")
    row = bridge_rows(hv1)["pf0vf1"]
    assert (row.type, row.options, row.mtu_request, row.iface_id, row.ovn_plugged) == (
        "", (), 9000, "vm1", "representor")

    request(sandbox, ["vm2"], plug_type="representor", vm2=opts | {
        "vif-plug:representor:vf-num": "7"})
    wait_for(lambda: ERR + "vm2" in sb_report(sandbox), 5, "decline reported")
    assert sb_report(sandbox)[ERR + "vm2"] == (
        "declined: provider 'representor' declined: no representor found for pf-mac "
        "00:53:00:00:00:42 vf-num 7")
    fake.vf(0, 7, controller=1)  # the host enables VF 7: run() sees it, the port is plugged
    sandbox.wait_port_up("vm2")
    wait_for(lambda: ERR + "vm2" not in sb_report(sandbox), 5, "report cleared")


def test_cli_runs_the_agent_and_stops_cleanly(sandbox: Sandbox, hv1: Chassis) -> None:
    cmd = [sys.executable, "-m", "neutrino.cli", "plug-agent", hv1.ovs_remote,
           "--providers", "dummy", "--report-interval", "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        request(sandbox, ["lp1"])
        sandbox.wait_port_up("lp1")
        wait_for(lambda: "neutrino-plug-agent-heartbeat" in sb_report(sandbox), 5,
                 "heartbeat")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = proc.stderr.read()
    assert "plugging port port=lp1 bridge=br-int lport=lp1 type=dummy" in log
    assert "neutrino-plug-agent-heartbeat" not in sb_report(sandbox)
    assert bridge_rows(hv1)["lp1"].ovn_plugged == "dummy", "ports stay plugged on exit"
