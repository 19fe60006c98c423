"""The sandbox runs real OVN: these tests talk to the daemons it starts."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from neutrino.sandbox import Sandbox, SandboxError
from neutrino.sandbox.daemon import pid_alive
from neutrino.sandbox.pytest_plugin import SandboxFactory
from neutrino.sandbox.wait import wait_for
from tests.sandbox.processes import processes_under


def plug_internal(chassis, port: str, iface_id: str) -> None:
    chassis.vsctl("add-port", "br-int", port, "--", "set", "Interface", port,
                  "type=internal", f"external_ids:iface-id={iface_id}")


def test_central_and_two_chassis_register_in_sb(sandbox: Sandbox) -> None:
    sandbox.add_chassis("hv1", hostname="host-1", bridge_mappings="physnet1:br-ex")
    sandbox.add_chassis("hv2", cms_options="card-serial-number=SN2")
    names = sandbox.sbctl("--bare", "--columns=name", "list", "Chassis").split()
    assert sorted(names) == ["hv1", "hv2"]
    assert sandbox.sbctl("get", "Chassis", "hv1", "hostname") == 'host-1'
    assert "physnet1:br-ex" in sandbox.sbctl("get", "Chassis", "hv1",
                                             "other_config:ovn-bridge-mappings")
    assert "card-serial-number=SN2" in sandbox.sbctl("get", "Chassis", "hv2",
                                                     "other_config:ovn-cms-options")
    ips = {sandbox.sbctl("--bare", "--columns=ip", "find", "Encap", f"chassis_name={c}")
           for c in ("hv1", "hv2")}
    assert len(ips) == 2, "each chassis gets its own encap IP"


def test_plugged_interface_makes_lsp_up(sandbox: Sandbox) -> None:
    hv1 = sandbox.add_chassis("hv1")
    sandbox.nbctl("ls-add", "sw0", "--", "lsp-add", "sw0", "lp1")
    assert sandbox.nbctl("get", "Logical_Switch_Port", "lp1", "up") in ("[]", "false")
    plug_internal(hv1, "p1", "lp1")
    sandbox.wait_port_up("lp1")
    assert sandbox.sbctl("--bare", "--columns=chassis", "find", "Port_Binding",
                         "logical_port=lp1") == sandbox.sbctl(
        "--bare", "--columns=_uuid", "find", "Chassis", "name=hv1")


def test_ovn_dummy_vif_plug_flag_plugs_requested_port(sandbox: Sandbox) -> None:
    hv1 = sandbox.add_chassis("hv1", dummy_vif_plug=True)
    sandbox.nbctl("ls-add", "sw0", "--", "lsp-add", "sw0", "lp1", "--",
                  "lsp-set-options", "lp1", "requested-chassis=hv1", "vif-plug-type=dummy")
    sandbox.wait_port_up("lp1")
    assert hv1.vsctl("get", "Interface", "lp1", "external_ids:ovn-plugged") == "dummy"


def test_stop_leaves_no_process(tmp_path_factory: pytest.TempPathFactory) -> None:
    sb = Sandbox()
    base = sb.base_dir
    try:
        sb.start_central(clustered="sb")
        sb.add_chassis("hv1")
        pids = sb.pids()
        assert len(pids) == 1 + 3 + 1 + 3 + 2  # NB, SB x3, northd, chassis, underlay
        assert sorted(processes_under(base)) == sorted(pids + [sb.guardian_pid])
    finally:
        sb.stop()
    assert not any(pid_alive(p) for p in pids)
    assert processes_under(base) == []
    assert not base.exists(), "a sandbox that made its directory removes it"
    sb.stop()  # idempotent


def test_daemons_do_not_outlive_a_killed_owner() -> None:
    """A test run or benchmark killed before it can clean up leaves nothing behind."""
    owner = subprocess.Popen([sys.executable, "-c", (
        "import sys, time\n"
        "from neutrino.sandbox import Sandbox\n"
        "sb = Sandbox()\n"
        "sb.start_central()\n"
        "sb.add_chassis('hv1')\n"
        "print(sb.base_dir, flush=True)\n"
        "time.sleep(60)\n")], stdout=subprocess.PIPE, text=True)
    base = Path(owner.stdout.readline().strip())
    # NB, SB, northd, chassis, underlay, guardian
    assert len(processes_under(base)) == 1 + 1 + 1 + 3 + 2 + 1
    owner.kill()
    owner.wait()
    wait_for(lambda: not processes_under(base), 15, "guardian to stop the daemons")
    assert not base.exists()


def test_nb_killed_and_restarted_keeps_data(sandbox: Sandbox) -> None:
    sandbox.nbctl("ls-add", "sw0", "--", "lsp-add", "sw0", "lp1")
    old_pid = sandbox._component("nb").pid()
    sandbox.kill("nb")
    assert not sandbox.running("nb")
    with pytest.raises(SandboxError):
        sandbox.nbctl("show", timeout=1)
    sandbox.restart("nb")
    assert sandbox._component("nb").pid() != old_pid
    assert sandbox.nbctl("--bare", "--columns=name", "list", "Logical_Switch_Port") == "lp1"
    sandbox.nbctl("--wait=sb", "lsp-add", "sw0", "lp2")  # northd reconnected
    assert "lp2" in sandbox.sbctl("--bare", "--columns=logical_port", "list", "Port_Binding")


def test_clustered_nb_survives_member_loss(sandbox_factory: SandboxFactory) -> None:
    sb = sandbox_factory(clustered=True, tcp=True)
    assert sb.nb_remote.count(",") == 2 and sb.sb_tcp_remote.startswith("tcp:127.0.0.1:")
    sb.nbctl("ls-add", "sw0")
    sb.kill("nb1")
    sb.nbctl("lsp-add", "sw0", "lp1")
    sb.restart("nb1")
    sb.kill("nb2")
    sb.kill("nb3")
    sb.restart("nb2")
    assert sb.nbctl("--bare", "--columns=name", "list", "Logical_Switch_Port") == "lp1"


def test_chassis_components_restart(sandbox: Sandbox) -> None:
    hv1 = sandbox.add_chassis("hv1")
    sandbox.nbctl("ls-add", "sw0", "--", "lsp-add", "sw0", "lp1")
    plug_internal(hv1, "p1", "lp1")
    sandbox.wait_port_up("lp1")
    hv1.kill("controller")
    hv1.restart("ovsdb")
    hv1.restart("vswitchd")
    hv1.start(("controller",))
    assert all(hv1.running(c) for c in ("ovsdb", "vswitchd", "controller"))
    hv1.vsctl("set", "Interface", "p1", "external_ids:iface-id=lp2")
    sandbox.wait_port_up("lp1", up=False)


def test_socket_path_too_long_is_a_clear_error(tmp_path: Path) -> None:
    deep = tmp_path / ("x" * 100)
    with pytest.raises(SandboxError, match="longer than 107 bytes"):
        Sandbox(deep, keep_dir=True).start_central()
