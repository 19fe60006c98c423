"""Floating IPs: create, read, list, update (associate, move, disassociate), delete
(extensions ``router``, ``fip-port-details``, ``dns-integration``).

A floating IP holds its address through a port of no project on the external
network (``network:floatingip``, ``device_id`` the floating IP's id), which only
the floating IP deletes.  Its router is derived, never given: the router with an
interface on the fixed IP's subnet and its gateway on the floating IP's network.
The backend hears of a change through the routers whose NAT it touches.

``dns_name`` and ``dns_domain`` are what Neutron hands an external DNS service to
publish; Neutrino stores and shows them, and publishes nothing (docs/api.md).  They
are not list filters, as in Neutron (neutron-lib marks them no ``is_filter``).
"""
from __future__ import annotations

import ipaddress
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import ColumnElement

from neutrino.core import exceptions as exc
from neutrino.core.context import ADMIN, Context, owned
from neutrino.core.mech_manager import MechanismManager
from neutrino.core.networks import check_network_visible, network_or_404
from neutrino.core.ports import Ports, check_port_visible, find_port
from neutrino.core.query import ListQuery, check_visible, visible_page
from neutrino.core.resources import floatingip_dict
from neutrino.core.routers import Routers, router_context
from neutrino.core.rows import apply, check_revision
from neutrino.core.tags import Tagged
from neutrino.core.writes import Writes
from neutrino.db.models import FloatingIP, Port, Router, new_id, touch
from neutrino.db.session import Database
from neutrino.drivers.api import FLOATINGIP, FloatingIPContext
from neutrino.drivers.status import ACTIVE, BUILD, DOWN, NOT_ASSOCIATED, WAITING_FOR_BACKEND


def _columns() -> dict[str, Any]:
    c = FloatingIP.__table__.c
    return {"id": c.id, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "status": c.status,
            "floating_network_id": c.floating_network_id,
            "floating_ip_address": c.floating_ip_address, "router_id": c.router_id,
            "port_id": c.fixed_port_id, "fixed_ip_address": c.fixed_ip_address,
            "revision_number": c.revision_number, "created_at": c.created_at,
            "updated_at": c.updated_at}


def not_found(fip_id: str) -> exc.NotFound:
    return exc.FloatingIPNotFound(floatingip_id=fip_id)


#: Floating IPs carry tags.
TAGGED = Tagged(FloatingIP, "floatingip", not_found)
#: Filterable attributes of a floating IP listing.
COLUMNS = {**_columns(), **TAGGED.filters()}


def visible_floatingips(ctx: Context) -> ColumnElement | None:
    """The floating IPs *ctx* may see: its project's (None: all)."""
    return None if ctx.sees_all_projects else FloatingIP.project_id == ctx.project_id


def floatingip_or_404(session: Session, ctx: Context, fip_id: str) -> FloatingIP:
    check_visible(session, visible_floatingips(ctx), FloatingIP.id, fip_id, not_found(fip_id))
    fip = session.get(FloatingIP, fip_id)
    if fip is None:
        raise not_found(fip_id)
    return fip


def orm_floatingip_dict(session: Session, fip: FloatingIP) -> dict[str, Any]:
    port = session.get(Port, fip.fixed_port_id) if fip.fixed_port_id else None
    return floatingip_dict(fip, port, sorted(t.tag for t in fip.tags))


class FloatingIPs:
    def __init__(self, db: Database, writes: Writes, mech: MechanismManager, ports: Ports):
        self.db = db
        self.writes = writes
        self.mech = mech
        self.ports = ports

    def _associated_status(self, session: Session, router: Router) -> tuple[str, str | None]:
        """An associated floating IP's status at commit: what a backend knows already from
        its *router* (OVN: DOWN, no gateway port to translate on), else BUILD until the
        backend reports it, or ACTIVE when no backend reports it."""
        known = self.mech.floatingip_status(router_context(session, router))
        if known is not None:
            return known
        return (BUILD, WAITING_FOR_BACKEND) if self.mech.async_l3_status else (ACTIVE, None)

    @staticmethod
    def _context(session: Session, current: dict[str, Any], original: dict[str, Any] | None,
                 router_ids: list[str | None]) -> FloatingIPContext:
        routers = [session.get(Router, r) for r in dict.fromkeys(router_ids) if r]
        return FloatingIPContext(
            current=current, original=original,
            routers=[router_context(session, r) for r in routers if r is not None],
            session=session)

    # -- create, read, list -----------------------------------------------------------
    def create(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.writes.write("create_floatingip",
                                 lambda s: self._create(s, ctx, owned(ctx, attrs)),
                                 undo=lambda fip_id: self.delete(ADMIN, fip_id)).current

    def _create(self, session: Session, ctx: Context, attrs: dict[str, Any]) -> FloatingIPContext:
        dns_name, dns_domain = _dns_name_and_domain(attrs)
        net_id = attrs["floating_network_id"]
        check_network_visible(session, ctx, net_id)
        net = network_or_404(session, net_id)
        if not net.external:
            raise exc.BadRequest(resource="floatingip",
                                 msg=f"Network {net_id} is not a valid external network")
        subnet_id, address = attrs.get("subnet_id"), attrs.get("floating_ip_address")
        v4 = [s for s in net.subnets if s.ip_version == 4
              and subnet_id in (None, s.id)
              and (address is None
                   or ipaddress.ip_address(address) in ipaddress.ip_network(s.cidr))]
        if not v4:
            if subnet_id is not None and subnet_id not in {s.id for s in net.subnets}:
                raise exc.SubnetNotFound(subnet_id=subnet_id)
            raise exc.BadRequest(resource="floatingip",
                                 msg=f"Network {net_id} does not contain any IPv4 subnet")
        fip_id = new_id()
        wanted = [{"subnet_id": s.id, **({"ip_address": address} if address else {})}
                  for s in v4[:1]]
        try:
            port = self.ports.create_owned(session, {
                "network_id": net_id, "project_id": "", "device_owner": FLOATINGIP,
                "device_id": fip_id, "fixed_ips": wanted}).current
        except exc.IpAddressGenerationFailure:
            raise exc.ExternalIpAddressExhausted(net_id=net_id) from None
        fip = FloatingIP(id=fip_id, project_id=attrs["project_id"],
                         description=attrs.get("description", ""),
                         dns_name=dns_name, dns_domain=dns_domain,
                         floating_network_id=net_id, floating_port_id=port["id"],
                         floating_ip_address=port["fixed_ips"][0]["ip_address"],
                         status=DOWN, status_reason=NOT_ASSOCIATED)
        session.add(fip)
        if attrs.get("port_id"):
            self._associate(session, ctx, fip, attrs["port_id"], attrs.get("fixed_ip_address"))
        elif attrs.get("fixed_ip_address"):
            raise _fixed_ip_without_port()
        session.flush()
        TAGGED.create(session, fip, attrs.get("tags", []))
        return self._context(session, orm_floatingip_dict(session, fip), None, [fip.router_id])

    def get(self, ctx: Context, fip_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            return orm_floatingip_dict(session, floatingip_or_404(session, ctx, fip_id))

    def list_page(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        visible = visible_floatingips(ctx)
        with self.db.read() as session:
            rows, more = visible_page(session, FloatingIP.__table__, COLUMNS, visible, query)
            tags = TAGGED.of(session, [r.id for r in rows])
            ports = {p.id: p for p in session.scalars(select(Port).where(
                Port.id.in_([r.fixed_port_id for r in rows if r.fixed_port_id])))}
            return [floatingip_dict(r, ports.get(r.fixed_port_id or ""), tags[r.id])
                    for r in rows], more

    # -- update, delete ---------------------------------------------------------------
    def update(self, ctx: Context, fip_id: str, attrs: dict[str, Any],
               if_match: int | None = None) -> dict[str, Any]:
        return self.writes.write("update_floatingip", lambda s: self._update(
            s, ctx, fip_id, dict(attrs), if_match)).current

    def _update(self, session: Session, ctx: Context, fip_id: str, attrs: dict[str, Any],
                if_match: int | None) -> FloatingIPContext:
        fip = floatingip_or_404(session, ctx, fip_id)
        check_revision(fip, if_match)
        original = orm_floatingip_dict(session, fip)
        old_router = fip.router_id
        if not attrs:
            # An empty update disassociates, as in Neutron: the association was once a
            # floating IP's only writable attribute, and clients still rely on it.
            attrs = {"port_id": None}
        if "port_id" in attrs:
            port_id, fixed_ip = attrs.pop("port_id"), attrs.pop("fixed_ip_address", None)
            if port_id is None:
                if fixed_ip is not None:
                    raise _fixed_ip_without_port()
                fip.fixed_port_id = fip.fixed_ip_address = fip.router_id = None
                fip.status, fip.status_reason = DOWN, NOT_ASSOCIATED
            else:
                self._associate(session, ctx, fip, port_id, fixed_ip)
        elif attrs.pop("fixed_ip_address", None) is not None:
            raise _fixed_ip_without_port()
        apply(fip, attrs)
        touch(fip)
        session.flush()
        return self._context(session, orm_floatingip_dict(session, fip), original,
                             [old_router, fip.router_id])

    def delete(self, ctx: Context, fip_id: str, if_match: int | None = None) -> None:
        self.writes.write("delete_floatingip",
                          lambda s: self._delete(s, ctx, fip_id, if_match))

    def _delete(self, session: Session, ctx: Context, fip_id: str,
                if_match: int | None) -> FloatingIPContext:
        fip = floatingip_or_404(session, ctx, fip_id)
        check_revision(fip, if_match)
        current = orm_floatingip_dict(session, fip)
        router_id, port_id = fip.router_id, fip.floating_port_id
        session.delete(fip)
        session.flush()
        self.ports.delete_owned(session, port_id)
        return self._context(session, current, None, [router_id])

    def delete_disassociated(self, net_id: str) -> None:
        """Delete the floating IPs of external network *net_id* that no port uses."""
        with self.db.read() as session:
            unused = list(session.scalars(select(FloatingIP.id).where(
                FloatingIP.floating_network_id == net_id, FloatingIP.fixed_port_id.is_(None))))
        for fip_id in unused:
            try:
                self.delete(ADMIN, fip_id)
            except exc.FloatingIPNotFound:
                pass  # deleted meanwhile by its owner

    # -- association ----------------------------------------------------------------
    def _associate(self, session: Session, ctx: Context, fip: FloatingIP, port_id: str,
                   fixed_ip: str | None) -> None:
        """Point *fip* at *port_id*'s IPv4 *fixed_ip* (its only one if None), through the
        router that connects that subnet to the floating IP's network."""
        check_port_visible(session, ctx, port_id)
        port = find_port(session, port_id)
        if port is None:
            raise exc.PortNotFound(port_id=port_id)
        if port.project_id != fip.project_id and not ctx.sees_all_projects:
            raise exc.BadRequest(resource="floatingip", msg=(
                f"Cannot create floating IP and bind it to Port {port_id}, since that port "
                "is owned by a different tenant"))
        v4 = [a for a in port.fixed_ips if ipaddress.ip_address(a.ip_address).version == 4]
        if fixed_ip is not None:
            chosen = next((a for a in v4 if a.ip_address == str(fixed_ip)), None)
            if chosen is None:
                raise exc.BadRequest(resource="floatingip", msg=(
                    f"Port {port_id} does not have fixed ip {fixed_ip}"))
        elif not v4:
            raise exc.BadRequest(resource="floatingip", msg=(
                f"Bad floatingip request: Port {port_id} does not have any fixed IPv4 address"))
        elif len(v4) > 1:
            raise exc.BadRequest(resource="floatingip", msg=(
                f"Port {port_id} has multiple fixed IPv4 addresses.  Must provide a specific "
                "IPv4 address when assigning a floating IP"))
        else:
            chosen = v4[0]
        router_id = Routers.serving(session, chosen.subnet_id, fip.floating_network_id)
        if router_id is None:
            raise exc.ExternalGatewayForFloatingIPNotFound(
                external_network_id=fip.floating_network_id, subnet_id=chosen.subnet_id,
                port_id=port_id)
        other = session.scalar(select(FloatingIP.id).where(
            FloatingIP.floating_network_id == fip.floating_network_id,
            FloatingIP.fixed_port_id == port_id,
            FloatingIP.fixed_ip_address == chosen.ip_address, FloatingIP.id != fip.id))
        if other is not None:
            raise exc.FloatingIPPortAlreadyAssociated(
                floating_ip_address=fip.floating_ip_address, fip_id=fip.id, port_id=port_id,
                fixed_ip=chosen.ip_address, net_id=fip.floating_network_id)
        router = session.get(Router, router_id)
        assert router is not None  # found by Routers.serving in this transaction
        fip.fixed_port_id, fip.fixed_ip_address, fip.router_id = (
            port_id, chosen.ip_address, router_id)
        fip.status, fip.status_reason = self._associated_status(session, router)


def _dns_name_and_domain(attrs: dict[str, Any]) -> tuple[str, str]:
    """A floating IP's ``dns_name`` and ``dns_domain``: both or neither, as Neutron's DNS
    integration refuses one without the other (a record needs a name in a zone)."""
    name, domain = attrs.get("dns_name", ""), attrs.get("dns_domain", "")
    if domain and not name:
        raise exc.BadRequest(resource="floatingip",
                             msg="dns_domain cannot be specified without a dns_name")
    if name and not domain:
        raise exc.BadRequest(resource="floatingip",
                             msg="dns_name cannot be specified without a dns_domain")
    return name, domain


def _fixed_ip_without_port() -> exc.BadRequest:
    return exc.BadRequest(resource="floatingip",
                          msg="fixed_ip_address cannot be specified without a port_id")
