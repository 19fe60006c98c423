"""Decide, port by port, what the integration bridge should look like (P3-P7).

This is ovn-controller's ``vif_plug_run`` decision table (controller/vif-plug.c)
evaluated for one logical port at a time, so a pass can cover just the ports
whose rows changed. The outcome is a list of :class:`~neutrino.agent.writer.PortOp`
to commit and, per port, the problem that keeps it from being plugged (if any).

Deviations from the C code, each on purpose:

* names are checked before writing: an interface or port name that is taken,
  or wanted by two logical ports in the same pass, is reported as a conflict
  for the port that would collide instead of failing a whole transaction;
* only interfaces on the integration bridge are ever unplugged;
* when a foreign interface (no ``ovn-plugged``) and one of ours share an
  ``iface-id``, the foreign one wins: nothing is touched and it is reported.
"""
from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass

import ovs.db.idl

from neutrino.agent.calls import CallResult
from neutrino.agent.commands import (CreatePortCommand, RemovePortCommand,
                                     UpdateInterfaceCommand, plugged_external_ids)
from neutrino.agent.idl import row_map, row_value
from neutrino.agent.local import LocalState
from neutrino.log import RateLimitedLog, fmt
from neutrino.agent.provider import OpType, PortContextIn, PortContextOut
from neutrino.agent.registry import ProviderHandle, ProviderRegistry
from neutrino.agent.report import PlugOutcome, PlugOutcomes, PortProblem
from neutrino.agent.southbound import SouthboundState, can_bind, is_vif, requested_here
from neutrino.agent.writer import OvsWriter, PortOp
from neutrino.plugproto import OVN_PLUGGED, VIF_PLUG_MTU, VIF_PLUG_TYPE, Problem

LOG = logging.getLogger(__name__)

_INT = re.compile(r"^\s*[+-]?\d+$")

#: Problems of a plug attempt that count as a failed plug of its provider.
FAILED_PLUG = frozenset({Problem.DECLINED, Problem.PROVIDER_ERROR})


def mtu_request(options: dict[str, str]) -> int:
    """``vif-plug-mtu-request`` as C's ``smap_get_int(..., 0)``: 0 when absent or
    not an integer; values <= 0 mean "no request"."""
    value = options.get(VIF_PLUG_MTU)
    if value is None or not _INT.match(value):
        return 0
    return int(value)


@dataclass
class Ask:
    """A ``prepare`` a port needs before the agent can decide about it. Asks are
    batched per provider, so a pass costs one thread hand-off per provider."""

    lport: str
    kind: str  # "plug", "update" or "unplug"
    handle: ProviderHandle
    ctx_in: PortContextIn
    ctx_out: PortContextOut | None
    plug_type: str
    iface: ovs.db.idl.Row | None = None
    mtu: int = 0
    result: CallResult | None = None


@dataclass
class PassContext:
    """Everything one pass decides against."""

    bridge: ovs.db.idl.Row
    chassis: ovs.db.idl.Row
    can_unplug: bool


class Reconciler:
    """Turns the current rows into port changes and port problems."""

    def __init__(self, local: LocalState, sb: SouthboundState, registry: ProviderRegistry,
                 writer: OvsWriter, outcomes: PlugOutcomes) -> None:
        self.local = local
        self.sb = sb
        self.registry = registry
        self.writer = writer
        #: where failed plug attempts are counted (the agent's, kept across reconnects)
        self.outcomes = outcomes
        #: lport -> why it is not plugged as requested (reported in SB).
        self.problems: dict[str, PortProblem] = {}
        #: ports whose provider call was not made this pass (deadline, busy provider)
        self.deferred: set[str] = set()
        self._log = RateLimitedLog(LOG)

    def all_keys(self, bridge: ovs.db.idl.Row) -> set[str]:
        """Every logical port a full pass must look at."""
        return (self.sb.lport_names() | self.local.plugged_ids_on_bridge(bridge.uuid)
                | set(self.problems))

    def name_conflicts(self) -> set[str]:
        """Ports waiting for an interface name another port holds: any OVS change
        may free it, so they ride along with every pass."""
        return {k for k, p in self.problems.items() if p.code is Problem.NAME_CONFLICT}

    def run(self, ctx: PassContext, keys: Iterable[str]) -> list[PortOp]:
        """Evaluate ``keys`` (sorted, so a name contest has a stable winner)."""
        self.deferred = set()
        plans: list[tuple[str, PortProblem | None | list[Ask]]] = []
        for lport in sorted(keys):
            if lport not in self.writer.inflight:
                plans.append((lport, self._plan(ctx, lport)))
        self._ask([a for _, plan in plans if isinstance(plan, list) for a in plan])
        claims = self.writer.claimed_names()
        ops: list[PortOp] = []
        for lport, plan in plans:
            if not isinstance(plan, list):
                self._set_problem(lport, plan)
                continue
            problem: PortProblem | None = None
            for ask in plan:
                assert ask.result is not None
                if ask.result.deferred:
                    self.deferred.add(lport)
                elif ask.kind == "unplug":
                    self._decide_unplug(ctx, ask, ops)
                else:
                    problem = self._decide_plug(ctx, ask, claims, ops)
                    if ask.kind == "plug" and problem is not None and problem.code in FAILED_PLUG:
                        self.outcomes.add(ask.handle.type, PlugOutcome.FAILED)
            if lport not in self.deferred:
                self._set_problem(lport, problem)
        return ops

    # -- phase 1: what each port needs -------------------------------------------
    def _plan(self, ctx: PassContext, lport: str) -> PortProblem | None | list[Ask]:
        pb = self.sb.port_binding(lport)
        ifaces = self.local.ifaces_on_bridge(lport, ctx.bridge.uuid)
        ours = [i for i in ifaces if OVN_PLUGGED in row_map(i, "external_ids")]
        foreign = [i for i in ifaces if OVN_PLUGGED not in row_map(i, "external_ids")]
        bridge = row_value(ctx.bridge, "name")
        if pb is not None and can_bind(pb, ctx.chassis).value:
            # Requested here (or may be bound here): plug or update, never unplug.
            options = row_map(pb, "options")
            plug_type = options.get(VIF_PLUG_TYPE)
            if plug_type is None or not requested_here(pb, ctx.chassis):
                return None
            if not ours and not is_vif(pb):
                return None
            handle = self.registry.get(plug_type)
            if handle is None:
                return PortProblem(Problem.UNKNOWN_TYPE,
                                   f"no VIF plug provider for vif-plug-type '{plug_type}' on "
                                   f"chassis {ctx.chassis.name} (available: "
                                   f"{', '.join(self.registry.types()) or 'none'})")
            if foreign:
                iface = foreign[0]
                return PortProblem(Problem.FOREIGN_INTERFACE,
                                   f"interface {row_value(iface, 'name')} ({iface.uuid}) with "
                                   f"iface-id={lport} exists but was not plugged by a VIF plug "
                                   "provider; it is left alone")
            existing = ours[0] if ours else None
            ctx_in = PortContextIn(
                op=OpType.CREATE, lport_name=lport, lport_options=options, bridge=bridge,
                iface_name=row_value(existing, "name") if existing else None,
                iface_type=row_value(existing, "type") if existing else None,
                iface_options=row_map(existing, "options") if existing else {})
            return [Ask(lport, "update" if existing else "plug", handle, ctx_in,
                        PortContextOut(), plug_type, existing, mtu_request(options))]
        self.writer.isolated.discard(lport)
        if not ctx.can_unplug:
            return None
        asks = []
        for iface in ours:
            plug_type = row_map(iface, "external_ids")[OVN_PLUGGED]
            handle = self.registry.get(plug_type)
            if handle is None:
                self._log.warning(("unplug-unknown", lport), "unable to open VIF plug "
                                  "provider; interface left plugged", type=plug_type,
                                  iface_id=lport)
                continue
            if iface.uuid not in self.local.ix.port_of_iface:
                continue
            ctx_in = PortContextIn(
                op=OpType.REMOVE, lport_name=lport,
                lport_options=row_map(pb, "options") if pb is not None else {},
                bridge=bridge, iface_name=row_value(iface, "name"),
                iface_type=row_value(iface, "type"), iface_options=row_map(iface, "options"))
            asks.append(Ask(lport, "unplug", handle, ctx_in, None, plug_type, iface))
        return asks

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
            for ask, result in zip(items, results):
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
        ops.append(PortOp(lport, "plug", command, handle, ask.ctx_in, ctx_out))
        return None

    def _update(self, ask: Ask, external_ids: dict[str, str],
                ops: list[PortOp]) -> PortProblem | None:
        lport, handle, ctx_out, iface = ask.lport, ask.handle, ask.ctx_out, ask.iface
        assert ctx_out is not None and iface is not None
        name = row_value(iface, "name")
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
        op = PortOp(lport, "update", command, handle, ask.ctx_in, ctx_out)
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
        name = row_value(iface, "name")
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
        ops.append(PortOp(lport, "unplug", command, ask.handle, ask.ctx_in, None))

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
