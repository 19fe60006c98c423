"""A plain-Python copy of the NB rows Neutrino owns, kept current by IDL events.

Why not read the IDL rows directly: python-ovs 3.1 converts every set and map
column Python -> OVSDB -> Python on each attribute read (~10 us a column), so
looking at 10,000 ports for a full sync takes seconds — with the connection
lock held, which stalls the connection thread (heartbeats time out).  Here
each row is converted once per change, on the connection thread, from the
committed datum; a full sync then copies a few dicts.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from neutrino.ovn import keys


def _keep_uuid(value: Any, base_type: Any) -> Any:
    return value


def _column(row: Any, name: str) -> Any:
    """A committed column value; references stay UUIDs (no row lookups)."""
    # Only an ovs Row's _data holds the committed datum (getattr would resolve references).
    datum = row._data.get(name) if row._data is not None else None  # noqa: SLF001 - see above
    if datum is None:
        return getattr(row, name)
    return datum.to_python(_keep_uuid)


@dataclass(frozen=True)
class LspRow:
    uuid: UUID
    name: str
    type: str
    addresses: list[str]
    port_security: list[str]
    enabled: list[bool]
    up: list[bool]
    options: dict[str, str]
    tag: list[int]
    external_ids: dict[str, str]
    dhcpv4_options: list[UUID]
    dhcpv6_options: list[UUID]

    @classmethod
    def of(cls, row: Any) -> LspRow:
        return cls(uuid=row.uuid, **{c: _column(row, c) for c in (
            "name", "type", "addresses", "port_security", "enabled", "up", "options", "tag",
            "external_ids", "dhcpv4_options", "dhcpv6_options")})


@dataclass(frozen=True)
class SwitchRow:
    """No ``ports``: converting a 10,000-element set on every port write would cost more
    than everything else the worker does; ports are found through their own rows."""

    uuid: UUID
    name: str
    external_ids: dict[str, str]
    dns_records: list[UUID]

    @classmethod
    def of(cls, row: Any) -> SwitchRow:
        return cls(uuid=row.uuid, name=_column(row, "name"),
                   external_ids=_column(row, "external_ids"),
                   dns_records=_column(row, "dns_records"))


@dataclass(frozen=True)
class DnsRow:
    """Not kept in the cache: a network's row holds every named port's records, and
    converting it on each port write would cost more than the write.  The repair copies
    the rows once a pass (:func:`neutrino.ovn.commands.owned_dns`)."""

    uuid: UUID
    records: dict[str, str]
    external_ids: dict[str, str]

    @classmethod
    def of(cls, row: Any) -> DnsRow:
        return cls(uuid=row.uuid, records=_column(row, "records"),
                   external_ids=_column(row, "external_ids"))


@dataclass(frozen=True)
class DhcpRow:
    uuid: UUID
    cidr: str
    options: dict[str, str]
    external_ids: dict[str, str]

    @classmethod
    def of(cls, row: Any) -> DhcpRow:
        return cls(uuid=row.uuid, cidr=_column(row, "cidr"), options=_column(row, "options"),
                   external_ids=_column(row, "external_ids"))


@dataclass(frozen=True)
class MarkedRow:
    """A Logical_Router or NAT row: only its marks matter (which router, which floating IP)."""

    uuid: UUID
    external_ids: dict[str, str]

    @classmethod
    def of(cls, row: Any) -> MarkedRow:
        return cls(uuid=row.uuid, external_ids=_column(row, "external_ids"))


def uuid_set(row: Any, name: str) -> frozenset[UUID]:
    """A committed set-of-references column, unordered (``Datum.to_python`` would sort
    it, a Python comparison per step)."""
    datum = row._data.get(name) if row._data is not None else None  # noqa: SLF001 - see _column
    if datum is None:
        return frozenset(r.uuid for r in getattr(row, name))
    return frozenset(atom.value for atom in datum.values)


@dataclass(frozen=True)
class PortGroupRow:
    """No ``ports``: a security group's members change with every port created in it,
    and copying its thousands of members each time made every create cost more than
    the one before (the repair reads them from the IDL once a pass:
    :func:`neutrino.ovn.commands.port_group_members`)."""

    uuid: UUID
    name: str
    external_ids: dict[str, str]
    acls: frozenset[UUID]

    @classmethod
    def of(cls, row: Any) -> PortGroupRow:
        return cls(uuid=row.uuid, name=_column(row, "name"),
                   external_ids=_column(row, "external_ids"), acls=uuid_set(row, "acls"))


@dataclass(frozen=True)
class AclRow:
    uuid: UUID
    direction: str
    priority: int
    match: str
    action: str
    log: bool
    external_ids: dict[str, str]

    @classmethod
    def of(cls, row: Any) -> AclRow:
        return cls(uuid=row.uuid, **{c: _column(row, c) for c in (
            "direction", "priority", "match", "action", "log", "external_ids")})


Row = LspRow | SwitchRow | DhcpRow | PortGroupRow | AclRow | MarkedRow
#: external_ids keys that mark a row as Neutrino's.
OWNED = (keys.PORT_ID, keys.LOCALNET_OF, keys.NETWORK_ID, keys.SUBNET_ID,
         keys.SECURITY_GROUP_ID, keys.SECURITY_GROUP_RULE_ID, keys.DROP, keys.ROUTER_ID)


@dataclass
class Snapshot:
    """The owned rows at one moment, indexed the ways the worker and the repair ask."""

    ports: dict[str, LspRow] = field(default_factory=dict)
    localnets: dict[str, list[LspRow]] = field(default_factory=dict)
    switches: dict[str, SwitchRow] = field(default_factory=dict)
    dhcp: dict[str, DhcpRow] = field(default_factory=dict)
    #: Ports' own DHCP_Options rows (extra DHCP options), by port id.
    port_dhcp: dict[str, list[DhcpRow]] = field(default_factory=dict)
    #: Ids of the routers with a Logical_Router, and of the floating IPs with a NAT row.
    routers: set[str] = field(default_factory=set)
    floatingips: set[str] = field(default_factory=set)
    #: Port groups by name (security groups' and the drop group).
    port_groups: dict[str, PortGroupRow] = field(default_factory=dict)
    acls: dict[UUID, AclRow] = field(default_factory=dict)

    def dhcp_uuid(self, subnet_id: str | None) -> UUID | None:
        row = self.dhcp.get(subnet_id) if subnet_id else None
        return row.uuid if row is not None else None


class NbCache:
    """Updated from ``row_changed`` on the connection thread; read from any thread."""

    TABLES: dict[str, type[Row]] = {
        "Logical_Switch_Port": LspRow, "Logical_Switch": SwitchRow, "DHCP_Options": DhcpRow,
        "Port_Group": PortGroupRow, "ACL": AclRow, "Logical_Router": MarkedRow,
        "NAT": MarkedRow}

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: dict[str, dict[UUID, Any]] = {t: {} for t in self.TABLES}
        #: port id -> its LSP copy, for the per-event path.
        self._ports: dict[str, LspRow] = {}

    def row_changed(self, event: str, row: Any) -> tuple[Any, Any]:
        """Apply one IDL change; the row's copies before and after (None: not owned/absent)."""
        table = row._table.name  # noqa: SLF001 - an ovs Row's table has no public name
        kind = self.TABLES.get(table)
        if kind is None:
            return None, None
        copy = None
        if event != "delete":
            ext = _column(row, "external_ids")
            if any(k in ext for k in OWNED):
                copy = kind.of(row)
        with self._lock:
            old = self._rows[table].pop(row.uuid, None)
            if isinstance(old, LspRow) and old.external_ids.get(keys.PORT_ID):
                self._ports.pop(old.external_ids[keys.PORT_ID], None)
            if copy is not None:
                self._rows[table][row.uuid] = copy
                if isinstance(copy, LspRow) and copy.external_ids.get(keys.PORT_ID):
                    self._ports[copy.external_ids[keys.PORT_ID]] = copy
        return old, copy

    def prune(self, idl: Any) -> None:
        """Drop copies of rows the IDL no longer has.

        After a reconnect whose history the server lost, python-ovs clears its
        tables without delete notifications and reloads them; rows deleted
        meanwhile would otherwise linger here.
        """
        with self._lock:
            for table, rows in self._rows.items():
                for gone in rows.keys() - idl.tables[table].rows.keys():
                    old = rows.pop(gone)
                    if isinstance(old, LspRow) and old.external_ids.get(keys.PORT_ID):
                        self._ports.pop(old.external_ids[keys.PORT_ID], None)

    def ports(self, port_ids: list[str]) -> dict[str, LspRow]:
        with self._lock:
            return {p: self._ports[p] for p in port_ids if p in self._ports}

    def snapshot(self) -> Snapshot:
        with self._lock:
            lsps = list(self._rows["Logical_Switch_Port"].values())
            switches = list(self._rows["Logical_Switch"].values())
            dhcp = list(self._rows["DHCP_Options"].values())
            groups = list(self._rows["Port_Group"].values())
            acls = list(self._rows["ACL"].values())
            routers = list(self._rows["Logical_Router"].values())
            nats = list(self._rows["NAT"].values())
        snap = Snapshot(port_groups={g.name: g for g in groups}, acls={a.uuid: a for a in acls})
        snap.routers = {r.external_ids[keys.ROUTER_ID] for r in routers
                        if keys.ROUTER_ID in r.external_ids}
        snap.floatingips = {n.external_ids[keys.FIP_ID] for n in nats
                            if keys.FIP_ID in n.external_ids}
        for lsp in lsps:
            if keys.PORT_ID in lsp.external_ids:
                snap.ports[lsp.external_ids[keys.PORT_ID]] = lsp
            elif keys.LOCALNET_OF in lsp.external_ids:
                snap.localnets.setdefault(lsp.external_ids[keys.LOCALNET_OF], []).append(lsp)
        for ls in switches:
            if keys.NETWORK_ID in ls.external_ids:
                snap.switches[ls.external_ids[keys.NETWORK_ID]] = ls
        for row in dhcp:
            if keys.PORT_ID in row.external_ids:
                snap.port_dhcp.setdefault(row.external_ids[keys.PORT_ID], []).append(row)
            elif keys.SUBNET_ID in row.external_ids:
                snap.dhcp[row.external_ids[keys.SUBNET_ID]] = row
        return snap
