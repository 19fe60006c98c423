"""The agent's decision for one port (neutrino/agent/plan.py), row by row (P3-P7).

Pure: plain facts in, one plan out, no databases."""
from __future__ import annotations

from dataclasses import replace
from uuid import UUID

import pytest

from neutrino.agent.plan import (
    NOTHING,
    BindingFacts,
    ChassisFacts,
    IfaceFacts,
    Kind,
    Plan,
    mtu_request,
    plan,
)
from neutrino.plugproto import PortProblem, Problem

HERE = ChassisFacts(name="hv1", providers=("dummy", "representor"), can_unplug=True)
GUARDED = ChassisFacts(name="hv1", providers=("dummy", "representor"), can_unplug=False)


def binding(plug_type: str | None = "dummy", *, may_bind: bool = True, requested: bool = True,
            vif: bool = True, **options: str) -> BindingFacts:
    if plug_type is not None:
        options["vif-plug-type"] = plug_type
    return BindingFacts(options=options, may_bind_here=may_bind, requested_here=requested,
                        is_vif=vif)


def iface(name: str, plugged_by: str | None = "dummy") -> IfaceFacts:
    return IfaceFacts(uuid=UUID(int=sum(name.encode())), name=name, type="internal",
                      options={}, plugged_by=plugged_by)


OURS, OURS_B = iface("ours"), iface("ours-b")
FOREIGN = iface("tap9", plugged_by=None)
ORPHAN = iface("orphan", plugged_by="gone-type")

CASES: dict[str, tuple[BindingFacts | None, list[IfaceFacts], ChassisFacts, Plan]] = {
    # P3: plug what is requested here and not there yet.
    "requested here, nothing local: plug": (
        binding(), [], HERE, Plan(Kind.PLUG, plug_type="dummy")),
    "plug carries the MTU request": (
        binding(**{"vif-plug-mtu-request": "1400"}), [], HERE,
        Plan(Kind.PLUG, plug_type="dummy", mtu=1400)),
    "plugging never waits for the start-up guard": (
        binding(), [], GUARDED, Plan(Kind.PLUG, plug_type="dummy")),
    "a container port (not a VIF) is not plugged": (binding(vif=False), [], HERE, NOTHING),
    "no vif-plug-type: not ours to plug": (binding(None), [], HERE, NOTHING),
    "only the option names us (column unresolved): wait": (
        binding(requested=False), [], HERE, NOTHING),
    # P4: update what we plugged.
    "ours is there: update it": (
        binding(), [OURS], HERE, Plan(Kind.UPDATE, plug_type="dummy", ifaces=(OURS,))),
    "a container port we plugged is still updated": (
        binding(vif=False), [OURS], HERE, Plan(Kind.UPDATE, plug_type="dummy", ifaces=(OURS,))),
    "two of ours: the first by name is updated": (
        binding(), [OURS, OURS_B], HERE, Plan(Kind.UPDATE, plug_type="dummy", ifaces=(OURS,))),
    "vif-plug-type removed: ours stays, untouched": (binding(None), [OURS], HERE, NOTHING),
    "bound here only as additional chassis: nothing, never unplug": (
        binding(requested=False), [OURS], HERE, NOTHING),
    # P5: unplug what is gone or moved, once that is safe.
    "gone: unplug ours": (None, [OURS], HERE, Plan(Kind.UNPLUG, ifaces=(OURS,))),
    "moved to another chassis: unplug ours": (
        binding(may_bind=False), [OURS, OURS_B], HERE, Plan(Kind.UNPLUG, ifaces=(OURS, OURS_B))),
    "gone while the start-up guard is armed: nothing": (None, [OURS], GUARDED, NOTHING),
    "gone, nothing local: nothing": (None, [], HERE, NOTHING),
    # P6: never touch an interface no provider plugged.
    "foreign interface of a requested port: reported, left alone": (
        binding(), [FOREIGN], HERE, Plan(Kind.PROBLEM, problem=PortProblem(
            Problem.FOREIGN_INTERFACE,
            f"interface tap9 ({FOREIGN.uuid}) with iface-id=lp exists but was not plugged by "
            "a VIF plug provider; it is left alone"))),
    "foreign and ours share the iface-id: the foreign one wins": (
        binding(), [OURS, FOREIGN], HERE, Plan(Kind.PROBLEM, problem=PortProblem(
            Problem.FOREIGN_INTERFACE,
            f"interface tap9 ({FOREIGN.uuid}) with iface-id=lp exists but was not plugged by "
            "a VIF plug provider; it is left alone"))),
    "gone, foreign interface: never unplugged": (None, [FOREIGN], HERE, NOTHING),
    # P7: an unknown plug type is reported, never acted on nor unplugged.
    "unknown type requested: reported": (
        binding("nope"), [], HERE, Plan(Kind.PROBLEM, problem=PortProblem(
            Problem.UNKNOWN_TYPE, "no VIF plug provider for vif-plug-type 'nope' on chassis hv1 "
                                  "(available: dummy, representor)"))),
    "unknown type with none registered": (
        binding("nope"), [OURS], ChassisFacts("hv1", (), True),
        Plan(Kind.PROBLEM, problem=PortProblem(
            Problem.UNKNOWN_TYPE, "no VIF plug provider for vif-plug-type 'nope' on chassis hv1 "
                                  "(available: none)"))),
    "gone, plugged by a type not registered: kept plugged": (
        None, [ORPHAN], HERE, Plan(Kind.NOTHING, kept=(ORPHAN,))),
    "gone, one of each: unplug the known, keep the unknown": (
        None, [ORPHAN, OURS], HERE, Plan(Kind.UNPLUG, ifaces=(OURS,), kept=(ORPHAN,))),
}


@pytest.mark.parametrize("facts,ifaces,here,expected", CASES.values(), ids=CASES.keys())
def test_plan(facts: BindingFacts | None, ifaces: list[IfaceFacts], here: ChassisFacts,
              expected: Plan) -> None:
    assert plan("lp", facts, ifaces, here) == expected


MTU = {"absent": (None, 0), "plain": ("1400", 1400), "signed": ("+1500", 1500),
       "spaces before": ("  9000", 9000), "negative": ("-1", -1), "not a number": ("big", 0),
       "decimal": ("1400.0", 0)}


@pytest.mark.parametrize("value,expected", MTU.values(), ids=MTU.keys())
def test_mtu_request_reads_like_smap_get_int(value: str | None, expected: int) -> None:
    options = {} if value is None else {"vif-plug-mtu-request": value}
    assert mtu_request(options) == expected

#: A port ovn-controller never installed (``install_watch``): ``plan(..., replug=True)``.
REPLUG = {
    "ours is there: unplug it, to be plugged again": (
        binding(), [OURS], HERE, Plan(Kind.UNPLUG, ifaces=(OURS,))),
    "not before unplugging is safe: update as usual": (
        binding(), [OURS], replace(HERE, can_unplug=False),
        Plan(Kind.UPDATE, plug_type="dummy", ifaces=(OURS,))),
    "not plugged yet: plug it": (
        binding(), [], HERE, Plan(Kind.PLUG, plug_type="dummy")),
    "plugged by an unknown provider: left alone": (
        binding(), [ORPHAN], HERE, Plan(Kind.UPDATE, plug_type="dummy", ifaces=(ORPHAN,))),
}


@pytest.mark.parametrize("facts,ifaces,here,expected", REPLUG.values(), ids=REPLUG.keys())
def test_plan_to_plug_again(facts: BindingFacts | None, ifaces: list[IfaceFacts],
                            here: ChassisFacts, expected: Plan) -> None:
    assert plan("lp", facts, ifaces, here, replug=True) == expected
