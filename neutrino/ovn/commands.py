"""One ovsdbapp command per NB operation Neutrino performs.

Every write is create-or-update ("ensure") or delete-if-present, so running
it twice, or after a crash, converges.  Each ensure compares the row's
``neutrino:revision_number`` with the spec's and refuses to overwrite a row
written from a newer revision (a late postcommit must not undo a newer
update); it reads the row's external_ids with ``verify`` so two writers racing
on one row make ovsdb-server reject the loser, whose transaction ovsdbapp then
re-runs against the fresh row.  Only columns that differ are written, so an
ensure of an unchanged row sends nothing.

Commands run on the connection thread inside a transaction; their ``result``
is an outcome word the caller counts (drift repair) or logs.
"""
from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from ovsdbapp.backend.ovs_idl import command, idlutils

from neutrino.ovn import desired, keys
from neutrino.ovn.desired import (
    DhcpSpec,
    PortGroupSpec,
    PortSpec,
    RowSpec,
    SwitchSpec,
    row_revision,
    switch_name,
)
from neutrino.ovn.desired_l3 import RouterSpec, nat_key, route_key, router_name
from neutrino.ovn.nbcache import DnsRow, uuid_set

LOG = logging.getLogger(__name__)

CREATED = "created"
UPDATED = "updated"
UNCHANGED = "unchanged"
STALE = "stale"
DELETED = "deleted"
ABSENT = "absent"
NO_SWITCH = "no-switch"


def find_switch(api: Any, network_id: str) -> Any | None:
    return next(idlutils.rows_by_value(api.idl, "Logical_Switch", "name",
                                       switch_name(network_id)), None)


def find_port(api: Any, name: str) -> Any | None:
    return next(idlutils.rows_by_value(api.idl, "Logical_Switch_Port", "name", name), None)


def localnet_ports(api: Any, network_id: str) -> list[Any]:
    """The network's localnet LSPs, by name prefix on the LSP name index.

    Never by walking the switch's ports: python-ovs reads are slow enough that
    walking a 10,000-port switch on every port write would cost ~0.5 s.
    """
    rows = api.tables["Logical_Switch_Port"].rows
    prefix = f"{keys.LOCALNET_PREFIX}{network_id}-"
    index = rows.indexes.get("name")
    if index is None:
        return [r for r in rows.values() if r.name.startswith(prefix)]
    return list(index.irange(rows.IndexEntry(name=prefix),
                             rows.IndexEntry(name=prefix + "\U0010ffff")))


def find_port_group(api: Any, name: str) -> Any | None:
    return next(idlutils.rows_by_value(api.idl, "Port_Group", "name", name), None)


def acl_key(row: Any) -> str | None:
    """The key an owned ACL's spec is named by: its rule id, or a drop ACL's direction."""
    return row.external_ids.get(keys.SECURITY_GROUP_RULE_ID) or row.external_ids.get(keys.DROP)


def find_dhcp(api: Any, subnet_id: str) -> Any | None:
    """A subnet's DHCP_Options row (not one of its ports' own rows)."""
    return next((r for r in api.tables["DHCP_Options"].rows.values()
                 if r.external_ids.get(keys.SUBNET_ID) == subnet_id
                 and keys.PORT_ID not in r.external_ids), None)


def port_dhcp_rows(api: Any, port_id: str | None = None,
                   subnet_id: str | None = None) -> list[Any]:
    """Ports' own DHCP_Options rows: of one port, or of one subnet's ports."""
    return [r for r in api.tables["DHCP_Options"].rows.values()
            if keys.PORT_ID in r.external_ids
            and port_id in (None, r.external_ids[keys.PORT_ID])
            and subnet_id in (None, r.external_ids.get(keys.SUBNET_ID))]


def dhcp_columns(row: Any) -> dict[str, Any]:
    """What a port's own row is derived from: its subnet's row's columns."""
    return {"cidr": row.cidr, "options": row.options, "external_ids": row.external_ids}


def write_dhcp_row(txn: Any, api: Any, row: Any | None, columns: dict[str, Any]) -> Any:
    """Create a DHCP_Options row, or set the columns of one that differ; the row."""
    if row is None:
        row = txn.insert(api.tables["DHCP_Options"])
        for column, value in columns.items():
            setattr(row, column, value)
        return row
    spec = RowSpec(table="DHCP_Options", name="", revision=0, columns=columns)
    for column in spec.differs(row):
        setattr(row, column, columns[column])
    return row


def first_ip(row: Any, version: int) -> Any | None:
    """The first address of ``version`` in an LSP's ``addresses`` (fixed-IP order)."""
    for entry in row.addresses:
        for token in entry.split()[1:]:
            try:
                ip = ipaddress.ip_address(token)
            except ValueError:
                continue
            if ip.version == version:
                return ip
    return None


def dns_rows(api: Any, network_id: str, every: bool = True) -> list[tuple[Any, dict[str, str]]]:
    """The network's DNS rows, by their mark, each with its ``external_ids`` (read once: a
    map column is converted whole on every read): one, or none while no port has names
    (two only after a hand edit; the first is kept).  *every*: look through the whole
    table (the repair: also rows the switch lost), else only the switch's ``dns_records``
    (a port write: no read of other networks' rows)."""
    if every:
        candidates = list(api.tables["DNS"].rows.values())
    else:
        switch = find_switch(api, network_id)
        candidates = list(switch.dns_records) if switch is not None else []
    found = [(r, r.external_ids) for r in candidates]
    return sorted(((r, ids) for r, ids in found if ids.get(keys.NETWORK_ID) == network_id),
                  key=lambda pair: pair[0].uuid)


def _set_map(row: Any, column: str, have: Mapping[str, str], want: Mapping[str, str]) -> None:
    """Make *row*'s map *column* (now *have*) *want*: on a row this transaction inserts, the
    whole map; on another, one mutation per key that differs (the rest is not sent)."""
    if row._data is None:  # noqa: SLF001 - no committed data: inserted in this txn
        setattr(row, column, dict(want))
        return
    for key in sorted(set(have) | set(want)):
        if key not in want:
            row.delkey(column, key)
        elif have.get(key) != want[key]:
            row.setkey(column, key, want[key])


def owned_dns(api: Any) -> dict[str, list[DnsRow]]:
    """Copies of the DNS rows carrying Neutrino's mark, by network id."""
    found: dict[str, list[DnsRow]] = {}
    for row in api.tables["DNS"].rows.values():
        copy = DnsRow.of(row)
        if keys.NETWORK_ID in copy.external_ids:
            found.setdefault(copy.external_ids[keys.NETWORK_ID], []).append(copy)
    return found


def port_group_members(api: Any) -> dict[str, frozenset[UUID]]:
    """The member LSPs of Neutrino's port groups, by group name."""
    return {row.name: uuid_set(row, "ports") for row in api.tables["Port_Group"].rows.values()
            if keys.SECURITY_GROUP_ID in row.external_ids or keys.DROP in row.external_ids}


def _committed(row: Any, column: str) -> Any | None:
    """The committed datum of *row*'s *column* (python-ovs keeps it, and a transaction's
    pending changes, in the row's private fields); None if this transaction changed the
    column or inserted the row: then only the converted value shows the change."""
    if row._data is None or column in row._changes or any(  # noqa: SLF001
            column in pending for pending in row._mutations.values()):  # noqa: SLF001
        return None
    return row._data.get(column)  # noqa: SLF001


def _map_get(row: Any, column: str, key: str) -> Any:
    """One key of a map column.  python-ovs converts a whole map on every attribute read;
    a network's DNS row holds every named port's records, so a port write reads only the
    keys it needs from the committed datum."""
    datum = _committed(row, column)
    return getattr(row, column).get(key) if datum is None else datum.get(key)


def _map_len(row: Any, column: str) -> int:
    """How many keys a map column has (see :func:`_map_get`)."""
    datum = _committed(row, column)
    return len(getattr(row, column)) if datum is None else len(datum.values)


def set_port_dns(txn: Any, api: Any, network_id: str, port_id: str,
                 records: Mapping[str, str]) -> bool:
    """A port's share of its network's DNS row, and the row's records it touches: each
    name's addresses without the port's old ones, with its new ones (a port's addresses
    are its own on a network, so no other port's are taken).  Reads only those keys, so a
    port write costs the same on a network of ten named ports as of ten thousand.  The
    row (found through the switch) is created with its first share and deleted with its
    last.  Whether anything was written."""
    switch = find_switch(api, network_id)
    if switch is None:
        return False
    row = next((r for r in switch.dns_records
                if _map_get(r, "external_ids", keys.NETWORK_ID) == network_id), None)
    key = keys.DNS_SHARE_PREFIX + port_id
    old = desired.decode_dns_share(_map_get(row, "external_ids", key)) if row else {}
    if old == records:
        return False
    if row is None:
        return write_dns_shares(txn, api, network_id, {port_id: records}, every=False)
    row.verify("external_ids")
    if not records and _map_len(row, "external_ids") <= 2:
        row.delete()  # its last share (and the mark): the switch's reference is weak
        return True
    # Read before the first mutation: after it, python-ovs converts the whole map again.
    current = {name: _map_get(row, "records", name) or ""
               for name in sorted(set(old) | set(records))}
    for name, have in current.items():
        tokens = (set(have.split()) - set(old.get(name, "").split())) | \
            set(records.get(name, "").split())
        value = desired.record_value(tokens)
        if not value:
            row.delkey("records", name)
        elif value != have:
            row.setkey("records", name, value)
    if records:
        row.setkey("external_ids", key, desired.encode_dns_share(records))
    else:
        row.delkey("external_ids", key)
    return True


def write_dns_shares(txn: Any, api: Any, network_id: str,
                     changes: Mapping[str, Mapping[str, str]], every: bool = True) -> bool:
    """Set ports' shares of their network's DNS row (an empty share: the port has none)
    and the row's ``records``, merged from every share; the row is created, and referenced
    from the switch, with its first share and deleted with its last.  Whether anything
    was written.  The row's ``external_ids`` are verified: two writers changing one
    network's names make ovsdb-server refuse the loser, which runs again on the new row.
    *every*: as :func:`dns_rows`."""
    rows = dns_rows(api, network_id, every)
    row, external_ids = rows[0] if rows else (None, {})
    for twin, _ in rows[1:]:
        twin.delete()
    have = desired.dns_shares(external_ids)
    shares = {port_id: dict(share) for port_id, share in {**have, **changes}.items() if share}
    merged = desired.merge_records(shares)
    if row is None:
        switch = find_switch(api, network_id)
        if not shares or switch is None:
            return bool(rows[1:])
        row = txn.insert(api.tables["DNS"])
        row.external_ids = {keys.NETWORK_ID: network_id, **{
            keys.DNS_SHARE_PREFIX + port_id: desired.encode_dns_share(share)
            for port_id, share in shares.items()}}
        row.records = merged
        switch.verify("dns_records")
        switch.addvalue("dns_records", row)
        return True
    switch = find_switch(api, network_id)
    referenced = switch is None or row.uuid in {r.uuid for r in switch.dns_records}
    if switch is not None and not referenced:
        switch.addvalue("dns_records", row)
    records = row.records
    if shares == have and records == merged:
        return bool(rows[1:]) or not referenced
    row.verify("external_ids")
    if not shares:
        row.delete()  # the switch's reference is weak: ovsdb-server drops it
        return True
    _set_map(row, "external_ids", external_ids, {
        **{k: v for k, v in external_ids.items() if not k.startswith(keys.DNS_SHARE_PREFIX)},
        **{keys.DNS_SHARE_PREFIX + port_id: desired.encode_dns_share(share)
           for port_id, share in shares.items()}})
    _set_map(row, "records", records, merged)
    return True


class DropGroupMissing(RuntimeError):
    """A port with port security cannot be written before the drop group exists."""


class _Ensure(command.BaseCommand):
    """Create or update one row from a spec, unless the row is from a newer revision."""

    table = ""

    def __init__(self, api: Any, spec: RowSpec, force: bool = False,
                 unchanged_from: int | None = None) -> None:
        super().__init__(api)
        self.spec = spec
        self.force = force
        #: A row written from this revision keeps it when its content is already right.
        self.unchanged_from = unchanged_from

    def _settled(self, row: Any, spec: RowSpec) -> str | None:
        """STALE or UNCHANGED if the existing ``row`` needs no write for ``spec``."""
        if not self.force and row_revision(row) > spec.revision:
            return STALE
        if row_revision(row) in (spec.revision, self.unchanged_from) and not spec.differs(row):
            return UNCHANGED
        return None

    def _write(self, txn: Any, row: Any | None, spec: RowSpec) -> tuple[Any, str]:
        if row is None:
            row = txn.insert(self.api.tables[spec.table])
            if spec.table != "DHCP_Options":
                row.name = spec.name
            for column, value in spec.columns.items():
                setattr(row, column, value)
            return row, CREATED
        settled = self._settled(row, spec)
        if settled == STALE:
            LOG.debug("not writing %s %s: row has revision %s, spec %s",
                      spec.table, spec.name, row_revision(row), spec.revision)
        if settled is not None:
            return row, settled
        changed = spec.differs(row)
        revision = row_revision(row)
        row.verify("external_ids")
        for column in changed:
            setattr(row, column, spec.columns[column])
        if revision != spec.revision:
            row.setkey("external_ids", keys.REVISION, str(spec.revision))
        return row, UPDATED if changed else UNCHANGED

    def __str__(self) -> str:
        return f"{type(self).__name__}({self.spec.name}, rev={self.spec.revision})"


class EnsureSwitch(_Ensure):
    """Logical_Switch of a network and its localnet ports."""

    spec: SwitchSpec

    def claims(self) -> set[tuple[str, str]]:
        """The rows this may insert or delete (``connection.Batch``): none when the switch
        exists and has and wants no localnet port, as for every port written on it."""
        if find_switch(self.api, self.spec.network_id) is not None and \
                not self.spec.localnets and not localnet_ports(self.api, self.spec.network_id):
            return set()
        return {("Logical_Switch", self.spec.network_id)}

    def run_idl(self, txn: Any) -> None:
        row, outcome = self._write(txn, find_switch(self.api, self.spec.network_id), self.spec)
        self.result = outcome
        if outcome == STALE:
            return
        wanted = {spec.name for spec in self.spec.localnets}
        for port in localnet_ports(self.api, self.spec.network_id):
            if port.name not in wanted and port.external_ids.get(keys.LOCALNET_OF):
                row.delvalue("ports", port)
                port.delete()
                self.result = UPDATED
        for spec in self.spec.localnets:
            lsp = find_port(self.api, spec.name)
            lsp, port_outcome = self._write(txn, lsp, spec)
            if port_outcome == CREATED:
                row.addvalue("ports", lsp)
            if port_outcome in (CREATED, UPDATED) and self.result == UNCHANGED:
                self.result = UPDATED


def one_per_row(cmds: Iterable[Any]) -> list[Any]:
    """*cmds* of one transaction with each row ensured once: by its last ensure (the
    newest revision: a bulk create's subnets each move their network's), where its
    first stood.  A row an earlier command inserts is not found by a later one's
    lookup in the same transaction, which would insert it again."""
    unique: dict[Any, Any] = {}
    for cmd in cmds:
        key = (type(cmd), cmd.spec.table, cmd.spec.name) if isinstance(cmd, _Ensure) else id(cmd)
        unique[key] = cmd
    return list(unique.values())


class SetPortDns(command.BaseCommand):
    """A port's share of its switch's DNS records (none: the port's names are taken back),
    unless the port's LSP was written from a newer revision (that write set its share)."""

    def __init__(self, api: Any, network_id: str, port_id: str, records: Mapping[str, str],
                 revision: int) -> None:
        super().__init__(api)
        self.network_id = network_id
        self.port_id = port_id
        self.records = dict(records)
        self.revision = revision

    def claims(self) -> set[tuple[str, str]]:
        """The rows this may insert or delete (``connection.Batch``): the network's DNS
        row, which the first share creates and the last deletes.  Writes of named ports
        of one network are not batched together; of other ports, they are."""
        return {("DNS", self.network_id)}

    def run_idl(self, txn: Any) -> None:
        lsp = find_port(self.api, self.port_id)
        if lsp is not None and row_revision(lsp) > self.revision:
            self.result = STALE
            return
        changed = set_port_dns(txn, self.api, self.network_id, self.port_id, self.records)
        self.result = UPDATED if changed else UNCHANGED

    def needs_write(self) -> bool:
        """Whether the port's share differs; read under the connection's lock."""
        switch = find_switch(self.api, self.network_id)
        row = next((r for r in switch.dns_records if _map_get(
            r, "external_ids", keys.NETWORK_ID) == self.network_id), None) if switch else None
        have = _map_get(row, "external_ids", keys.DNS_SHARE_PREFIX + self.port_id) \
            if row is not None else None
        return desired.decode_dns_share(have) != self.records

    def __str__(self) -> str:
        return f"SetPortDns({self.port_id}, rev={self.revision})"


class EnsureDns(command.BaseCommand):
    """A network's DNS row as a drift repair pass read SQL: each port's share, except the
    shares of ports whose LSP was written from a newer revision than the pass read (or
    that the pass did not know): a port write that raced the pass has settled those."""

    def __init__(self, api: Any, network_id: str, shares: Mapping[str, Mapping[str, str]],
                 revisions: Mapping[str, int]) -> None:
        super().__init__(api)
        self.network_id = network_id
        self.shares = shares
        #: The revision of every port of the network the pass read.
        self.revisions = revisions

    def run_idl(self, txn: Any) -> None:
        rows = dns_rows(self.api, self.network_id)
        have = desired.dns_shares(rows[0][1]) if rows else {}
        changes = {}
        for port_id in sorted(set(have) | set(self.shares)):
            want = self.shares.get(port_id, {})
            if have.get(port_id, {}) == want:
                continue
            lsp = find_port(self.api, port_id)
            if lsp is not None:
                read = self.revisions.get(port_id)
                if read is None or row_revision(lsp) > read:
                    continue
                lsp.verify("external_ids")
            changes[port_id] = want
        changed = write_dns_shares(txn, self.api, self.network_id, changes)
        self.result = UPDATED if changed else UNCHANGED


class DeleteSwitch(command.BaseCommand):
    """Logical_Switch of a network (its ports go with it), its DHCP_Options and DNS rows."""

    def __init__(self, api: Any, network_id: str) -> None:
        super().__init__(api)
        self.network_id = network_id

    def run_idl(self, txn: Any) -> None:
        self.result = ABSENT
        row = find_switch(self.api, self.network_id)
        if row is not None:
            row.delete()
            self.result = DELETED
        for dhcp in list(self.api.tables["DHCP_Options"].rows.values()):
            if dhcp.external_ids.get(keys.NETWORK_ID) == self.network_id:
                dhcp.delete()
        for dns, _ in dns_rows(self.api, self.network_id):
            dns.delete()
            self.result = DELETED


class EnsureDhcpOptions(_Ensure):
    """DHCP_Options of a subnet; a new row is attached to the ports whose first IP is in it.

    Only a new row needs attaching (the references of existing ports survive an
    update, and ports written later resolve their own), which keeps this walk
    over the switch's ports off the common path.
    """

    spec: DhcpSpec

    def run_idl(self, txn: Any) -> None:
        row, self.result = self._write(txn, find_dhcp(self.api, self.spec.subnet_id), self.spec)
        if self.result == STALE:
            return
        subnet = dhcp_columns(row) if self.result != CREATED else self.spec.columns
        # The subnet's ports with options of their own follow its options.
        for own in port_dhcp_rows(self.api, subnet_id=self.spec.subnet_id):
            lsp = find_port(self.api, own.external_ids[keys.PORT_ID])
            cidr = ipaddress.ip_network(own.cidr)
            extra = desired.decode_extra_dhcp(
                lsp.external_ids.get(keys.EXTRA_DHCP_OPTIONS) if lsp else None).get(cidr.version)
            if extra:
                write_dhcp_row(txn, self.api, own, desired.port_dhcp_columns(
                    subnet, own.external_ids[keys.PORT_ID], extra, row_revision(own)))
        if self.result != CREATED:
            return
        switch = find_switch(self.api, self.spec.network_id)
        if switch is None:
            return
        cidr = ipaddress.ip_network(self.spec.columns["cidr"])
        column = "dhcpv4_options" if cidr.version == 4 else "dhcpv6_options"
        for port in switch.ports:
            port_id = port.external_ids.get(keys.PORT_ID)
            if not port_id:
                continue
            ip = first_ip(port, cidr.version)
            if ip is None or ip not in cidr:
                continue
            port_extra = desired.decode_extra_dhcp(
                port.external_ids.get(keys.EXTRA_DHCP_OPTIONS))
            if cidr.version in port_extra and port_extra[cidr.version] is None:
                continue  # DHCP disabled on the port
            wanted = row
            options = port_extra.get(cidr.version)
            if options:
                wanted = write_dhcp_row(txn, self.api, None, desired.port_dhcp_columns(
                    subnet, port_id, options, row_revision(port)))
            if [r.uuid for r in getattr(port, column)] != [wanted.uuid]:
                setattr(port, column, [wanted])


@dataclass(frozen=True)
class Members:
    """The ports a Port_Group should have, as a drift repair pass read them from SQL."""

    #: The member port ids.
    ports: frozenset[str]
    #: The revision of every port the pass read, members or not.
    revisions: Mapping[str, int]


class EnsurePortGroup(_Ensure):
    """Port_Group of a security group (or the drop group) and its ACLs.

    ACLs are matched to the spec's by their key (the rule id): a new rule adds one
    ACL, a deleted one removes one, and nothing else is written.  ``members`` (drift
    repair only) also settles the group's ports; otherwise ports join and leave with
    their own writes (:class:`EnsurePort`).
    """

    spec: PortGroupSpec

    def __init__(self, api: Any, spec: PortGroupSpec, force: bool = False,
                 members: Members | None = None) -> None:
        super().__init__(api, spec, force)
        self.members = members

    def run_idl(self, txn: Any) -> None:
        row, self.result = self._write(txn, find_port_group(self.api, self.spec.name), self.spec)
        if self.result == STALE:
            return
        have = {acl_key(acl): acl for acl in row.acls} if self.result != CREATED else {}
        changed = False
        for spec in self.spec.acls:
            acl = have.pop(spec.name, None)
            if acl is None:
                acl = txn.insert(self.api.tables["ACL"])
                for column, value in spec.columns.items():
                    setattr(acl, column, value)
                row.addvalue("acls", acl)
                changed = True
            else:
                for column in spec.differs(acl):
                    setattr(acl, column, spec.columns[column])
                    changed = True
        for extra in have.values():
            row.delvalue("acls", extra)  # ACLs are not root rows: unreferenced, it is deleted
            changed = True
        if self.members is not None:
            changed |= self._settle_members(row, self.members)
        if changed and self.result == UNCHANGED:
            self.result = UPDATED

    def _settle_members(self, row: Any, members: Members) -> bool:
        """Add the ports SQL has in the group and remove the others, a one-element mutation
        each, except ports whose LSP was written from a newer revision than the pass read:
        a port write that raced the pass has settled their membership, which the pass's
        older read must not undo (nor may it touch ports created after the read)."""
        current = {lsp.uuid: lsp for lsp in row.ports} if self.result != CREATED else {}
        changed = False
        for port_id in sorted(members.ports):
            lsp = find_port(self.api, port_id)
            if lsp is not None and lsp.uuid not in current and \
                    self._read_is_current(lsp, port_id, members):
                row.addvalue("ports", lsp)
                changed = True
        for lsp in current.values():
            port_id = lsp.external_ids.get(keys.PORT_ID)
            if port_id in members.ports:
                continue
            if port_id is None or self._read_is_current(lsp, port_id, members):
                row.delvalue("ports", lsp)
                changed = True
        return changed

    @staticmethod
    def _read_is_current(lsp: Any, port_id: str, members: Members) -> bool:
        """Whether the pass's read of the port is as new as its LSP; if so, a write of the
        port committed before this transaction makes it try again (with the new LSP)."""
        read = members.revisions.get(port_id)
        if read is None or row_revision(lsp) > read:
            return False
        lsp.verify("external_ids")
        return True


class DeletePortGroup(command.BaseCommand):
    """A security group's Port_Group; its ACLs go with it."""

    def __init__(self, api: Any, name: str) -> None:
        super().__init__(api)
        self.name = name

    def run_idl(self, txn: Any) -> None:
        row = find_port_group(self.api, self.name)
        self.result = ABSENT if row is None else DELETED
        if row is not None:
            row.delete()


class DeleteDhcpOptions(command.BaseCommand):
    def __init__(self, api: Any, subnet_id: str) -> None:
        super().__init__(api)
        self.subnet_id = subnet_id

    def run_idl(self, txn: Any) -> None:
        row = find_dhcp(self.api, self.subnet_id)
        self.result = ABSENT if row is None else DELETED
        # With the subnet's ports' own rows.  LSP references are weak: ovsdb-server clears
        # them with the rows.
        for gone in [row] + port_dhcp_rows(self.api, subnet_id=self.subnet_id):
            if gone is not None:
                gone.delete()


class EnsurePort(_Ensure):
    """Logical_Switch_Port of a port, with its DHCP_Options references."""

    spec: PortSpec

    def claims(self) -> set[tuple[str, str]]:
        """The rows this may insert or delete (``connection.Batch``): the port's LSP and its
        own DHCP_Options rows; and a switch not in NB yet, which another transaction may
        be inserting (this one would not see it).  Port groups only gain or lose one
        element."""
        claimed = {("Logical_Switch_Port", self.spec.name), ("DHCP_Options", self.spec.port_id)}
        if find_switch(self.api, self.spec.network_id) is None:
            claimed.add(("Logical_Switch", self.spec.network_id))
        return claimed

    def run_idl(self, txn: Any) -> None:
        switch = find_switch(self.api, self.spec.network_id)
        if switch is None:
            self.result = NO_SWITCH
            return
        row = find_port(self.api, self.spec.name)
        joined = set(row.external_ids.get(keys.PORT_GROUPS, "").split()) if row else set()
        row, self.result = self._write(txn, row, self.spec)
        if self.result == STALE:
            return
        if self.result == CREATED:
            switch.addvalue("ports", row)
        self._join(txn, row, joined)
        wanted, unwanted = self._own_dhcp()
        own_changed = _own_dhcp_differs(wanted, unwanted)
        own = {version: write_dhcp_row(txn, self.api, have, columns)
               for version, (have, columns) in wanted.items()}
        for gone in unwanted:
            gone.delete()
        references = self._dhcp_references(row if self.result != CREATED else None, own)
        if self.result == UNCHANGED and (references or own_changed):
            self.result = UPDATED
            row.verify("external_ids")
            if row_revision(row) != self.spec.revision:
                row.setkey("external_ids", keys.REVISION, str(self.spec.revision))
        for column, want in references:
            setattr(row, column, want)

    def _own_dhcp(self) -> tuple[dict[int, tuple[Any | None, dict[str, Any]]], list[Any]]:
        """The port's own DHCP_Options rows: by IP version, the row NB has (or None) and the
        columns it should have, where the port has options and its subnet has DHCP; and
        the rows it has and should not."""
        have: dict[int, Any] = {}
        unwanted = []
        for row in port_dhcp_rows(self.api, port_id=self.spec.port_id):
            version: int = ipaddress.ip_network(row.cidr).version
            if version in have:
                unwanted.append(row)
            else:
                have[version] = row
        wanted: dict[int, tuple[Any | None, dict[str, Any]]] = {}
        for version, extra in self.spec.dhcp_extra.items():
            subnet_id = self.spec.dhcp_subnets.get(version)
            subnet = find_dhcp(self.api, subnet_id) if subnet_id else None
            if subnet is not None:
                wanted[version] = (have.pop(version, None), desired.port_dhcp_columns(
                    dhcp_columns(subnet), self.spec.port_id, extra, self.spec.revision))
        return wanted, unwanted + list(have.values())

    def _join(self, txn: Any, row: Any, joined: set[str]) -> None:
        """Join and leave port groups by mutating their ``ports`` (an insert or delete of
        one element: a group's other members are neither read nor sent).  *joined*: the
        groups the row said it was in before this write."""
        wanted = set(self.spec.columns["external_ids"][keys.PORT_GROUPS].split())
        for name in sorted(wanted - joined):
            group = find_port_group(self.api, name)
            if group is None and name == keys.DROP_GROUP:
                # Fail closed: a filtered port must not be written outside the drop group
                # (its writers create the group first, in a transaction of its own).
                raise DropGroupMissing(keys.DROP_GROUP)
            if group is not None:  # a group not in NB yet: the drift repair adds the port
                group.addvalue("ports", row)
        for name in sorted(joined - wanted):
            group = find_port_group(self.api, name)
            if group is not None:
                group.delvalue("ports", row)

    def _dhcp_references(self, row: Any | None,
                         own: dict[int, Any]) -> list[tuple[str, list[Any]]]:
        """The DHCP_Options columns of ``row`` (None: a new row) to set, and their values:
        the port's *own* row of a version, else its subnet's."""
        wrong = []
        for version, column in ((4, "dhcpv4_options"), (6, "dhcpv6_options")):
            subnet_id = self.spec.dhcp_subnets.get(version)
            dhcp = own.get(version) or (find_dhcp(self.api, subnet_id) if subnet_id else None)
            want = [dhcp] if dhcp is not None else []
            # getattr's default: a row inserted earlier in this transaction (the repair's
            # port pass, then its router's) has no unset columns.
            have = list(getattr(row, column, [])) if row is not None else []
            if [r.uuid for r in have] != [r.uuid for r in want]:
                wrong.append((column, want))
        return wrong

    def needs_write(self) -> bool:
        """Whether running this command would write anything; read under the connection's lock.

        A caller that learns it would not skips the transaction, and with it a
        wait for the connection thread, which is busy while many ports change.
        """
        row = find_port(self.api, self.spec.name)
        if row is None:
            return True
        settled = self._settled(row, self.spec)
        if settled is None:
            return True
        wanted, unwanted = self._own_dhcp()
        return settled == UNCHANGED and (
            _own_dhcp_differs(wanted, unwanted)
            or bool(self._dhcp_references(row, {v: h for v, (h, _) in wanted.items()})))


def _own_dhcp_differs(wanted: dict[int, tuple[Any | None, dict[str, Any]]],
                      unwanted: list[Any]) -> bool:
    """Whether a port's own DHCP_Options rows (:meth:`EnsurePort._own_dhcp`) need a write."""
    return bool(unwanted) or any(
        have is None or RowSpec("DHCP_Options", "", 0, columns).differs(have)
        for have, columns in wanted.values())


def drop_nat_of_port(api: Any, port_id: str) -> bool:
    """Remove the NAT rows translating for ``port_id`` (``logical_port``) from their
    routers; whether there were any.

    A deleted port's floating IPs are disassociated in SQL without a word to their
    routers; left in place, the NAT would keep sending the floating IP's traffic to an
    address the next port on the subnet may get.  NAT rows are not a root table:
    ovsdb-server deletes a row no router refers to.
    """
    nats = [r for r in api.tables["NAT"].rows.values() if port_id in r.logical_port]
    if not nats:
        return False
    for router in api.tables["Logical_Router"].rows.values():
        for nat in nats:
            if nat in router.nat:
                router.delvalue("nat", nat)
    return True


def drop_dns_of_port(txn: Any, api: Any, port_id: str, network_id: str | None) -> bool:
    """Take a port's names out of its network's DNS row (*network_id*: its LSP's; None, no
    LSP left: out of any row with its share); whether one had them."""
    if network_id is not None:
        return set_port_dns(txn, api, network_id, port_id, {})
    key = keys.DNS_SHARE_PREFIX + port_id
    networks = {ids[keys.NETWORK_ID] for ids in (
        r.external_ids for r in api.tables["DNS"].rows.values())
        if key in ids and keys.NETWORK_ID in ids}
    for network in sorted(networks):
        write_dns_shares(txn, api, network, {port_id: {}})
    return bool(networks)


class DeletePort(command.BaseCommand):
    """Logical_Switch_Port of a port, its own DHCP_Options rows, its names in its switch's
    DNS row, and the NAT rows that translate for it."""

    def __init__(self, api: Any, port_id: str) -> None:
        super().__init__(api)
        self.port_id = port_id

    def run_idl(self, txn: Any) -> None:
        nat_dropped = drop_nat_of_port(self.api, self.port_id)
        owned = port_dhcp_rows(self.api, port_id=self.port_id)
        for own in owned:
            own.delete()
        row = find_port(self.api, self.port_id)
        named = drop_dns_of_port(txn, self.api, self.port_id,
                                 row.external_ids.get(keys.NETWORK_ID) if row is not None else None)
        if row is None or not row.external_ids.get(keys.PORT_ID):
            self.result = UPDATED if nat_dropped or owned or named else ABSENT
            return
        switch = find_switch(self.api, row.external_ids.get(keys.NETWORK_ID, ""))
        if switch is not None:
            # A mutation: no read of the (possibly huge) ports column.
            switch.delvalue("ports", row)
        else:
            for ls in self.api.tables["Logical_Switch"].rows.values():
                if row in ls.ports:
                    ls.delvalue("ports", row)
        row.delete()
        self.result = DELETED


class BumpNbCfg(command.BaseCommand):
    """Increment NB_Global.nb_cfg: every live ovn-controller answers (agent heartbeat)."""

    def run_idl(self, txn: Any) -> None:
        row = next(iter(self.api.tables["NB_Global"].rows.values()), None)
        if row is None:
            self.result = ABSENT
            return
        row.verify("nb_cfg")
        row.nb_cfg = row.nb_cfg + 1
        self.result = row.nb_cfg


class SetGlobalInfo(command.BaseCommand):
    """Publish status-worker facts in NB_Global.external_ids (read by every server).

    ``increments`` are added to integer counters, inside the transaction.
    """

    def __init__(self, api: Any, values: dict[str, str],
                 increments: dict[str, int] | None = None) -> None:
        super().__init__(api)
        self.values = values
        self.increments = increments or {}

    def run_idl(self, txn: Any) -> None:
        row = next(iter(self.api.tables["NB_Global"].rows.values()), None)
        self.result = ABSENT if row is None else UPDATED
        if row is None:
            return
        row.verify("external_ids")
        current = row.external_ids
        values = dict(self.values)
        for key, count in self.increments.items():
            try:
                values[key] = str(int(current.get(key, 0)) + count)
            except ValueError:
                values[key] = str(count)
        for key, value in values.items():
            if current.get(key) != value:
                row.setkey("external_ids", key, value)


def find_router(api: Any, router_id: str) -> Any | None:
    return next(idlutils.rows_by_value(api.idl, "Logical_Router", "name",
                                       router_name(router_id)), None)


def find_ha_group(api: Any, router_id: str) -> Any | None:
    return next(idlutils.rows_by_value(api.idl, "HA_Chassis_Group", "name",
                                       router_name(router_id)), None)


def owned_router_revisions(api: Any) -> dict[str, int]:
    """The revision of each Logical_Router row carrying Neutrino's mark, by router id."""
    return {r.external_ids[keys.ROUTER_ID]: row_revision(r)
            for r in api.tables["Logical_Router"].rows.values()
            if keys.ROUTER_ID in r.external_ids}


def _nat_key(row: Any) -> str:
    return nat_key(row.type, row.external_ip, row.logical_ip)


def _route_key(row: Any) -> str:
    return route_key(row.ip_prefix, row.nexthop)


class EnsureRouter(_Ensure):
    """A router whole: its Logical_Router, router ports and their switch ends, the
    gateway's HA_Chassis_Group, NAT and static routes.

    Children are matched by name (router ports) or by their defining columns (NAT,
    routes); only rows with Neutrino's mark are changed or removed, so NAT or routes an
    operator added by hand stay.  ``changes`` names what was written (for the repair's log).
    """

    spec: RouterSpec

    def __init__(self, api: Any, spec: RouterSpec, force: bool = False,
                 reread: Callable[[], RouterSpec | None] | None = None) -> None:
        super().__init__(api, spec, force)
        #: The router's spec as SQL has it when the transaction is built (None: the
        #: router is gone, write nothing).  A postcommit's own spec was read at its
        #: commit; another change to the router may have committed and reached this
        #: connection's copy of NB since, and the older picture would undo it.  Read
        #: after that copy was, SQL holds every change the copy shows.
        self.reread = reread

    def run_idl(self, txn: Any) -> None:
        self.changes: list[str] = []
        if self.reread is not None:
            now = self.reread()
            if now is None:
                self.result = ABSENT
                return
            self.spec = now
        row, outcome = self._write(txn, find_router(self.api, self.spec.router_id), self.spec)
        self.result = outcome
        if outcome == STALE:
            return
        if outcome != UNCHANGED:
            self.changes.append(f"logical_router {outcome}")
        for spec in self.spec.switch_ports:
            port = EnsurePort(self.api, spec)
            port.run_idl(txn)
            if port.result in (CREATED, UPDATED):
                self.changes.append(f"switch port {spec.name} {port.result}")
        if self.spec.gateway_port is None and delete_ha_group(self.api, row, self.spec.router_id):
            self.changes.append("ha_chassis_group deleted")
        router_ports = self._sync(txn, row, "ports", self.spec.router_ports, lambda r: r.name)
        if self.spec.gateway_port is not None:
            self._schedule_gateway(txn, router_ports)
        self._sync(txn, row, "nat", self.spec.nat, _nat_key)
        self._sync(txn, row, "static_routes", self.spec.routes, _route_key)
        if self.changes and self.result == UNCHANGED:
            self.result = UPDATED
            row.verify("external_ids")
            row.setkey("external_ids", keys.REVISION, str(self.spec.revision))

    def _sync(self, txn: Any, parent: Any, column: str, specs: tuple[RowSpec, ...],
              key: Callable[[Any], str]) -> dict[str, Any]:
        """Make the owned rows in *parent*'s *column* those of *specs*; returns them by name.

        The column is verified: if another writer changed it after this connection's
        copy was read, OVSDB refuses the transaction and it is built again from a
        fresh copy (and, for a postcommit, a fresh read of SQL).  Two writers could
        otherwise each insert the same NAT row.  Such twins are removed."""
        parent.verify(column)
        # getattr's default: a row inserted in this transaction has no unset columns.
        have: dict[str, Any] = {}
        for child in getattr(parent, column, []):
            if keys.ROUTER_ID not in child.external_ids:
                continue
            if key(child) in have:
                parent.delvalue(column, child)
                self.changes.append(f"{column} {key(child)} twin deleted")
            else:
                have[key(child)] = child
        kept = {}
        for spec in specs:
            child = have.pop(spec.name, None)
            if child is None:
                child = txn.insert(self.api.tables[spec.table])
                for name, value in spec.columns.items():
                    setattr(child, name, value)
                parent.addvalue(column, child)
                self.changes.append(f"{spec.table} {spec.name} created")
            elif differs := spec.differs(child):
                for name in differs:
                    setattr(child, name, spec.columns[name])
                self.changes.append(f"{spec.table} {spec.name} updated")
            kept[spec.name] = child
        for name, child in have.items():
            parent.delvalue(column, child)  # not a root table: the row goes with it
            self.changes.append(f"{column} {name} deleted")
        return kept

    def _schedule_gateway(self, txn: Any, router_ports: dict[str, Any]) -> None:
        """The gateway port's HA_Chassis_Group, with the scheduled chassis."""
        assert self.spec.gateway_port is not None
        group = find_ha_group(self.api, self.spec.router_id)
        if group is None:
            group = txn.insert(self.api.tables["HA_Chassis_Group"])
            group.name = router_name(self.spec.router_id)
            group.external_ids = {keys.ROUTER_ID: self.spec.router_id}
            self.changes.append("ha_chassis_group created")
        if self.spec.gateway_chassis is not None:
            want = dict(self.spec.gateway_chassis)
            for member in getattr(group, "ha_chassis", []):
                priority = want.pop(member.chassis_name, None)
                if priority is None:
                    group.delvalue("ha_chassis", member)
                    self.changes.append(f"gateway chassis {member.chassis_name} removed")
                elif member.priority != priority:
                    member.priority = priority
                    self.changes.append(f"gateway chassis {member.chassis_name} priority")
            for name, priority in want.items():
                member = txn.insert(self.api.tables["HA_Chassis"])
                member.chassis_name, member.priority = name, priority
                group.addvalue("ha_chassis", member)
                self.changes.append(f"gateway chassis {name} added")
        lrp = router_ports.get(self.spec.gateway_port)
        if lrp is not None and \
                [g.uuid for g in getattr(lrp, "ha_chassis_group", [])] != [group.uuid]:
            lrp.ha_chassis_group = [group]
            self.changes.append("gateway port scheduled")


def delete_ha_group(api: Any, router: Any | None, router_id: str) -> bool:
    """Delete a router's HA_Chassis_Group; whether it had one.

    Its router ports let go of it first: ovsdb-server counts the reference of a port
    leaving in the same transaction and would refuse the delete.
    """
    group = find_ha_group(api, router_id)
    if group is None:
        return False
    for port in getattr(router, "ports", []) if router is not None else []:
        if port.ha_chassis_group:
            port.ha_chassis_group = []
    group.delete()
    return True


class DeleteRouter(command.BaseCommand):
    """A router's Logical_Router (its ports, NAT and routes go with it) and HA group."""

    def __init__(self, api: Any, router_id: str) -> None:
        super().__init__(api)
        self.router_id = router_id

    def run_idl(self, txn: Any) -> None:
        router = find_router(self.api, self.router_id)
        self.result = DELETED if delete_ha_group(self.api, router, self.router_id) else ABSENT
        if router is not None:
            router.delete()
            self.result = DELETED
