"""Turn each port's plan into provider calls and OVS changes (P3-P7).

A pass evaluates just the ports whose rows changed: for each it gathers plain
facts from the IDLs and asks the pure decision (``neutrino.agent.plan``) what
to do, then asks the providers (one batch per provider), then checks what they
answered and builds the :class:`~neutrino.agent.writer.PortOp` list to commit,
plus per port the problem that keeps it from being plugged (if any).

Names are checked here, before writing (a deliberate difference from the C
code): an interface or port name that is taken, or wanted by two logical
ports in the same pass, is reported as a conflict for the port that would
collide instead of failing a whole transaction.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Iterable
from dataclasses import dataclass, field

import ovs.db.idl

from neutrino.agent.calls import CallResult
from neutrino.agent.commands import (
    CreatePortCommand,
    RemovePortCommand,
    UpdateInterfaceCommand,
    plugged_external_ids,
)
from neutrino.agent.idl import row_map, row_value
from neutrino.agent.install_watch import Install, InstallWatch
from neutrino.agent.local import LocalState
from neutrino.agent.plan import BindingFacts, ChassisFacts, IfaceFacts, Kind, Plan, plan
from neutrino.agent.provider import OpType, PortContextIn, PortContextOut
from neutrino.agent.registry import ProviderHandle, ProviderRegistry
from neutrino.agent.report import PlugOutcome, PlugOutcomes
from neutrino.agent.southbound import (
    CanBind,
    SouthboundState,
    can_bind,
    claimed_here,
    is_vif,
    requested_here,
)
from neutrino.agent.writer import OvsWriter, PortOp
from neutrino.log import RateLimitedLog, fmt
from neutrino.plugproto import OVN_INSTALLED, OVN_PLUGGED, PortProblem, Problem
from neutrino.workqueue import DONE, Result, backoff

LOG = logging.getLogger(__name__)

#: Problems of a plug attempt that count as a failed plug of its provider.
FAILED_PLUG = frozenset({Problem.DECLINED, Problem.PROVIDER_ERROR})
#: A port whose provider call was not made (deadline, busy provider): soon, then less often.
DEFERRED = backoff(0.2, 5.0)


@dataclass
class Ask:
    """A ``prepare`` a port needs before the agent can decide about it. Asks are
    batched per provider, so a pass costs one thread hand-off per provider."""

    lport: str
    kind: Kind  # PLUG, UPDATE or UNPLUG
    handle: ProviderHandle
    ctx_in: PortContextIn
    ctx_out: PortContextOut | None
    plug_type: str
    iface: IfaceFacts | None = None
    mtu: int = 0
    result: CallResult | None = None


@dataclass
class PassContext:
    """Everything one pass decides against."""

    bridge: ovs.db.idl.Row
    chassis: ovs.db.idl.Row
    can_unplug: bool
    #: Monotonic seconds, and ``Chassis_Private.nb_cfg``: what the install watch notes.
    now: float = 0.0
    nb_cfg: int = 0
    #: Ports ovn-controller never installed, to plug again.
    replug: frozenset[str] = frozenset()


@dataclass
class PassResult:
    """What a pass wants done: changes to commit, and how to schedule the ports it
    finished with (ports with a change get theirs from the change's outcome)."""

    ops: list[PortOp] = field(default_factory=list)
    results: dict[str, Result] = field(default_factory=dict)


class Reconciler:
    """Turns the current rows into port changes and port problems."""

    def __init__(self, local: LocalState, sb: SouthboundState, registry: ProviderRegistry,
                 writer: OvsWriter, outcomes: PlugOutcomes, watch: InstallWatch) -> None:
        self.local = local
        self.sb = sb
        self.registry = registry
        self.writer = writer
        #: where failed plug attempts are counted (the agent's, kept across reconnects)
        self.outcomes = outcomes
        #: what each pass sees of ports waiting for ovn-installed (the agent's, as above)
        self.watch = watch
        #: lport -> why it is not plugged as requested (reported in SB).
        self.problems: dict[str, PortProblem] = {}
        self._log = RateLimitedLog(LOG)

    def all_keys(self, bridge: ovs.db.idl.Row) -> set[str]:
        """Every logical port a full pass must look at."""
        return (self.sb.lport_names() | self.local.plugged_ids_on_bridge(bridge.uuid)
                | set(self.problems))

    def name_conflicts(self) -> set[str]:
        """Ports waiting for an interface name another port holds: any OVS change
        may free it, so they ride along with every pass."""
        return {k for k, p in self.problems.items() if p.code is Problem.NAME_CONFLICT}

    def run(self, ctx: PassContext, keys: Iterable[str]) -> PassResult:
        """Evaluate ``keys`` (sorted, so a name contest has a stable winner)."""
        here = ChassisFacts(name=row_value(ctx.chassis, "name"),
                            providers=tuple(self.registry.types()), can_unplug=ctx.can_unplug)
        planned: list[tuple[str, Plan, list[Ask]]] = []
        for lport in sorted(keys):
            if lport not in self.writer.inflight:
                decided, asks = self._plan(ctx, here, lport)
                planned.append((lport, decided, asks))
        self._ask([a for _, _, asks in planned for a in asks])
        claims = self.writer.claimed_names()
        done = PassResult()
        for lport, decided, asks in planned:
            problem = decided.problem
            deferred = False
            count = len(done.ops)
            for ask in asks:
                assert ask.result is not None
                if ask.result.deferred:
                    deferred = True
                elif ask.kind is Kind.UNPLUG:
                    self._decide_unplug(ctx, ask, done.ops)
                else:
                    problem = self._decide_plug(ctx, ask, claims, done.ops)
                    if ask.kind is Kind.PLUG and problem is not None and \
                            problem.code in FAILED_PLUG:
                        self.outcomes.add(ask.handle.type, PlugOutcome.FAILED)
            if deferred:
                done.results[lport] = DEFERRED
                continue
            self._set_problem(lport, problem)
            if len(done.ops) == count:
                done.results[lport] = DONE
        return done

    # -- phase 1: what each port needs -------------------------------------------
    def _plan(self, ctx: PassContext, here: ChassisFacts, lport: str) -> tuple[Plan, list[Ask]]:
        """Gather ``lport``'s facts, decide, and turn the plan into provider asks."""
        pb = self.sb.port_binding(lport)
        binding = None if pb is None else BindingFacts(
            options=row_map(pb, "options"),
            may_bind_here=can_bind(pb, ctx.chassis) is not CanBind.NO,
            requested_here=requested_here(pb, ctx.chassis), is_vif=is_vif(pb))
        ifaces = [IfaceFacts(uuid=row.uuid, name=row_value(row, "name"),
                             type=row_value(row, "type"), options=row_map(row, "options"),
                             plugged_by=row_map(row, "external_ids").get(OVN_PLUGGED))
                  for row in self.local.ifaces_on_bridge(lport, ctx.bridge.uuid)]
        if binding is None or not binding.may_bind_here:
            self.writer.isolated.discard(lport)  # not ours to plug any more
        decided = plan(lport, binding, ifaces, here, replug=lport in ctx.replug)
        self.watch.observe(lport, *self._install(ctx, lport, decided), ctx.now, ctx.nb_cfg)
        for iface in decided.kept:
            self._log.warning(("unplug-unknown", lport), "unable to open VIF plug provider; "
                              "interface left plugged", type=iface.plugged_by, iface_id=lport)
        bridge = row_value(ctx.bridge, "name")
        options = binding.options if binding is not None else {}
        if decided.kind in (Kind.PLUG, Kind.UPDATE):
            assert decided.plug_type is not None
            handle = self.registry.get(decided.plug_type)
            assert handle is not None
            existing = decided.ifaces[0] if decided.ifaces else None
            ctx_in = PortContextIn(
                op=OpType.CREATE, lport_name=lport, lport_options=options, bridge=bridge,
                iface_name=existing.name if existing else None,
                iface_type=existing.type if existing else None,
                iface_options=existing.options if existing else {})
            return decided, [Ask(lport, decided.kind, handle, ctx_in, PortContextOut(),
                                 decided.plug_type, existing, decided.mtu)]
        asks = []
        for iface in decided.ifaces if decided.kind is Kind.UNPLUG else ():
            assert iface.plugged_by is not None
            handle = self.registry.get(iface.plugged_by)
            assert handle is not None
            ctx_in = PortContextIn(
                op=OpType.REMOVE, lport_name=lport, lport_options=options, bridge=bridge,
                iface_name=iface.name, iface_type=iface.type, iface_options=iface.options)
            asks.append(Ask(lport, Kind.UNPLUG, handle, ctx_in, None, iface.plugged_by, iface))
        return decided, asks

    def _install(self, ctx: PassContext, lport: str, decided: Plan) -> tuple[Install, str, str]:
        """Where the port stands with ovn-controller as far as this pass knows (whether it
        is claimed is read when its bound ends), its plug type and our interface."""
        if decided.kind is Kind.UNPLUG and lport in ctx.replug:
            iface = decided.ifaces[0]  # plugged again once unplugged
            return Install.PLUGGING, iface.plugged_by or "", iface.name
        if decided.kind is Kind.PLUG:
            return Install.PLUGGING, decided.plug_type or "", ""
        if decided.kind is not Kind.UPDATE or self.installed(decided.ifaces[0].uuid):
            return Install.SETTLED, "", ""
        return Install.WAITING, decided.plug_type or "", decided.ifaces[0].name

    def installed(self, iface_uuid: uuid.UUID) -> bool:
        """ovn-controller has marked the interface installed."""
        row = self.local.iface(iface_uuid)
        return row is not None and row_map(row, "external_ids").get(OVN_INSTALLED) == "true"

    def install_state(self, lport: str, bridge: ovs.db.idl.Row,
                      chassis: ovs.db.idl.Row) -> Install:
        """Where *lport* stands now: installed (one of its interfaces on *bridge* is
        marked), waiting (claimed by *chassis*, not marked), or not claimed yet."""
        if any(self.installed(row.uuid)
               for row in self.local.ifaces_on_bridge(lport, bridge.uuid)):
            return Install.SETTLED
        pb = self.sb.port_binding(lport)
        return Install.WAITING if pb is not None and claimed_here(pb, chassis) \
            else Install.PLUGGING

    # -- phase 2: ask the providers, one batch each --------------------------------
    def _ask(self, asks: list[Ask]) -> None:
        by_handle: dict[str, list[Ask]] = {}
        for ask in asks:
            by_handle.setdefault(ask.handle.type, []).append(ask)
        for items in by_handle.values():
            handle = items[0].handle

            def late(index: int, ok: object, items: list[Ask] = items) -> None:
                """An abandoned ``prepare`` said yes after all: free what it allocated."""
                ask = items[index]
                if ok is True and ask.ctx_out is not None:
                    ask.handle.provider.release(ask.ctx_in, ask.ctx_out)

            results = handle.caller.call_batch("prepare", [(a.ctx_in, a.ctx_out) for a in items],
                                               on_late=late)
            for ask, result in zip(items, results, strict=True):
                ask.result = result

    # -- phase 3: decide -------------------------------------------------------------
    def _decide_plug(self, ctx: PassContext, ask: Ask, claims: dict[str, str],
                     ops: list[PortOp]) -> PortProblem | None:
        lport, handle, ctx_out = ask.lport, ask.handle, ask.ctx_out
        assert ask.result is not None and ctx_out is not None
        if not ask.result.ok:
            return PortProblem(Problem.PROVIDER_ERROR,
                               f"provider '{ask.plug_type}' failed: {ask.result.error}")
        if not ask.result.value:
            self._log.info(("declined", lport), "not plugging/updating lport on direction "
                           "from VIF plug provider", lport=lport, reason=ctx_out.reason)
            return PortProblem(Problem.DECLINED, f"provider '{ask.plug_type}' declined: "
                               f"{ctx_out.reason or 'no reason given'}")
        if not isinstance(ctx_out.name, str) or not ctx_out.name:
            handle.caller.post("release", ask.ctx_in, ctx_out)
            return PortProblem(Problem.PROVIDER_ERROR,
                               f"provider '{ask.plug_type}' gave no interface name")
        external_ids = plugged_external_ids(lport, ask.plug_type)
        if ask.iface is not None:
            return self._update(ask, external_ids, ops)
        owner = self.local.name_owner(ctx_out.name) or (
            f"lport {claims[ctx_out.name]}" if ctx_out.name in claims else None)
        if owner is not None:
            handle.caller.post("release", ask.ctx_in, ctx_out)
            return PortProblem(Problem.NAME_CONFLICT,
                               f"interface name {ctx_out.name} is already used by {owner}")
        claims[ctx_out.name] = lport
        LOG.info(fmt("plugging port", port=ctx_out.name, bridge=ask.ctx_in.bridge,
                     lport=lport, type=ask.plug_type))
        command = CreatePortCommand(ctx.bridge.uuid, ctx_out.name, ctx_out.type, external_ids,
                                    dict(ctx_out.iface_options), ask.mtu)
        ops.append(PortOp(lport, Kind.PLUG.value, command, handle, ask.ctx_in, ctx_out))
        return None

    def _update(self, ask: Ask, external_ids: dict[str, str],
                ops: list[PortOp]) -> PortProblem | None:
        lport, handle, ctx_out = ask.lport, ask.handle, ask.ctx_out
        assert ctx_out is not None and ask.iface is not None
        iface = self.local.iface(ask.iface.uuid)  # the pass runs between two IDL runs
        assert iface is not None
        name = ask.iface.name
        if name != ctx_out.name:
            handle.caller.post("release", ask.ctx_in, ctx_out)
            self._log.warning(("name-change", lport), "incompatible change to existing port "
                              "refused; recreate the port", lport=lport, current=name,
                              wanted=ctx_out.name)
            return PortProblem(Problem.NAME_CHANGE,
                               f"provider now wants interface name {ctx_out.name} but "
                               f"{name} is plugged; recreate the port")
        command = UpdateInterfaceCommand.diff(iface, ctx_out.type, external_ids,
                                              ctx_out.iface_options, handle.maintained_options,
                                              ask.mtu)
        op = PortOp(lport, Kind.UPDATE.value, command, handle, ask.ctx_in, ctx_out)
        if command.noop:
            op.finish()  # nothing to commit: the desired state is already there
            op.release()
            return None
        LOG.info(fmt("updating port", port=name, lport=lport,
                     changes=",".join(command.changes)))
        ops.append(op)
        return None

    def _decide_unplug(self, ctx: PassContext, ask: Ask, ops: list[PortOp]) -> None:
        assert ask.result is not None and ask.iface is not None
        lport, iface = ask.lport, ask.iface
        name = iface.name
        if not ask.result.ok or not ask.result.value:
            self._log.info(("no-unplug", lport), "not unplugging iface on direction from VIF "
                           "plug provider", iface=name, iface_id=lport,
                           error=ask.result.error or "")
            return
        port = self.local.ix.port_of_iface.get(iface.uuid)
        if port is None:
            return
        LOG.info(fmt("unplugging port", port=name, bridge=ask.ctx_in.bridge, iface_id=lport))
        command = RemovePortCommand(ctx.bridge.uuid, port,
                                    sorted(self.local.ix.ifaces_of_port.get(port, set())))
        ops.append(PortOp(lport, Kind.UNPLUG.value, command, ask.handle, ask.ctx_in, None))

    # -- problems ----------------------------------------------------------------
    def set_failure(self, lport: str, error: str) -> None:
        """A transaction for ``lport`` failed on its own."""
        self._set_problem(lport, PortProblem(Problem.TRANSACTION_FAILED,
                                             f"OVS DB rejected the change: {error}"))

    def _set_problem(self, lport: str, problem: PortProblem | None) -> None:
        previous = self.problems.get(lport)
        if problem is None:
            if previous is not None:
                del self.problems[lport]
                self._log.forget((previous.code, lport))
                LOG.info(fmt("port problem cleared", lport=lport, was=previous.code))
            return
        self.problems[lport] = problem
        if problem.code is not Problem.DECLINED:
            self._log.warning((problem.code, lport), "port not plugged", lport=lport,
                              problem=problem.code, detail=problem.message)
