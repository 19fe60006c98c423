"""``neutrino plug-agent`` with several OVS DB remotes: one process, one agent per chassis."""
from __future__ import annotations

import signal
import subprocess
import sys
import threading

import pytest

from neutrino.agent.harness import bridge_rows
from neutrino.agent.main import THREAD_PREFIX, run_agents
from neutrino.sandbox import Chassis, Sandbox
from neutrino.sandbox.wait import wait_for

from .test_containment import sb_report


def test_one_process_serves_several_chassis(sandbox: Sandbox, hv1: Chassis) -> None:
    hv2 = sandbox.add_chassis("hv2")
    cmd = [sys.executable, "-m", "neutrino.cli", "plug-agent", hv1.ovs_remote, hv2.ovs_remote,
           "--providers", "dummy", "--report-interval", "1"]
    proc = subprocess.Popen(cmd, stderr=subprocess.PIPE, text=True)
    try:
        for chassis in ("hv1", "hv2"):
            sandbox.nbctl("lsp-add", "sw0", f"lp-{chassis}", "--", "lsp-set-options",
                          f"lp-{chassis}", f"requested-chassis={chassis}", "vif-plug-type=dummy")
        for chassis in ("hv1", "hv2"):
            sandbox.wait_port_up(f"lp-{chassis}")
            wait_for(lambda c=chassis: "neutrino-plug-agent-heartbeat" in sb_report(sandbox, c),
                     5, f"heartbeat of {chassis}")
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
    log = proc.stderr.read()
    for chassis in (hv1, hv2):
        row = bridge_rows(chassis)[f"lp-{chassis.name}"]
        assert row.ovn_plugged == "dummy", "ports stay plugged on exit"
        assert sb_report(sandbox, chassis.name) == {}, "heartbeat and info withdrawn"
        assert (f"plugging port port=lp-{chassis.name} bridge=br-int lport=lp-{chassis.name} "
                f"type=dummy agent={chassis.ovs_remote}") in log


class FakeAgent:
    """Stands in for an :class:`Agent`: runs until stopped, or crashes at once."""

    def __init__(self, remote: str, crash: bool = False) -> None:
        self.config = type("Config", (), {"ovs_remote": remote})()
        self.crash = crash
        self.stopped = threading.Event()

    def run(self) -> None:
        if self.crash:
            raise RuntimeError("boom")
        assert self.stopped.wait(10), "never stopped"

    def stop(self) -> None:
        self.stopped.set()


def test_a_crashed_agent_stops_the_others_and_fails_the_process(
        caplog: pytest.LogCaptureFixture) -> None:
    healthy, broken = FakeAgent("unix:a"), FakeAgent("unix:b", crash=True)
    assert run_agents([healthy, broken]) == 1  # type: ignore[list-item]  # duck-typed fakes
    assert healthy.stopped.is_set()
    crash = [r for r in caplog.records if r.getMessage().startswith("plug agent crashed")]
    assert len(crash) == 1 and crash[0].threadName == THREAD_PREFIX + "unix:b"
    assert crash[0].exc_info is not None
    assert "crashed=unix:b" in caplog.records[-1].getMessage()


def test_agents_that_stop_cleanly_exit_zero() -> None:
    agents = [FakeAgent("unix:a"), FakeAgent("unix:b")]
    threading.Timer(0.1, lambda: [a.stop() for a in agents]).start()
    assert run_agents(agents) == 0  # type: ignore[arg-type]  # duck-typed fakes
