"""Port and network status from OVN (S1-S4): DOWN -> ACTIVE -> DOWN with reasons, chassis
liveness and plug-agent reports, and the agents listing (item 5)."""
from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from neutrino.ovn import commands
from neutrino.ovn.status import StatusWorker
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from tests.ovn.conftest import CoreFactory, ovn_driver
from tests.ovn.nb import plug, port_status, unplug, wait_network, wait_port


def bound_port(core: Plugin, host: str = "hv1", **attrs) -> tuple[dict, dict]:
    net = core.create_network(ADMIN, {"name": "n"})
    core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.4.0.0/24", "ip_version": 4})
    return net, core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": host, **attrs})


def test_interface_plugged_makes_port_active_and_unplugged_down(
        sandbox: Sandbox, core: Plugin) -> None:
    hv1 = sandbox.add_chassis("hv1")
    net, port = bound_port(core)
    wait_network(core, net["id"], "ACTIVE")
    wait_port(core, port["id"], "DOWN", "interface not present on chassis 'hv1'")

    plug(hv1, "tap1", port["id"])
    wait_port(core, port["id"], "ACTIVE")
    assert port_status(core, port["id"]) == ("ACTIVE", None)

    unplug(hv1, "tap1")
    wait_port(core, port["id"], "DOWN", "interface not present on chassis 'hv1'")


def test_reasons_for_admin_down_and_no_host(sandbox: Sandbox, core: Plugin) -> None:
    hv1 = sandbox.add_chassis("hv1")
    net, port = bound_port(core)
    plug(hv1, "tap1", port["id"])
    wait_port(core, port["id"], "ACTIVE")
    core.update_port(ADMIN, port["id"], {"admin_state_up": False})
    wait_port(core, port["id"], "DOWN", "admin_state_up is false")
    core.update_port(ADMIN, port["id"], {"admin_state_up": True})
    wait_port(core, port["id"], "ACTIVE")

    hostless = core.create_port(ADMIN, {"network_id": net["id"]})
    wait_port(core, hostless["id"], "DOWN", "no host: binding:host_id is not set")


def test_dead_chassis_is_the_reason_and_agents_show_it(
        sandbox: Sandbox, fast_heartbeat: None, core: Plugin) -> None:
    hv1 = sandbox.add_chassis("hv1", bridge_mappings="physnet1:br-ex")
    _, port = bound_port(core)
    wait_port(core, port["id"], "DOWN", "interface not present on chassis 'hv1'")
    (agent,) = core.list_agents()
    assert agent["id"] == "hv1" and agent["host"] == "hv1"
    assert agent["agent_type"] == "OVN Controller agent"
    assert agent["binary"] == "ovn-controller"
    assert agent["alive"] is True
    assert agent["configurations"]["bridge-mappings"] == "physnet1:br-ex"

    health = TestClient(create_app(core))
    assert health.get("/healthz").json() == {"status": "ok", "problems": []}
    hv1.kill("controller")
    wait_port(core, port["id"], "DOWN", "chassis 'hv1' is down", timeout=10)
    assert core.list_agents()[0]["alive"] is False
    # Ports say why they are not ACTIVE; the API serves: degraded, not down.
    answer = health.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "degraded", "problems": ["chassis 'hv1' is down"]}

    hv1.start(("controller",))
    wait_port(core, port["id"], "DOWN", "interface not present on chassis 'hv1'", timeout=10)
    assert core.list_agents()[0]["alive"] is True


def test_a_chassis_coming_back_is_told_at_once(
        sandbox: Sandbox, fast_heartbeat: None, core: Plugin) -> None:
    """Going down is found by the periodic look; coming back is an event, so a port
    judged "chassis down" in between two looks is judged again (it would keep that
    reason if the look missed the whole absence)."""
    hv1 = sandbox.add_chassis("hv1")
    directory = ovn_driver(core).directory
    assert directory is not None
    wait_for(lambda: directory.alive("hv1"), 10, "hv1 alive")
    told: list[set[str]] = []
    hv1.kill("controller")
    wait_for(lambda: not directory.alive("hv1"), 10, "hv1 judged down")
    directory.subscribe(told.append)
    hv1.start(("controller",))
    wait_for(lambda: directory.alive("hv1"), 10, "hv1 back")
    wait_for(lambda: {"hv1"} in told, 5, "subscribers told hv1 came back")


def test_plug_agent_report_gives_reason_and_agent_entry(sandbox: Sandbox, core: Plugin) -> None:
    sandbox.add_chassis("hv1")
    _, port = bound_port(core, **{"binding:profile": {"vif_plug_type": "representor"}})
    wait_port(core, port["id"], "DOWN", "no plug agent running on chassis 'hv1'")

    info = json.dumps({"version": "0.1.0", "pid": 42, "interval": 5,
                       "started_at": int(time.time()), "providers": {"representor": "ok"}})
    error = "declined: no representor for pf-mac 00:53:00:00:00:01 vf-num 3"
    sandbox.sbctl("set", "Chassis_Private", "hv1",
                  f"external_ids:neutrino-plug-agent-heartbeat={int(time.time())}",
                  f"external_ids:neutrino-plug-agent-info={json.dumps(info)}",
                  f'external_ids:"neutrino-plug-agent-error:{port["id"]}"="{error}"')
    wait_port(core, port["id"], "DOWN", f"plug agent on chassis 'hv1': {error}")
    agents = {a["agent_type"]: a for a in core.list_agents()}
    plug_agent = agents["Neutrino plug agent"]
    assert plug_agent["host"] == "hv1"
    assert plug_agent["alive"] is True
    assert plug_agent["binary"] == "neutrino-plug-agent"
    assert plug_agent["configurations"]["providers"] == {"representor": "ok"}
    assert plug_agent["configurations"]["plug_errors"] == 1

    stale = int(time.time()) - 3600
    sandbox.sbctl("remove", "Chassis_Private", "hv1", "external_ids",
                  f'"neutrino-plug-agent-error:{port["id"]}"', "--", "set", "Chassis_Private",
                  "hv1", f"external_ids:neutrino-plug-agent-heartbeat={stale}")
    wait_port(core, port["id"], "DOWN", "plug agent on chassis 'hv1' is down")
    assert {a["agent_type"]: a for a in core.list_agents()}["Neutrino plug agent"]["alive"] is False
    assert TestClient(create_app(core)).get("/healthz").json() == {
        "status": "degraded", "problems": ["plug agent on chassis 'hv1' is down"]}


def test_a_burst_of_ports_goes_active_together(sandbox: Sandbox, core: Plugin) -> None:
    hv1 = sandbox.add_chassis("hv1")
    net = core.create_network(ADMIN, {"name": "n"})
    ports = [core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})["id"]
             for _ in range(40)]
    wait_for(lambda: all(port_status(core, p)[0] == "DOWN" and port_status(core, p)[1] ==
                         "interface not present on chassis 'hv1'" for p in ports),
             10, "ports bound")
    commands = []
    for i, port_id in enumerate(ports):
        commands += ["--", "add-port", "br-int", f"t{i}", "--", "set", "Interface", f"t{i}",
                     "type=internal", f"external_ids:iface-id={port_id}"]
    hv1.vsctl(*commands[1:])
    for port_id in ports:
        sandbox.wait_port_up(port_id, timeout=20)
    # How soon after NB they follow is measured by `neutrino bench status` (burst).
    wait_for(lambda: all(port_status(core, p)[0] == "ACTIVE" for p in ports), 10, "all ACTIVE",
             interval=0.01)


def test_missed_status_is_found_by_the_full_sync(sandbox: Sandbox, make_core: CoreFactory,
                                                monkeypatch) -> None:
    """A port whose up event nobody handled (no status worker) is fixed on start; the
    plug grace is for LSPs created while the worker runs, not for its initial NB load."""
    monkeypatch.setattr(StatusWorker, "PLUG_GRACE", 30.0)
    hv1 = sandbox.add_chassis("hv1")
    api = make_core(workers=False)
    net, port = bound_port(api)
    idle = api.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    plug(hv1, "tap1", port["id"])
    sandbox.wait_port_up(port["id"])
    time.sleep(0.2)
    assert port_status(api, port["id"])[0] == "DOWN", "no worker ran yet"
    # The worker joins a connection that has already loaded NB (it shares its
    # process's): it starts from the rows loaded so far.
    late = make_core(workers=False)
    wait_for(lambda: ovn_driver(late).nb.ready, 10, "NB loaded")
    late.start_workers()
    wait_port(api, port["id"], "ACTIVE")
    wait_port(api, idle["id"], "DOWN", "interface not present on chassis 'hv1'")


class Reports:
    """The status worker's reports to the core, recorded on their way (nothing is faked)."""

    def __init__(self, handle) -> None:  # the worker's CoreHandle
        self.handle = handle
        self.ports: list[tuple[str, str, str | None]] = []
        self.network_calls = 0

    def __getattr__(self, name: str):
        return getattr(self.handle, name)

    def set_port_statuses(self, updates):
        self.ports.extend(updates)
        return self.handle.set_port_statuses(updates)

    def set_network_statuses(self, updates):
        self.network_calls += 1
        return self.handle.set_network_statuses(updates)


def test_a_port_plugged_at_once_is_written_once(sandbox: Sandbox, make_core: CoreFactory,
                                                monkeypatch) -> None:
    """Create -> ACTIVE costs one NB write by the driver (at create, as the binding will
    leave the LSP) and one SQL write by the status worker: no transient "interface not
    present" within the plug grace, nothing for NB changes that change no status (the
    switch's ports, northd's up=false)."""
    monkeypatch.setattr(StatusWorker, "PLUG_GRACE", 30.0)
    hv1 = sandbox.add_chassis("hv1")
    core = make_core()
    worker = ovn_driver(core).worker
    net = core.create_network(ADMIN, {"name": "n"})
    wait_network(core, net["id"], "ACTIVE")
    wait_for(lambda: worker.stats["full_syncs"] >= 1, 10, "first full sync")
    reports = worker.writer.core = Reports(worker.writer.core)
    driver = ovn_driver(core)
    port_writes: list[str] = []
    real_commit = driver._commit

    def commit(writes):
        real_commit(writes)
        port_writes.extend(c.result for write in writes for c in write.cmds
                           if isinstance(c, commands.EnsurePort))
    monkeypatch.setattr(driver, "_commit", commit)

    ports = [core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})["id"]
             for _ in range(3)]
    # The create writes the LSP as bound; the binding's update finds nothing to write
    # and sends no transaction at all.
    assert port_writes == ["created"] * 3
    for i, port_id in enumerate(ports):
        plug(hv1, f"tap{i}", port_id)
    for port_id in ports:
        wait_port(core, port_id, "ACTIVE")
    assert sorted(reports.ports) == sorted((p, "ACTIVE", None) for p in ports)
    assert reports.network_calls == 0

    # Not plugged: the precise reason comes once the grace is over.
    monkeypatch.setattr(StatusWorker, "PLUG_GRACE", 0.5)
    started = time.monotonic()
    late = core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    assert port_status(core, late["id"]) == ("DOWN", "bound to host 'hv1'; waiting for the "
                                                     "port to come up")
    wait_port(core, late["id"], "DOWN", "interface not present on chassis 'hv1'")
    assert time.monotonic() - started >= 0.5
