"""ovsdbapp-style command objects: each one knows how to write itself into a transaction.

Commands are built during a reconcile pass from the rows the pass saw, and
applied with :meth:`run_idl` to a non-blocking ``ovs.db.idl.Transaction``.
All writes to existing sets and maps are mutations (add/remove a value, set or
delete a key), so concurrent writers of other keys (ovn-controller sets
``ovn-installed``) never make a transaction fail.
"""
from __future__ import annotations

import abc
import uuid
from dataclasses import dataclass, field

import ovs.db.idl

from neutrino.agent.idl import row_map, row_value
from neutrino.plugproto import IFACE_ID, OVN_PLUGGED


class RowGone(Exception):
    """A row the command refers to disappeared before the transaction was built."""


def _row(txn: ovs.db.idl.Transaction, table: str, row_uuid: uuid.UUID) -> ovs.db.idl.Row:
    row = txn.idl.tables[table].rows.get(row_uuid)
    if row is None:
        raise RowGone(f"{table} {row_uuid}")
    return row


class Command(abc.ABC):
    """Same shape as ``ovsdbapp.backend.ovs_idl.command.BaseCommand.run_idl``."""

    @abc.abstractmethod
    def run_idl(self, txn: ovs.db.idl.Transaction) -> None:
        """Add this command's operations to ``txn``."""


@dataclass
class CreatePortCommand(Command):
    """Insert Interface + Port named ``name`` and add the port to the bridge,
    with the columns ovn-controller's ``ovsport_create`` writes."""

    bridge: uuid.UUID
    name: str
    iface_type: str | None
    external_ids: dict[str, str]
    options: dict[str, str]
    mtu_request: int

    def run_idl(self, txn: ovs.db.idl.Transaction) -> None:
        bridge = _row(txn, "Bridge", self.bridge)
        tables = txn.idl.tables
        iface = txn.insert(tables["Interface"])
        iface.name = self.name
        if self.iface_type is not None:
            iface.type = self.iface_type
        iface.external_ids = dict(self.external_ids)
        iface.options = dict(self.options)
        if self.mtu_request > 0:
            iface.mtu_request = [self.mtu_request]
        port = txn.insert(tables["Port"])
        port.name = self.name
        port.interfaces = [iface]
        bridge.addvalue("ports", port)


@dataclass
class RemovePortCommand(Command):
    """Delete a port and its interfaces and take it off the bridge
    (ovn-controller's ``ovsport_remove``)."""

    bridge: uuid.UUID
    port: uuid.UUID
    interfaces: list[uuid.UUID]

    def run_idl(self, txn: ovs.db.idl.Transaction) -> None:
        bridge = _row(txn, "Bridge", self.bridge)
        port = _row(txn, "Port", self.port)
        for iface_uuid in self.interfaces:
            iface = txn.idl.tables["Interface"].rows.get(iface_uuid)
            if iface is not None:
                iface.delete()
        bridge.delvalue("ports", port)
        port.delete()


@dataclass
class UpdateInterfaceCommand(Command):
    """Bring an interface we plugged in line with the provider's answer
    (ovn-controller's ``ovsport_update_iface``): type if given and different,
    ``iface-id``/``ovn-plugged`` set (other external_ids untouched), maintained
    options set or deleted (other options untouched), ``mtu_request`` set or
    cleared. Only differences are written; :attr:`noop` when there are none."""

    iface: uuid.UUID
    set_type: str | None = None
    set_external_ids: dict[str, str] = field(default_factory=dict)
    set_options: dict[str, str] = field(default_factory=dict)
    del_options: list[str] = field(default_factory=list)
    mtu_request: int | None = None  # new value; 0 clears it; None leaves it
    changes: list[str] = field(default_factory=list)

    @classmethod
    def diff(cls, row: ovs.db.idl.Row, iface_type: str | None, external_ids: dict[str, str],
             options: dict[str, str], maintained: frozenset[str],
             mtu_request: int) -> UpdateInterfaceCommand:
        cmd = cls(row.uuid)
        if iface_type is not None and row_value(row, "type") != iface_type:
            cmd.set_type = iface_type
            cmd.changes.append("type")
        current_ids = row_map(row, "external_ids")
        for key, value in external_ids.items():
            if current_ids.get(key) != value:
                cmd.set_external_ids[key] = value
                cmd.changes.append(f"external_ids:{key}")
        current_options = row_map(row, "options")
        for key in sorted(maintained):
            want, have = options.get(key), current_options.get(key)
            if want is None and have is not None:
                cmd.del_options.append(key)
                cmd.changes.append(f"options:{key}")
            elif want is not None and want != have:
                cmd.set_options[key] = want
                cmd.changes.append(f"options:{key}")
        have_mtu = row_value(row, "mtu_request")
        if mtu_request > 0 and have_mtu != mtu_request:
            cmd.mtu_request = mtu_request
            cmd.changes.append("mtu_request")
        elif mtu_request <= 0 and have_mtu is not None:
            cmd.mtu_request = 0
            cmd.changes.append("mtu_request")
        return cmd

    @property
    def noop(self) -> bool:
        return not self.changes

    def run_idl(self, txn: ovs.db.idl.Transaction) -> None:
        iface = _row(txn, "Interface", self.iface)
        if self.set_type is not None:
            iface.type = self.set_type
        for key, value in self.set_external_ids.items():
            iface.setkey("external_ids", key, value)
        for key, value in self.set_options.items():
            iface.setkey("options", key, value)
        for key in self.del_options:
            iface.delkey("options", key)
        if self.mtu_request is not None:
            iface.mtu_request = [self.mtu_request] if self.mtu_request > 0 else []


@dataclass
class ExternalIdsCommand(Command):
    """Set and delete keys of one row's ``external_ids`` (the agent's SB report)."""

    table: str
    row: uuid.UUID
    set_keys: dict[str, str] = field(default_factory=dict)
    del_keys: list[str] = field(default_factory=list)

    def run_idl(self, txn: ovs.db.idl.Transaction) -> None:
        row = _row(txn, self.table, self.row)
        for key, value in self.set_keys.items():
            row.setkey("external_ids", key, value)
        for key in self.del_keys:
            row.delkey("external_ids", key)


def plugged_external_ids(lport: str, plug_type: str) -> dict[str, str]:
    """The markers ovn-controller writes on interfaces it plugged."""
    return {OVN_PLUGGED: plug_type, IFACE_ID: lport}
