"""NB unreachable, restarted, or losing its RAFT leader: API writes wait briefly for a
reconnection, then stay fast and are kept, affected resources say BUILD with the reason,
and everything is applied and every status is right again once NB is back (issue 3
items 4 and 6)."""
from __future__ import annotations

import time

from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.config import Settings
from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from neutrino.db.session import Database
from neutrino.sandbox.pytest_plugin import SandboxFactory
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from tests.ovn.conftest import CoreFactory, ovn_driver
from tests.ovn.nb import lsp, plug, port_status, switch, unplug, wait_network, wait_port

UNREACHABLE = ("BUILD", "OVN northbound unreachable")


def timed(call, *args):
    start = time.monotonic()
    result = call(*args)
    return result, time.monotonic() - start


def test_a_server_that_never_reached_nb_is_starting(ovn_env: dict[str, str]) -> None:
    """Not connected since start is not ready (503), unlike a connection lost later."""
    core = Plugin(Settings.load(ovn_nb_connection="tcp:127.0.0.1:1"),
                  Database(Settings.load().database_url))
    try:
        answer = TestClient(create_app(core)).get("/healthz")
    finally:
        core.stop()
        core.db.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"status": "starting", "problems": ["OVN NB not connected"]}


def test_writes_while_nb_is_down_are_applied_when_it_returns(
        sandbox: Sandbox, core: Plugin) -> None:
    hv1 = sandbox.add_chassis("hv1")
    net = core.create_network(ADMIN, {"name": "n"})
    core.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.6.0.0/24", "ip_version": 4})
    active = core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    doomed = core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    plug(hv1, "tap1", active["id"])
    wait_port(core, active["id"], "ACTIVE")

    health = TestClient(create_app(core))
    assert health.get("/healthz").json()["status"] == "ok"
    killed = time.monotonic()
    sandbox.kill("nb")
    wait_for(lambda: not ovn_driver(core).nb.ready, 5, "driver sees NB down")
    assert ovn_driver(core).health()["healthy"] is False
    # The API still serves (writes are kept and applied later): degraded, not down.
    answer = health.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "degraded", "problems": ["OVN NB not connected"]}
    # The first write waits for NB to come back, until nb_reconnect_wait after the loss...
    wait = ovn_driver(core).settings.nb_reconnect_wait
    created = core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    assert time.monotonic() >= killed + wait, "a write waits for a reconnection"
    assert port_status(core, created["id"]) == UNREACHABLE
    # ... and writes in an older outage do not wait for NB at all.
    new_net, took = timed(core.create_network, ADMIN, {"name": "while-down"})
    assert took < wait, "a write does not wait for NB"
    # The create answers what SQL now holds: BUILD with the reason (S1), not ACTIVE.
    shown = core.get_network(ADMIN, new_net["id"])
    assert (new_net["status"], new_net["status_reason"]) == UNREACHABLE
    assert {k: new_net[k] for k in ("status", "status_reason", "revision_number", "updated_at")} \
        == {k: shown[k] for k in ("status", "status_reason", "revision_number", "updated_at")}
    bulk, took = timed(core.create_network_bulk, ADMIN, [{"name": "b1"}, {"name": "b2"}])
    assert took < wait
    assert [(n["status"], n["status_reason"]) for n in bulk] == [UNREACHABLE] * 2
    _, took = timed(core.delete_port, ADMIN, doomed["id"])
    assert took < wait
    # A status change OVN sees while NB is down reaches Neutrino once NB is back.
    unplug(hv1, "tap1")
    assert port_status(core, active["id"])[0] == "ACTIVE"

    sandbox.restart("nb")
    wait_port(core, created["id"], "DOWN", "interface not present on chassis 'hv1'", timeout=15)
    wait_port(core, active["id"], "DOWN", "interface not present on chassis 'hv1'")
    for network in (new_net, *bulk):
        wait_network(core, network["id"], "ACTIVE")
        assert switch(sandbox, network["id"]) is not None
    assert lsp(sandbox, created["id"]) is not None
    assert lsp(sandbox, doomed["id"]) is None
    plug(hv1, "tap2", created["id"])
    wait_port(core, created["id"], "ACTIVE")


def test_status_worker_resyncs_after_nb_restart(sandbox: Sandbox, make_core: CoreFactory) -> None:
    """Ports that went up while the worker was disconnected are ACTIVE after reconnect."""
    hv1 = sandbox.add_chassis("hv1")
    core = make_core()
    net = core.create_network(ADMIN, {"name": "n"})
    ports = [core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
             for _ in range(5)]
    for port in ports:
        wait_port(core, port["id"], "DOWN", "interface not present on chassis 'hv1'")
    worker = ovn_driver(core).worker
    sandbox.kill("nb")
    wait_for(lambda: not worker.holds_lock, 5, "worker lost the lock")
    for i, port in enumerate(ports):
        plug(hv1, f"t{i}", port["id"])
    sandbox.restart("nb")
    for port in ports:
        wait_port(core, port["id"], "ACTIVE", timeout=15)


def test_clustered_nb_losing_its_leader(sandbox_factory: SandboxFactory,
                                        make_core: CoreFactory, monkeypatch) -> None:
    ovn = sandbox_factory(clustered="nb")
    monkeypatch.setenv("NEUTRINO_OVN_NB_CONNECTION", ovn.nb_remote)
    monkeypatch.setenv("NEUTRINO_OVN_SB_CONNECTION", ovn.sb_remote)
    hv1 = ovn.add_chassis("hv1")
    # Longer than an election and a reconnection take on a loaded machine.
    core = make_core(nb_reconnect_wait=15)
    net = core.create_network(ADMIN, {"name": "n"})
    before = core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    wait_port(core, before["id"], "DOWN", "interface not present on chassis 'hv1'")

    leader = next(m.daemon.name for m in ovn.nb.members
                  if "Role: leader" in m.daemon.appctl("cluster/status", "OVN_Northbound"))
    ovn.kill(leader)
    wait_for(lambda: not ovn_driver(core).nb.ready, 5, "driver sees the leader gone")
    after = core.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    # The write waited for the new leader and landed with its request, not with a repair.
    assert port_status(core, after["id"]) != UNREACHABLE
    assert ovn.nbctl("--if-exists", "get", "Logical_Switch_Port", after["id"], "name")
    plug(hv1, "tap1", before["id"])
    wait_port(core, before["id"], "ACTIVE", timeout=20)
    wait_port(core, after["id"], "DOWN", "interface not present on chassis 'hv1'", timeout=20)
    plug(hv1, "tap2", after["id"])
    wait_port(core, after["id"], "ACTIVE", timeout=20)
