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

from neutrino.agent.commands import (CreatePortCommand, RemovePortCommand,
                                     UpdateInterfaceCommand, plugged_external_ids)
from neutrino.agent.local import OVN_PLUGGED, LocalState
from neutrino.agent.logs import RateLimitedLog, fmt
from neutrino.agent.provider import OpType, PortContextIn, PortContextOut
from neutrino.agent.registry import ProviderHandle, ProviderRegistry
from neutrino.agent.report import Problem, PortProblem
from neutrino.agent.southbound import SouthboundState, can_bind, is_vif, requested_here
from neutrino.agent.writer import OvsWriter, PortOp

LOG = logging.getLogger(__name__)

OPT_TYPE = "vif-plug-type"
OPT_MTU = "vif-plug-mtu-request"

_INT = re.compile(r"^\s*[+-]?\d+$")


def mtu_request(options: dict[str, str]) -> int:
    """``vif-plug-mtu-request`` as C's ``smap_get_int(..., 0)``: 0 when absent or
    not an integer; values <= 0 mean "no request"."""
    value = options.get(OPT_MTU)
    if value is None or not _INT.match(value):
        return 0
    return int(value)


@dataclass
class PassContext:
    """Everything one pass decides against."""

    bridge: ovs.db.idl.Row
    chassis: ovs.db.idl.Row
    can_unplug: bool


class Reconciler:
    """Turns the current rows into port changes and port problems."""

    def __init__(self, local: LocalState, sb: SouthboundState, registry: ProviderRegistry,
                 writer: OvsWriter) -> None:
        self.local = local
        self.sb = sb
        self.registry = registry
        self.writer = writer
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

    def run(self, ctx: PassContext, keys: Iterable[str]) -> list[PortOp]:
        """Evaluate ``keys`` (sorted, so a name contest has a stable winner)."""
        claims = self.writer.claimed_names()
        ops: list[PortOp] = []
        for lport in sorted(keys):
            if lport in self.writer.inflight:
                continue
            problem = self._evaluate(ctx, lport, claims, ops)
            self._set_problem(lport, problem)
        return ops

    # -- per port --------------------------------------------------------------
    def _evaluate(self, ctx: PassContext, lport: str, claims: dict[str, str],
                  ops: list[PortOp]) -> PortProblem | None:
        pb = self.sb.port_binding(lport)
        ifaces = self.local.ifaces_on_bridge(lport, ctx.bridge.uuid)
        ours = [i for i in ifaces if OVN_PLUGGED in i.external_ids]
        foreign = [i for i in ifaces if OVN_PLUGGED not in i.external_ids]
        bind = can_bind(pb, ctx.chassis) if pb is not None else None
        if pb is not None and bind is not None and bind.value:
            # Requested here (or may be bound here): plug or update, never unplug.
            plug_type = pb.options.get(OPT_TYPE)
            if plug_type is None or not requested_here(pb, ctx.chassis):
                return None
            if not ours and not is_vif(pb):
                return None
            return self._plug(ctx, pb, plug_type, ours, foreign, claims, ops)
        self.writer.isolated.discard(lport)
        if ctx.can_unplug:
            for iface in ours:
                self._unplug(ctx, lport, pb, iface, ops)
        return None

    def _plug(self, ctx: PassContext, pb: ovs.db.idl.Row, plug_type: str,
              ours: list[ovs.db.idl.Row], foreign: list[ovs.db.idl.Row],
              claims: dict[str, str], ops: list[PortOp]) -> PortProblem | None:
        lport = pb.logical_port
        handle = self.registry.get(plug_type)
        if handle is None:
            return PortProblem(Problem.UNKNOWN_TYPE,
                               f"no VIF plug provider for vif-plug-type '{plug_type}' on "
                               f"chassis {ctx.chassis.name} (available: "
                               f"{', '.join(self.registry.types()) or 'none'})")
        if foreign:
            iface = foreign[0]
            return PortProblem(Problem.FOREIGN_INTERFACE,
                               f"interface {iface.name} ({iface.uuid}) with iface-id={lport} "
                               "exists but was not plugged by a VIF plug provider; "
                               "it is left alone")
        existing = ours[0] if ours else None
        ctx_in = PortContextIn(
            op=OpType.CREATE, lport_name=lport, lport_options=dict(pb.options),
            bridge=ctx.bridge.name,
            iface_name=existing.name if existing else None,
            iface_type=existing.type if existing else None,
            iface_options=dict(existing.options) if existing else {})
        ctx_out = PortContextOut()
        answer = handle.caller.call("prepare", ctx_in, ctx_out,
                                    on_late=lambda ok: self._late_release(handle, ok, ctx_in,
                                                                          ctx_out))
        if not answer.ok:
            return PortProblem(Problem.PROVIDER_ERROR,
                               f"provider '{plug_type}' failed: {answer.error}")
        if not answer.value:
            self._log.info(("declined", lport), "not plugging/updating lport on direction "
                           "from VIF plug provider", lport=lport, reason=ctx_out.reason)
            return PortProblem(Problem.DECLINED, f"provider '{plug_type}' declined: "
                               f"{ctx_out.reason or 'no reason given'}")
        if not isinstance(ctx_out.name, str) or not ctx_out.name:
            handle.caller.post("release", ctx_in, ctx_out)
            return PortProblem(Problem.PROVIDER_ERROR,
                               f"provider '{plug_type}' gave no interface name")
        external_ids = plugged_external_ids(lport, plug_type)
        mtu = mtu_request(pb.options)
        if existing is not None:
            return self._update(ctx, handle, existing, ctx_in, ctx_out, external_ids, mtu, ops)
        owner = self.local.name_owner(ctx_out.name) or (
            f"lport {claims[ctx_out.name]}" if ctx_out.name in claims else None)
        if owner is not None:
            handle.caller.post("release", ctx_in, ctx_out)
            return PortProblem(Problem.NAME_CONFLICT,
                               f"interface name {ctx_out.name} is already used by {owner}")
        claims[ctx_out.name] = lport
        LOG.info(fmt("plugging port", port=ctx_out.name, bridge=ctx.bridge.name, lport=lport,
                     type=plug_type))
        command = CreatePortCommand(ctx.bridge.uuid, ctx_out.name, ctx_out.type, external_ids,
                                    dict(ctx_out.iface_options), mtu)
        ops.append(PortOp(lport, "plug", command, handle, ctx_in, ctx_out))
        return None

    def _update(self, ctx: PassContext, handle: ProviderHandle, iface: ovs.db.idl.Row,
                ctx_in: PortContextIn, ctx_out: PortContextOut, external_ids: dict[str, str],
                mtu: int, ops: list[PortOp]) -> PortProblem | None:
        lport = ctx_in.lport_name
        if iface.name != ctx_out.name:
            handle.caller.post("release", ctx_in, ctx_out)
            self._log.warning(("name-change", lport), "incompatible change to existing port "
                              "refused; recreate the port", lport=lport, current=iface.name,
                              wanted=ctx_out.name)
            return PortProblem(Problem.NAME_CHANGE,
                               f"provider now wants interface name {ctx_out.name} but "
                               f"{iface.name} is plugged; recreate the port")
        command = UpdateInterfaceCommand.diff(iface, ctx_out.type, external_ids,
                                              ctx_out.iface_options, handle.maintained_options,
                                              mtu)
        op = PortOp(lport, "update", command, handle, ctx_in, ctx_out)
        if command.noop:
            op.finish()  # nothing to commit: the desired state is already there
            op.release()
            return None
        LOG.info(fmt("updating port", port=iface.name, lport=lport,
                     changes=",".join(command.changes)))
        ops.append(op)
        return None

    def _unplug(self, ctx: PassContext, lport: str, pb: ovs.db.idl.Row | None,
                iface: ovs.db.idl.Row, ops: list[PortOp]) -> None:
        plug_type = iface.external_ids[OVN_PLUGGED]
        handle = self.registry.get(plug_type)
        if handle is None:
            self._log.warning(("unplug-unknown", lport), "unable to open VIF plug provider; "
                              "interface left plugged", type=plug_type, iface_id=lport)
            return
        port = self.local.ix.port_of_iface.get(iface.uuid)
        if port is None:
            return
        ctx_in = PortContextIn(op=OpType.REMOVE, lport_name=lport,
                               lport_options=dict(pb.options) if pb is not None else {},
                               bridge=ctx.bridge.name, iface_name=iface.name,
                               iface_type=iface.type, iface_options=dict(iface.options))
        answer = handle.caller.call("prepare", ctx_in, None)
        if not answer.ok or not answer.value:
            self._log.info(("no-unplug", lport), "not unplugging iface on direction from VIF "
                           "plug provider", iface=iface.name, iface_id=lport,
                           error=answer.error or "")
            return
        LOG.info(fmt("unplugging port", port=iface.name, bridge=ctx.bridge.name,
                     iface_id=lport))
        command = RemovePortCommand(ctx.bridge.uuid, port,
                                    sorted(self.local.ix.ifaces_of_port.get(port, set())))
        ops.append(PortOp(lport, "unplug", command, handle, ctx_in, None))

    @staticmethod
    def _late_release(handle: ProviderHandle, ok: object, ctx_in: PortContextIn,
                      ctx_out: PortContextOut) -> None:
        """A ``prepare`` that overran its deadline said yes after all: its result
        was abandoned, so free what it allocated."""
        if ok is True:
            handle.provider.release(ctx_in, ctx_out)

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
