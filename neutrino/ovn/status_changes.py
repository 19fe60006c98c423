"""Which changes can change a status: the status worker's event filter, as named predicates.

Every NB row change reaches the worker, but most cannot change any status:
every port write also updates its switch's ``ports``, and northd's
``up=[false]`` on a new LSP changes no fact the status rules read.  Each
change let through costs a SQL write transaction, so the filter matters; it
is pure (rows before and after in, a verdict out) and tested row by row.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from neutrino.ovn import keys
from neutrino.ovn.nbcache import LspRow, SwitchRow
from neutrino.ovn.status_rules import LspView


def port_view(row: LspRow | None) -> LspView | None:
    """The status facts of an LSP Neutrino owns; None for no row or a row not Neutrino's."""
    return LspView.of(row) if row is not None and keys.PORT_ID in row.external_ids else None


def lsp_status_changed(before: LspRow | None, after: LspRow | None) -> bool:
    """An LSP change that can change its port's status: a fact of the status rules
    changed, or Neutrino rewrote the row (a new revision: the core may have rewritten
    the status meanwhile, e.g. a binding committed after the port went ACTIVE)."""
    if port_view(before) != port_view(after):
        return True
    return before is not None and after is not None and \
        before.external_ids.get(keys.REVISION) != after.external_ids.get(keys.REVISION)


def plug_grace_starts(before: LspView | None, after: LspView | None) -> bool:
    """The port's LSP appeared, or moved to another chassis: its interface is about to
    be plugged, so a transient "interface not present" is worth holding back."""
    return after is not None and (before is None or
                                  before.requested_chassis != after.requested_chassis)


def port_gone(before: LspView | None, after: LspView | None) -> bool:
    return before is not None and after is None


def switch_networks_changed(before: SwitchRow | None, after: SwitchRow | None) -> set[str]:
    """Networks whose status a switch change can change: its network's switch appeared
    or went (or the row now mirrors another network); none for any other change."""
    ids = {_network_id(before), _network_id(after)}
    return {i for i in ids if i} if len(ids) > 1 else set()


def _network_id(row: Any) -> str | None:
    return row.external_ids.get(keys.NETWORK_ID) if row is not None else None


@dataclass(frozen=True)
class LivenessChange:
    """Chassis (and plug agents) whose liveness changed since the last look."""

    went_down: frozenset[str]
    came_back: frozenset[str]


def liveness_changed(before: set[str], after: set[str]) -> LivenessChange | None:
    """What changed between two sets of live chassis names; None if nothing did."""
    if before == after:
        return None
    return LivenessChange(went_down=frozenset(before - after),
                          came_back=frozenset(after - before))
