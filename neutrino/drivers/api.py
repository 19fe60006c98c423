"""The contract between Neutrino's core and its drivers (ML2 style).

Type drivers allocate network segments; mechanism drivers mirror resources
into a backend and bind ports.  Drivers are found through entry points
(``neutrino.type_drivers``, ``neutrino.mechanism_drivers``) or a dotted path in
configuration, so a third party ships one exactly like the built-in ones.

Rules the core guarantees (docs/behaviour.md B1-B6):

* ``*_precommit`` runs inside the request's SQL transaction, with
  ``context.session`` open; it must only touch the database.  Raising aborts
  and rolls back the whole request.
* ``*_postcommit`` runs after commit; it may talk to remote systems.  A
  failing ``create_*_postcommit`` makes the core undo the create.
* ``bind_port`` never runs inside a transaction (B2).

Status values and the reasons both sides give live in
:mod:`neutrino.drivers.status`.
"""
from __future__ import annotations

import abc
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from prometheus_client import Metric

from neutrino.config import Settings

# Segment dict keys, as in Neutron's driver API.
ID = "id"
NETWORK_TYPE = "network_type"
PHYSICAL_NETWORK = "physical_network"
SEGMENTATION_ID = "segmentation_id"

VIF_TYPE_UNBOUND = "unbound"
VIF_TYPE_BINDING_FAILED = "binding_failed"
VIF_TYPE_OVS = "ovs"

# Device owners of the ports routers and floating IPs own (Neutron's): a backend
# plugs them into its routers, not into instances.
ROUTER_INTERFACE = "network:router_interface"
ROUTER_GATEWAY = "network:router_gateway"
FLOATINGIP = "network:floatingip"


class DriverError(Exception):
    """A driver refused an operation; the message is shown to the client."""

    status_code = 409
    error_type = "DriverError"


class InvalidInput(DriverError, ValueError):
    """A request a driver cannot act on (e.g. an incomplete binding:profile): HTTP 400."""

    status_code = 400
    error_type = "InvalidInput"


#: ``(resource_id, status, reason)``: one status report of a backend; the reason is
#: why the resource is not ACTIVE (None when it is).
StatusUpdate = tuple[str, str, str | None]


@dataclass(frozen=True)
class PortStatusesWritten:
    """What the core did with a batch of port status reports."""

    #: Ports whose status or reason changed.
    changed: list[str]
    #: Ports being bound (a host, their binding not committed yet): they keep the core's
    #: "binding pending" until the binding commits, which the report could not have
    #: seen; the backend reports them again a little later (B2, S3).
    deferred: list[str]


class CoreHandle(Protocol):
    """What a mechanism driver may ask of the core outside a request.

    Backends observe state asynchronously (S2); they report it here rather
    than writing the core's tables themselves.
    """

    #: The server's settings: a driver's only source of configuration
    #: (backend connection strings, intervals).
    settings: Settings

    def list_networks(self) -> list[dict[str, Any]]: ...
    def list_subnets(self, network_id: str | None = None) -> list[dict[str, Any]]:
        """Every subnet, or those of one network."""
    def list_ports(self) -> list[dict[str, Any]]: ...
    def list_security_groups(self) -> list[dict[str, Any]]:
        """Every security group with its ``security_group_rules``."""
    def get_port(self, port_id: str) -> dict[str, Any] | None: ...

    def set_port_statuses(self, updates: list[StatusUpdate]) -> PortStatusesWritten:
        """Apply port status updates, except to ports being bound."""

    def set_network_statuses(self, updates: list[StatusUpdate]) -> list[str]:
        """Apply network status updates; return the ids that changed."""

    def list_routers(self) -> list[RouterContext]:
        """Every router with what it connects (for backends' full resyncs)."""

    def router_context(self, router_id: str) -> RouterContext | None:
        """One router with what it connects, as committed now (None: no such router)."""

    def set_router_statuses(self, updates: list[StatusUpdate]) -> list[str]:
        """Apply router status updates; return the ids that changed."""

    def set_floatingip_statuses(self, updates: list[StatusUpdate]) -> list[str]:
        """Apply floating IP status updates; return the ids that changed."""

    def rebind_ports(self, port_ids: list[str]) -> None:
        """Try binding again (e.g. a chassis appeared for a failed port)."""


@dataclass(frozen=True)
class Binding:
    """What a driver's ``bind_port`` decided: the segment, and how the VIF is plugged."""

    segment_id: str | None
    vif_type: str
    vif_details: dict[str, Any]


@dataclass
class NetworkContext:
    current: dict[str, Any]
    original: dict[str, Any] | None
    network_segments: list[dict[str, Any]]
    session: Any = None


@dataclass
class SubnetContext:
    current: dict[str, Any]
    original: dict[str, Any] | None
    network: NetworkContext
    session: Any = None


@dataclass
class SecurityGroupContext:
    """A security group with its rules (``security_group_rules``), before and after.

    A rule's create or delete is an update of its group: the rules are part of
    the group, whose revision moves with them.  Deleting a group also deletes
    the rules of other groups that name it as their remote group; those groups,
    as they are afterwards, are in ``affected``.
    """

    current: dict[str, Any]
    original: dict[str, Any] | None
    affected: list[dict[str, Any]] = field(default_factory=list)
    session: Any = None


@dataclass
class PortContext:
    """A port as a driver sees it, before and after a change (B1).

    ``bound_segment``/``bound_driver`` describe the binding in ``current``;
    the ``original_*`` pair describes the binding ``original`` had.
    During ``bind_port`` a driver calls :meth:`set_binding` on success, or
    :meth:`add_failure_reason` to explain why it could not bind; the core
    reads the result from :attr:`binding` and ``failure_reasons``.
    """

    current: dict[str, Any]
    original: dict[str, Any] | None
    network: NetworkContext
    bound_segment: dict[str, Any] | None = None
    original_bound_segment: dict[str, Any] | None = None
    bound_driver: str | None = None
    original_bound_driver: str | None = None
    session: Any = None
    # Filled during bind_port only.
    segments_to_bind: list[dict[str, Any]] = field(default_factory=list)
    failure_reasons: list[str] = field(default_factory=list)
    _binding: Binding | None = field(default=None, init=False, repr=False)

    @property
    def host(self) -> str:
        return self.current.get("binding:host_id") or ""

    @property
    def vnic_type(self) -> str:
        return self.current.get("binding:vnic_type") or "normal"

    @property
    def profile(self) -> dict[str, Any]:
        return self.current.get("binding:profile") or {}

    @property
    def binding(self) -> Binding | None:
        """The binding a driver set during ``bind_port``, if any (read-only: drivers
        call :meth:`set_binding`)."""
        return self._binding

    def set_binding(self, segment_id: str | None, vif_type: str,
                    vif_details: dict[str, Any]) -> None:
        self._binding = Binding(segment_id, vif_type, vif_details)

    def add_failure_reason(self, reason: str) -> None:
        self.failure_reasons.append(reason)


@dataclass
class RouterPortView:
    """A port of a router (an interface or its gateway), with its network and the
    subnets of its fixed IPs, as a backend needs them to build the router's port."""

    port: dict[str, Any]
    network: dict[str, Any]
    subnets: list[dict[str, Any]]


@dataclass
class RouterContext:
    """A router and everything it connects, read in the transaction that changed it.

    A backend writes the whole router from it (level-triggered): its ports, its
    gateway, routes and NAT, including the floating IPs it serves.
    ``removed_ports`` are the ids of router ports this change deleted.
    """

    current: dict[str, Any]
    original: dict[str, Any] | None
    interfaces: list[RouterPortView]
    gateway: RouterPortView | None
    floatingips: list[dict[str, Any]]
    removed_ports: list[str] = field(default_factory=list)
    session: Any = None


@dataclass
class FloatingIPContext:
    """A floating IP before and after a change, and the routers (as they are after
    it) whose NAT the change touches: the old router and the new one when it moves."""

    current: dict[str, Any]
    original: dict[str, Any] | None
    routers: list[RouterContext]
    session: Any = None


class MechanismDriver(abc.ABC):  # noqa: B024 - a base to subclass; every hook is optional
    """Base class of mechanism drivers.  Every hook is optional."""

    #: Name shown in ``binding:vif_details``/logs; set by the manager.
    name: str = ""
    #: Whether this backend reports the status of routers and floating IPs itself, later
    #: (S2): the core then creates them BUILD and leaves the rest to the backend.
    #: (Networks are ACTIVE at create: a backend writes them in their create call.)
    async_l3_status: bool = False

    def initialize(self, core: CoreHandle) -> None:
        """Called once at start, with the handle for asynchronous reports."""

    def start_workers(self) -> None:
        """Start background work (status watchers...) in a server process."""

    def stop(self) -> None:
        """Release connections; called at shutdown."""

    def health(self) -> dict[str, Any]:
        """Component states for ``/healthz``.

        ``"healthy": False`` means this process cannot serve the backend yet (not
        connected): a worker starting waits for it.  ``"problems"``, a list of
        sentences, names what an operator should look at while serving goes on (a
        chassis down); they must not quote addresses or credentials, since
        ``/healthz`` is open to anyone.
        """
        return {}

    def collect_metrics(self) -> list[Metric]:
        """Metric families for ``/metrics``, read from this process's view of the backend.

        Called at every scrape, for state every process sees alike (so the process
        serving the scrape answers for all); events are counted with the counters
        of :mod:`neutrino.metrics` instead, which add up over processes.
        """
        return []

    def list_agents(self) -> list[dict[str, Any]]:
        """Entries of ``GET /v2.0/agents`` for what this backend runs (e.g. chassis)."""
        return []

    def delete_agent(self, agent_id: str) -> None:
        """Forget one of the agents this backend lists (``DELETE /v2.0/agents/{id}``); one
        still running may register again."""

    def check_segment_for_agents(self, segment: dict[str, Any]) -> bool:
        """Whether this backend can use a physical network it was not configured with."""
        return False

    def postcommit_all(self, method: str, contexts: Sequence[Any]) -> None:
        """Call the postcommit hook *method* for the resources one request wrote, in order
        (one, or a bulk create's items; all of one type).

        A backend may write them all at once instead (OVN: one NB transaction); a
        failure for any of them fails the whole request, whose creates are undone.
        """
        for context in contexts:
            getattr(self, method)(context)

    def create_network_precommit(self, context: NetworkContext) -> None: ...
    def create_network_postcommit(self, context: NetworkContext) -> None: ...
    def update_network_precommit(self, context: NetworkContext) -> None: ...
    def update_network_postcommit(self, context: NetworkContext) -> None: ...
    def delete_network_precommit(self, context: NetworkContext) -> None: ...
    def delete_network_postcommit(self, context: NetworkContext) -> None: ...

    def create_subnet_precommit(self, context: SubnetContext) -> None: ...
    def create_subnet_postcommit(self, context: SubnetContext) -> None: ...
    def update_subnet_precommit(self, context: SubnetContext) -> None: ...
    def update_subnet_postcommit(self, context: SubnetContext) -> None: ...
    def delete_subnet_precommit(self, context: SubnetContext) -> None: ...
    def delete_subnet_postcommit(self, context: SubnetContext) -> None: ...

    def create_port_precommit(self, context: PortContext) -> None: ...
    def create_port_postcommit(self, context: PortContext) -> None: ...
    def update_port_precommit(self, context: PortContext) -> None: ...
    def update_port_postcommit(self, context: PortContext) -> None: ...
    def delete_port_precommit(self, context: PortContext) -> None: ...
    def delete_port_postcommit(self, context: PortContext) -> None: ...

    def create_router_postcommit(self, context: RouterContext) -> None: ...
    def update_router_postcommit(self, context: RouterContext) -> None: ...
    def delete_router_postcommit(self, context: RouterContext) -> None: ...

    def floatingip_status(self, router: RouterContext) -> tuple[str, str | None] | None:
        """The status (and reason) of a floating IP being associated through *router*, if
        this backend knows it from the router alone (None: it reports it later, S2).

        Called inside the transaction that associates it, so the API answers with the
        status a show right after gives, not one a status write replaces a moment later.
        """
        return None

    def create_floatingip_postcommit(self, context: FloatingIPContext) -> None: ...
    def update_floatingip_postcommit(self, context: FloatingIPContext) -> None: ...
    def delete_floatingip_postcommit(self, context: FloatingIPContext) -> None: ...

    def create_security_group_precommit(self, context: SecurityGroupContext) -> None: ...
    def create_security_group_postcommit(self, context: SecurityGroupContext) -> None: ...
    def update_security_group_precommit(self, context: SecurityGroupContext) -> None: ...
    def update_security_group_postcommit(self, context: SecurityGroupContext) -> None: ...
    def delete_security_group_precommit(self, context: SecurityGroupContext) -> None: ...
    def delete_security_group_postcommit(self, context: SecurityGroupContext) -> None: ...

    def bind_port(self, context: PortContext) -> None:
        """Try to bind; never called inside a transaction (B2)."""
