"""Ports: create, read, list, update, delete; binding follows each write (B2-B4).

The hot paths (create, show, delete, listing) read and write with prebuilt
plain statements instead of the ORM's loaders and unit of work, which cost a
third of such a request.
"""
from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from sqlalchemy import Connection, bindparam, delete, insert, or_, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.exc import StaleDataError
from sqlalchemy.sql.elements import ColumnElement

from neutrino.core import exceptions as exc
from neutrino.core import extra_dhcp_opts, ipam
from neutrino.core.binding import PortBinder
from neutrino.core.context import ADMIN, Context, owned
from neutrino.core.contexts import port_context
from neutrino.core.mech_manager import MechanismManager
from neutrino.core.networks import check_network_visible, network_view
from neutrino.core.query import ListQuery, check_visible, visible_page
from neutrino.core.resources import orm_port_dict, port_dict, segment_dict
from neutrino.core.rows import RowView, apply, check_revision, chunks, column_values
from neutrino.core.security_groups import SecurityGroups, default_group_id
from neutrino.core.tags import Tagged
from neutrino.core.writes import Writes
from neutrino.db.models import (
    FloatingIP,
    IPAllocation,
    Network,
    Port,
    PortSecurityGroup,
    Router,
    SecurityGroup,
    new_id,
    touch,
    utcnow,
)
from neutrino.db.session import Database
from neutrino.drivers import dns
from neutrino.drivers.api import (
    FLOATINGIP,
    ROUTER_GATEWAY,
    ROUTER_INTERFACE,
    VIF_TYPE_BINDING_FAILED,
    VIF_TYPE_UNBOUND,
    PortContext,
)
from neutrino.drivers.status import BINDING, DOWN, NO_HOST, NOT_ASSOCIATED

MAC_PREFIX = "fa:16:3e"
#: Attributes whose change invalidates a port's binding.
BINDING_ATTRS = ("binding:host_id", "binding:vnic_type", "binding:profile")


def _columns() -> dict[str, Any]:
    c = Port.__table__.c
    return {"id": c.id, "name": c.name, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "network_id": c.network_id, "mac_address": c.mac_address,
            "admin_state_up": c.admin_state_up, "status": c.status, "device_id": c.device_id,
            "device_owner": c.device_owner, "binding:host_id": c.host,
            "binding:vnic_type": c.vnic_type, "binding:vif_type": c.vif_type,
            "revision_number": c.revision_number, "created_at": c.created_at,
            "updated_at": c.updated_at, "dns_name": c.dns_name, "dns_domain": c.dns_domain}


#: Ports carry tags.
TAGGED = Tagged(Port, "port", lambda port_id: exc.PortNotFound(port_id=port_id))
#: Filterable attributes of a port listing.
COLUMNS = {**_columns(), **TAGGED.filters()}
PORT_INSERT, IP_INSERT = insert(Port.__table__), insert(IPAllocation.__table__)
#: A port's groups, written on the table (the mapped class's bulk INSERT is the ORM's).
GROUPS_INSERT = insert(PortSecurityGroup.__table__)
GROUPS_DELETE = delete(PortSecurityGroup.__table__).where(
    PortSecurityGroup.__table__.c.port_id == bindparam("id"))
PORT_BY_ID = select(Port.__table__).where(Port.id == bindparam("id"))
PORT_FOR_UPDATE = PORT_BY_ID.with_for_update()
DNS_DOMAIN_OF_NETWORK = select(Network.dns_domain).where(Network.id == bindparam("id"))
IPS_OF_PORT = select(IPAllocation.subnet_id, IPAllocation.ip_address).where(
    IPAllocation.port_id == bindparam("id")).order_by(IPAllocation.ip_address)
DELETE_PORT_IPS = delete(IPAllocation.__table__).where(IPAllocation.port_id == bindparam("id"))
DELETE_PORT = delete(Port.__table__).where(Port.id == bindparam("id"),
                                           Port.revision_number == bindparam("revision"))
#: Ports only their router or floating IP may delete (Neutron's ``prevent_l3_port_deletion``).
L3_OWNERS = (ROUTER_INTERFACE, ROUTER_GATEWAY, FLOATINGIP)
#: A port a router or floating IP holds as its own, whatever its device_owner says now
#: (an update may have changed it).
HELD_BY_L3 = select(FloatingIP.id).where(FloatingIP.floating_port_id == bindparam("id")).union(
    select(Router.id).where(Router.gw_port_id == bindparam("id")))
#: A deleted port's floating IPs are disassociated (Neutron's ``disassociate_floatingips``).
FIPS_OF_PORT = select(FloatingIP.id).where(FloatingIP.fixed_port_id == bindparam("id"))
GROUPS_OF_PORT = select(PortSecurityGroup.security_group_id).where(
    PortSecurityGroup.port_id == bindparam("id")).order_by(PortSecurityGroup.security_group_id)
BINDINGS_OF_PORT = select(PortSecurityGroup.__table__).where(
    PortSecurityGroup.port_id == bindparam("id")).order_by(PortSecurityGroup.security_group_id)
#: Device owners of ports that are never filtered (router, DHCP, metadata ports:
#: neutron-lib's ``is_port_trusted``): they get no default group.
TRUSTED_PREFIX = "network:"


class NoDefaultGroup(Exception):
    """A new port's project has no ``default`` security group (yet): the port's
    transaction stops, the group is created, and the port is written again."""

    def __init__(self, project_id: str) -> None:
        super().__init__(project_id)
        self.project_id = project_id


def visible_ports(ctx: Context) -> ColumnElement | None:
    """The ports *ctx* may see: its project's and those on its project's networks
    (Neutron's port query hook; None: all)."""
    if ctx.sees_all_projects:
        return None
    return or_(Port.project_id == ctx.project_id,
               Port.network_id.in_(select(Network.id).where(Network.project_id == ctx.project_id)))


def check_port_visible(session: Session, ctx: Context, port_id: str) -> None:
    check_visible(session, visible_ports(ctx), Port.id, port_id, exc.PortNotFound(port_id=port_id))


def find_port(session: Session, port_id: str, lock: bool = False) -> Port | None:
    """The port as an ORM object, or None; *lock*: read it ``FOR UPDATE`` (callers
    skip that on SQLite, whose write transactions hold the whole database)."""
    return session.get(Port, port_id, with_for_update=lock)


def _new_mac() -> str:
    # OS randomness: the global PRNG may be seeded by a library (or share its
    # state with a forked sibling worker) and repeat the same MACs.
    return f"{MAC_PREFIX}:" + ":".join(f"{b:02x}" for b in os.urandom(3))


def _check_mac(session: Session, net_id: str, mac: str, port_id: str | None) -> None:
    other = session.scalar(select(Port.id).where(Port.network_id == net_id,
                                                 Port.mac_address == mac))
    if other is not None and other != port_id:
        raise exc.MacAddressInUse(net_id=net_id, mac=mac)


#: The ``fixed_ips=<key>=<value>`` filters and what each matches of an address.
FIXED_IP_FILTERS: dict[str, Callable[[list[str]], ColumnElement[bool]]] = {
    "ip_address": IPAllocation.ip_address.in_,
    "subnet_id": IPAllocation.subnet_id.in_,
    # ip-substring-filtering: part of the address's text, wherever it is.
    "ip_address_substr": lambda parts: or_(*(IPAllocation.ip_address.contains(
        part, autoescape=True) for part in parts)),
}


def _fixed_ip_filter(values: list[str]) -> list[ColumnElement[bool]]:
    """Clauses on port ids for ``fixed_ips=ip_address=X``, ``fixed_ips=subnet_id=Y`` and
    ``fixed_ips=ip_address_substr=Z`` filters, as Neutron's: values of one key ORed,
    keys ANDed, each key met by any of the port's addresses."""
    wanted: dict[str, list[str]] = {}
    for value in values:
        key, _, part = value.partition("=")
        if key not in FIXED_IP_FILTERS or not part:
            raise exc.BadRequest(resource="port", msg=f"invalid fixed_ips filter '{value}'")
        wanted.setdefault(key, []).append(part)
    return [Port.id.in_(select(IPAllocation.port_id).where(FIXED_IP_FILTERS[key](parts)))
            for key, parts in wanted.items()]


def groups_of(session: Session, port_ids: list[str]) -> dict[str, list[str]]:
    """The security group ids of each of *port_ids*, sorted."""
    found: dict[str, list[str]] = {i: [] for i in port_ids}
    for chunk in chunks(port_ids):
        for pid, sg_id in session.execute(select(
                PortSecurityGroup.port_id, PortSecurityGroup.security_group_id).where(
                PortSecurityGroup.port_id.in_(chunk)).order_by(PortSecurityGroup.security_group_id)):
            found[pid].append(sg_id)
    return found


def _pairs(pairs: list[dict[str, Any]], mac: str) -> list[dict[str, str]]:
    """Allowed address pairs as stored and shown: the port's MAC where a pair names none."""
    return [{"ip_address": p["ip_address"], "mac_address": p.get("mac_address") or mac}
            for p in pairs]


def _check_groups(session: Session, ctx: Context, project_id: str, wanted: list[str]) -> None:
    """The groups exist and are the port's project's (an admin may use any): Neutron's
    SecurityGroupNotFound names those that are not."""
    found = dict(session.execute(select(SecurityGroup.id, SecurityGroup.stateful).where(
        SecurityGroup.id.in_(wanted),
        *(() if ctx.is_admin else (SecurityGroup.project_id == project_id,)))).all())
    missing = [g for g in wanted if g not in found]
    if missing:
        raise exc.SecurityGroupNotFound(id=", ".join(missing))
    if len(set(found.values())) > 1:
        # OVN's ACLs of one port are all stateful or all stateless (Neutron's rule).
        raise exc.SecurityGroupConflict(reason=(
            "Cannot apply both stateful and stateless security groups on the same port at "
            "the same time"))


def _set_groups(session: Session, port: Port, groups: list[str], new: bool) -> bool:
    """Make *groups* the port's; whether they changed."""
    current = [] if new else [b.security_group_id for b in port.security_group_bindings]
    wanted = sorted(set(groups))
    if wanted == sorted(current):
        return False
    if current:
        session.execute(GROUPS_DELETE, {"id": port.id})
    if wanted:
        session.execute(GROUPS_INSERT,
                        [{"port_id": port.id, "security_group_id": g} for g in wanted])
    set_committed_value(port, "security_group_bindings",
                        [PortSecurityGroup(port_id=port.id, security_group_id=g) for g in wanted])
    return True


def leave_groups(session: Session, port: Port) -> None:
    """A port a router takes as its interface is trusted (``network:*``): it leaves its
    security groups, as no router port is filtered."""
    _set_groups(session, port, [], new=False)


def network_domain(conn: Connection | Session, net_id: str) -> str:
    """One network's ``dns_domain`` ("" if it has none), by a statement built once."""
    return conn.scalar(DNS_DOMAIN_OF_NETWORK, {"id": net_id}) or ""


def network_domains(session: Session, network_ids: list[str] | None) -> dict[str, str]:
    """The ``dns_domain`` of each of *network_ids* (None: of every network) that has one."""
    stmt = select(Network.id, Network.dns_domain).where(Network.dns_domain != "")
    if network_ids is None:
        return {net_id: domain for net_id, domain in session.execute(stmt)}
    return {net_id: domain for chunk in chunks(sorted(set(network_ids)))
            for net_id, domain in session.execute(stmt.where(Network.id.in_(chunk)))}


def check_dns_name(name: str, configured: str) -> None:
    """neutron-lib's check of a ``dns_name`` against the configured domain (once one other
    than the default is set): a PQDN leaves room for it, an FQDN ends with it."""
    domain = dns.qualified(configured)
    if not name or not domain or domain == dns.DEFAULT_DOMAIN:
        return
    higher = f".{domain}"
    if not name.endswith("."):
        if len(name) + len(higher) > dns.FQDN_MAX_LEN:
            raise exc.InvalidInput(error_message=(
                f"The dns_name passed is a PQDN and its size is '{len(name)}'. The dns_domain "
                f"option is set to {domain}, with a length of '{len(higher)}'. When the two "
                "are concatenated to form a FQDN (with a '.' at the end), the resulting "
                f"length exceeds the maximum size of '{dns.FQDN_MAX_LEN}'"))
    elif len(name) <= len(higher) or not name.endswith(higher):
        raise exc.InvalidInput(error_message=(
            "The dns_name passed is a FQDN. Its higher level labels must be equal to the "
            f"dns_domain option, that has been set to '{domain}'. It must also include one "
            f"or more valid DNS labels to the left of '{domain}'"))


def _needs_binding(port: dict[str, Any]) -> bool:
    """A port with a host that no binding was attempted for (or one cut short: B4)."""
    return bool(port["binding:host_id"]) and port["binding:vif_type"] == VIF_TYPE_UNBOUND


class Ports:
    def __init__(self, db: Database, writes: Writes, mech: MechanismManager, binder: PortBinder,
                 groups: SecurityGroups, dns_domain: str):
        self.db = db
        self.writes = writes
        self.mech = mech
        self.binder = binder
        self.groups = groups
        #: The configured ``dns_domain``: of names whose port and network have none.
        self.dns_domain = dns_domain

    def _named(self, port: dict[str, Any], network_domain: str) -> dict[str, Any]:
        return dns.with_assignment(port, network_domain, self.dns_domain)

    def create(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.create_bulk(ctx, [attrs])[0]

    def create_bulk(self, ctx: Context, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Ports of *items*, in order, all or none (a bulk create, or one); each port
        with a host is then bound on its own, outside the transaction (B2)."""
        items = [owned(ctx, attrs) for attrs in items]

        def body(attrs: dict[str, Any]) -> Callable[[Session], PortContext]:
            # A copy of the item per run: a lost race runs the transaction again.
            return lambda session: self._create(session, ctx, dict(attrs))

        created: set[str] = set()
        while True:
            try:
                contexts = self.writes.write_all(
                    "create_port", [body(attrs) for attrs in items],
                    undo=lambda port_id: self.delete(ADMIN, port_id))
                break
            except NoDefaultGroup as missing:
                # A project's first port creates its default group (a transaction of its
                # own, committed and in the backends before the port names it); found
                # missing in the port's own transaction, as a read before it would cost
                # every other create a transaction more.
                if missing.project_id in created:  # deleted again since: give up
                    raise exc.SecurityGroupNotFound(id="default") from None
                self.groups.ensure_default(missing.project_id)
                created.add(missing.project_id)
        return [self._named(self.binder.bind(c.current["id"], c) or c.current
                            if c.current["binding:host_id"] else c.current,
                            c.network.current["dns_domain"]) for c in contexts]

    def _security(self, session: Session, ctx: Context, port: Port,
                  groups: list[str] | None) -> list[str]:
        """The groups of a new port: Neutron's port-security rules, the project's default
        group when none are given."""
        pairs = port.allowed_address_pairs
        if pairs and not port.port_security_enabled:
            raise exc.AddressPairAndPortSecurityRequired()
        # Like ML2, only port security decides: a port with no address yet still gets
        # its groups, which filter whatever address it is given later.
        if not port.port_security_enabled:
            if groups:
                raise exc.PortSecurityAndIPRequiredForSecurityGroups()
            return []
        if groups is None:
            if port.device_owner.startswith(TRUSTED_PREFIX) or not port.project_id:
                return []  # unfiltered, or of no project (Neutrino's own): no default group
            default = default_group_id(session, port.project_id)
            if default is None:  # the project's first port, or its group was deleted
                raise NoDefaultGroup(port.project_id)
            return [default]
        _check_groups(session, ctx, port.project_id, groups)
        return groups

    def _create(self, session: Session, ctx: Context, attrs: dict[str, Any]) -> PortContext:
        check_network_visible(session, ctx, attrs["network_id"])
        net = network_view(session, attrs["network_id"])
        mac = attrs.get("mac_address")
        if mac is None:
            mac = _new_mac()
        else:
            _check_mac(session, net.id, mac, None)
        binding = {k: attrs.pop(k) for k in BINDING_ATTRS if k in attrs}
        # Built as an ORM object (allocation and PortContext read it) but written
        # with two plain INSERTs: the unit of work's flush cost a third of a create.
        now = utcnow()
        port = Port(
            id=new_id(), revision_number=1, created_at=now, updated_at=now,
            network_id=net.id, mac_address=mac,
            # Routers' gateways and floating IPs own ports of no project ("").
            project_id=attrs["project_id"] if "project_id" in attrs else net.project_id,
            name=attrs.get("name", ""), description=attrs.get("description", ""),
            admin_state_up=attrs.get("admin_state_up", True),
            device_id=attrs.get("device_id", ""), device_owner=attrs.get("device_owner", ""),
            host=binding.get("binding:host_id") or "",
            vnic_type=binding.get("binding:vnic_type") or "normal",
            profile=binding.get("binding:profile") or {}, vif_type=VIF_TYPE_UNBOUND,
            vif_details={}, status=DOWN,
            port_security_enabled=attrs.get("port_security_enabled",
                                            net.port_security_enabled),
            allowed_address_pairs=_pairs(attrs.get("allowed_address_pairs", []), mac),
            dns_name=attrs.get("dns_name", ""), dns_domain=attrs.get("dns_domain", ""))
        check_dns_name(port.dns_name, self.dns_domain)
        port.status_reason = BINDING if port.host else NO_HOST
        port.fixed_ips = []
        wanted = ipam.requested_addresses(net.id, net.subnets, attrs.get("fixed_ips"), mac,
                                          port.device_owner)
        ipam.allocate(session, port, net.id, wanted, keep=set())
        groups = self._security(session, ctx, port, attrs.get("security_groups"))
        session.execute(PORT_INSERT, column_values(port))
        if port.fixed_ips:
            session.execute(IP_INSERT, [dict(column_values(a), port_id=port.id)
                                        for a in port.fixed_ips])
        _set_groups(session, port, groups, new=True)
        extra_dhcp_opts.create(session, port, attrs.get("extra_dhcp_opts"))
        TAGGED.create(session, port, attrs.get("tags", []))
        context = port_context(session, port, net=net)
        self.mech.precommit("create_port_precommit", context)
        return context

    def create_owned(self, session: Session, attrs: dict[str, Any]) -> PortContext:
        """In *session*: a port of a router or floating IP, which writes it to the backends
        as part of itself (no ``create_port_postcommit``).  Such ports are trusted, as in
        Neutron: no port security, no security groups."""
        return self._create(session, ADMIN, {**attrs, "port_security_enabled": False})

    def delete_owned(self, session: Session, port_id: str) -> PortContext:
        """In *session*: delete a port of a router or floating IP (by its owner)."""
        return self._delete(session, ADMIN, port_id, None, by_owner=True)

    def get(self, ctx: Context, port_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            check_port_visible(session, ctx, port_id)
            conn = session.connection()  # plain SELECTs: a show is the most frequent request
            row = conn.execute(PORT_BY_ID, {"id": port_id}).first()
            if row is None:
                raise exc.PortNotFound(port_id=port_id)
            port = port_dict(row, [{"subnet_id": sid, "ip_address": ip}
                                   for sid, ip in conn.execute(IPS_OF_PORT, {"id": port_id})],
                             sorted(t.tag for t in TAGGED.rows(conn, port_id)),
                             list(conn.scalars(GROUPS_OF_PORT, {"id": port_id})),
                             [extra_dhcp_opts.opt_dict(o) for o in conn.execute(
                                 extra_dhcp_opts.OPTS_OF_PORT, {"id": port_id})])
            domain = network_domain(conn, row.network_id)
        if port["binding:host_id"] and port["binding:vif_type"] in (
                VIF_TYPE_UNBOUND, VIF_TYPE_BINDING_FAILED):
            port = self.binder.bind(port_id) or port  # B4
        return self._named(port, domain)

    def list_page(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        filters = dict(query.filters)
        fixed_ip_filters = filters.pop("fixed_ips", None)
        visible = visible_ports(ctx)
        with self.db.read() as session:
            also = tuple(_fixed_ip_filter(fixed_ip_filters)) if fixed_ip_filters else ()
            rows, more = visible_page(session, Port.__table__, COLUMNS, visible, query,
                                      filters=filters, also=also)
            ips: dict[str, list] = {r.id: [] for r in rows}
            tags = TAGGED.of(session, list(ips))
            groups = groups_of(session, list(ips))
            opts = extra_dhcp_opts.opts_of(session, list(ips))
            if len(rows) > 500 and not filters and not fixed_ip_filters \
                    and visible is None:
                allocs = session.execute(select(IPAllocation.port_id, IPAllocation.subnet_id,
                                                IPAllocation.ip_address))
                for pid, sid, ip in allocs:
                    if pid in ips:
                        ips[pid].append({"subnet_id": sid, "ip_address": ip})
            else:
                for chunk in chunks(list(ips)):
                    for pid, sid, ip in session.execute(select(
                            IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address
                            ).where(IPAllocation.port_id.in_(chunk))):
                        ips[pid].append({"subnet_id": sid, "ip_address": ip})
            ports = [port_dict(r, sorted(ips[r.id], key=lambda a: a["ip_address"]), tags[r.id],
                               groups[r.id], opts[r.id]) for r in rows]
            domains = network_domains(session, [r.network_id for r in rows])
        unbound = [p["id"] for p in ports if _needs_binding(p)]
        if unbound:  # B4: a binding interrupted by a crash is finished on read
            fresh = {pid: self.binder.bind(pid) for pid in unbound}
            ports = [fresh.get(p["id"]) or p for p in ports]
        return dns.all_with_assignment(ports, domains, self.dns_domain), more

    def list_all(self) -> list[dict[str, Any]]:
        """Every port, without triggering binding (for backends' full resyncs)."""
        with self.db.read() as session:
            rows = session.execute(select(Port.__table__)).all()
            ips: dict[str, list] = {r.id: [] for r in rows}
            for pid, sid, ip in session.execute(select(
                    IPAllocation.port_id, IPAllocation.subnet_id, IPAllocation.ip_address)):
                if pid in ips:
                    ips[pid].append({"subnet_id": sid, "ip_address": ip})
            tags = TAGGED.of(session, list(ips))
            groups: dict[str, list[str]] = {pid: [] for pid in ips}
            for pid, sg_id in session.execute(select(
                    PortSecurityGroup.port_id, PortSecurityGroup.security_group_id).order_by(
                    PortSecurityGroup.security_group_id)):
                if pid in groups:
                    groups[pid].append(sg_id)
            opts = extra_dhcp_opts.opts_of(session, list(ips))
            return dns.all_with_assignment(
                [port_dict(r, sorted(ips[r.id], key=lambda a: a["ip_address"]), tags[r.id],
                           groups[r.id], opts[r.id]) for r in rows],
                network_domains(session, None), self.dns_domain)

    def get_without_binding(self, port_id: str) -> dict[str, Any] | None:
        with self.db.read() as session:
            port = find_port(session, port_id)
            if port is None:
                return None
            return self._named(orm_port_dict(port), network_domain(session, port.network_id))

    def update(self, ctx: Context, port_id: str, attrs: dict[str, Any],
               if_match: int | None = None) -> dict[str, Any]:
        context = self.writes.write(
            "update_port", lambda s: self._update(s, ctx, port_id, dict(attrs), if_match))
        port = context.current
        if _needs_binding(port):
            port = self.binder.bind(port_id) or port
        return self._named(port, context.network.current["dns_domain"])

    def _update(self, session: Session, ctx: Context, port_id: str, attrs: dict[str, Any],
                if_match: int | None) -> PortContext:
        check_port_visible(session, ctx, port_id)
        port = find_port(session, port_id, lock=not self.db.is_sqlite)
        if port is None:
            raise exc.PortNotFound(port_id=port_id)
        check_revision(port, if_match)
        net = network_view(session, port.network_id)
        original = orm_port_dict(port)
        was_bound = port.vif_type not in (VIF_TYPE_UNBOUND, VIF_TYPE_BINDING_FAILED)
        original_segment = next((segment_dict(s) for s in net.segments
                                 if s.id == port.bound_segment_id), None)
        original_driver = port.bound_driver
        if "mac_address" in attrs and attrs["mac_address"] is None:
            attrs["mac_address"] = _new_mac()  # port-mac-address-regenerate
        if "mac_address" in attrs and attrs["mac_address"] != port.mac_address:
            if was_bound:
                raise exc.PortBound(port_id=port_id, vif_type=port.vif_type,
                                    old_mac=port.mac_address, new_mac=attrs["mac_address"])
            _check_mac(session, net.id, attrs["mac_address"], port.id)
        binding = {k: attrs.pop(k) for k in BINDING_ATTRS if k in attrs}
        new_binding = {"host": binding.get("binding:host_id", port.host) or "",
                       "vnic_type": binding.get("binding:vnic_type", port.vnic_type) or "normal",
                       "profile": binding.get("binding:profile", port.profile) or {}}
        rebind = any(getattr(port, k) != v for k, v in new_binding.items())
        touched = set(attrs)
        mac = attrs.get("mac_address", port.mac_address)
        owner = attrs.get("device_owner", port.device_owner)
        auto = {s.id for s in net.subnets if ipam.is_auto_address(s)}
        if auto and "fixed_ips" not in attrs and \
                (mac, owner) != (port.mac_address, port.device_owner):
            # A new MAC moves the EUI-64 addresses; a new owner may add or drop them.
            attrs["fixed_ips"] = [{"subnet_id": a.subnet_id, "ip_address": a.ip_address}
                                  for a in port.fixed_ips if a.subnet_id not in auto]
        if "fixed_ips" in attrs:
            keep = {(a.subnet_id, a.ip_address) for a in port.fixed_ips}
            wanted = ipam.requested_addresses(net.id, net.subnets, attrs.pop("fixed_ips"), mac,
                                              owner)
            ipam.allocate(session, port, net.id, wanted, keep)
        groups = attrs.pop("security_groups", None)
        dhcp_opts = attrs.pop("extra_dhcp_opts", None)
        if "dns_name" in attrs:
            check_dns_name(attrs["dns_name"], self.dns_domain)
        if "allowed_address_pairs" in attrs:
            attrs["allowed_address_pairs"] = _pairs(attrs["allowed_address_pairs"],
                                                    attrs.get("mac_address", port.mac_address))
        changed = apply(port, attrs)
        changed = self._update_security(session, ctx, port, groups) or changed
        if dhcp_opts:
            changed = extra_dhcp_opts.update(session, port, dhcp_opts) or changed
        if rebind:
            # 3b/3d: the old binding (if any) is torn down in this transaction;
            # the new one is attempted after commit.
            apply(port, new_binding)
            port.vif_type, port.vif_details = VIF_TYPE_UNBOUND, {}
            port.bound_segment_id = port.bound_driver = None
            port.status = DOWN
            port.status_reason = BINDING if port.host else NO_HOST
        if changed or rebind or "fixed_ips" in touched:
            touch(port)
            session.flush()
        context = port_context(session, port, original, original_segment, original_driver,
                               net=net)
        self.mech.precommit("update_port_precommit", context)
        return context

    @staticmethod
    def _update_security(session: Session, ctx: Context, port: Port,
                         groups: list[str] | None) -> bool:
        """Neutron's checks of an update against port security (``port`` already has the
        new values); the new groups, if given.  Whether the groups changed."""
        if not port.port_security_enabled:
            if port.allowed_address_pairs:
                raise exc.AddressPairAndPortSecurityRequired()
            if groups:
                raise exc.PortSecurityAndIPRequiredForSecurityGroups()
            if groups is None and port.security_group_bindings:
                raise exc.PortSecurityPortHasSecurityGroup()
        if groups is None:
            return False
        _check_groups(session, ctx, port.project_id, groups)
        return _set_groups(session, port, groups, new=False)

    def refresh(self, port_ids: list[str]) -> None:
        """Tell the drivers of ports that another resource's write changed (a subnet that
        gave or took their addresses): an empty update of each, as ML2 does, but all in
        one transaction and one postcommit, so a large network costs one NB write."""
        def updated(session: Session) -> list[PortContext]:
            present: set[str] = set()
            for chunk in chunks(port_ids):  # those deleted since: their drivers heard
                present.update(session.scalars(select(Port.id).where(Port.id.in_(chunk))))
            return [self._update(session, ADMIN, port_id, {}, None)
                    for port_id in port_ids if port_id in present]

        contexts = self.writes.postcommit_all("update_port", self.writes.transaction(updated))
        for context in contexts:
            if _needs_binding(context.current):
                self.binder.bind(context.current["id"])

    def delete(self, ctx: Context, port_id: str, if_match: int | None = None) -> None:
        self.writes.write("delete_port", lambda s: self._delete(s, ctx, port_id, if_match))

    def _delete(self, session: Session, ctx: Context, port_id: str,
                if_match: int | None, by_owner: bool = False) -> PortContext:
        """*by_owner*: the router or floating IP owning the port deletes it."""
        check_port_visible(session, ctx, port_id)
        conn = session.connection()  # plain statements: no ORM load and flush to delete
        row = conn.execute(PORT_BY_ID if self.db.is_sqlite else PORT_FOR_UPDATE,
                           {"id": port_id}).first()
        if row is None:
            raise exc.PortNotFound(port_id=port_id)
        check_revision(row, if_match)
        if not by_owner and (row.device_owner in L3_OWNERS or
                             conn.execute(HELD_BY_L3, {"id": port_id}).first()):
            raise exc.ServicePortInUse(port_id=port_id,
                                       reason=f"has device owner {row.device_owner}")
        for (fip_id,) in conn.execute(FIPS_OF_PORT, {"id": port_id}):
            fip = session.get(FloatingIP, fip_id)
            if fip is not None:
                fip.fixed_port_id = fip.fixed_ip_address = fip.router_id = None
                fip.status, fip.status_reason = DOWN, NOT_ASSOCIATED
                session.flush()
        port = RowView(row, fixed_ips=conn.execute(IPS_OF_PORT, {"id": port_id}).all(),
                       tags=TAGGED.rows(conn, port_id),
                       security_group_bindings=conn.execute(BINDINGS_OF_PORT,
                                                            {"id": port_id}).all(),
                       dhcp_opts=conn.execute(extra_dhcp_opts.OPTS_OF_PORT,
                                              {"id": port_id}).all())
        context = port_context(  # 5: current = the port before deletion
            session, port, net=network_view(session, row.network_id))
        self.mech.precommit("delete_port_precommit", context)
        conn.execute(DELETE_PORT_IPS, {"id": port_id})
        if conn.execute(DELETE_PORT, {"id": port_id, "revision": row.revision_number}
                        ).rowcount != 1:
            raise StaleDataError(f"port {port_id} changed while being deleted")
        return context
