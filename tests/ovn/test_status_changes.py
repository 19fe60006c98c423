"""Which NB changes can change a status (neutrino/ovn/status_changes.py), row by row. Pure."""
from __future__ import annotations

import uuid
from dataclasses import replace

import pytest

from neutrino.ovn.nbcache import LspRow, SwitchRow
from neutrino.ovn.status_changes import (
    LivenessChange,
    liveness_changed,
    lsp_status_changed,
    plug_grace_starts,
    port_gone,
    port_view,
    switch_networks_changed,
)
from neutrino.ovn.status_rules import LspView

ROW = LspRow(uuid=uuid.uuid4(), name="p1", type="", addresses=["fa:16:3e:00:00:01 10.0.0.5"],
             port_security=[], enabled=[True], up=[False],
             options={"requested-chassis": "hv1"},
             tag=[], external_ids={"neutrino:port_id": "p1", "neutrino:revision_number": "3"},
             dhcpv4_options=[], dhcpv6_options=[])
LOCALNET = replace(ROW, name="provnet-n1", external_ids={"neutrino:localnet_of": "n1"})


def ext(row: LspRow, **changes: str) -> LspRow:
    return replace(row, external_ids={**row.external_ids, **changes})


LSP_CASES = {
    "created": (None, ROW, True),
    "deleted": (ROW, None, True),
    "up": (ROW, replace(ROW, up=[True]), True),
    "northd's up=false on a new LSP (was unset)": (replace(ROW, up=[]), ROW, False),
    "disabled": (ROW, replace(ROW, enabled=[False]), True),
    "moved to another chassis": (ROW, replace(ROW, options={"requested-chassis": "hv2"}), True),
    "plug type set": (ROW, replace(ROW, options={**ROW.options, "vif-plug-type": "dummy"}), True),
    "binding result": (ROW, ext(ROW, **{"neutrino:vif_type": "binding_failed"}), True),
    "rewritten by Neutrino (new revision), same facts": (
        ROW, ext(ROW, **{"neutrino:revision_number": "4"}), True),
    "addresses changed, same revision": (ROW, replace(ROW, addresses=[]), False),
    "another row's mark is not a port": (LOCALNET, replace(LOCALNET, up=[True]), False),
    "nothing changed": (ROW, ROW, False),
}


@pytest.mark.parametrize("before,after,expected", LSP_CASES.values(), ids=LSP_CASES.keys())
def test_lsp_status_changed(before: LspRow | None, after: LspRow | None,
                            expected: bool) -> None:
    assert lsp_status_changed(before, after) is expected


def test_port_view_is_for_neutrino_ports_only() -> None:
    assert port_view(ROW) == LspView.of(ROW)
    assert port_view(LOCALNET) is None
    assert port_view(None) is None


VIEW = LspView.of(ROW)
MOVED = replace(VIEW, requested_chassis="hv2")
GRACE_CASES = {
    "LSP appeared": (None, VIEW, True, False),
    "moved to another chassis": (VIEW, MOVED, True, False),
    "went up on the same chassis": (VIEW, replace(VIEW, up=True), False, False),
    "deleted": (VIEW, None, False, True),
    "neither side is a port": (None, None, False, False),
}


@pytest.mark.parametrize("before,after,starts,gone", GRACE_CASES.values(),
                         ids=GRACE_CASES.keys())
def test_plug_grace_starts_and_port_gone(before: LspView | None, after: LspView | None,
                                         starts: bool, gone: bool) -> None:
    assert plug_grace_starts(before, after) is starts
    assert port_gone(before, after) is gone


SWITCH = SwitchRow(uuid=uuid.uuid4(), name="neutrino-n1", dns_records=[],
                   external_ids={"neutrino:network_id": "n1", "neutrino:mtu": "1442"})
SWITCH_CASES = {
    "created": (None, SWITCH, {"n1"}),
    "deleted": (SWITCH, None, {"n1"}),
    "ports or other columns changed": (SWITCH, replace(SWITCH, name="renamed"), set()),
    "mtu changed": (SWITCH, replace(SWITCH, external_ids={"neutrino:network_id": "n1"}), set()),
    "now mirrors another network": (
        SWITCH, replace(SWITCH, external_ids={"neutrino:network_id": "n2"}), {"n1", "n2"}),
    "lost its mark": (SWITCH, replace(SWITCH, external_ids={}), {"n1"}),
}


@pytest.mark.parametrize("before,after,expected", SWITCH_CASES.values(),
                         ids=SWITCH_CASES.keys())
def test_switch_networks_changed(before: SwitchRow | None, after: SwitchRow | None,
                                 expected: set[str]) -> None:
    assert switch_networks_changed(before, after) == expected


LIVENESS_CASES = {
    "no change": ({"hv1"}, {"hv1"}, None),
    "chassis died": ({"hv1", "hv2"}, {"hv2"}, LivenessChange(frozenset({"hv1"}), frozenset())),
    "plug agent came back": (
        {"hv1"}, {"hv1", "hv1/plug-agent"},
        LivenessChange(frozenset(), frozenset({"hv1/plug-agent"}))),
    "both ways": ({"hv1"}, {"hv2"}, LivenessChange(frozenset({"hv1"}), frozenset({"hv2"}))),
}


@pytest.mark.parametrize("before,after,expected", LIVENESS_CASES.values(),
                         ids=LIVENESS_CASES.keys())
def test_liveness_changed(before: set[str], after: set[str],
                          expected: LivenessChange | None) -> None:
    assert liveness_changed(before, after) == expected
