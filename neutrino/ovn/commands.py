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
from typing import Any

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


class DeleteSwitch(command.BaseCommand):
    """Logical_Switch of a network (its ports go with it) and its DHCP_Options."""

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


class EnsurePortGroup(_Ensure):
    """Port_Group of a security group (or the drop group) and its ACLs.

    ACLs are matched to the spec's by their key (the rule id): a new rule adds one
    ACL, a deleted one removes one, and nothing else is written.  ``members`` (port
    ids; drift repair only) also sets the group's ports; otherwise ports join and
    leave with their own writes (:class:`EnsurePort`).
    """

    spec: PortGroupSpec

    def __init__(self, api: Any, spec: PortGroupSpec, force: bool = False,
                 members: list[str] | None = None) -> None:
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
            wanted = [lsp for port_id in self.members
                      if (lsp := find_port(self.api, port_id)) is not None]
            current = {r.uuid for r in row.ports} if self.result != CREATED else set()
            if current != {r.uuid for r in wanted}:
                row.ports = wanted
                changed = True
        if changed and self.result == UNCHANGED:
            self.result = UPDATED


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
        own = {version: write_dhcp_row(txn, self.api, have, columns)
               for version, (have, columns) in wanted.items()}
        for gone in unwanted:
            gone.delete()
        references = self._dhcp_references(row if self.result != CREATED else None, own)
        if self.result == UNCHANGED and (references or unwanted or any(
                have is None or RowSpec("DHCP_Options", "", 0, columns).differs(have)
                for have, columns in wanted.values())):
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
            have = list(getattr(row, column)) if row is not None else []
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
        return settled == UNCHANGED and bool(
            unwanted or self._dhcp_references(row, {v: h for v, (h, _) in wanted.items()})
            or any(have is None or RowSpec("DHCP_Options", "", 0, columns).differs(have)
                   for have, columns in wanted.values()))


class DeletePort(command.BaseCommand):
    def __init__(self, api: Any, port_id: str) -> None:
        super().__init__(api)
        self.port_id = port_id

    def run_idl(self, txn: Any) -> None:
        owned = port_dhcp_rows(self.api, port_id=self.port_id)
        for own in owned:
            own.delete()
        row = find_port(self.api, self.port_id)
        if row is None or not row.external_ids.get(keys.PORT_ID):
            self.result = DELETED if owned else ABSENT
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
