"""Auto-allocated topologies (``auto-allocated-topology``, what Nova calls "get me a
network"): for a project that asks, a network, a subnet from each default subnet pool
and a router with its gateway on the default external network and those subnets as
its interfaces, made once and given back to every later request.

Why concurrent requests end with one topology
    The whole topology is written in one transaction, and the project's row in
    ``auto_allocated_topologies`` (whose primary key is the project) right after the
    network, before the rest.  Of concurrent requests, the first to insert it holds
    the key until it commits; each other one fails on the key (PostgreSQL makes it
    wait for that commit first, SQLite runs write transactions one at a time), runs
    again from the start (``retry_on_conflict``) and finds the topology made.  A
    request never commits part of a topology: any refusal on the way (a pool
    exhausted, a quota reached) rolls all of it back.

Backends hear of it as of any network, subnet and router (their postcommits, in that
order); if one of them fails, the topology is deleted again before the error is
answered.  Deleting a topology is one transaction too: the router's interfaces on the
topology's network, the router with its gateway, the network with its subnets; a port
left on the network (an instance's) refuses it all (409 ``NetworkInUse``).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from neutrino.core import exceptions as exc
from neutrino.core.context import ADMIN, Context
from neutrino.core.networks import Networks, default_external_network, network_or_404
from neutrino.core.routers import Routers, interfaces_of
from neutrino.core.subnetpools import find_default_pool
from neutrino.core.subnets import Subnets
from neutrino.core.writes import Writes
from neutrino.db.models import AutoAllocatedTopology
from neutrino.db.session import Database
from neutrino.drivers.api import NetworkContext, RouterContext, SubnetContext

#: Names of what a topology is made of (clients and OpenStack's tests look for them).
NETWORK_NAME, ROUTER_NAME = "auto_allocated_network", "auto_allocated_router"
SUBNET_NAME = "auto_allocated_subnet_v{}"
LOG = logging.getLogger(__name__)
#: What the quota of the topology's project is charged for.
CHARGED = ("network", "subnet", "router")
#: A client naming no project (``openstack``'s default) sends this one: the caller's.
NO_PROJECT = "None"


@dataclass
class Topology:
    """What one transaction wrote (or, on delete, removed), for the backends."""

    network: NetworkContext
    subnets: list[SubnetContext] = field(default_factory=list)
    router: RouterContext | None = None


def project_of(ctx: Context, project_id: str) -> str:
    """The project a request is for: the caller's own unless an admin names another
    (403 ``NotAuthorized``, as Neutron's)."""
    if project_id == NO_PROJECT and ctx.project_id:
        project_id = ctx.project_id
    if not ctx.is_admin and project_id != ctx.project_id:
        raise exc.NotAuthorized()
    return project_id


class AutoAllocation:
    def __init__(self, db: Database, writes: Writes, networks: Networks, subnets: Subnets,
                 routers: Routers):
        self.db = db
        self.writes = writes
        self.networks = networks
        self.subnets = subnets
        self.routers = routers

    @staticmethod
    def _requirements(session: Session, ctx: Context) -> tuple[str, list[tuple[int, str]]]:
        """The default external network and the default pools (IP version, id) that *ctx*
        sees; 409 ``AutoAllocationFailure`` without either, as Neutron."""
        external = default_external_network(session)
        if external is None:
            raise exc.AutoAllocationFailure(reason="No default router:external network")
        pools = [(version, pool_id) for version in (4, 6)
                 if (pool_id := find_default_pool(session, ctx, version)) is not None]
        if not pools:
            raise exc.AutoAllocationFailure(reason="No default subnetpools defined")
        return external, pools

    def check(self, ctx: Context) -> None:
        """``?fields=dry-run``: could a topology be made now?"""
        with self.db.read() as session:
            self._requirements(session, ctx)

    def get(self, ctx: Context, project_id: str) -> str:
        """The id of the project's topology's network, made first if it has none."""
        with self.db.read() as session:
            found = session.get(AutoAllocatedTopology, project_id)
            if found is not None:
                return found.network_id
        made = self.writes.transaction(lambda s: self._build(s, ctx, project_id))
        if isinstance(made, str):  # another request made it meanwhile
            return made
        try:
            self.writes.postcommit("create_network", made.network)
            self.writes.postcommit_all("create_subnet", made.subnets)
            if made.router is not None:
                self.writes.postcommit("create_router", made.router)
        except exc.NeutronError:
            self.delete(ADMIN, project_id)
            raise
        return str(made.network.current["id"])

    def _build(self, session: Session, ctx: Context, project_id: str) -> Topology | str:
        """The topology, written in *session*; or the id of the network of the one a
        concurrent request committed first."""
        found = session.get(AutoAllocatedTopology, project_id)
        if found is not None:
            return found.network_id
        external, pools = self._requirements(session, ctx)
        network = self.networks.create_in(session, {
            "name": NETWORK_NAME, "project_id": project_id, "admin_state_up": True})
        net_id = network.current["id"]
        topology = AutoAllocatedTopology(project_id=project_id, network_id=net_id)
        session.add(topology)
        session.flush()  # the project's key: concurrent requests wait or rerun here
        try:
            subnets = [self.subnets.create_in(session, ctx, {
                "name": SUBNET_NAME.format(version), "network_id": net_id,
                "project_id": project_id, "ip_version": version, "subnetpool_id": pool_id},
                []) for version, pool_id in pools]
        except (exc.SubnetAllocationError, exc.BadRequest, exc.NotFound) as refused:
            # Neutron's answer; the cause goes to the log, the transaction rolls back.
            LOG.warning("no network for project %s: %s", project_id, refused)
            raise exc.AutoAllocationFailure(
                reason="Unable to provide tenant private network") from refused
        try:
            router = self.routers.create_in(session, ctx, {
                "name": ROUTER_NAME, "project_id": project_id, "admin_state_up": True,
                "external_gateway_info": {"network_id": external}})
            router_id = router.current["id"]
            for subnet in subnets:
                router = self.routers.add_interface_in(
                    session, ctx, router_id, {"subnet_id": subnet.current["id"]}, {})
        except exc.BadRequest as refused:
            LOG.warning("no router for project %s: %s", project_id, refused)
            raise exc.AutoAllocationFailure(
                reason="Unable to provide external connectivity") from refused
        topology.router_id = router_id
        session.flush()
        for resource in CHARGED:
            self.writes.limits.charge(session, resource, project_id)
        return Topology(network, subnets, router)

    def delete(self, ctx: Context, project_id: str) -> None:
        """Delete the project's topology (nothing to do if it has none, as Neutron)."""
        removed = self.writes.transaction(lambda s: self._delete(s, ctx, project_id))
        if removed is None:
            return
        if removed.router is not None:
            self.writes.postcommit("delete_router", removed.router)
        if removed.subnets:
            self.writes.postcommit_all("delete_subnet", removed.subnets)
        self.writes.postcommit("delete_network", removed.network)

    def _delete(self, session: Session, ctx: Context, project_id: str) -> Topology | None:
        # Locked: of concurrent deletes, the others wait and then find no row (PostgreSQL
        # rereads a locked row once its holder commits) instead of a half-deleted topology.
        topology = session.get(AutoAllocatedTopology, project_id, with_for_update=True)
        if topology is None:
            return None
        net_id, router_id = topology.network_id, topology.router_id
        session.delete(topology)
        session.flush()
        router = None
        if router_id is not None:
            net_subnets = {s.id for s in network_or_404(session, net_id).subnets}
            ports = [p.id for p in interfaces_of(session, router_id)
                     if {a.subnet_id for a in p.fixed_ips} & net_subnets]
            for port_id in ports:
                self.routers.remove_interface_in(session, ctx, router_id, {"port_id": port_id}, {})
            router = self.routers.delete_in(session, ctx, router_id, None)
            router.removed_ports = [*ports, *router.removed_ports]
        network, subnets = self.networks.delete_in(session, ctx, net_id, None)
        return Topology(network, subnets, router)

