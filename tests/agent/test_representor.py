"""The ``representor`` provider against a fake switchdev sysfs tree (P12)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from neutrino.agent.provider import OpType, PortContextIn, PortContextOut
from neutrino.agent.providers.representor import RepresentorProvider, parse_devlink_hw_addrs
from neutrino.plugproto import REPRESENTOR_PF_MAC, REPRESENTOR_VF_NUM

from .fake_sysfs import FakeSysfs, bluefield


def prepare(provider: RepresentorProvider, **options: str) -> tuple[bool, PortContextOut]:
    ctx_in = PortContextIn(op=OpType.CREATE, lport_name="lp", lport_options=options,
                           bridge="br-int")
    ctx_out = PortContextOut()
    return provider.prepare(ctx_in, ctx_out), ctx_out


def vf(pf_mac: str, vf_num: str) -> dict[str, str]:
    """The LSP options asking for VF *vf_num* of the PF with MAC *pf_mac*."""
    return {REPRESENTOR_PF_MAC: pf_mac, REPRESENTOR_VF_NUM: vf_num}


@pytest.fixture
def provider(tmp_path: Path) -> RepresentorProvider:
    bluefield(tmp_path)
    p = RepresentorProvider(sysfs_root=tmp_path, rescan_interval=0)
    p.init()
    return p


def test_finds_vf_representor_by_host_pf_mac_and_vf_number(provider) -> None:
    ok, out = prepare(provider, **vf("00:53:00:00:00:42", "3"))
    assert ok and (out.name, out.type, out.iface_options) == ("pf0vf3", None, {})
    ok, out = prepare(provider, **vf("00:53:00:00:00:43", "0"))
    assert ok and out.name == "pf1vf0"
    ok, out = prepare(provider, **vf("00:53:00:00:00:42".upper(), "0"))
    assert ok and out.name == "pf0vf0", "MACs compare case-insensitively"
    assert provider.table == {("00:53:00:00:00:42", n): f"pf0vf{n}" for n in range(4)} | {
        ("00:53:00:00:00:43", 0): "pf1vf0"}


@pytest.mark.parametrize("options, reason", [
    ({}, "are required"),
    ({REPRESENTOR_PF_MAC: "00:53:00:00:00:42"}, "are required"),
    ({REPRESENTOR_PF_MAC: "not-a-mac", REPRESENTOR_VF_NUM: "1"}, "is not a MAC address"),
    ({REPRESENTOR_PF_MAC: "00:53:00:00:00:42", REPRESENTOR_VF_NUM: "x1"}, "is not a VF number"),
    ({REPRESENTOR_PF_MAC: "00:53:00:00:00:42", REPRESENTOR_VF_NUM: "7"}, "no representor found"),
    ({REPRESENTOR_PF_MAC: "00:53:00:00:00:99", REPRESENTOR_VF_NUM: "0"}, "no representor found"),
])
def test_declines_with_a_reason(provider, options: dict[str, str], reason: str) -> None:
    ok, out = prepare(provider, **options)
    assert not ok and reason in out.reason


def test_remove_is_always_allowed(provider) -> None:
    ctx_in = PortContextIn(op=OpType.REMOVE, lport_name="lp", lport_options={},
                           bridge="br-int", iface_name="pf0vf1")
    assert provider.prepare(ctx_in, None) is True


def test_run_reports_new_and_removed_vfs(tmp_path: Path) -> None:
    fake = bluefield(tmp_path, vfs=1)
    p = RepresentorProvider(sysfs_root=tmp_path, rescan_interval=0)
    p.init()
    assert p.run() is False
    fake.vf(0, 5, controller=1)
    assert p.run() is True
    assert prepare(p, **vf("00:53:00:00:00:42", "5"))[1].name == "pf0vf5"
    fake.remove("pf0vf5")
    assert p.run() is True
    assert not prepare(p, **vf("00:53:00:00:00:42", "5"))[0]


def test_rescan_is_rate_limited(tmp_path: Path) -> None:
    fake = bluefield(tmp_path, vfs=1)
    p = RepresentorProvider(sysfs_root=tmp_path, rescan_interval=3600)
    p.init()
    fake.vf(0, 2, controller=1)
    assert p.run() is False, "no rescan before the interval"
    assert p.rescan() is True


def test_vf_without_known_pf_mac_is_not_indexed(tmp_path: Path) -> None:
    fake = FakeSysfs(tmp_path)
    fake.uplink(0, host_pf_mac=None)  # no smart_nic/pf/config, no devlink
    fake.host_pf(0)
    fake.vf(0, 0)
    fake.vf(2, 0)  # its PF is not there at all
    p = RepresentorProvider(sysfs_root=tmp_path, rescan_interval=0)
    p.init()
    assert p.table == {}


def test_devlink_hw_addr_of_pcipf_ports() -> None:
    dump = {"port": {
        "pci/0000:03:00.0/65535": {"type": "eth", "netdev": "p0", "flavour": "physical",
                                   "port": 0, "splittable": False},
        "pci/0000:03:00.0/4095": {"type": "eth", "netdev": "pf0hpf", "flavour": "pcipf",
                                  "controller": 1, "pfnum": 0, "external": True,
                                  "function": {"hw_addr": "00:53:00:00:00:42"}},
        "pci/0000:03:00.0/4096": {"type": "eth", "netdev": "pf0vf0", "flavour": "pcivf",
                                  "controller": 1, "pfnum": 0, "vfnum": 0,
                                  "function": {"hw_addr": "00:00:00:00:00:00"}},
        "pci/0000:03:00.1/4095": {"type": "eth", "netdev": "pf1hpf", "flavour": "pcipf",
                                  "pfnum": 1, "function": {"hw_addr": "00:00:00:00:00:00"}},
    }}
    assert parse_devlink_hw_addrs(json.dumps(dump)) == {"pf0hpf": "00:53:00:00:00:42"}


FAKE_DEVLINK = """#!/bin/sh
echo called >> "{calls}"
if [ -e "{works}" ]; then
  echo '{{"port": {{"pci/0000:03:00.0/4095": {{"netdev": "pf0hpf", "flavour": "pcipf",
        "pfnum": 0, "function": {{"hw_addr": "00:53:00:00:00:42"}}}}}}}}'
else
  echo "Failed to connect to devlink Netlink" >&2
  exit 1
fi
"""


def test_a_failing_devlink_is_tried_again_later_and_said_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A kernel without devlink fails every dump: the provider does not run it on every
    rescan nor warn every minute, and uses it once it works (a SmartNIC driver loaded)."""
    fake = FakeSysfs(tmp_path / "sys")
    fake.uplink(0, host_pf_mac=None)  # the PF's MAC only devlink knows
    fake.host_pf(0)
    fake.vf(0, 3)
    bin_dir, calls, works = tmp_path / "bin", tmp_path / "calls", tmp_path / "works"
    bin_dir.mkdir()
    (bin_dir / "devlink").write_text(FAKE_DEVLINK.format(calls=calls, works=works))
    (bin_dir / "devlink").chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")
    p = RepresentorProvider(sysfs_root=tmp_path / "sys", rescan_interval=0, use_devlink=True)
    with caplog.at_level("INFO", logger="neutrino.agent.providers.representor"):
        for _ in range(5):
            p.rescan()
        assert p.table == {}
        assert calls.read_text().count("called") == 1, "not run again before its retry"
        failed = [r for r in caplog.records if "devlink port dump failed" in r.getMessage()]
        assert len(failed) == 1 and failed[0].levelname == "WARNING"

        works.touch()
        p.rescan()
        assert p.table == {}, "still waiting for the retry"
        p._devlink_retry_at = 0.0  # the retry is due
        assert p.rescan() is True
        assert p.table == {("00:53:00:00:00:42", 3): "pf0vf3"}
        assert any("works again" in r.getMessage() for r in caplog.records)
        p.rescan()
        assert calls.read_text().count("called") == 3, "run on every rescan once it works"
