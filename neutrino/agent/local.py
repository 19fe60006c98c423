"""The chassis's local OVS database as the agent sees it: indexes and changed ports.

Indexes are kept up to date from the IDL's row notifications, so a reconcile
pass costs in proportion to the ports that changed, not to all ports. A full
rebuild (after a reconnect, and on every periodic full pass) repairs anything
an incremental update could have missed, e.g. rows the IDL dropped without
notification when it reloaded the database.
"""
from __future__ import annotations

import uuid
from dataclasses import dataclass, field

import ovs.db.idl

from neutrino.agent.idl import ref_uuids, row_map, row_value
from neutrino.plugproto import IFACE_ID, OVN_PLUGGED


@dataclass
class LocalIndexes:
    iface_id_of: dict[uuid.UUID, str] = field(default_factory=dict)
    ifaces_by_id: dict[str, set[uuid.UUID]] = field(default_factory=dict)
    iface_by_name: dict[str, uuid.UUID] = field(default_factory=dict)
    iface_name_of: dict[uuid.UUID, str] = field(default_factory=dict)
    port_by_name: dict[str, uuid.UUID] = field(default_factory=dict)
    port_name_of: dict[uuid.UUID, str] = field(default_factory=dict)
    port_of_iface: dict[uuid.UUID, uuid.UUID] = field(default_factory=dict)
    ifaces_of_port: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)
    ports_of_bridge: dict[uuid.UUID, set[uuid.UUID]] = field(default_factory=dict)


class LocalState:
    """Indexes over the local OVS DB plus the set of logical ports whose rows changed."""

    def __init__(self) -> None:
        self.idl: ovs.db.idl.Idl | None = None
        self.ix = LocalIndexes()
        self.dirty: set[str] = set()
        #: Open_vSwitch or Bridge rows changed: settings or br-int may differ.
        self.config_changed = True

    # -- notifications -----------------------------------------------------
    def on_row(self, event: str, row: ovs.db.idl.Row, old: ovs.db.idl.Row | None) -> None:
        table = row._table.name  # noqa: SLF001 - an ovs Row's table has no public name
        if table == "Interface":
            if not self._irrelevant_update(event, row, old):
                self._on_iface(event, row)
        elif table == "Port":
            self._on_port(event, row)
        elif table == "Bridge":
            self._on_bridge(event, row, old)
        else:
            self.config_changed = True

    @staticmethod
    def _irrelevant_update(event: str, row: ovs.db.idl.Row, old: ovs.db.idl.Row | None) -> bool:
        """An update of ``external_ids`` keys the agent neither reads nor writes
        (ovn-controller's ``ovn-installed`` markers on every plugged port)."""
        if event != ovs.db.idl.ROW_UPDATE or old is None:
            return False
        changed = set(old._data)  # noqa: SLF001 - the old values of changed columns
        if changed != {"external_ids"}:
            return False
        before, after = row_map(old, "external_ids"), row_map(row, "external_ids")
        return all(before.get(k) == after.get(k) for k in (IFACE_ID, OVN_PLUGGED))

    def _on_iface(self, event: str, row: ovs.db.idl.Row) -> None:
        ix = self.ix
        old_id = ix.iface_id_of.pop(row.uuid, None)
        if old_id is not None:
            self._discard(ix.ifaces_by_id, old_id, row.uuid)
            self.dirty.add(old_id)
        old_name = ix.iface_name_of.pop(row.uuid, None)
        if old_name is not None and ix.iface_by_name.get(old_name) == row.uuid:
            del ix.iface_by_name[old_name]
        if event == ovs.db.idl.ROW_DELETE:
            return
        name = row_value(row, "name")
        ix.iface_by_name[name] = row.uuid
        ix.iface_name_of[row.uuid] = name
        new_id = row_map(row, "external_ids").get(IFACE_ID)
        if new_id is not None:
            ix.iface_id_of[row.uuid] = new_id
            ix.ifaces_by_id.setdefault(new_id, set()).add(row.uuid)
            self.dirty.add(new_id)

    def _on_port(self, event: str, row: ovs.db.idl.Row) -> None:
        ix = self.ix
        for iface in ix.ifaces_of_port.pop(row.uuid, set()):
            ix.port_of_iface.pop(iface, None)
            self._dirty_iface(iface)
        old_name = ix.port_name_of.pop(row.uuid, None)
        if old_name is not None and ix.port_by_name.get(old_name) == row.uuid:
            del ix.port_by_name[old_name]
        if event == ovs.db.idl.ROW_DELETE:
            return
        name = row_value(row, "name")
        ix.port_by_name[name] = row.uuid
        ix.port_name_of[row.uuid] = name
        ifaces = ref_uuids(row, "interfaces")
        ix.ifaces_of_port[row.uuid] = ifaces
        for iface in ifaces:
            ix.port_of_iface[iface] = row.uuid
            self._dirty_iface(iface)

    def _on_bridge(self, event: str, row: ovs.db.idl.Row, old: ovs.db.idl.Row | None) -> None:
        ix = self.ix
        before = ix.ports_of_bridge.pop(row.uuid, set())
        after = set() if event == ovs.db.idl.ROW_DELETE else ref_uuids(row, "ports")
        if event != ovs.db.idl.ROW_DELETE:
            ix.ports_of_bridge[row.uuid] = after
        if event != ovs.db.idl.ROW_UPDATE or (old is not None and "name" in old._data):  # noqa: SLF001 - changed columns
            self.config_changed = True
        for port in before ^ after:
            for iface in ix.ifaces_of_port.get(port, ()):
                self._dirty_iface(iface)

    def _dirty_iface(self, iface: uuid.UUID) -> None:
        lport = self.ix.iface_id_of.get(iface)
        if lport is not None:
            self.dirty.add(lport)

    @staticmethod
    def _discard(index: dict[str, set[uuid.UUID]], key: str, value: uuid.UUID) -> None:
        members = index.get(key)
        if members is not None:
            members.discard(value)
            if not members:
                del index[key]

    # -- full rebuild ------------------------------------------------------
    def rebuild(self) -> None:
        """Recompute every index from the IDL's rows."""
        assert self.idl is not None
        self.ix = LocalIndexes()
        tables = self.idl.tables
        for row in tables["Interface"].rows.values():
            self._on_iface(ovs.db.idl.ROW_CREATE, row)
        for row in tables["Port"].rows.values():
            self._on_port(ovs.db.idl.ROW_CREATE, row)
        for row in tables["Bridge"].rows.values():
            self.ix.ports_of_bridge[row.uuid] = ref_uuids(row, "ports")
        self.dirty.clear()

    def take_dirty(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty

    # -- queries -------------------------------------------------------------
    def settings(self) -> dict[str, str]:
        """``Open_vSwitch`` external_ids (system-id, ovn-remote, ovn-bridge...)."""
        assert self.idl is not None
        for row in self.idl.tables["Open_vSwitch"].rows.values():
            return row_map(row, "external_ids")
        return {}

    def bridge(self, name: str) -> ovs.db.idl.Row | None:
        assert self.idl is not None
        for row in self.idl.tables["Bridge"].rows.values():
            if row_value(row, "name") == name:
                return row
        return None

    def iface(self, iface_uuid: uuid.UUID) -> ovs.db.idl.Row | None:
        assert self.idl is not None
        return self.idl.tables["Interface"].rows.get(iface_uuid)

    def ifaces_on_bridge(self, lport: str, bridge: uuid.UUID) -> list[ovs.db.idl.Row]:
        """Interfaces with ``iface-id=lport`` in ports of ``bridge``, sorted by name."""
        ix = self.ix
        ports = ix.ports_of_bridge.get(bridge, set())
        rows = []
        for iface_uuid in ix.ifaces_by_id.get(lport, ()):
            if ix.port_of_iface.get(iface_uuid) in ports and (row := self.iface(iface_uuid)):
                rows.append(row)
        return sorted(rows, key=lambda r: str(row_value(r, "name")))

    def plugged_ids_on_bridge(self, bridge: uuid.UUID) -> set[str]:
        """Logical ports of every interface with ``ovn-plugged`` on ``bridge``."""
        ports = self.ix.ports_of_bridge.get(bridge, set())
        result = set()
        for iface_uuid, lport in self.ix.iface_id_of.items():
            if self.ix.port_of_iface.get(iface_uuid) in ports:
                row = self.iface(iface_uuid)
                if row is not None and OVN_PLUGGED in row_map(row, "external_ids"):
                    result.add(lport)
        return result

    def name_owner(self, name: str) -> str | None:
        """Who holds an interface or port called ``name``: its iface-id, or a
        description of the foreign row; None if the name is free."""
        iface_uuid = self.ix.iface_by_name.get(name)
        if iface_uuid is not None:
            lport = self.ix.iface_id_of.get(iface_uuid)
            return f"lport {lport}" if lport else f"interface {name} ({iface_uuid})"
        port_uuid = self.ix.port_by_name.get(name)
        if port_uuid is not None:
            return f"port {name} ({port_uuid})"
        return None
