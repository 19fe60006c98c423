"""The status decision table (neutrino/ovn/status_rules.py), every row (S3, S4). Pure."""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field, replace

import pytest

from neutrino.drivers.status import ACTIVE, BUILD, DOWN, NO_HOST
from neutrino.ovn.chassis import ChassisInfo
from neutrino.ovn.nbcache import LspRow
from neutrino.ovn.status_rules import (
    ADMIN_DOWN,
    SB_UNKNOWN,
    WAITING_FOR_PORT,
    WAITING_FOR_SWITCH,
    LspView,
    Status,
    network_status,
    port_status,
)
from neutrino.plugproto import AGENT_HEARTBEAT, AGENT_INFO, error_key

ERROR = "declined: no representor found"


def chassis(name: str = "hv1", hostname: str = "host1", **external_ids: str) -> ChassisInfo:
    return ChassisInfo(name=name, hostname=hostname, bridge_mappings={}, cms_options=(),
                       datapath_type="", other_config={}, nb_cfg=1, external_ids=external_ids)


HV1 = chassis()
WITH_AGENT = chassis(**{AGENT_HEARTBEAT: "1", AGENT_INFO: '{"interval": 30}'})
WITH_ERROR = chassis(**{error_key("p1"): ERROR})


@dataclass
class Directory:
    """The chassis directory as the table asks it."""

    chassis: list[ChassisInfo] = field(default_factory=lambda: [HV1])
    synced: bool = True
    down: set[str] = field(default_factory=set)
    agent_down: set[str] = field(default_factory=set)

    def by_host(self, host: str) -> ChassisInfo | None:
        return next((c for c in self.chassis if c.matches_host(host)), None)

    def alive(self, name: str) -> bool:
        return name not in self.down

    def plug_agent_alive(self, name: str) -> bool:
        return name not in self.agent_down


VIEW = LspView(port_id="p1", up=False, enabled=True, requested_chassis="hv1",
               vif_type="ovs", vnic_type="normal", plug_type="")
UP = replace(VIEW, up=True)
PLUGGED_BY_AGENT = replace(VIEW, plug_type="representor")
FAILED = replace(VIEW, vif_type="binding_failed", requested_chassis="")

CASES: dict[str, tuple[LspView | None, Directory, str | None, Status]] = {
    "no LSP yet": (None, Directory(), None, (BUILD, WAITING_FOR_PORT)),
    "admin down": (replace(UP, enabled=False), Directory(), None, (DOWN, ADMIN_DOWN)),
    "admin down beats binding failed": (
        replace(FAILED, enabled=False), Directory(), "binding failed: x", (DOWN, ADMIN_DOWN)),
    "binding failed, with what the binding says now": (
        FAILED, Directory(), "binding failed: no chassis", (DOWN, "binding failed: no chassis")),
    "binding failed beats up": (replace(FAILED, up=True), Directory(), None,
                                (DOWN, "binding failed")),
    "up": (UP, Directory(), None, (ACTIVE, None)),
    "up even on a dead chassis": (UP, Directory(down={"hv1"}), None, (ACTIVE, None)),
    "no host": (replace(VIEW, requested_chassis=""), Directory(), None, (DOWN, NO_HOST)),
    "no host, the binding's reason wins": (
        replace(VIEW, requested_chassis=""), Directory(), "bound to nothing",
        (DOWN, "bound to nothing")),
    "SB not read yet": (VIEW, Directory(synced=False), None, (DOWN, SB_UNKNOWN)),
    "unknown chassis": (replace(VIEW, requested_chassis="hv9"), Directory(), None,
                        (DOWN, "no chassis with hostname or name 'hv9'")),
    "chassis found by hostname, named by name": (
        replace(VIEW, requested_chassis="host1"), Directory(down={"hv1"}), None,
        (DOWN, "chassis 'hv1' is down")),
    "chassis down": (VIEW, Directory(down={"hv1"}), None, (DOWN, "chassis 'hv1' is down")),
    "plug agent reported an error": (
        PLUGGED_BY_AGENT, Directory([WITH_ERROR]), None,
        (DOWN, f"plug agent on chassis 'hv1': {ERROR}")),
    "an error for another port is not this port's": (
        replace(VIEW, port_id="p2"), Directory([WITH_ERROR]), None,
        (DOWN, "interface not present on chassis 'hv1'")),
    "port needs plugging, agent stopped heartbeating": (
        PLUGGED_BY_AGENT, Directory([WITH_AGENT], agent_down={"hv1"}), None,
        (DOWN, "plug agent on chassis 'hv1' is down")),
    "port plugged by others: the agent's liveness does not matter": (
        VIEW, Directory([WITH_AGENT], agent_down={"hv1"}), None,
        (DOWN, "interface not present on chassis 'hv1'")),
    "port needs plugging, no agent reports (never started, or stopped cleanly)": (
        PLUGGED_BY_AGENT, Directory(agent_down={"hv1"}), None,
        (DOWN, "no plug agent running on chassis 'hv1'")),
    "port needs plugging, the agent runs: plugged or not, not installed yet": (
        PLUGGED_BY_AGENT, Directory([WITH_AGENT]), None,
        (DOWN, "waiting for the interface to be plugged and installed on chassis 'hv1'")),
    "otherwise: not present": (VIEW, Directory(), None,
                               (DOWN, "interface not present on chassis 'hv1'")),
}


@pytest.mark.parametrize("view,directory,binding_reason,expected", CASES.values(),
                         ids=CASES.keys())
def test_port_status(view: LspView | None, directory: Directory, binding_reason: str | None,
                     expected: Status) -> None:
    assert port_status(view, directory, binding_reason) == expected


@pytest.mark.parametrize("exists,expected", [(True, (ACTIVE, None)),
                                             (False, (BUILD, WAITING_FOR_SWITCH))])
def test_network_status(exists: bool, expected: Status) -> None:
    assert network_status(exists) == expected


def lsp(external_ids: dict[str, str], options: dict[str, str], up: list[bool],
        enabled: list[bool]) -> LspRow:
    return LspRow(uuid=uuid.uuid4(), name="lsp-name", type="", addresses=[], port_security=[],
                  enabled=enabled, up=up, options=options, tag=[], external_ids=external_ids,
                  dhcpv4_options=[], dhcpv6_options=[])


VIEWS = {
    "everything set": (
        lsp({"neutrino:port_id": "p1", "neutrino:vif_type": "ovs",
             "neutrino:vnic_type": "remote-managed"},
            {"requested-chassis": "hv1", "vif-plug-type": "representor"}, [True], [True]),
        LspView("p1", True, True, "hv1", "ovs", "remote-managed", "representor")),
    "defaults: never up, enabled unless false, normal vnic, named by the row": (
        lsp({}, {}, [], []), LspView("lsp-name", False, True, "", "", "normal", "")),
    "up false, disabled": (lsp({}, {}, [False], [False]),
                           LspView("lsp-name", False, False, "", "", "normal", "")),
}


@pytest.mark.parametrize("row,expected", VIEWS.values(), ids=VIEWS.keys())
def test_lsp_view(row: LspRow, expected: LspView) -> None:
    assert LspView.of(row) == expected
