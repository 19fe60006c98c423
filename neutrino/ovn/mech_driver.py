"""The OVN mechanism driver (entry point ``ovn``): Neutrino resources -> OVN NB.

Wiring:

* ``initialize(core)`` (every process that serves the API or runs the status
  worker): NB and SB connections and the chassis directory.  Returns at once
  even if OVN is unreachable.
* ``start_workers()`` (every API worker process, after ``initialize``): the
  status worker, which waits for the NB lock and, while holding it, reports
  statuses, repairs drift and sends chassis heartbeats.
* ``*_precommit`` only validates; ``*_postcommit`` writes NB with idempotent,
  revision-checked commands.  A postcommit never raises for OVN trouble: if
  NB is unreachable or a transaction times out, the resource is reported
  BUILD ("OVN northbound unreachable") and the drift repair applies it when
  NB is back, so API writes stay fast and lose nothing.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ovsdbapp import exceptions as ovsdbapp_exceptions
from prometheus_client.core import CounterMetricFamily, Metric

from neutrino.config import Settings
from neutrino.drivers.api import (
    VIF_TYPE_BINDING_FAILED,
    VIF_TYPE_UNBOUND,
    CoreHandle,
    FloatingIPContext,
    MechanismDriver,
    NetworkContext,
    PortContext,
    RouterContext,
    SecurityGroupContext,
    StatusUpdate,
    SubnetContext,
)
from neutrino.drivers.status import BUILD
from neutrino.ovn import acls, agents, binding, commands, desired, desired_l3, keys
from neutrino.ovn.chassis import ChassisDirectory
from neutrino.ovn.connection import ListenerSlot, Northbound, Southbound
from neutrino.ovn.repair import dpu_hostname
from neutrino.ovn.status import StatusWorker
from neutrino.ovn.status_l3 import without_gateway
from neutrino.ovn.status_rules import NB_UNREACHABLE, Status

LOG = logging.getLogger(__name__)


@dataclass(frozen=True)
class Unwritten:
    """Whom to tell that a resource's NB write did not happen: it is reported BUILD,
    with the reason, through *report* (the core's ``set_port_statuses`` or
    ``set_network_statuses``) until the drift repair writes it."""

    resource_id: str
    report: Callable[[list[StatusUpdate]], object]


@dataclass(frozen=True)
class Write:
    """One resource's NB commands, and whom to tell if they are not written."""

    what: str
    cmds: list[Any]
    on_failure: Unwritten | None = None


class OVNMechanismDriver(MechanismDriver):
    #: Routers and floating IPs start BUILD; the status worker reports them.
    async_l3_status = True

    def __init__(self) -> None:
        self.settings: Settings | None = None
        self.core: CoreHandle | None = None
        self.nb: Northbound | None = None
        self.sb: Southbound | None = None
        self.directory: ChassisDirectory | None = None
        self.worker: StatusWorker | None = None

    # -- lifecycle ----------------------------------------------------------------
    def initialize(self, core: CoreHandle) -> None:
        self.settings = core.settings
        self.core = core
        self.directory = ChassisDirectory(down_time=self.settings.agent_down_time)
        self.sb = Southbound(self.settings.ovn_sb_connection, self.settings.ovsdb_timeout,
                             listener=self.directory)
        #: The status worker, if this process runs one, plugs into this NB connection.
        self._nb_events = ListenerSlot()
        self.nb = Northbound(self.settings.ovn_nb_connection, self.settings.ovsdb_timeout,
                             listener=self._nb_events)
        LOG.info("OVN driver: NB %s, SB %s", self.settings.ovn_nb_connection,
                 self.settings.ovn_sb_connection)

    def start_workers(self) -> None:
        if self.core is None or self.directory is None or self.settings is None:
            raise RuntimeError("initialize() must be called before start_workers()")
        assert self.nb is not None
        self.worker = StatusWorker(
            self.nb, self._nb_events, self.settings.ovn_nb_connection,
            self.settings.ovsdb_timeout, self.core, self.directory,
            maintenance_interval=self.settings.maintenance_interval,
            heartbeat_interval=self.settings.heartbeat_interval)
        self.worker.start()

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        for client in (self.nb, self.sb):
            if client is not None:
                client.close()

    def health(self) -> dict[str, Any]:
        result: dict[str, Any] = {
            "ovn_nb": {"connected": bool(self.nb and self.nb.ready),
                       "remote": self.settings.ovn_nb_connection if self.settings else None},
            "ovn_sb": {"connected": bool(self.sb and self.sb.ready),
                       "remote": self.settings.ovn_sb_connection if self.settings else None},
        }
        result.update(self._chassis_health())
        if self.nb is not None and self.nb.ready:
            with self.nb.read_lock():
                row = next(iter(self.nb.tables["NB_Global"].rows.values()), None)
                ext = dict(row.external_ids) if row is not None else {}
            result["status_worker"] = ext.get(keys.GLOBAL_WORKER)
            result["repairs"] = {k[len(keys.GLOBAL_REPAIRS_PREFIX):]: int(v)
                                 for k, v in ext.items()
                                 if k.startswith(keys.GLOBAL_REPAIRS_PREFIX) and v.isdigit()}
        if self.worker is not None:
            result["local_status_worker"] = self.worker.health()
        result["healthy"] = result["ovn_nb"]["connected"] and result["ovn_sb"]["connected"]
        result["problems"] = [f"OVN {db} not connected" for db in ("NB", "SB")
                              if not result[f"ovn_{db.lower()}"]["connected"]] + \
            [f"chassis '{name}' is down" for name in result["chassis"]["down"]] + \
            [f"plug agent on chassis '{name}' is down" for name in result["plug_agents"]["down"]]
        return result

    def _chassis_health(self) -> dict[str, Any]:
        """Chassis and plug agents, and which of them are down."""
        every = self.directory.all() if self.directory else []
        alive = self.directory.alive_names() if self.directory else set()
        agents = [c.name for c in every if c.plug_agent is not None]
        return {"chassis": {"total": len(every),
                            "down": [c.name for c in every if c.name not in alive]},
                "plug_agents": {"total": len(agents),
                                "down": [n for n in agents if n in alive
                                         and f"{n}/plug-agent" not in alive]}}

    def collect_metrics(self) -> list[Metric]:
        """Each plug agent's outcomes by provider, as its chassis last reported them in SB."""
        outcomes = CounterMetricFamily(
            "neutrino_plug_outcomes", "Ports plug agents plugged, failed to plug or unplugged "
            "since each started, by chassis and provider",
            labels=["chassis", "provider", "outcome"])
        for chassis in self.directory.all() if self.directory else []:
            agent = chassis.plug_agent
            for provider, counts in (agent.plug_outcomes if agent else {}).items():
                for outcome, count in counts.items():
                    outcomes.add_metric([chassis.name, provider, outcome], count)
        return [outcomes]

    def list_agents(self) -> list[dict[str, Any]]:
        """Entries of ``GET /v2.0/agents``: each chassis and its plug agent."""
        return agents.list_agents(self.directory) if self.directory else []

    def delete_agent(self, agent_id: str) -> None:
        """A chassis's or plug agent's registration, deleted from SB (it comes back while
        the agent runs, as in Neutron)."""
        assert self.sb is not None
        with self.sb.transaction(check_error=True) as txn:
            txn.add(agents.ForgetAgent(self.sb, agent_id))

    def check_segment_for_agents(self, segment: dict[str, Any]) -> bool:
        physnet = segment.get("physical_network")
        if not physnet or self.directory is None:
            return False
        return self.directory.maps_physnet(physnet)

    # -- writing NB -------------------------------------------------------------------
    def _apply(self, what: str, cmds: list[Any], on_failure: Unwritten | None = None) -> None:
        """Commit ``cmds`` in one NB transaction, or leave them to the drift repair
        (and report ``on_failure``'s resource BUILD, with the reason)."""
        self._commit([Write(what, cmds, on_failure)])

    def _commit(self, writes: list[Write]) -> None:
        """The commands of *writes* (those of one request) in one NB transaction, each
        row ensured once; or, if NB does not take it, all of them left to the drift
        repair, and each resource that says so reported BUILD, with the reason.

        A write finding the connection lost waits for it within ``nb_reconnect_wait`` of
        the loss: through a RAFT leader change it lands with its request, not with the
        repair after the reconnection."""
        assert self.nb is not None and self.core is not None and self.settings is not None
        if not writes:
            return
        what = writes[0].what if len(writes) == 1 else \
            f"{len(writes)} writes ({writes[0].what} …)"
        cmds = commands.one_per_row(cmd for write in writes for cmd in write.cmds)
        reason = NB_UNREACHABLE
        error: Exception | None = None
        if self.nb.wait_ready(self.settings.nb_reconnect_wait):
            try:
                with self.nb.transaction(check_error=True) as txn:
                    for cmd in cmds:
                        txn.add(cmd)
                LOG.debug("%s: %s", what, ", ".join(f"{c}={c.result}" for c in cmds))
                return
            except ovsdbapp_exceptions.TimeoutException as e:
                error = e
            except Exception as e:  # postcommit must not undo the API write
                LOG.exception("%s: NB transaction failed; left to drift repair", what)
                error = e
                reason = f"OVN northbound write failed: {e}"[:255]
        # One format string, so neutrino.log's filter rate-limits it during an outage.
        LOG.warning("%s not written to OVN NB (%s): %s; the drift repair will apply it", what,
                    self.settings.ovn_nb_connection, error or "not connected")
        unwritten: dict[Callable[[list[StatusUpdate]], object], list[str]] = {}
        for write in writes:
            if write.on_failure is not None:
                unwritten.setdefault(write.on_failure.report, []).append(
                    write.on_failure.resource_id)
        for report, ids in unwritten.items():
            try:
                report([(resource_id, BUILD, reason) for resource_id in ids])
            except Exception:
                LOG.exception("could not report %s as BUILD", what)

    def postcommit_all(self, method: str, contexts: Sequence[Any]) -> None:
        """Creates of several resources (a bulk create), the subnets a network's delete
        takes with it, and the ports a subnet readdressed, in one NB transaction."""
        builders: dict[str, Callable[[Any], Write | None]] = {
            "create_network_postcommit": self._network_write,
            "create_subnet_postcommit": self._subnet_write,
            "delete_subnet_postcommit": self._subnet_delete,
            "create_port_postcommit": self._port_create_write,
            "update_port_postcommit": lambda c: self._port_write(c, c.current),
            "create_security_group_postcommit": self._security_group_write}
        builder = builders.get(method)
        if builder is None:
            super().postcommit_all(method, contexts)
            return
        self._commit([write for context in contexts if (write := builder(context)) is not None])

    def _switch(self, network: NetworkContext) -> commands.EnsureSwitch:
        return commands.EnsureSwitch(self.nb, desired.switch_spec(
            network.current, network.network_segments or None))

    def _network_write(self, context: NetworkContext) -> Write:
        assert self.core is not None
        return Write(f"network {context.current['id']}", [self._switch(context)],
                     Unwritten(context.current["id"], self.core.set_network_statuses))

    def create_network_postcommit(self, context: NetworkContext) -> None:
        self._commit([self._network_write(context)])

    def update_network_postcommit(self, context: NetworkContext) -> None:
        """The switch; a new MTU (``net-mtu-writable``) rewrites the DHCP options of the
        network's subnets, which tell instances the MTU, and a new ``dns_domain`` renames
        the network's ports in its DNS row, in the same NB transaction."""
        assert self.core is not None
        write = self._network_write(context)
        original = context.original
        if original is not None and original.get("mtu") != context.current["mtu"]:
            for subnet in self.core.list_subnets(context.current["id"]):
                spec = desired.dhcp_spec(subnet, context.current)
                if spec:
                    write.cmds.append(commands.EnsureDhcpOptions(self.nb, spec))
        if original is not None and \
                original.get("dns_domain") != context.current.get("dns_domain"):
            write.cmds.append(self._dns_of_network(context.current))
        self._commit([write])

    def _dns_of_network(self, network: dict[str, Any]) -> commands.EnsureDns:
        """The network's DNS row as SQL has its ports now."""
        assert self.core is not None and self.settings is not None
        ports = [p for p in self.core.list_ports() if p["network_id"] == network["id"]]
        return commands.EnsureDns(
            self.nb, network["id"],
            {p["id"]: records for p in ports
             if (records := desired.dns_records(p, network, self.settings.dns_domain))},
            {p["id"]: desired.revision_of(p) for p in ports})

    def delete_network_postcommit(self, context: NetworkContext) -> None:
        self._apply(f"delete network {context.current['id']}",
                    [commands.DeleteSwitch(self.nb, context.current["id"])])

    def _subnet_write(self, context: SubnetContext) -> Write:
        subnet = context.current
        spec = desired.dhcp_spec(subnet, context.network.current)
        cmd = commands.EnsureDhcpOptions(self.nb, spec) if spec else \
            commands.DeleteDhcpOptions(self.nb, subnet["id"])
        return Write(f"subnet {subnet['id']}", [self._switch(context.network), cmd])

    def create_subnet_postcommit(self, context: SubnetContext) -> None:
        self._commit([self._subnet_write(context)])

    update_subnet_postcommit = create_subnet_postcommit

    def _subnet_delete(self, context: SubnetContext) -> Write:
        return Write(f"delete subnet {context.current['id']}",
                     [commands.DeleteDhcpOptions(self.nb, context.current["id"])])

    def delete_subnet_postcommit(self, context: SubnetContext) -> None:
        self._commit([self._subnet_delete(context)])

    def create_port_precommit(self, context: PortContext) -> None:
        binding.validate_profile(context.current)

    update_port_precommit = create_port_precommit

    def _port_create_write(self, context: PortContext) -> Write | None:
        port = context.current
        if port.get("binding:host_id") and port.get("binding:vif_type") == VIF_TYPE_UNBOUND:
            # The core binds such a port right after this call (and follows the binding
            # commit with update_port_postcommit).  Write the LSP now, as the binding
            # will leave it: the data plane options depend on the host and profile only,
            # and the one binding-dependent column (neutrino:vif_type) is what bind_port
            # is about to decide.  The chassis can start plugging while the binding
            # commits, and the binding's update then finds nothing to write.  A wrong
            # guess (chassis gone meanwhile, another driver bound) is corrected by that
            # update; a binding cut short (crash) leaves SQL unbound, which the drift
            # repair writes back and a read (B4) binds.
            port = {**port, "binding:vif_type": self._expected_vif_type(context)}
        return self._port_write(context, port)

    def create_port_postcommit(self, context: PortContext) -> None:
        self._commit([write] if (write := self._port_create_write(context)) else [])

    def update_port_postcommit(self, context: PortContext) -> None:
        self._commit([write] if (write := self._port_write(context, context.current)) else [])

    def _expected_vif_type(self, context: PortContext) -> str:
        assert self.directory is not None
        if not self.directory.synced:
            return VIF_TYPE_BINDING_FAILED
        decision = binding.decide(context.current, context.network.network_segments,
                                  self.directory)
        return decision.vif_type if decision.bound else VIF_TYPE_BINDING_FAILED

    def _port_write(self, context: PortContext, port: dict[str, Any]) -> Write | None:
        """The port's LSP as *port* wants it; None if NB has it so already."""
        assert self.nb is not None and self.directory is not None  # set by initialize()
        if not desired.has_switch_port(port):
            return Write(f"port {port['id']}", [commands.DeletePort(self.nb, port["id"])])
        dpu = None
        if port.get("binding:vnic_type") == keys.VNIC_REMOTE_MANAGED:
            dpu = dpu_hostname(port, self.directory)
        spec = desired.port_spec(port, context.network.current, dpu)
        if desired.port_groups(port):
            self._ensure_drop_group()
        # A row written from the previous revision whose content this revision does not
        # change needs no write (no round trip): no writer between the two revisions
        # exists that a newer revision number would have to fend off.
        previous = desired.revision_of(context.original) if context.original else None
        ensure = commands.EnsurePort(self.nb, spec, unchanged_from=previous)
        dns = self._port_dns(context, port)
        if previous is not None and self.nb.ready:
            with self.nb.read_lock():
                # The LSP exists (so does its switch) as this revision wants it.
                if not ensure.needs_write() and (dns is None or not dns.needs_write()):
                    return None
        assert self.core is not None
        return Write(f"port {port['id']}", [self._switch(context.network), ensure,
                                            *([dns] if dns is not None else [])],
                     Unwritten(port["id"], self.core.set_port_statuses))

    def _port_dns(self, context: PortContext, port: dict[str, Any]) -> commands.SetPortDns | None:
        """The port's names in its switch's DNS row, in the transaction of its LSP; None
        when it has none and had none (most ports: no DNS write at all)."""
        assert self.settings is not None
        network = context.network.current
        records = desired.dns_records(port, network, self.settings.dns_domain)
        if not records and not (context.original and desired.dns_records(
                context.original, network, self.settings.dns_domain)):
            return None
        return commands.SetPortDns(self.nb, port["network_id"], port["id"], records,
                                   desired.revision_of(port))

    def delete_port_postcommit(self, context: PortContext) -> None:
        self._apply(f"delete port {context.current['id']}",
                    [commands.DeletePort(self.nb, context.current["id"])])

    # -- routers and floating IPs -------------------------------------------------------
    def _router(self, context: RouterContext) -> list[Any]:
        """The commands writing a router whole, after deleting the ports it lost.  The
        rows are those of the router as committed when the NB transaction is built
        (``EnsureRouter.reread``): concurrent changes to one router land whole."""
        rid = context.current["id"]
        return [*(commands.DeletePort(self.nb, p) for p in context.removed_ports),
                commands.EnsureRouter(self.nb, self._router_spec(context),
                                      reread=lambda: self._router_spec_now(rid))]

    def _router_spec(self, context: RouterContext) -> desired_l3.RouterSpec:
        assert self.directory is not None
        chassis = self.directory.all() if self.directory.synced else None
        return desired_l3.router_spec(context, chassis)

    def _router_spec_now(self, router_id: str) -> desired_l3.RouterSpec | None:
        assert self.core is not None
        context = self.core.router_context(router_id)
        return self._router_spec(context) if context is not None else None

    def create_router_postcommit(self, context: RouterContext) -> None:
        assert self.core is not None
        self._apply(f"router {context.current['id']}", self._router(context),
                    Unwritten(context.current["id"], self.core.set_router_statuses))

    update_router_postcommit = create_router_postcommit

    def delete_router_postcommit(self, context: RouterContext) -> None:
        self._apply(f"delete router {context.current['id']}",
                    [*(commands.DeletePort(self.nb, p) for p in context.removed_ports),
                     commands.DeleteRouter(self.nb, context.current["id"])])

    def create_floatingip_postcommit(self, context: FloatingIPContext) -> None:
        """The NAT of every router the change touches (the old and the new when it moves)."""
        assert self.core is not None
        cmds = [c for router in context.routers for c in self._router(router)]
        if cmds:
            self._apply(f"floating IP {context.current['id']}", cmds,
                        Unwritten(context.current["id"], self.core.set_floatingip_statuses))

    update_floatingip_postcommit = create_floatingip_postcommit

    def floatingip_status(self, router: RouterContext) -> Status | None:
        """Through a router without a gateway port (``router-interface-fip``) no NAT row
        will come to wake the status worker, and none would work: DOWN with why, at commit
        (the status worker, deciding from the same router, then finds it right)."""
        return without_gateway(router)

    def delete_floatingip_postcommit(self, context: FloatingIPContext) -> None:
        self._apply(f"delete floating IP {context.current['id']}",
                    [c for router in context.routers for c in self._router(router)])

    def _ensure_drop_group(self) -> None:
        """The drop group, before the first filtered port joins it (once per NB)."""
        assert self.nb is not None
        if self.nb.ready:
            with self.nb.read_lock():
                if commands.find_port_group(self.nb, keys.DROP_GROUP) is not None:
                    return
        self._apply("drop group", [commands.EnsurePortGroup(self.nb, desired.drop_group_spec())])

    # -- security groups: one Port_Group each, one ACL per rule -------------------------
    def _security_group_write(self, context: SecurityGroupContext) -> Write:
        return Write(f"security group {context.current['id']}",
                     [commands.EnsurePortGroup(self.nb, desired.port_group_spec(context.current))])

    def create_security_group_postcommit(self, context: SecurityGroupContext) -> None:
        self._commit([self._security_group_write(context)])

    update_security_group_postcommit = create_security_group_postcommit

    def delete_security_group_postcommit(self, context: SecurityGroupContext) -> None:
        """The group's Port_Group, and the ACLs of other groups' rules that named it."""
        self._apply(f"delete security group {context.current['id']}", [
            *(commands.EnsurePortGroup(self.nb, desired.port_group_spec(group))
              for group in context.affected),
            commands.DeletePortGroup(self.nb, acls.port_group_name(context.current["id"]))])

    # -- binding ----------------------------------------------------------------------
    def bind_port(self, context: PortContext) -> None:
        assert self.directory is not None
        if not self.directory.synced:
            context.add_failure_reason("OVN southbound not reachable: chassis unknown")
            return
        segments = context.segments_to_bind or context.network.network_segments
        decision = binding.decide(context.current, segments, self.directory)
        if decision.bound:
            assert decision.segment is not None
            context.set_binding(decision.segment.get("id"), decision.vif_type,
                                decision.vif_details)
            LOG.debug("bound port %s to chassis %s", context.current["id"],
                      decision.chassis.name if decision.chassis else "?")
            return
        for reason in decision.reasons:
            context.add_failure_reason(reason)
        LOG.info("refusing to bind port %s: %s", context.current["id"], decision.reason)
