"""`neutrino up` under create load while each of its daemons is killed (issue 18).

One `up` (no Keystone: it is not on the create path), a few clients creating bound,
plugged ports the whole time, and `kill -9` of each daemon in turn: NB, SB,
ovn-northd, the chassis's ovsdb-server, ovs-vswitchd and ovn-controller, the plug
agent, an API worker and, last, `up` itself (then started again on the same state
dir). After each kill: the daemon runs again, counted once, with exactly one
process of it; every port a create acknowledged exists in SQL and in NB and is
ACTIVE within ``SETTLE`` seconds, its LSP up; no create answered a 500.

What this found in OVN itself: ovn-controller 23.03.1, restarted while ports are
being plugged, sometimes never reports up a port it claims in its first moments (a
few of several hundred; the Interface is there, SB's Port_Binding names the chassis,
``ovn-installed`` is never set). The plug agent plugs such a port again once
ovn-controller has answered an ``nb_cfg`` since (``neutrino.agent.install_watch``),
so those ports too must be ACTIVE within ``SETTLE``.
"""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import threading
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from neutrino.bench.report import process_tree
from neutrino.sandbox.wait import wait_for
from tests.test_up import Up, free_port, pid_in, processes_using

#: Seconds every acknowledged port has, once the killed daemon is back, to be ACTIVE.
SETTLE = 30.0
#: Creating clients, and each one's pause between creates: a modest, steady load.
CLIENTS, PAUSE = 3, 0.3


@dataclass(frozen=True)
class Victim:
    """A daemon `up` keeps: its name in ``/healthz`` and its pidfile under the state dir."""

    name: str
    pidfile: str


VICTIMS = (
    Victim("ovn-nb", "ovn/nb/ovsdb-server.pid"),
    Victim("ovn-sb", "ovn/sb/ovsdb-server.pid"),
    Victim("ovn-northd", "ovn/northd/ovn-northd.pid"),
    Victim("chassis-1/ovsdb", "ovn/c1/ovsdb-server.pid"),
    Victim("chassis-1/vswitchd", "ovn/c1/ovs-vswitchd.pid"),
    Victim("chassis-1/controller", "ovn/c1/ovn-controller.pid"),
    Victim("plug-agent", "ovn/plug-agent/plug-agent.pid"),
)


@dataclass
class CreateLoad:
    """Clients creating bound ports that the plug agent plugs, until stopped."""

    url: str
    network_id: str
    host: str
    acknowledged: list[str] = field(default_factory=list)
    #: Answers other than 201, and transport errors (an API worker killed mid-request).
    refused: list[str] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self._threads = [threading.Thread(target=self._client, args=(i,), daemon=True)
                         for i in range(CLIENTS)]
        for thread in self._threads:
            thread.start()

    def _client(self, index: int) -> None:
        with httpx.Client(base_url=self.url, timeout=30) as api:
            n = 0
            while not self._stop.wait(PAUSE):
                n += 1
                body = {"port": {"network_id": self.network_id, "name": f"load-{index}-{n}",
                                 "binding:host_id": self.host,
                                 "binding:profile": {"vif_plug_type": "dummy"}}}
                try:
                    r = api.post("/v2.0/ports", json=body)
                except httpx.TransportError as e:
                    self.refused.append(f"{type(e).__name__}: {e}")
                    continue
                if r.status_code == 201:
                    self.acknowledged.append(r.json()["port"]["id"])
                else:
                    self.refused.append(f"{r.status_code} {r.text[:300]}")

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(60)


def components(url: str) -> dict:
    return httpx.get(f"{url}/healthz", timeout=5).json()["components"]


def daemons_running(url: str) -> dict[str, dict]:
    return components(url)["daemons"]


def live_pids(pattern: str, state: Path) -> list[str]:
    """Live processes of the state dir whose command line contains *pattern*."""
    return [c for c in processes_using(state) if pattern in c]


def api_workers(up: Up) -> list[int]:
    """Pids of the API worker processes of *up* (in its process tree, running
    ``neutrino.worker``)."""
    found = []
    for pid in process_tree(up.proc.pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"neutrino.worker" in cmdline:
            found.append(pid)
    return found


def nb_ports(state: Path) -> dict[str, str]:
    """``{LSP name: up}`` of every Logical_Switch_Port in the state dir's NB."""
    out = subprocess.run(
        ["ovn-nbctl", f"--db=unix:{state / 'ovn' / 'nb' / 'db.sock'}", "--timeout=20",
         "--format=csv", "--data=bare", "--no-heading", "--columns=name,up", "list",
         "Logical_Switch_Port"], capture_output=True, text=True, timeout=30, check=True).stdout
    return dict(line.split(",", 1) for line in out.splitlines() if line)


def plugged(state: Path) -> set[str]:
    """iface-ids of the interfaces on the chassis's integration bridge."""
    out = subprocess.run(
        ["ovs-vsctl", f"--db=unix:{state / 'ovn' / 'c1' / 'db.sock'}", "--timeout=20", "--bare",
         "--columns=external_ids", "find", "Interface", "external_ids:iface-id!=''"],
        capture_output=True, text=True, timeout=30, check=True).stdout
    return {item.split("=", 1)[1] for line in out.splitlines() for item in line.split()
            if item.startswith("iface-id=")}


def unsettled(url: str, state: Path, acknowledged: list[str]) -> list[tuple]:
    """``(id, status, reason, NB up)`` of every acknowledged port that is not ACTIVE in
    SQL with its LSP up in NB (or is missing from either)."""
    ports = {p["id"]: p for p in httpx.get(f"{url}/v2.0/ports", timeout=30).json()["ports"]}
    nb = nb_ports(state)
    return [(i, ports.get(i, {}).get("status"), ports.get(i, {}).get("status_reason"),
             nb.get(i)) for i in acknowledged
            if ports.get(i, {}).get("status") != "ACTIVE" or nb.get(i) != "true"]


def settle(url: str, state: Path, load: CreateLoad, after: str) -> None:
    """Every acknowledged port is in SQL and NB, ACTIVE with its LSP up, within
    ``SETTLE`` seconds."""
    acknowledged = list(load.acknowledged)
    try:
        wait_for(lambda: not unsettled(url, state, acknowledged), SETTLE,
                 f"ports settled after {after}", interval=0.5)
        return
    except Exception:  # noqa: BLE001 - told below
        wrong = unsettled(url, state, acknowledged)
    ifaces = plugged(state)
    assert not wrong, (f"after {after}: {len(wrong)} of {len(acknowledged)} not settled "
                       f"({sum(w[0] in ifaces for w in wrong)} of them plugged), "
                       f"e.g. {wrong[:5]}")


def kill_and_wait_restarted(url: str, state: Path, victim: Victim) -> None:
    pidfile = state / victim.pidfile
    pid = pid_in(pidfile)
    assert pid is not None, victim
    before = daemons_running(url)[victim.name]["restarts"]
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: daemons_running(url)[victim.name] == {"running": True,
                                                          "restarts": before + 1},
             30, f"{victim.name} restarted")
    new = pid_in(pidfile)
    assert new not in (None, pid)
    only_one(state, victim)


def only_one(state: Path, victim: Victim) -> None:
    """One process of *victim* (OVS daemons name their pidfile), once a ``--detach``
    start's parent, which waits for its daemon child to be ready, has exited."""
    pattern = "plug-agent" if victim.name == "plug-agent" \
        else f"--pidfile={state / victim.pidfile}"
    wait_for(lambda: len(live_pids(pattern, state)) == 1, 10, f"one {victim.name}")


def test_each_daemon_killed_under_create_load(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {"NEUTRINO_HEALTHZ_DETAILS": "true", "NEUTRINO_QUOTA_PORT": "-1"}
    up = Up(state, port, "--auth", "none", **env)
    load: CreateLoad | None = None
    try:
        up.wait_ready()
        net = httpx.post(f"{url}/v2.0/networks", json={"network": {"name": "load"}},
                         timeout=30).json()["network"]
        httpx.post(f"{url}/v2.0/subnets", json={"subnet": {
            "network_id": net["id"], "cidr": "10.0.0.0/16", "ip_version": 4}},
            timeout=30).raise_for_status()
        load = CreateLoad(url, net["id"], socket.gethostname())
        load.start()
        for victim in VICTIMS:
            kill_and_wait_restarted(url, state, victim)
            settle(url, state, load, f"kill -9 of {victim.name}")

        # An API worker: the supervisor starts another; its sibling serves meanwhile.
        workers = api_workers(up)
        assert len(workers) == 2
        os.kill(workers[0], signal.SIGKILL)
        wait_for(lambda: components(url)["api_workers"] == {"total": 2, "serving": 2,
                                                            "restarts": 1},
                 30, "the API worker replaced")
        assert len(api_workers(up)) == 2 and workers[0] not in api_workers(up)
        settle(url, state, load, "kill -9 of an API worker")
        load.stop()
        assert not [r for r in load.refused if r.startswith("5")], load.refused
        assert len(load.acknowledged) >= 50, "the load ran throughout"
        assert httpx.get(f"{url}/healthz", timeout=5).json()["status"] == "ok"
    finally:
        if load is not None:
            load.stop()
        up.proc.kill()  # `up` itself, as `kill -9 <pid of up>`
        up.proc.wait(30)
    wait_for(lambda: processes_using(state) == [], 30, "nothing of the killed up left")

    # Started again on the same state dir: every port still there and ACTIVE, one of each.
    again = Up(state, port, "--auth", "none", **env)
    try:
        again.wait_ready()
        settle(url, state, load, "kill -9 of up and a new up")
        for victim in VICTIMS:
            only_one(state, victim)
        assert len(api_workers(again)) == 2
    finally:
        assert again.stop() == 0, again.output()
