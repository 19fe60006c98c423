"""OVSDB IDL connections for the agent: what to monitor, and when the data is complete.

The agent runs both IDLs in its own loop (no background thread), like
ovn-controller, so a reconcile pass always sees one consistent snapshot of each
database and writes are committed without blocking.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Callable
from typing import Any

import ovs.db.idl
from ovsdbapp.backend.ovs_idl import idlutils

LOG = logging.getLogger(__name__)

#: event, row, old values of changed columns (updates only)
RowListener = Callable[[str, ovs.db.idl.Row, Any], None]

OVS_COLUMNS: dict[str, list[str]] = {
    "Open_vSwitch": ["external_ids", "bridges"],
    "Bridge": ["name", "ports"],
    "Port": ["name", "interfaces"],
    "Interface": ["name", "type", "options", "external_ids", "mtu_request"],
}

SB_COLUMNS: dict[str, list[str]] = {
    "Chassis": ["name", "hostname"],
    "Chassis_Private": ["name", "external_ids", "nb_cfg"],
    "Port_Binding": ["logical_port", "type", "parent_port", "options", "requested_chassis",
                     "requested_additional_chassis", "chassis"],
}


def fetch_schema(remote: str, schema_name: str,
                 columns: dict[str, list[str]]) -> ovs.db.idl.SchemaHelper:
    """Get the schema from the server and register the columns it has.

    Columns missing from an older schema are skipped, so the agent works with
    any OVN release that has ``Port_Binding.requested_chassis``.
    """
    helper = idlutils.get_schema_helper(remote, schema_name)
    tables = helper.schema_json["tables"]
    for table, wanted in columns.items():
        present = [c for c in wanted if c in tables[table]["columns"]]
        helper.register_columns(table, present)
    return helper


def ref_uuids(row: ovs.db.idl.Row, column: str) -> set[uuid.UUID]:
    """UUIDs held by a reference column, without resolving them to rows.

    ``row.<column>`` converts the whole set to rows on every access, which is
    costly for ``Bridge.ports`` with thousands of ports and drops references to
    rows this IDL does not monitor; the raw datum has what is needed.
    """
    datum = row._data.get(column) if row._data is not None else None  # noqa: SLF001 - see above
    if datum is None:
        return set()
    return {atom.value for atom in datum.values}


def row_map(row: ovs.db.idl.Row, column: str) -> dict[str, str]:
    """A string map column as a dict, read from the row's committed data.

    ``row.<column>`` re-encodes and re-decodes the whole map on every access
    (it merges pending transaction changes), which dominates a pass over
    thousands of rows; the agent never reads rows it is modifying.
    """
    datum = row._data.get(column) if row._data is not None else None  # noqa: SLF001 - see above
    if datum is None:
        return {}
    return {k.value: v.value for k, v in datum.values.items()}


def row_value(row: ovs.db.idl.Row, column: str) -> Any:
    """A scalar or optional (0 or 1 value) column's value, or None; see :func:`row_map`."""
    datum = row._data.get(column) if row._data is not None else None  # noqa: SLF001 - as above
    if datum is None or not datum.values:
        return None
    return next(iter(datum.values)).value


class TrackedIdl(ovs.db.idl.Idl):
    """An IDL that tells a listener about every row change, and whether its
    contents are complete ("loaded") since the current connection was made."""

    def __init__(self, remote: str, helper: ovs.db.idl.SchemaHelper,
                 listener: RowListener) -> None:
        super().__init__(remote, helper, leader_only=False)
        self._listener = listener

    def notify(self, event: str, row: ovs.db.idl.Row, updates: Any = None) -> None:
        # The IDL also notifies rows of the _Server database it monitors itself.
        if self.tables.get(row._table.name) is row._table:  # noqa: SLF001 - no public name
            self._listener(event, row, updates)

    @property
    def connection_seqno(self) -> int:
        """Changes on every (re)connection of the session."""
        return int(self._session.get_seqno())

    def loaded(self) -> bool:
        """True when connected, the monitor reply of this connection has been
        processed and every condition change has been acknowledged: only then
        does the IDL hold all rows that match the current conditions."""
        if not self._session.is_connected() or self.state != self.IDL_S_MONITORING:
            return False
        if self.cond_changed:
            return False
        return all(t.condition_state.new is None and t.condition_state.requested is None
                   for t in self.tables.values())

    def condition_acked(self, table: str, condition: list[Any]) -> bool:
        return bool(self.tables[table].condition_state.acked == condition)
