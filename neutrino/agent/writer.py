"""Commits port changes to the local OVS DB without letting one port stall the others.

OVN's C code writes all ports of an iteration in one transaction, so one bad
port (say two logical ports whose names cut to the same interface name) fails
every iteration and blocks every other port. Here changes are batched for speed
too, but a batch that fails is never retried as a whole: each of its ports is
retried in a transaction of its own ("isolated"), so the failure stays with
the ports that cause it. Transactions are pipelined: several may be in flight.

The provider contract is kept per port: ``finish`` only after the commit,
``release`` exactly once, whatever the outcome.
"""
from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass
from typing import TypeAlias

import ovs.db.idl

from neutrino.agent.commands import Command, CreatePortCommand, RowGone
from neutrino.agent.provider import PortContextIn, PortContextOut
from neutrino.agent.registry import ProviderHandle
from neutrino.log import fmt

LOG = logging.getLogger(__name__)

Txn: TypeAlias = ovs.db.idl.Transaction


@dataclass
class PortOp:
    """One port's planned change and the provider context that goes with it."""

    lport: str
    kind: str  # "plug", "update" or "unplug"
    command: Command
    handle: ProviderHandle
    ctx_in: PortContextIn
    ctx_out: PortContextOut | None

    @property
    def creates_name(self) -> str | None:
        return self.command.name if isinstance(self.command, CreatePortCommand) else None

    def finish(self) -> None:
        self.handle.caller.post("finish", self.ctx_in, self.ctx_out)

    def release(self) -> None:
        """Free the provider's ``CREATE`` context; removals have none."""
        if self.ctx_out is not None:
            self.handle.caller.post("release", self.ctx_in, self.ctx_out)


@dataclass
class Outcome:
    """What became of one port's change. ``error`` is set for a failure of that
    port alone; ``retry`` asks for another attempt soon (transient failure, or
    the port is now isolated after a failed batch)."""

    op: PortOp
    ok: bool
    retry: bool = False
    error: str | None = None


class OvsWriter:
    """Batches, commits and tracks port changes; see the module docstring."""

    def __init__(self, max_batch: int = 500) -> None:
        self.max_batch = max_batch
        #: lport -> change in flight; such ports are skipped by reconcile passes.
        self.inflight: dict[str, PortOp] = {}
        #: ports that were in a failed batch: they go alone until they succeed.
        self.isolated: set[str] = set()
        self._txns: list[tuple[Txn, list[PortOp]]] = []
        #: committed changes by kind ("plug", "update", "unplug"), for tests and benchmarks.
        self.committed: Counter[str] = Counter()

    def claimed_names(self) -> dict[str, str]:
        """Interface names being created by changes in flight -> their lport."""
        return {name: op.lport for op in self.inflight.values()
                if (name := op.creates_name) is not None}

    def submit(self, idl: ovs.db.idl.Idl, ops: list[PortOp]) -> list[Outcome]:
        """Start transactions for ``ops``; returns outcomes known at once."""
        batch = [op for op in ops if op.lport not in self.isolated]
        groups = [batch[i:i + self.max_batch] for i in range(0, len(batch), self.max_batch)]
        groups += [[op] for op in ops if op.lport in self.isolated]
        outcomes: list[Outcome] = []
        for group in groups:
            outcomes += self._start(idl, group)
        return outcomes

    def _start(self, idl: ovs.db.idl.Idl, ops: list[PortOp]) -> list[Outcome]:
        txn = Txn(idl)
        txn.add_comment("neutrino plug-agent: " + ", ".join(f"{o.kind} {o.lport}"
                                                            for o in ops[:5]))
        live: list[PortOp] = []
        outcomes: list[Outcome] = []
        for op in ops:
            try:
                op.command.run_idl(txn)
                live.append(op)
            except RowGone as exc:
                op.release()
                outcomes.append(Outcome(op, ok=False, retry=True, error=f"row gone: {exc}"))
        status = txn.commit()
        for op in live:
            self.inflight[op.lport] = op
        if status == Txn.INCOMPLETE:
            self._txns.append((txn, live))
        else:
            outcomes += self._complete(txn, live, status)
        return outcomes

    def poll(self) -> list[Outcome]:
        """Collect transactions that completed during the last ``Idl.run()``."""
        outcomes: list[Outcome] = []
        still: list[tuple[Txn, list[PortOp]]] = []
        for txn, ops in self._txns:
            status = txn.commit()
            if status == Txn.INCOMPLETE:
                still.append((txn, ops))
            else:
                outcomes += self._complete(txn, ops, status)
        self._txns = still
        return outcomes

    def _complete(self, txn: Txn, ops: list[PortOp], status: int) -> list[Outcome]:
        outcomes = []
        for op in ops:
            self.inflight.pop(op.lport, None)
        if status in (Txn.SUCCESS, Txn.UNCHANGED):
            for op in ops:
                op.finish()
                op.release()
                self.isolated.discard(op.lport)
                self.committed[op.kind] += 1
                outcomes.append(Outcome(op, ok=True))
            return outcomes
        error = txn.get_error()
        for op in ops:
            op.release()
        if status == Txn.TRY_AGAIN:
            return [Outcome(op, ok=False, retry=True) for op in ops]
        if len(ops) > 1:
            LOG.warning(fmt("OVS transaction failed; retrying its ports one by one",
                            ports=len(ops), error=error))
            self.isolated.update(op.lport for op in ops)
            return [Outcome(op, ok=False, retry=True) for op in ops]
        LOG.warning(fmt("OVS transaction failed", lport=ops[0].lport, change=ops[0].kind,
                        error=error))
        return [Outcome(op, ok=False, error=error) for op in ops]

    def abandon(self) -> None:
        """On exit: release every context still in flight (nothing is finished)."""
        for _, ops in self._txns:
            for op in ops:
                op.release()
        self._txns = []
        self.inflight.clear()
