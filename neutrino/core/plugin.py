"""The core plugin: the facade the API calls, and what backends report to.

It builds the parts and wires them together; each part does one job:

* :mod:`~neutrino.core.networks`, :mod:`~neutrino.core.subnets`,
  :mod:`~neutrino.core.ports`, :mod:`~neutrino.core.security_groups`,
  :mod:`~neutrino.core.security_group_rules`: one module per resource, each on the same write
  sequence (:mod:`~neutrino.core.writes`); a new resource is one more such
  module, its methods here and its API routes;
* :mod:`~neutrino.core.subnetpools`, :mod:`~neutrino.core.address_scopes`: subnet pools
  and the address scopes they join, in one transaction each (no driver hears of them);
* :mod:`~neutrino.core.tags`: the tags of every resource that declares itself tagged;
* :mod:`~neutrino.core.rbac`: RBAC policies on every resource that declares itself
  shareable;
* :mod:`~neutrino.core.quotas`: each project's limits, checked by every create;
* :mod:`~neutrino.core.agents`: the backends' agents, with what an admin set on them;
* :mod:`~neutrino.core.ip_availability`: addresses each network has and uses;
* :mod:`~neutrino.core.binding`: binding ports outside any transaction (B2, B3);
* :mod:`~neutrino.core.statuses`: status reports of backends (S2);
* :mod:`~neutrino.core.mech_manager`: calling the mechanism drivers.
"""
from __future__ import annotations

from importlib.metadata import entry_points
from typing import Any

from sqlalchemy import select

from neutrino.config import Settings
from neutrino.core import (
    address_scopes,
    floatingips,
    networks,
    ports,
    routers,
    security_groups,
    subnetpools,
    subnets,
)
from neutrino.core.address_scopes import AddressScopes
from neutrino.core.agents import Agents
from neutrino.core.auto_allocation import AutoAllocation, project_of
from neutrino.core.binding import PortBinder
from neutrino.core.context import Context
from neutrino.core.events import Doorbell, Pruner
from neutrino.core.floatingips import FloatingIPs
from neutrino.core.handle import BackendHandle
from neutrino.core.ip_availability import IpAvailability
from neutrino.core.mech_manager import MechanismManager
from neutrino.core.networks import Networks
from neutrino.core.notifier import Notifier
from neutrino.core.ports import Ports, find_port
from neutrino.core.query import ListQuery
from neutrino.core.quotas import Limits, Quotas
from neutrino.core.rbac import RbacPolicies
from neutrino.core.routers import Routers
from neutrino.core.security_group_rules import SecurityGroupRules
from neutrino.core.security_groups import SecurityGroups
from neutrino.core.statuses import Statuses
from neutrino.core.subnetpools import SubnetPools
from neutrino.core.subnets import Subnets
from neutrino.core.tags import Tags
from neutrino.core.type_drivers import TypeDriver
from neutrino.core.writes import Writes
from neutrino.db.session import Database
from neutrino.drivers.api import PortStatusesWritten, StatusUpdate


class Plugin:
    """Neutrino's ML2 core; drivers reach it through :class:`BackendHandle`."""

    def __init__(self, settings: Settings, db: Database):
        self.settings = settings
        self.db = db
        self.mech = MechanismManager(settings.mechanism_drivers)
        self.type_drivers: dict[str, TypeDriver] = {
            ep.name: ep.load()(settings, self.mech.physnet_known)
            for ep in entry_points(group="neutrino.type_drivers")}
        for t in settings.tenant_network_types:
            if t not in self.type_drivers:
                raise ValueError(f"tenant network type {t!r} has no type driver")
        self.notifier = Notifier(settings.notify_url)
        self.pruner = Pruner(db)
        #: Rung after every commit that writes status events.
        self.doorbell = Doorbell(db)
        writes = Writes(db, self.mech, Limits(settings, db))
        self.binder = PortBinder(db, writes, self.mech, self.doorbell,
                                 settings.max_bind_retries, read_port=find_port)
        self.networks = Networks(db, writes, self.mech, self.type_drivers,
                                 settings.tenant_network_types)
        self.subnets = Subnets(db, writes, self.mech,
                               readdressed=lambda port_ids: self.ports.refresh(port_ids))
        self.address_scopes = AddressScopes(db, writes)
        self.subnetpools = SubnetPools(db, writes)
        self.security_groups = SecurityGroups(db, writes, self.mech)
        self.security_group_rules = SecurityGroupRules(db, writes, self.mech)
        self.ports = Ports(db, writes, self.mech, self.binder, self.security_groups,
                           settings.dns_domain)
        self.routers = Routers(db, writes, self.mech, self.ports)
        self.floatingips = FloatingIPs(db, writes, self.mech, self.ports)
        self.auto_allocation = AutoAllocation(db, writes, self.networks, self.subnets,
                                              self.routers)
        self.statuses = Statuses(db, self.notifier, self.doorbell)
        self.quotas = Quotas(db, writes)
        self.agents = Agents(db, writes, self.mech)
        self.ip_availability = IpAvailability(db)
        #: Tagged resources by collection; the API serves /{collection}/{id}/tags for each.
        self.tags = Tags(db, writes, {"networks": networks.TAGGED, "subnets": subnets.TAGGED,
                                      "ports": ports.TAGGED,
                                      "security-groups": security_groups.TAGGED,
                                      "subnetpools": subnetpools.TAGGED,
                                      "routers": routers.TAGGED,
                                      "floatingips": floatingips.TAGGED})
        #: Shareable resources by RBAC object type.
        self.rbac = RbacPolicies(db, writes, {"network": networks.SHAREABLE,
                                              "subnetpool": subnetpools.SHAREABLE,
                                              "address_scope": address_scopes.SHAREABLE})
        self.mech.initialize(BackendHandle(self))

    def start_workers(self) -> None:
        """Background work of a serving process: event pruning and the backends' workers."""
        self.pruner.start()
        self.mech.call_all("start_workers")

    def stop(self) -> None:
        self.pruner.stop()
        self.mech.call_all("stop")
        self.notifier.stop()

    def health(self) -> dict[str, Any]:
        """Each component's state: the database, then every mechanism driver's own
        (see :func:`all_healthy`)."""
        try:
            with self.db.read() as session:
                session.execute(select(1))
            database = {"healthy": True, "backend": self.db.write_engine.dialect.name}
        except Exception as e:  # noqa: BLE001 - reported, not raised
            database = {"healthy": False, "error": str(e), "problems": ["database unreachable"]}
        return {"database": database, **self.mech.health()}

    # -- the API's calls: create_<resource>, get_, list_<collection>, update_, delete_
    def create_network(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.networks.create(ctx, attrs)

    def create_network_bulk(self, ctx: Context,
                            items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A bulk create: every item, in order, or none."""
        return self.networks.create_bulk(ctx, items)

    def get_network(self, ctx: Context, net_id: str) -> dict[str, Any]:
        return self.networks.get(ctx, net_id)

    def list_networks(self, ctx: Context,
                      query: ListQuery | None = None) -> tuple[list[dict], bool]:
        return self.networks.list_page(ctx, query)

    def update_network(self, ctx: Context, net_id: str, attrs: dict[str, Any],
                       if_match: int | None = None) -> dict[str, Any]:
        return self.networks.update(ctx, net_id, attrs, if_match)

    def delete_network(self, ctx: Context, net_id: str, if_match: int | None = None) -> None:
        # As Neutron (its network BEFORE_DELETE): floating IPs that point nowhere do not
        # keep an external network alive; associated ones do (their ports: NetworkInUse).
        self.floatingips.delete_disassociated(net_id)
        self.networks.delete(ctx, net_id, if_match)

    def network_owner(self, ctx: Context, net_id: str) -> dict[str, Any]:
        """The network's ``project_id``, ``shared`` as *ctx* sees it and ``router:external``
        (what policy targets need of it)."""
        return self.networks.owner(ctx, net_id)

    def create_subnet(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.subnets.create(ctx, attrs)

    def create_subnet_bulk(self, ctx: Context,
                            items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A bulk create: every item, in order, or none."""
        return self.subnets.create_bulk(ctx, items)

    def get_subnet(self, ctx: Context, subnet_id: str) -> dict[str, Any]:
        return self.subnets.get(ctx, subnet_id)

    def list_subnets(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        return self.subnets.list_page(ctx, query)

    def update_subnet(self, ctx: Context, subnet_id: str, attrs: dict[str, Any],
                      if_match: int | None = None) -> dict[str, Any]:
        return self.subnets.update(ctx, subnet_id, attrs, if_match)

    def delete_subnet(self, ctx: Context, subnet_id: str, if_match: int | None = None) -> None:
        self.subnets.delete(ctx, subnet_id, if_match)

    def create_subnetpool(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.subnetpools.create(ctx, attrs)

    def get_subnetpool(self, ctx: Context, pool_id: str) -> dict[str, Any]:
        return self.subnetpools.get(ctx, pool_id)

    def list_subnetpools(self, ctx: Context,
                         query: ListQuery | None = None) -> tuple[list[dict], bool]:
        return self.subnetpools.list_page(ctx, query)

    def update_subnetpool(self, ctx: Context, pool_id: str, attrs: dict[str, Any],
                          if_match: int | None = None) -> dict[str, Any]:
        return self.subnetpools.update(ctx, pool_id, attrs, if_match)

    def delete_subnetpool(self, ctx: Context, pool_id: str, if_match: int | None = None) -> None:
        self.subnetpools.delete(ctx, pool_id, if_match)

    def add_prefixes(self, ctx: Context, pool_id: str, prefixes: list[str]) -> list[str]:
        return self.subnetpools.add_prefixes(ctx, pool_id, prefixes)

    def remove_prefixes(self, ctx: Context, pool_id: str, prefixes: list[str]) -> list[str]:
        return self.subnetpools.remove_prefixes(ctx, pool_id, prefixes)

    def create_address_scope(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.address_scopes.create(ctx, attrs)

    def get_address_scope(self, ctx: Context, scope_id: str) -> dict[str, Any]:
        return self.address_scopes.get(ctx, scope_id)

    def list_address_scopes(self, ctx: Context,
                            query: ListQuery | None = None) -> tuple[list[dict], bool]:
        return self.address_scopes.list_page(ctx, query)

    def update_address_scope(self, ctx: Context, scope_id: str, attrs: dict[str, Any],
                             if_match: int | None = None) -> dict[str, Any]:
        return self.address_scopes.update(ctx, scope_id, attrs, if_match)

    def delete_address_scope(self, ctx: Context, scope_id: str,
                             if_match: int | None = None) -> None:
        self.address_scopes.delete(ctx, scope_id, if_match)

    def create_port(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.ports.create(ctx, attrs)

    def create_port_bulk(self, ctx: Context,
                            items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A bulk create: every item, in order, or none."""
        return self.ports.create_bulk(ctx, items)

    def get_port(self, ctx: Context, port_id: str) -> dict[str, Any]:
        return self.ports.get(ctx, port_id)

    def list_ports(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        return self.ports.list_page(ctx, query)

    def update_port(self, ctx: Context, port_id: str, attrs: dict[str, Any],
                    if_match: int | None = None) -> dict[str, Any]:
        return self.ports.update(ctx, port_id, attrs, if_match)

    def delete_port(self, ctx: Context, port_id: str, if_match: int | None = None) -> None:
        self.ports.delete(ctx, port_id, if_match)

    def create_rbac_policy(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.rbac.create(ctx, attrs)

    def get_rbac_policy(self, ctx: Context, policy_id: str) -> dict[str, Any]:
        return self.rbac.get(ctx, policy_id)

    def list_rbac_policies(self, ctx: Context,
                           query: ListQuery | None = None) -> tuple[list[dict], bool]:
        return self.rbac.list_page(ctx, query)

    def update_rbac_policy(self, ctx: Context, policy_id: str, attrs: dict[str, Any],
                           if_match: int | None = None) -> dict[str, Any]:
        """Policies have no revision: ``If-Match`` (*if_match*) does not apply to them."""
        return self.rbac.update(ctx, policy_id, attrs)

    def delete_rbac_policy(self, ctx: Context, policy_id: str,
                           if_match: int | None = None) -> None:
        self.rbac.delete(ctx, policy_id)

    def create_security_group(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.security_groups.create(ctx, attrs)

    def create_security_group_bulk(self, ctx: Context,
                                   items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """A bulk create: every item, in order, or none."""
        return self.security_groups.create_bulk(ctx, items)

    def get_security_group(self, ctx: Context, sg_id: str) -> dict[str, Any]:
        return self.security_groups.get(ctx, sg_id)

    def list_security_groups(self, ctx: Context,
                             query: ListQuery | None = None) -> tuple[list[dict], bool]:
        return self.security_groups.list_page(ctx, query)

    def update_security_group(self, ctx: Context, sg_id: str, attrs: dict[str, Any],
                              if_match: int | None = None) -> dict[str, Any]:
        return self.security_groups.update(ctx, sg_id, attrs, if_match)

    def delete_security_group(self, ctx: Context, sg_id: str, if_match: int | None = None) -> None:
        self.security_groups.delete(ctx, sg_id, if_match)

    def security_group_owner(self, ctx: Context, sg_id: str) -> dict[str, Any]:
        """The group's ``project_id`` (what policy targets of its rules need of it)."""
        return self.security_groups.owner(ctx, sg_id)

    def create_security_group_rule(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.security_group_rules.create(ctx, attrs)

    def get_security_group_rule(self, ctx: Context, rule_id: str) -> dict[str, Any]:
        return self.security_group_rules.get(ctx, rule_id)

    def list_security_group_rules(self, ctx: Context,
                                  query: ListQuery | None = None) -> tuple[list[dict], bool]:
        return self.security_group_rules.list_page(ctx, query)

    def delete_security_group_rule(self, ctx: Context, rule_id: str,
                                   if_match: int | None = None) -> None:
        self.security_group_rules.delete(ctx, rule_id, if_match)

    def create_router(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.routers.create(ctx, attrs)

    def get_router(self, ctx: Context, router_id: str) -> dict[str, Any]:
        return self.routers.get(ctx, router_id)

    def list_routers(self, ctx: Context, query: ListQuery | None = None) -> tuple[list[dict], bool]:
        return self.routers.list_page(ctx, query)

    def update_router(self, ctx: Context, router_id: str, attrs: dict[str, Any],
                      if_match: int | None = None) -> dict[str, Any]:
        return self.routers.update(ctx, router_id, attrs, if_match)

    def delete_router(self, ctx: Context, router_id: str, if_match: int | None = None) -> None:
        self.routers.delete(ctx, router_id, if_match)

    def add_router_interface(self, ctx: Context, router_id: str,
                             info: dict[str, Any]) -> dict[str, Any]:
        return self.routers.add_interface(ctx, router_id, info)

    def remove_router_interface(self, ctx: Context, router_id: str,
                                info: dict[str, Any]) -> dict[str, Any]:
        return self.routers.remove_interface(ctx, router_id, info)

    def add_extraroutes(self, ctx: Context, router_id: str,
                        routes: list[dict[str, Any]]) -> dict[str, Any]:
        return self.routers.change_routes(ctx, router_id, routes, add=True)

    def remove_extraroutes(self, ctx: Context, router_id: str,
                           routes: list[dict[str, Any]]) -> dict[str, Any]:
        return self.routers.change_routes(ctx, router_id, routes, add=False)

    def create_floatingip(self, ctx: Context, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.floatingips.create(ctx, attrs)

    def get_floatingip(self, ctx: Context, fip_id: str) -> dict[str, Any]:
        return self.floatingips.get(ctx, fip_id)

    def list_floatingips(self, ctx: Context,
                         query: ListQuery | None = None) -> tuple[list[dict], bool]:
        return self.floatingips.list_page(ctx, query)

    def update_floatingip(self, ctx: Context, fip_id: str, attrs: dict[str, Any],
                          if_match: int | None = None) -> dict[str, Any]:
        return self.floatingips.update(ctx, fip_id, attrs, if_match)

    def delete_floatingip(self, ctx: Context, fip_id: str, if_match: int | None = None) -> None:
        self.floatingips.delete(ctx, fip_id, if_match)

    # -- auto-allocated topologies (Neutron's auto_allocate plugin's calls)
    def auto_allocated_project(self, ctx: Context, project_id: str) -> str:
        """The project a topology request is for (``None``: the caller's); 403
        ``NotAuthorized`` for another project unless *ctx* is an admin's."""
        return project_of(ctx, project_id)

    def get_auto_allocated_topology(self, ctx: Context, project_id: str) -> str:
        """The id of *project_id*'s topology's network, made first if it has none."""
        return self.auto_allocation.get(ctx, project_id)

    def check_auto_allocation(self, ctx: Context) -> None:
        """409 ``AutoAllocationFailure`` if no topology could be made now (dry run)."""
        self.auto_allocation.check(ctx)

    def delete_auto_allocated_topology(self, ctx: Context, project_id: str) -> None:
        self.auto_allocation.delete(ctx, project_id)

    # -- tags of a resource of any tagged collection (Neutron's tag plugin's calls)
    def get_tags(self, collection: str, resource_id: str) -> list[str]:
        return self.tags.get(collection, resource_id)

    def get_tag(self, collection: str, resource_id: str, tag: str) -> None:
        self.tags.check(collection, resource_id, tag)

    def update_tag(self, collection: str, resource_id: str, tag: str,
                   if_match: int | None = None) -> None:
        self.tags.add(collection, resource_id, tag, if_match)

    def update_tags(self, collection: str, resource_id: str, tags: list[str],
                    if_match: int | None = None) -> list[str]:
        return self.tags.replace(collection, resource_id, tags, if_match)

    def delete_tag(self, collection: str, resource_id: str, tag: str,
                   if_match: int | None = None) -> None:
        self.tags.remove(collection, resource_id, tag, if_match)

    def delete_tags(self, collection: str, resource_id: str, if_match: int | None = None) -> None:
        self.tags.clear(collection, resource_id, if_match)

    # -- quotas (Neutron's quota driver's calls); the API decides who may ask
    def list_quotas(self, ctx: Context) -> list[dict[str, Any]]:
        return self.quotas.list(ctx)

    def get_quota(self, project_id: str) -> dict[str, int]:
        return self.quotas.get(project_id)

    def get_default_quota(self) -> dict[str, int]:
        return self.quotas.defaults()

    def get_quota_details(self, project_id: str) -> dict[str, dict[str, int]]:
        return self.quotas.details(project_id)

    def update_quota(self, project_id: str, limits: dict[str, int],
                     force: bool = False) -> dict[str, int]:
        return self.quotas.update(project_id, limits, force)

    def delete_quota(self, project_id: str) -> None:
        self.quotas.delete(project_id)

    def list_agents(self) -> list[dict[str, Any]]:
        return self.agents.list()

    def list_network_ip_availabilities(
            self, filters: dict[str, list[str]] | None = None) -> list[dict[str, Any]]:
        return self.ip_availability.of_networks(filters)

    def get_network_ip_availability(self, network_id: str) -> dict[str, Any]:
        return self.ip_availability.of_network(network_id)

    def get_agent(self, agent_id: str) -> dict[str, Any]:
        return self.agents.get(agent_id)

    def update_agent(self, agent_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
        return self.agents.update(agent_id, attrs)

    def delete_agent(self, agent_id: str) -> None:
        self.agents.delete(agent_id)

    # -- what backends ask, through BackendHandle
    def list_all_ports(self) -> list[dict[str, Any]]:
        """Every port, without triggering binding (for backends' full resyncs)."""
        return self.ports.list_all()

    def list_all_security_groups(self) -> list[dict[str, Any]]:
        """Every security group with its rules, creating none (for backends' full resyncs)."""
        return self.security_groups.list_all()

    def port_without_binding(self, port_id: str) -> dict[str, Any] | None:
        return self.ports.get_without_binding(port_id)

    def set_port_statuses(self, updates: list[StatusUpdate]) -> PortStatusesWritten:
        return self.statuses.set_port_statuses(updates)

    def set_network_statuses(self, updates: list[StatusUpdate]) -> list[str]:
        return self.statuses.set_network_statuses(updates)

    def rebind_ports(self, port_ids: list[str]) -> None:
        for port_id in port_ids:
            self.binder.bind(port_id)


def all_healthy(components: dict[str, Any]) -> bool:
    """Whether every component of :meth:`Plugin.health` says it is healthy."""
    return all(c.get("healthy", True) for c in components.values())
