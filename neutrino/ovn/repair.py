"""Drift repair: make NB match SQL (issue 3 item 6).

SQL is the source of truth.  A pass reads every network, subnet, port, security group
and router, computes the rows they imply (``desired``), and compares them with NB:
missing rows are created, rows whose content differs are rewritten, and rows
carrying Neutrino's ownership mark whose resource is gone are deleted.  Rows
without the mark are never touched.  Every repair is logged and counted, as
``"<table>.<outcome>"`` (e.g. ``logical_switch_port.created``): in ``DriftRepair.totals``
for ``/healthz`` and in ``neutrino_drift_repairs_total`` for ``/metrics``.

Races with API writes are settled by the order of reads and by revisions:

* the owned NB rows are read (from the worker's copy, see ``nbcache``) *before*
  SQL, so a row created by a postcommit after the SQL read is not among them and
  cannot be deleted as an orphan;
* writes carry the SQL revision and lose against a row written from a newer
  one.  A row that stays "newer than SQL" across two passes with the same
  SQL revision did not come from a racing update (that would have reached SQL
  too) but from SQL going back in time (a restored backup): the second pass
  overwrites it.
* a resource deleted between the SQL read and the write may be recreated;
  the next pass deletes it again.
"""
from __future__ import annotations

import collections
import ipaddress
import logging
from collections.abc import Callable, Mapping
from typing import Any
from uuid import UUID

from neutrino.drivers.api import CoreHandle
from neutrino.metrics import DRIFT_REPAIRS
from neutrino.ovn import commands, desired, desired_l3, keys
from neutrino.ovn.chassis import ChassisDirectory
from neutrino.ovn.nbcache import DnsRow, NbCache, Snapshot

LOG = logging.getLogger(__name__)

SWITCH, PORT, DHCP, DNS = "logical_switch", "logical_switch_port", "dhcp_options", "dns"
PORT_GROUP, ROUTER = "port_group", "logical_router"


def dpu_hostname(port: Mapping[str, Any], directory: ChassisDirectory) -> str | None:
    """requested-chassis of a remote-managed port: the DPU with its card serial."""
    serial = (port.get("binding:profile") or {}).get("card_serial_number")
    chassis = directory.by_card_serial(serial) if serial else None
    return chassis.hostname if chassis is not None else None


class DriftRepair:
    #: Commands per NB transaction.
    CHUNK = 200

    def __init__(self, nb: Any, cache: NbCache, core: CoreHandle,
                 directory: ChassisDirectory,
                 leading: Callable[[], bool] = lambda: True) -> None:
        self.nb = nb
        #: Checked between transactions: a worker that lost its lock stops writing.
        self.leading = leading
        self.cache = cache
        self.core = core
        self.directory = directory
        #: ``"<kind>.<outcome>"`` -> count since this process started.
        self.totals: collections.Counter[str] = collections.Counter()
        self._stale: dict[tuple[str, str], int] = {}

    # -- planning -----------------------------------------------------------
    def _judge(self, kind: str, rid: str, row: Any, spec: desired.RowSpec,
               extra: list[str]) -> tuple[bool, list[str]] | None:
        """None if the row is right; else (force, what differs)."""
        if row is None:
            return False, ["missing"]
        differs = spec.differs(row) + extra
        if not differs:
            self._stale.pop((kind, rid), None)
            return None
        ahead = self._newer_than_sql(kind, rid, desired.row_revision(row), spec.revision)
        if ahead is None:
            return None
        return ahead, differs + (["revision ahead of SQL"] if ahead else [])

    def _newer_than_sql(self, kind: str, rid: str, revision: int,
                        sql_revision: int) -> bool | None:
        """Whether a row written from a newer revision than SQL's is to be forced back
        to SQL's: None the first pass that sees it (a postcommit committed after this
        pass read SQL may be landing), True from the next pass on at the same SQL
        revision (SQL rolled back, or the row was edited), False if not ahead."""
        if revision <= sql_revision:
            self._stale.pop((kind, rid), None)
            return False
        if self._stale.get((kind, rid)) != sql_revision:
            self._stale[(kind, rid)] = sql_revision
            LOG.info("drift: %s %s has revision %s, newer than SQL's %s; "
                     "leaving it for one pass", kind, rid, revision, sql_revision)
            return None
        return True

    @staticmethod
    def _switch_extra(snap: Snapshot, spec: desired.SwitchSpec) -> list[str]:
        if spec.network_id not in snap.switches:
            return []
        have = {p.name: p for p in snap.localnets.get(spec.network_id, [])}
        extra = []
        for localnet in spec.localnets:
            port = have.pop(localnet.name, None)
            if port is None or localnet.differs(port):
                extra.append(f"localnet {localnet.name}")
        extra += [f"extra localnet {name}" for name in have]
        return extra

    @staticmethod
    def _port_extra(snap: Snapshot, spec: desired.PortSpec,
                    dhcp_specs: Mapping[str, desired.DhcpSpec]) -> list[str]:
        """What differs in a port's DHCP_Options references and its own rows."""
        row = snap.ports.get(spec.port_id)
        if row is None:
            return []
        extra = []
        own: dict[int, Any] = {ipaddress.ip_network(r.cidr).version: r
               for r in snap.port_dhcp.get(spec.port_id, [])}
        if len(own) != len(snap.port_dhcp.get(spec.port_id, [])):
            extra.append("own dhcp_options twice")
        for version, column in ((4, "dhcpv4_options"), (6, "dhcpv6_options")):
            subnet = dhcp_specs.get(spec.dhcp_subnets.get(version) or "")
            options = spec.dhcp_extra.get(version)
            have = own.pop(version, None)
            if options and subnet is not None:
                wanted = desired.port_dhcp_columns(subnet.columns, spec.port_id, options,
                                                   spec.revision)
                if have is None or desired.RowSpec("DHCP_Options", "", 0, wanted).differs(have):
                    extra.append(f"own {column}")
                want = have.uuid if have is not None else None
            else:
                if have is not None:
                    extra.append(f"extra own {column}")
                want = snap.dhcp_uuid(spec.dhcp_subnets.get(version))
            if getattr(row, column) != ([want] if want else []):
                extra.append(column)
        return extra

    @staticmethod
    def _dns_extra(snap: Snapshot, rows: list[DnsRow], network_id: str,
                   shares: Mapping[str, Mapping[str, str]]) -> list[str]:
        """What differs in a network's DNS *rows* (one, or none): its ports' shares, its
        records, its reference from the switch."""
        extra = ["dns twice"] if len(rows) > 1 else []
        if not rows:
            return extra + (["missing"] if shares else [])
        row = sorted(rows, key=lambda r: r.uuid)[0]
        have = desired.dns_shares(row.external_ids)
        if have != shares:
            extra.append("shares")
        if row.records != desired.merge_records(have):
            extra.append("records")
        switch = snap.switches.get(network_id)
        if switch is not None and row.uuid not in switch.dns_records:
            extra.append("dns_records")
        return extra

    def _plan_dns(self, snap: Snapshot, dns: Mapping[str, list[DnsRow]],
                  networks: Mapping[str, dict[str, Any]],
                  ports: list[dict[str, Any]]) -> list[tuple[str, str, Any, list[str]]]:
        """Each network's DNS row: its ports' names."""
        of_network: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
        for port in ports:
            of_network[port["network_id"]].append(port)
        plan: list[tuple[str, str, Any, list[str]]] = []
        for net_id, network in networks.items():
            shares = {p["id"]: records for p in of_network[net_id] if (
                records := desired.dns_records(p, network, self.core.settings.dns_domain))}
            extra = self._dns_extra(snap, dns.get(net_id, []), net_id, shares)
            if extra:
                plan.append((DNS, net_id, commands.EnsureDns(
                    self.nb, net_id, shares,
                    {p["id"]: desired.revision_of(p) for p in of_network[net_id]}), extra))
        return plan

    @staticmethod
    def _group_extra(snap: Snapshot, spec: desired.PortGroupSpec, members: list[str],
                     in_nb: frozenset[UUID]) -> list[str]:
        """What differs in a port group's ACLs and members (ports whose LSP is not in NB
        yet join with their own write)."""
        row = snap.port_groups.get(spec.name)
        if row is None:
            return []
        have = {commands.acl_key(acl): acl
                for acl in (snap.acls.get(u) for u in row.acls) if acl is not None}
        extra = [f"acl {acl.name}" for acl in spec.acls
                 if (found := have.pop(acl.name, None)) is None or acl.differs(found)]
        extra += [f"extra acl {key}" for key in have]
        extra += ["unowned acl" for u in row.acls if u not in snap.acls][:1]
        port_of = {lsp.uuid: port_id for port_id, lsp in snap.ports.items()}
        if {port_of.get(u) for u in in_nb} != {p for p in members if p in snap.ports}:
            extra.append("members")
        return extra

    def _plan_groups(self, snap: Snapshot, ports: list[dict[str, Any]],
                     members_in_nb: dict[str, frozenset[UUID]],
                     ) -> list[tuple[str, str, Any, list[str]]]:
        """The drop group, a Port_Group per security group, their ACLs and members."""
        members: dict[str, list[str]] = collections.defaultdict(list)
        for port in ports:
            for name in desired.port_groups(port):
                members[name].append(port["id"])
        revisions = {port["id"]: desired.revision_of(port) for port in ports}
        # The drop group once a port needs it (its first port's write creates it); it is
        # never removed.
        specs = [desired.drop_group_spec()] if members[keys.DROP_GROUP] else []
        specs += [desired.port_group_spec(group) for group in self.core.list_security_groups()]
        plan: list[tuple[str, str, Any, list[str]]] = []
        for spec in specs:
            verdict = self._judge(PORT_GROUP, spec.name, snap.port_groups.get(spec.name), spec,
                                  self._group_extra(snap, spec, members[spec.name],
                                                    members_in_nb.get(spec.name, frozenset())))
            if verdict:
                plan.append((PORT_GROUP, spec.name, commands.EnsurePortGroup(
                    self.nb, spec, force=verdict[0],
                    members=commands.Members(frozenset(members[spec.name]), revisions)),
                    verdict[1]))
        wanted = {spec.name for spec in specs}
        for name, row in sorted(snap.port_groups.items()):
            if name not in wanted and keys.SECURITY_GROUP_ID in row.external_ids:
                plan.append((PORT_GROUP, name, commands.DeletePortGroup(self.nb, name),
                             ["not in SQL"]))
        return plan

    def plan(self) -> list[tuple[str, str, Any, list[str]]]:
        # NB first: a row a postcommit adds after the SQL read below is not in
        # this snapshot, so it cannot be mistaken for an orphan.
        with self.nb.read_lock():  # the copy and the IDL at the same moment
            snap = self.cache.snapshot()
            members_in_nb = commands.port_group_members(self.nb)
            routers_in_nb = commands.owned_router_revisions(self.nb)
            dns_in_nb = commands.owned_dns(self.nb)
        networks = {n["id"]: n for n in self.core.list_networks()}
        subnets = self.core.list_subnets()
        ports = self.core.list_ports()
        plan = self._plan_groups(snap, [p for p in ports if p["network_id"] in networks],
                                 members_in_nb)
        dhcp_specs = {s["id"]: spec for s in subnets
                      if s["network_id"] in networks
                      and (spec := desired.dhcp_spec(s, networks[s["network_id"]]))}
        for net_id, network in networks.items():
            switch = desired.switch_spec(network)
            verdict = self._judge(SWITCH, net_id, snap.switches.get(net_id), switch,
                                  self._switch_extra(snap, switch))
            if verdict:
                plan.append((SWITCH, net_id,
                             commands.EnsureSwitch(self.nb, switch, force=verdict[0]), verdict[1]))
        for subnet_id, spec in dhcp_specs.items():
            verdict = self._judge(DHCP, subnet_id, snap.dhcp.get(subnet_id), spec, [])
            if verdict:
                plan.append((DHCP, subnet_id,
                             commands.EnsureDhcpOptions(self.nb, spec, force=verdict[0]),
                             verdict[1]))
        ports = [p for p in ports if desired.has_switch_port(p)]
        for port in ports:
            net = networks.get(port["network_id"])
            if net is None:
                continue
            remote = port.get("binding:vnic_type") == keys.VNIC_REMOTE_MANAGED
            if remote and not self.directory.synced:
                continue  # its requested-chassis comes from SB; judge it once SB is known
            lsp = desired.port_spec(port, net,
                                    dpu_hostname(port, self.directory) if remote else None)
            verdict = self._judge(PORT, port["id"], snap.ports.get(port["id"]), lsp,
                                  self._port_extra(snap, lsp, dhcp_specs))
            if verdict:
                plan.append((PORT, port["id"],
                             commands.EnsurePort(self.nb, lsp, force=verdict[0]), verdict[1]))
        for port_id in sorted((set(snap.ports) | set(snap.port_dhcp))
                              - {p["id"] for p in ports}):
            plan.append((PORT, port_id, commands.DeletePort(self.nb, port_id),
                         ["not in SQL or without a switch port"]))
        plan += self._plan_dns(snap, dns_in_nb, networks, ports)
        routers = self.core.list_routers()
        for context in routers:
            if context.gateway is not None and not self.directory.synced:
                continue  # its gateway chassis come from SB; judge it once SB is known
            router = desired_l3.router_spec(context, self.directory.all())
            force = self._newer_than_sql(ROUTER, router.router_id,
                                         routers_in_nb.get(router.router_id, 0), router.revision)
            if force is None:
                continue
            # The command itself finds what differs (``changes``): a router's rows are
            # few, and read where they are written.
            plan.append((ROUTER, router.router_id,
                         commands.EnsureRouter(self.nb, router, force=force), []))
        for router_id in sorted(set(routers_in_nb) - {c.current["id"] for c in routers}):
            plan.append((ROUTER, router_id, commands.DeleteRouter(self.nb, router_id),
                         ["not in SQL"]))
        for subnet_id in sorted(set(snap.dhcp) - set(dhcp_specs)):
            plan.append((DHCP, subnet_id, commands.DeleteDhcpOptions(self.nb, subnet_id),
                         ["not in SQL or DHCP disabled"]))
        for net_id in sorted((set(snap.switches) | set(dns_in_nb)) - set(networks)):
            plan.append((SWITCH, net_id, commands.DeleteSwitch(self.nb, net_id), ["not in SQL"]))
        return plan

    # -- applying -------------------------------------------------------------
    def run(self) -> dict[str, int]:
        """One pass; returns ``{"<kind>.<outcome>": count}`` of the repairs made."""
        return self.apply(self.plan())

    def apply(self, plan: list[tuple[str, str, Any, list[str]]]) -> dict[str, int]:
        """Write *plan*; what was repaired.

        Port groups are written first, in transactions of their own: the ports written
        next join them (a filtered port is never written without the drop group).
        """
        groups = [item for item in plan if item[0] == PORT_GROUP]
        rest = [item for item in plan if item[0] != PORT_GROUP]
        chunks = [part[start:start + self.CHUNK] for part in (groups, rest)
                  for start in range(0, len(part), self.CHUNK)]
        done: collections.Counter[str] = collections.Counter()
        for chunk in chunks:
            if not self.leading():
                LOG.info("drift repair stopped: no longer the status worker")
                break
            with self.nb.transaction(check_error=True) as txn:
                for _, _, command, _ in chunk:
                    txn.add(command)
            for kind, rid, command, why in chunk:
                if command.result in (commands.CREATED, commands.UPDATED, commands.DELETED):
                    done[f"{kind}.{command.result}"] += 1
                    LOG.info("drift repaired: %s %s %s (%s)", command.result, kind, rid,
                             ", ".join(why or getattr(command, "changes", [])))
        self.totals.update(done)
        for kind, count in done.items():
            DRIFT_REPAIRS.labels(kind).inc(count)
        return dict(done)
