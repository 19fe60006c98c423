"""What the agent should do with one logical port: a pure decision over plain facts (P3-P7).

This is the first half of ovn-controller's ``vif_plug_run`` decision table
(controller/vif-plug.c): given what SB says about the port, which interfaces
carry its ``iface-id`` on the integration bridge, and what this chassis can
do, it answers plug, update, unplug, leave alone with a problem to report, or
nothing.  The providers' answers (the second half) and the OVS writes are the
live reconciler's (``neutrino.agent.reconcile``), which gathers these facts
from the IDLs and applies the plan; keeping the decision free of databases
lets every row of the table be tested on its own.

Deliberate differences from the C code decided here: only interfaces on the
integration bridge are considered; when a foreign interface (no
``ovn-plugged``) and one of ours share an ``iface-id``, the foreign one wins.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from uuid import UUID

from neutrino.plugproto import VIF_PLUG_MTU, VIF_PLUG_TYPE, PortProblem, Problem

_INT = re.compile(r"^\s*[+-]?\d+$")


@dataclass(frozen=True)
class BindingFacts:
    """The SB ``Port_Binding`` of a logical port, as seen from this chassis."""

    options: Mapping[str, str]
    #: ovn-controller's ``lport_can_bind_on_this_chassis``: main or additional chassis here.
    may_bind_here: bool
    #: The resolved ``requested_chassis`` column is this chassis (the option alone never
    #: plugs, as in ovn-controller).
    requested_here: bool
    #: A plain VIF: empty type and no parent port (not a container port).
    is_vif: bool


@dataclass(frozen=True)
class IfaceFacts:
    """An interface on the integration bridge whose ``iface-id`` is the logical port."""

    uuid: UUID
    name: str
    type: str | None
    options: Mapping[str, str]
    #: ``external_ids:ovn-plugged``: the type of the provider that plugged it; None if no
    #: provider did (a foreign interface, never touched).
    plugged_by: str | None


@dataclass(frozen=True)
class ChassisFacts:
    """What this chassis can do in this pass."""

    name: str
    #: Provider types registered here, sorted.
    providers: tuple[str, ...]
    #: Both databases are loaded since their last (re)connection (P8).
    can_unplug: bool


class Kind(enum.Enum):
    NOTHING = "nothing"
    #: Ask the provider, then create the interface.
    PLUG = "plug"
    #: Ask the provider, then bring our interface in line with its answer.
    UPDATE = "update"
    #: Ask each interface's provider, then delete the interfaces it agrees to.
    UNPLUG = "unplug"
    #: Touch nothing; report the problem.
    PROBLEM = "problem"


@dataclass(frozen=True)
class Plan:
    kind: Kind
    #: PLUG, UPDATE: the provider to ask.
    plug_type: str | None = None
    #: PLUG, UPDATE: ``vif-plug-mtu-request`` (<= 0: none).
    mtu: int = 0
    #: UPDATE: our interface; UNPLUG: the interfaces to remove.
    ifaces: tuple[IfaceFacts, ...] = ()
    #: Our interfaces that must go but whose provider is not registered: left plugged.
    kept: tuple[IfaceFacts, ...] = ()
    #: PROBLEM: what to report.
    problem: PortProblem | None = None


NOTHING = Plan(Kind.NOTHING)


def mtu_request(options: Mapping[str, str]) -> int:
    """``vif-plug-mtu-request`` as C's ``smap_get_int(..., 0)``: 0 when absent or
    not an integer; values <= 0 mean "no request"."""
    value = options.get(VIF_PLUG_MTU)
    if value is None or not _INT.match(value):
        return 0
    return int(value)


def plan(lport: str, binding: BindingFacts | None, ifaces: Sequence[IfaceFacts],
         here: ChassisFacts, replug: bool = False) -> Plan:
    """The plan for ``lport``; ``ifaces`` sorted by name (the first one is used).
    ``replug``: ovn-controller never installed our interface; unplug it (the port is
    plugged again afterwards), once that is safe."""
    ours = [i for i in ifaces if i.plugged_by is not None]
    foreign = [i for i in ifaces if i.plugged_by is None]
    if binding is not None and binding.may_bind_here:
        # Requested here (or may be bound here): plug or update, never unplug.
        plug_type = binding.options.get(VIF_PLUG_TYPE)
        if plug_type is None or not binding.requested_here:
            return NOTHING
        if not ours and not binding.is_vif:
            return NOTHING
        if plug_type not in here.providers:
            return Plan(Kind.PROBLEM, problem=PortProblem(
                Problem.UNKNOWN_TYPE,
                f"no VIF plug provider for vif-plug-type '{plug_type}' on chassis {here.name} "
                f"(available: {', '.join(here.providers) or 'none'})"))
        if foreign:
            iface = foreign[0]
            return Plan(Kind.PROBLEM, problem=PortProblem(
                Problem.FOREIGN_INTERFACE,
                f"interface {iface.name} ({iface.uuid}) with iface-id={lport} exists but was "
                "not plugged by a VIF plug provider; it is left alone"))
        known = tuple(i for i in ours if i.plugged_by in here.providers)
        if replug and known and here.can_unplug:
            return Plan(Kind.UNPLUG, ifaces=known)
        return Plan(Kind.UPDATE if ours else Kind.PLUG, plug_type=plug_type,
                    mtu=mtu_request(binding.options), ifaces=tuple(ours[:1]))
    # Gone, or requested on another chassis: unplug ours, once that is safe.
    if not here.can_unplug:
        return NOTHING
    gone = tuple(i for i in ours if i.plugged_by in here.providers)
    kept = tuple(i for i in ours if i.plugged_by not in here.providers)
    return Plan(Kind.UNPLUG if gone else Kind.NOTHING, ifaces=gone, kept=kept)
