"""Routers: create, read, list, update, delete, interfaces and extra routes (extensions
``router``, ``ext-gw-mode``, ``extraroute``, ``extraroute-atomic``).

A router's ports are ordinary ports it owns (``device_id`` the router's id): its
interfaces (``network:router_interface``, in the router's project) and its gateway
(``network:router_gateway``, of no project, on an external network).  They are
created and deleted here, in the router's transaction; the backend hears of them
through the router (:class:`RouterContext` carries all of them), so one API call
is one backend write.
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
from neutrino.core.ports import Ports, check_port_visible, find_port, leave_groups
from neutrino.core.query import ListQuery, check_visible, visible_page
from neutrino.core.resources import (
    floatingip_dict,
    orm_network_dict,
    orm_port_dict,
    orm_subnet_dict,
    router_dict,
)
from neutrino.core.rows import apply, check_revision
from neutrino.core.subnets import check_subnet_visible, subnet_or_404
from neutrino.core.tags import Tagged
from neutrino.core.writes import Writes
from neutrino.db.models import FloatingIP, IPAllocation, Port, Router, Subnet, touch
from neutrino.db.session import Database
from neutrino.drivers.api import ROUTER_GATEWAY, ROUTER_INTERFACE, RouterContext, RouterPortView
from neutrino.drivers.status import ACTIVE, BUILD, WAITING_FOR_BACKEND


def _columns() -> dict[str, Any]:
    c = Router.__table__.c
    return {"id": c.id, "name": c.name, "description": c.description, "project_id": c.project_id,
            "tenant_id": c.project_id, "status": c.status, "admin_state_up": c.admin_state_up,
            "revision_number": c.revision_number, "created_at": c.created_at,
            "updated_at": c.updated_at}


def not_found(router_id: str) -> exc.NotFound:
    return exc.RouterNotFound(router_id=router_id)


#: Routers carry tags.
TAGGED = Tagged(Router, "router", not_found)
#: Filterable attributes of a router listing.
COLUMNS = {**_columns(), **TAGGED.filters()}


def visible_routers(ctx: Context) -> ColumnElement | None:
    """The routers *ctx* may see: its project's (None: all)."""
    return None if ctx.sees_all_projects else Router.project_id == ctx.project_id


def router_or_404(session: Session, ctx: Context, router_id: str) -> Router:
    check_visible(session, visible_routers(ctx), Router.id, router_id, not_found(router_id))
    router = session.get(Router, router_id)
    if router is None:
        raise not_found(router_id)
    return router


def interfaces_of(session: Session, router_id: str) -> list[Port]:
    return list(session.scalars(select(Port).where(
        Port.device_id == router_id, Port.device_owner == ROUTER_INTERFACE
    ).order_by(Port.created_at, Port.id)))


def _ips(port: Any) -> list[dict[str, str]]:
    return [{"subnet_id": a.subnet_id, "ip_address": a.ip_address} for a in port.fixed_ips]


def orm_router_dict(session: Session, router: Router) -> dict[str, Any]:
    gateway = session.get(Port, router.gw_port_id) if router.gw_port_id else None
    return router_dict(router, gateway, _ips(gateway) if gateway else [],
                       sorted(t.tag for t in router.tags))


def _port_view(session: Session, port: Port) -> RouterPortView:
    subnets = [session.get(Subnet, a.subnet_id) for a in port.fixed_ips]
    return RouterPortView(port=orm_port_dict(port),
                          network=orm_network_dict(network_or_404(session, port.network_id)),
                          subnets=[orm_subnet_dict(s) for s in subnets if s is not None])


def router_context(session: Session, router: Router, original: dict[str, Any] | None = None,
                   removed_ports: list[str] | None = None) -> RouterContext:
    """The router as it is now in *session*, with all it connects."""
    gateway = session.get(Port, router.gw_port_id) if router.gw_port_id else None
    fips = session.scalars(select(FloatingIP).where(FloatingIP.router_id == router.id))
    return RouterContext(
        current=orm_router_dict(session, router), original=original,
        interfaces=[_port_view(session, p) for p in interfaces_of(session, router.id)],
        gateway=_port_view(session, gateway) if gateway is not None else None,
        floatingips=[floatingip_dict(f, None, []) for f in fips],
        removed_ports=removed_ports or [], session=session)


def _subnet_of(session: Session, port: Port, ip: str) -> Subnet | None:
    return next((session.get(Subnet, a.subnet_id) for a in port.fixed_ips
                 if a.ip_address == ip), None)


def _check_routes(session: Session, router: Router, routes: list[dict[str, Any]]) -> None:
    """Each nexthop is on a subnet the router is connected to (Neutron's ``InvalidRoutes``)."""
    ports = interfaces_of(session, router.id)
    if router.gw_port_id:
        gateway = session.get(Port, router.gw_port_id)
        ports += [gateway] if gateway is not None else []
    cidrs = [ipaddress.ip_network(s.cidr) for p in ports for a in p.fixed_ips
             if (s := session.get(Subnet, a.subnet_id)) is not None]
    for route in routes:
        nexthop = ipaddress.ip_address(route["nexthop"])
        if not any(nexthop in cidr for cidr in cidrs):
            raise exc.InvalidInput(error_message=(
                f"Invalid format for routes: {route}, the nexthop is not connected with "
                "router"))
        if ipaddress.ip_network(route["destination"]).version != nexthop.version:
            raise exc.InvalidInput(error_message=(
                f"Invalid format for routes: {route}, the destination and the nexthop are "
                "not of the same IP version"))


def _route_key(route: dict[str, Any]) -> tuple[str, str]:
    return str(ipaddress.ip_network(route["destination"])), str(route["nexthop"])


class Routers:
    def __init__(self, db: Database, writes: Writes, mech: MechanismManager, ports: Ports):
        self.db = db
        self.writes = writes
        self.mech = mech
        self.ports = ports

    def _status(self, router: Router) -> tuple[str, str | None]:
        """Until the backend says otherwise: a gateway waits for its chassis (if a backend
        reports status); a router without one forwards at once."""
        if router.gw_port_id and self.mech.async_l3_status:
            return BUILD, WAITING_FOR_BACKEND
        return ACTIVE, None

    # -- create, read, list ---------------------------------------------------------
    def create(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.writes.write(
            "create_router", lambda s: self.create_in(s, ctx, owned(ctx, attrs)),
            undo=lambda router_id: self.delete(ADMIN, router_id)).current

    def create_in(self, session: Session, ctx: Context, attrs: dict[str, Any]) -> RouterContext:
        """Step 1 of a create, in *session* (a caller's transaction: an auto-allocated
        topology's, as are the other ``*_in`` methods')."""
        tags = attrs.pop("tags", [])
        gateway = attrs.pop("external_gateway_info", None)
        router = Router(**attrs)
        session.add(router)
        session.flush()
        TAGGED.create(session, router, tags)
        if gateway:
            self._set_gateway(session, ctx, router, gateway)
        router.status, router.status_reason = self._status(router)
        session.flush()
        return router_context(session, router)

    def get(self, ctx: Context, router_id: str) -> dict[str, Any]:
        with self.db.read() as session:
            return orm_router_dict(session, router_or_404(session, ctx, router_id))

    def list_page(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        query = query or ListQuery()
        visible = visible_routers(ctx)
        with self.db.read() as session:
            rows, more = visible_page(session, Router.__table__, COLUMNS, visible, query)
            tags = TAGGED.of(session, [r.id for r in rows])
            gateways = {p.id: p for p in session.scalars(select(Port).where(
                Port.id.in_([r.gw_port_id for r in rows if r.gw_port_id])))}
            result = []
            for row in rows:
                gateway = gateways.get(row.gw_port_id) if row.gw_port_id else None
                result.append(router_dict(row, gateway, _ips(gateway) if gateway else [],
                                          tags[row.id]))
            return result, more

    def list_all(self) -> list[RouterContext]:
        """Every router with all it connects (for backends' full resyncs)."""
        with self.db.read() as session:
            contexts = [router_context(session, r) for r in session.scalars(select(Router))]
        for context in contexts:
            context.session = None
        return contexts

    def context_of(self, router_id: str) -> RouterContext | None:
        """One router with all it connects, as committed now (None: gone)."""
        with self.db.read() as session:
            router = session.get(Router, router_id)
            context = router_context(session, router) if router is not None else None
        if context is not None:
            context.session = None
        return context

    # -- update, delete -------------------------------------------------------------
    def update(self, ctx: Context, router_id: str, attrs: dict[str, Any],
               if_match: int | None = None) -> dict[str, Any]:
        return self.writes.write("update_router", lambda s: self._update(
            s, ctx, router_id, dict(attrs), if_match)).current

    def _update(self, session: Session, ctx: Context, router_id: str, attrs: dict[str, Any],
                if_match: int | None) -> RouterContext:
        router = router_or_404(session, ctx, router_id)
        check_revision(router, if_match)
        original = orm_router_dict(session, router)
        removed: list[str] = []
        gateway_before = (router.gw_port_id, router.enable_snat)
        if "external_gateway_info" in attrs:
            removed = self._set_gateway(session, ctx, router, attrs.pop("external_gateway_info"))
            router.status, router.status_reason = self._status(router)
        if "routes" in attrs:
            _check_routes(session, router, attrs["routes"])
        if apply(router, attrs) or (router.gw_port_id, router.enable_snat) != gateway_before:
            touch(router)
        session.flush()
        return router_context(session, router, original, removed)

    def delete(self, ctx: Context, router_id: str, if_match: int | None = None) -> None:
        self.writes.write("delete_router", lambda s: self.delete_in(s, ctx, router_id, if_match))

    def delete_in(self, session: Session, ctx: Context, router_id: str,
                  if_match: int | None) -> RouterContext:
        router = router_or_404(session, ctx, router_id)
        check_revision(router, if_match)
        interfaces = interfaces_of(session, router_id)
        if interfaces:
            raise exc.RouterInUse(router_id=router_id, reason="has ports still attached: "
                                  + ", ".join(p.id for p in interfaces))
        context = router_context(session, router)
        removed = self._set_gateway(session, ctx, router, None)
        context.removed_ports = removed
        session.delete(router)
        return context

    # -- the gateway ------------------------------------------------------------------
    def _set_gateway(self, session: Session, ctx: Context, router: Router,
                     info: dict[str, Any] | None) -> list[str]:
        """Give *router* the gateway *info* asks for (None or {}: none); returns the ids
        of the ports deleted on the way."""
        current = session.get(Port, router.gw_port_id) if router.gw_port_id else None
        info = info or {}
        net_id = info.get("network_id")
        if info and not net_id:
            raise exc.InvalidInput(error_message="network_id is required in "
                                   "external_gateway_info")
        if net_id:
            check_network_visible(session, ctx, net_id)
            if not network_or_404(session, net_id).external:
                raise exc.BadRequest(resource="router",
                                     msg=f"Network {net_id} is not an external network")
            router.enable_snat = info.get("enable_snat", True)
        wanted = info.get("external_fixed_ips")
        if current is not None and current.network_id == net_id and (
                wanted is None or _same_ips(current, wanted)):
            return []
        removed = []
        if current is not None:
            if current.network_id != net_id and session.scalar(select(FloatingIP.id).where(
                    FloatingIP.router_id == router.id).limit(1)):
                raise exc.RouterExternalGatewayInUseByFloatingIp(router_id=router.id,
                                                                 net_id=current.network_id)
            router.gw_port_id = None
            session.flush()
            self.ports.delete_owned(session, current.id)
            removed.append(current.id)
        if net_id:
            port = self.ports.create_owned(session, {
                "network_id": net_id, "project_id": "", "device_owner": ROUTER_GATEWAY,
                "device_id": router.id, "fixed_ips": wanted}).current
            router.gw_port_id = port["id"]
            session.flush()
        return removed

    # -- interfaces -----------------------------------------------------------------
    def add_interface(self, ctx: Context, router_id: str,
                      info: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        self.writes.write("update_router", lambda s: self.add_interface_in(
            s, ctx, router_id, info, result))
        return result

    def add_interface_in(self, session: Session, ctx: Context, router_id: str,
                         info: dict[str, Any], result: dict[str, Any]) -> RouterContext:
        router = router_or_404(session, ctx, router_id)
        port_id, subnet_id = _interface_info(info)
        if port_id is not None and subnet_id is not None:
            raise exc.BadRequest(resource="router", msg="Cannot specify both subnet-id and port-id")
        original = orm_router_dict(session, router)
        if port_id is not None:
            check_port_visible(session, ctx, port_id)
            port = find_port(session, port_id, lock=not self.db.is_sqlite)
            if port is None:
                raise exc.PortNotFound(port_id=port_id)
            if port.device_id:
                raise exc.PortInUse(port_id=port_id, net_id=port.network_id,
                                    device_id=port.device_id)
            if not port.fixed_ips:
                raise exc.BadRequest(resource="router",
                                     msg="Router port must have at least one fixed IP")
            subnets = [subnet_or_404(session, a.subnet_id) for a in port.fixed_ips]
            self._check_new_subnets(session, router, subnets)
            port.device_id, port.device_owner = router.id, ROUTER_INTERFACE
            leave_groups(session, port)
            touch(port)
            session.flush()
        else:
            assert subnet_id is not None
            check_subnet_visible(session, ctx, subnet_id)
            subnet = subnet_or_404(session, subnet_id)
            if not subnet.gateway_ip:
                raise exc.BadRequest(resource="router",
                                     msg="Subnet for router interface must have a gateway IP")
            self._check_new_subnets(session, router, [subnet])
            created = self.ports.create_owned(session, {
                "network_id": subnet.network_id, "project_id": router.project_id,
                "device_owner": ROUTER_INTERFACE, "device_id": router.id,
                "fixed_ips": [{"subnet_id": subnet.id, "ip_address": subnet.gateway_ip}]})
            port = find_port(session, created.current["id"])
            assert port is not None
            subnets = [subnet]
        # The router's revision moves with its interfaces, and racing interface changes
        # of one router conflict on it (the loser reruns and sees the winner's port).
        touch(router)
        session.flush()
        result.update(_interface_result(router, port, [s.id for s in subnets]))
        return router_context(session, router, original)

    @staticmethod
    def _check_new_subnets(session: Session, router: Router, subnets: list[Subnet]) -> None:
        """None of *subnets* is on the router already or overlaps one that is (400)."""
        attached = [s for p in interfaces_of(session, router.id) for a in p.fixed_ips
                    if (s := session.get(Subnet, a.subnet_id)) is not None]
        for new in subnets:
            new_cidr = ipaddress.ip_network(new.cidr)
            for old in attached:
                if old.id == new.id:
                    raise exc.BadRequest(resource="router",
                                         msg=f"Router already has a port on subnet {new.id}")
                if new_cidr.overlaps(ipaddress.ip_network(old.cidr)):
                    raise exc.BadRequest(resource="router", msg=(
                        f"Cidr {new.cidr} of subnet {new.id} overlaps with cidr {old.cidr} "
                        f"of subnet {old.id}"))

    def remove_interface(self, ctx: Context, router_id: str,
                         info: dict[str, Any]) -> dict[str, Any]:
        result: dict[str, Any] = {}
        self.writes.write("update_router", lambda s: self.remove_interface_in(
            s, ctx, router_id, info, result))
        return result

    def remove_interface_in(self, session: Session, ctx: Context, router_id: str,
                            info: dict[str, Any], result: dict[str, Any]) -> RouterContext:
        router = router_or_404(session, ctx, router_id)
        port_id, subnet_id = _interface_info(info)
        original = orm_router_dict(session, router)
        interfaces = interfaces_of(session, router_id)
        if port_id is not None:
            port = next((p for p in interfaces if p.id == port_id), None)
            if port is None:
                raise exc.RouterInterfaceNotFound(router_id=router_id, port_id=port_id)
            if subnet_id is not None and subnet_id not in {a.subnet_id for a in port.fixed_ips}:
                raise exc.SubnetMismatchForPort(port_id=port_id, subnet_id=subnet_id)
        else:
            port = next((p for p in interfaces
                         if subnet_id in {a.subnet_id for a in p.fixed_ips}), None)
            if port is None:
                check_subnet_visible(session, ctx, str(subnet_id))
                subnet_or_404(session, str(subnet_id))
                raise exc.RouterInterfaceNotFoundForSubnet(router_id=router_id,
                                                           subnet_id=subnet_id)
        subnet_ids = [a.subnet_id for a in port.fixed_ips]
        self._check_no_floatingips(session, router, port)
        self._check_not_floatingip_gateway(session, router, port, subnet_ids)
        result.update(_interface_result(router, port, subnet_ids))
        self.ports.delete_owned(session, port.id)
        touch(router)
        session.flush()
        return router_context(session, router, original, [port.id])

    @staticmethod
    def _check_no_floatingips(session: Session, router: Router, port: Port) -> None:
        """No floating IP goes through the interface *port* (409 as Neutron)."""
        cidrs = {a.subnet_id: ipaddress.ip_network(s.cidr) for a in port.fixed_ips
                 if (s := session.get(Subnet, a.subnet_id)) is not None}
        fixed = session.execute(select(FloatingIP.fixed_ip_address, IPAllocation.subnet_id).join(
            IPAllocation, (IPAllocation.port_id == FloatingIP.fixed_port_id)
            & (IPAllocation.ip_address == FloatingIP.fixed_ip_address)).where(
            FloatingIP.router_id == router.id)).all()
        for _, subnet_id in fixed:
            if subnet_id in cidrs:
                raise exc.RouterInterfaceInUseByFloatingIP(router_id=router.id,
                                                           subnet_id=subnet_id)

    @staticmethod
    def _check_not_floatingip_gateway(session: Session, router: Router, port: Port,
                                      subnet_ids: list[str]) -> None:
        """No floating IP reaches its external network through the interface *port*
        (``router-interface-fip``: 409 as Neutron), unless the router's gateway is on that
        network too."""
        gateway = session.get(Port, router.gw_port_id) if router.gw_port_id else None
        if gateway is not None and gateway.network_id == port.network_id:
            return
        if session.scalar(select(FloatingIP.id).where(
                FloatingIP.router_id == router.id,
                FloatingIP.floating_network_id == port.network_id).limit(1)):
            raise exc.RouterInterfaceInUseAsGatewayByFloatingIP(router_id=router.id,
                                                                subnet_id=subnet_ids[0])

    # -- extra routes (extraroute-atomic) ---------------------------------------------
    def change_routes(self, ctx: Context, router_id: str, routes: list[dict[str, Any]],
                      add: bool) -> dict[str, Any]:
        return self.writes.write("update_router", lambda s: self._change_routes(
            s, ctx, router_id, routes, add)).current

    def _change_routes(self, session: Session, ctx: Context, router_id: str,
                       routes: list[dict[str, Any]], add: bool) -> RouterContext:
        router = router_or_404(session, ctx, router_id)
        original = orm_router_dict(session, router)
        current = {_route_key(r): r for r in router.routes or []}
        given = {_route_key(r): {"destination": k[0], "nexthop": k[1]}
                 for r in routes for k in [_route_key(r)]}
        if add:
            _check_routes(session, router, [r for k, r in given.items() if k not in current])
            current.update({k: r for k, r in given.items() if k not in current})
        else:
            current = {k: r for k, r in current.items() if k not in given}
        router.routes = list(current.values())
        touch(router)
        session.flush()
        return router_context(session, router, original)

    # -- what floating IPs need -------------------------------------------------------
    @staticmethod
    def serving(session: Session, subnet_id: str, external_network_id: str) -> str | None:
        """The router that connects *subnet_id* to *external_network_id*: one with an
        interface on the subnet and its gateway on the network, or an interface on it
        (``router-interface-fip``), preferring the one whose interface holds the subnet's
        gateway IP (Neutron's ``get_router_for_floatingip``)."""
        subnet = session.get(Subnet, subnet_id)
        on_external = select(Port.device_id).where(
            Port.network_id == external_network_id,
            Port.device_owner.in_((ROUTER_GATEWAY, ROUTER_INTERFACE)))
        candidates = session.execute(
            select(Router.id, IPAllocation.ip_address)
            .join(Port, (Port.device_id == Router.id) & (Port.device_owner == ROUTER_INTERFACE))
            .join(IPAllocation, IPAllocation.port_id == Port.id)
            .where(IPAllocation.subnet_id == subnet_id, Router.id.in_(on_external))
            .order_by(Router.created_at, Router.id)).all()
        for router_id, ip in candidates:
            if subnet is not None and ip == subnet.gateway_ip:
                return router_id
        return candidates[0][0] if candidates else None


def _same_ips(port: Port, wanted: list[dict[str, Any]]) -> bool:
    have = {(a.subnet_id, a.ip_address) for a in port.fixed_ips}
    return all(any((w.get("subnet_id") in (None, sid)) and (w.get("ip_address") in (None, ip))
                   for sid, ip in have) for w in wanted) and len(wanted) == len(have)


def _interface_info(info: dict[str, Any]) -> tuple[str | None, str | None]:
    port_id, subnet_id = info.get("port_id"), info.get("subnet_id")
    if port_id is None and subnet_id is None:
        raise exc.BadRequest(resource="router", msg="Either subnet_id or port_id must be specified")
    return port_id, subnet_id


def _interface_result(router: Router, port: Port, subnet_ids: list[str]) -> dict[str, Any]:
    return {"id": router.id, "tenant_id": router.project_id, "project_id": router.project_id,
            "port_id": port.id, "network_id": port.network_id,
            "subnet_id": subnet_ids[0] if subnet_ids else None, "subnet_ids": subnet_ids}
