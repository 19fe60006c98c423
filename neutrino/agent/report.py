"""What the agent tells Neutrino through the Southbound database.

The agent writes into its chassis's ``Chassis_Private.external_ids`` (the row
ovn-controller owns for per-chassis state that changes often, where Neutron's
OVN agents report too). The keys and codes are the plug protocol's
(``neutrino.plugproto``, shared with the OVN driver that reads them):

* the heartbeat, written every ``interval`` seconds while the agent runs and
  deleted when it stops cleanly;
* the info JSON, rewritten only when it changes. ``plug_outcomes`` counts, per
  provider type, since the agent started (see :class:`PlugOutcome`); the counts
  are folded in at heartbeat time only, so a burst of plugs costs no SB writes
  of its own;
* one error per port requested on this chassis that the agent cannot plug as
  asked, deleted as soon as the problem is gone.

The reporter is level-triggered: each flush compares the desired keys with the
row and writes only the difference, in one small transaction, so an idle agent
writes nothing but the heartbeat.
"""
from __future__ import annotations

import enum
import json
import logging
import os
import time
from collections import Counter
from collections.abc import Iterable

import ovs.db.idl

from neutrino.agent.commands import ExternalIdsCommand
from neutrino.agent.idl import row_map
from neutrino.log import fmt
from neutrino.plugproto import AGENT_HEARTBEAT, AGENT_INFO, AGENT_PREFIX, PortProblem, error_key

LOG = logging.getLogger(__name__)


class PlugOutcome(enum.StrEnum):
    """What became of a plug or unplug, counted per provider type."""

    #: A new interface was committed to the OVS DB.
    PLUGGED = "plugged"
    #: A plug attempt failed: the provider declined, raised, overran its deadline
    #: or gave no name, or the OVS DB rejected that port's transaction on its own.
    #: A port that keeps failing counts once per attempt. Waiting for a busy
    #: provider or a taken name, and failed updates of plugged ports, do not count.
    FAILED = "failed"
    #: An interface was removed from the OVS DB.
    UNPLUGGED = "unplugged"
    #: An interface ovn-controller claimed but never installed was plugged again
    #: (``neutrino.agent.install_watch``); its unplug and plug count too.
    REPLUGGED = "replugged"


class PlugOutcomes:
    """:class:`PlugOutcome` counts per provider type since the agent started.
    Types given at the start are reported with zeros before their first outcome."""

    def __init__(self, types: Iterable[str] = ()) -> None:
        self._counts: dict[str, Counter[PlugOutcome]] = {t: Counter() for t in types}

    def add(self, plug_type: str, outcome: PlugOutcome) -> None:
        self._counts.setdefault(plug_type, Counter())[outcome] += 1

    def snapshot(self) -> dict[str, dict[str, int]]:
        return {t: {o.value: counts[o] for o in PlugOutcome}
                for t, counts in self._counts.items()}


class SbReporter:
    """Keeps our keys in ``Chassis_Private.external_ids`` equal to the desired ones."""

    def __init__(self, interval: float, version: str) -> None:
        self.interval = interval
        self.version = version
        self.started_at = int(time.time())
        self._next_heartbeat = 0.0
        self._heartbeat = ""
        self._outcomes: dict[str, dict[str, int]] = {}
        self._txn: ovs.db.idl.Transaction | None = None
        self._retry_at = 0.0

    def desired(self, problems: dict[str, PortProblem], providers: dict[str, str],
                outcomes: PlugOutcomes, now: float) -> dict[str, str]:
        if now >= self._next_heartbeat:
            self._heartbeat = str(int(time.time()))
            self._next_heartbeat = now + self.interval
            # Taken with the heartbeat, not live: counts change with every plug
            # and would otherwise cost an SB transaction each.
            self._outcomes = outcomes.snapshot()
        info = json.dumps({"version": self.version, "pid": os.getpid(),
                           "interval": self.interval, "started_at": self.started_at,
                           "providers": providers, "plug_outcomes": self._outcomes},
                          sort_keys=True)
        keys = {AGENT_HEARTBEAT: self._heartbeat, AGENT_INFO: info}
        for lport, problem in problems.items():
            keys[error_key(lport)] = problem.render()
        return keys

    def seconds_to_heartbeat(self, now: float) -> float:
        return max(0.0, self._next_heartbeat - now)

    def flush(self, idl: ovs.db.idl.Idl, row: ovs.db.idl.Row, desired: dict[str, str]) -> None:
        """Write the difference between ``desired`` and the row, unless a write
        is still in flight (the next flush then sees its result)."""
        if self._txn is not None:
            status = self._txn.commit()
            if status == ovs.db.idl.Transaction.INCOMPLETE:
                return
            if status not in (ovs.db.idl.Transaction.SUCCESS, ovs.db.idl.Transaction.UNCHANGED):
                LOG.warning(fmt("SB report write failed", error=self._txn.get_error()))
                self._retry_at = time.monotonic() + 1.0
            self._txn = None
        if time.monotonic() < self._retry_at:
            return
        current = {k: v for k, v in row_map(row, "external_ids").items()
                   if k.startswith(AGENT_PREFIX)}
        command = ExternalIdsCommand(
            "Chassis_Private", row.uuid,
            set_keys={k: v for k, v in desired.items() if current.get(k) != v},
            del_keys=sorted(k for k in current if k not in desired))
        if not command.set_keys and not command.del_keys:
            return
        txn = ovs.db.idl.Transaction(idl)
        command.run_idl(txn)
        if txn.commit() == ovs.db.idl.Transaction.INCOMPLETE:
            self._txn = txn

    def withdraw(self, idl: ovs.db.idl.Idl, row: ovs.db.idl.Row) -> None:
        """Delete the heartbeat and info on a clean exit (blocking, best effort)."""
        txn = ovs.db.idl.Transaction(idl)
        ExternalIdsCommand("Chassis_Private", row.uuid,
                           del_keys=[AGENT_HEARTBEAT, AGENT_INFO]).run_idl(txn)
        status = txn.commit()
        deadline = time.monotonic() + 2.0
        while status == ovs.db.idl.Transaction.INCOMPLETE and time.monotonic() < deadline:
            idl.run()
            status = txn.commit()
            time.sleep(0.01)
