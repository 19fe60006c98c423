"""``neutrino bench failover-status``: the status worker's handover, and an NB leader change.

Three ``neutrino server`` processes (one API worker each) share PostgreSQL and a
clustered OVN (NB and SB each a 3-member RAFT cluster); one chassis plugs the ports
itself (``ovn-controller --enable-dummy-vif-plug``), so every create goes DOWN ->
ACTIVE with no other actor.  ``--clients`` clients create bound, plugged ports at
``--rate`` per second on the servers that are not killed, while:

* **status handover** — ``kill -9`` of the whole server (supervisor and worker)
  whose worker holds the NB lock ``neutrino_status_worker`` and so reports every
  status (docs/behaviour.md S4).  Figures: ``resumed s``, from the kill to the first
  ACTIVE of a port that went ``up`` in NB after it (transitions flow again);
  ``takeover s``, to the new holder publishing itself in ``NB_Global`` (the end of
  its first full sync); the worst ``up -> ACTIVE`` of the ports that went up in the
  seconds after the kill; and ``lost``: acknowledged ports never reported ACTIVE.
* **NB leader change** — ``kill -9`` of the NB RAFT leader (restarted a few seconds
  later, as a supervisor would): create-call latency before and in the seconds
  after, the creates that failed, and again every acknowledged port ACTIVE; when the
  new leader was elected, and each port's way in stages: its LSP in NB (Neutrino's
  write), its Port_Binding in SB (ovn-northd's), ``up`` in NB, ACTIVE.

Timestamps: NB ``up`` from a plain NB monitor, ACTIVE from a client of
``GET /v2.0/events`` on a server that stays up.  Neutron's OVN driver hands its
event work over through a hash ring whose dead members are noticed only after
``agent_down_time``-like timeouts (up to 120 s); the target here is < 2 s.
"""
from __future__ import annotations

import argparse
import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from neutrino.bench import report
from neutrino.bench.client import EventListener
from neutrino.bench.plug import watch_bound
from neutrino.bench.server import ServerProcess
from neutrino.bench.status import NbMonitor
from neutrino.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for

#: The issue's target for transitions to flow again after the handler is killed.
RESUME_TARGET_SECONDS = 2.0
CHASSIS = "hv1"
CIDR = "10.64.0.0/12"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rate", type=float, default=20.0,
                        help="port creates per second, all clients together (default 20)")
    parser.add_argument("--clients", type=int, default=4, help="creating clients (default 4)")
    parser.add_argument("--before", type=float, default=5.0,
                        help="seconds of load before each kill (default 5)")
    parser.add_argument("--after", type=float, default=10.0,
                        help="seconds of load after each kill (default 10)")
    parser.add_argument("--phases", default="handover,leader",
                        help="comma-separated: handover, leader (default both)")
    parser.add_argument("--timeout", type=float, default=120.0,
                        help="seconds for every acknowledged port to be ACTIVE (default 120)")
    parser.add_argument("--output", default="bench-failover-status.json", help="JSON result path")


@dataclass
class Load:
    """Clients creating ports round-robin on *urls* at a total *rate*, until stopped."""

    urls: list[str]
    network_id: str
    rate: float
    clients: int
    #: port id -> (monotonic time the create was sent, seconds it took)
    created: dict[str, tuple[float, float]] = field(default_factory=dict)
    #: (monotonic time sent, what went wrong)
    failed: list[tuple[float, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)
    _threads: list[threading.Thread] = field(default_factory=list)
    #: When the load began, and the last create handed out: create i is due at
    #: ``began + i / rate`` (open loop: a slow answer does not lower the offered rate).
    _began: float = 0.0
    _next: int = 0
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self._began = time.monotonic()
        self._threads = [threading.Thread(target=self._client, daemon=True)
                         for _ in range(self.clients)]
        for thread in self._threads:
            thread.start()

    def _slot(self) -> int:
        with self._lock:
            self._next += 1
            return self._next

    def _client(self) -> None:
        clients = [httpx.Client(base_url=url, timeout=60) for url in self.urls]
        try:
            while not self._stop.is_set():
                i = self._slot()
                self._stop.wait(max(0.0, self._began + i / self.rate - time.monotonic()))
                if self._stop.is_set():
                    return
                body = {"port": {"network_id": self.network_id, "device_id": f"vm-{i}",
                                 "binding:host_id": CHASSIS,
                                 "binding:profile": {"vif_plug_type": "dummy"}}}
                sent = time.monotonic()
                try:
                    r = clients[i % len(clients)].post("/v2.0/ports", json=body)
                except httpx.TransportError as e:
                    self.failed.append((sent, f"{type(e).__name__}: {e}"))
                    continue
                if r.status_code == 201:
                    self.created[r.json()["port"]["id"]] = (sent, time.monotonic() - sent)
                else:
                    self.failed.append((sent, f"{r.status_code} {r.text[:200]}"))
        finally:
            for client in clients:
                client.close()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(90)


def _ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"count": len(ms), "p50_ms": round(report.percentile(ms, 50), 1),
            "p99_ms": round(report.percentile(ms, 99), 1),
            "max_ms": round(max(ms, default=0.0), 1)}


class System:
    """PostgreSQL, clustered OVN with one self-plugging chassis, three servers."""

    def __init__(self, workdir: Path, progress: report.Progress) -> None:
        from neutrino.sandbox.postgres import PostgresServer

        self.progress = progress
        self.pg = PostgresServer()
        self.sandbox = Sandbox(progress=progress.note)
        self.servers: list[ServerProcess] = []
        self.workdir = workdir

    def start(self) -> None:
        self.pg.start()
        url = self.pg.create_database("neutrino")
        self.sandbox.start_central(clustered=True)
        chassis = self.sandbox.add_chassis(CHASSIS, hostname=CHASSIS, dummy_vif_plug=True)
        # OVN 23.03 holds back unplugging for a while after start; lift it, as its tests do.
        chassis.appctl("controller", "debug/ignore-startup-delay")
        env = {"NEUTRINO_OVN_NB_CONNECTION": self.sandbox.nb_remote,
               "NEUTRINO_OVN_SB_CONNECTION": self.sandbox.sb_remote,
               "NEUTRINO_MECHANISM_DRIVERS": "ovn"}
        self.servers = [ServerProcess(url, self.workdir / f"server{i}", workers=1, env=env)
                        for i in range(3)]
        for server in self.servers:
            server.start(timeout=120)

    def holder(self) -> ServerProcess:
        """The server whose API worker holds the status worker's lock (it says so in
        NB_Global once its first full sync is done)."""
        from neutrino.ovn import keys

        def find() -> ServerProcess | None:
            value = self.sandbox.nbctl("--if-exists", "get", "NB_Global", ".",
                                       f'external_ids:"{keys.GLOBAL_WORKER}"').strip('"')
            pid = int(value.rpartition(":")[2]) if value else None
            return next((s for s in self.servers if s.process is not None
                         and s.process.poll() is None and pid in report.process_tree(s.pid)),
                        None)
        found = wait_for(find, 60, "a status worker publishes itself")
        assert found is not None  # wait_for returns find's first truthy answer
        return found

    def nb_leader(self) -> str | None:
        return next((m.daemon.name for m in self.sandbox.nb.members  # type: ignore[union-attr]
                     if m.daemon.running and "Role: leader" in m.daemon.appctl(
                         "cluster/status", "OVN_Northbound")), None)

    def stop(self) -> None:
        for server in self.servers:
            server.stop()
        self.sandbox.stop()
        self.pg.stop()


@contextmanager
def system(progress: report.Progress) -> Iterator[System]:
    with tempfile.TemporaryDirectory(prefix="nt-failover-") as tmp:
        sys_ = System(Path(tmp), progress)
        try:
            sys_.start()
            yield sys_
        finally:
            sys_.stop()


def wait_active(listener: EventListener, load: Load, timeout: float) -> list[str]:
    """Wait until every acknowledged port was seen ACTIVE; the ids that never were."""
    ids = set(load.created)
    deadline = time.monotonic() + timeout
    while listener.count(ids) < len(ids) and time.monotonic() < deadline:
        time.sleep(0.1)
    return sorted(i for i in ids if i not in listener.active_at)


def open_phase(sys_: System, servers: list[ServerProcess], network_id: str,
               args: argparse.Namespace, phase: str, killed: str) -> tuple[EventListener, Load]:
    """A phase's first part: a listener of ``/v2.0/events`` and the create load on
    *servers* (those that stay up), then ``--before`` seconds of load before the kill
    of *killed*."""
    listener = EventListener(servers[0].url)
    load = Load([s.url for s in servers], network_id, args.rate, args.clients)
    sys_.progress.start(f"{phase}: load {args.before:.0f}s, kill -9 of {killed}, "
                        f"load {args.after:.0f}s")
    load.start()
    time.sleep(args.before)
    return listener, load


def close_phase(sys_: System, listener: EventListener, load: Load, timeout: float) -> list[str]:
    """A phase's end, once its load ran after the kill: the acknowledged ports never
    reported ACTIVE within *timeout*."""
    load.stop()
    sys_.progress.done()
    lost = wait_active(listener, load, timeout)
    listener.stop()
    return lost


def handover(sys_: System, network_id: str, args: argparse.Namespace,
             monitor: NbMonitor) -> dict[str, Any]:
    victim = sys_.holder()
    listener, load = open_phase(sys_, [s for s in sys_.servers if s is not victim], network_id,
                                args, "handover", "the status worker's server")
    workers_before = set(monitor.workers())
    killed = time.monotonic()
    os.killpg(victim.pid, signal.SIGKILL)
    victim.process.wait()  # type: ignore[union-attr]
    time.sleep(args.after)
    lost = close_phase(sys_, listener, load, args.timeout)
    up_at = {p: monitor.up_at[p] for p in load.created if p in monitor.up_at}
    after = [p for p, t in up_at.items() if t > killed and p in listener.active_at]
    resumed = min((listener.active_at[p] for p in after), default=None)
    new_workers = [t for w, t in monitor.workers().items() if w not in workers_before]
    window = [listener.active_at[p] - up_at[p] for p in after if up_at[p] < killed + 5]
    steady = [listener.active_at[p] - t for p, t in up_at.items()
              if t < killed and p in listener.active_at]
    return {
        "ports": len(load.created), "failed_creates": len(load.failed),
        "lost": len(lost), "lost_ids": lost[:10],
        "resumed_s": None if resumed is None else round(resumed - killed, 3),
        "takeover_s": round(min(new_workers) - killed, 3) if new_workers else None,
        "up_to_active_before": _ms(steady),
        "up_to_active_5s_after": _ms(window),
    }


def leader_change(sys_: System, network_id: str, args: argparse.Namespace,
                  monitor: NbMonitor) -> dict[str, Any]:
    alive = [s for s in sys_.servers if s.process is not None and s.process.poll() is None]
    bindings = watch_bound(sys_.sandbox.sb_remote)
    try:
        listener, load = open_phase(sys_, alive, network_id, args, "leader", "the NB leader")
        leader = sys_.nb_leader()
        assert leader is not None, "the NB cluster has a leader"
        killed = time.monotonic()
        sys_.sandbox.kill(leader)
        down_for = min(5.0, args.after)
        elected = None  # seconds from the kill until a member says it leads
        while elected is None and time.monotonic() < killed + down_for:
            if sys_.nb_leader() is not None:
                elected = round(time.monotonic() - killed, 3)
            else:
                time.sleep(0.05)
        time.sleep(max(0.0, killed + down_for - time.monotonic()))
        sys_.sandbox.restart(leader)
        time.sleep(max(0.0, args.after - 5.0))
        lost = close_phase(sys_, listener, load, args.timeout)
    finally:
        bindings.stop()
    before = {p: v for p, v in load.created.items() if v[0] < killed}
    after = {p: v for p, v in load.created.items() if killed <= v[0] < killed + 5}

    def since_sent(ports: dict[str, tuple[float, float]],
                   marks: dict[str, float]) -> dict[str, float]:
        return _ms([marks[p] - sent for p, (sent, _) in ports.items() if p in marks])
    in_nb, up = dict(monitor.seen_at), dict(monitor.up_at)
    return {
        "killed": leader, "new_leader": sys_.nb_leader(), "ports": len(load.created),
        "elected_s": elected,
        "failed_creates": len([f for sent, f in load.failed if sent >= killed]),
        "failures": [f for _, f in load.failed][:5], "lost": len(lost), "lost_ids": lost[:10],
        "create_before": _ms([took for _, took in before.values()]),
        "create_5s_after": _ms([took for _, took in after.values()]),
        "create_to_in_nb_before": since_sent(before, in_nb),
        "create_to_in_nb_5s_after": since_sent(after, in_nb),
        "create_to_in_sb_before": since_sent(before, bindings.at),
        "create_to_in_sb_5s_after": since_sent(after, bindings.at),
        "create_to_up_before": since_sent(before, up),
        "create_to_up_5s_after": since_sent(after, up),
        "create_to_active_before": since_sent(before, listener.active_at),
        "create_to_active_5s_after": since_sent(after, listener.active_at),
    }


def run(args: argparse.Namespace) -> int:
    progress = report.Progress()
    phases = [p.strip() for p in args.phases.split(",") if p.strip()]
    result: dict[str, Any] = {"bench": "failover-status", "args": vars(args),
                              "machine": report.machine()}
    with system(progress) as sys_:
        api = httpx.Client(base_url=sys_.servers[0].url, timeout=60)
        net = api.post("/v2.0/networks", json={"network": {"name": "failover"}}
                       ).raise_for_status().json()["network"]
        api.post("/v2.0/subnets", json={"subnet": {"network_id": net["id"], "cidr": CIDR,
                                                   "ip_version": 4}}).raise_for_status()
        api.close()
        monitor = NbMonitor(sys_.sandbox.nb_remote)
        try:
            if "handover" in phases:
                result["handover"] = handover(sys_, net["id"], args, monitor)
            if "leader" in phases:
                result["leader"] = leader_change(sys_, net["id"], args, monitor)
        finally:
            monitor.stop()
    result["targets_met"] = {
        "nothing_lost": all(result[p]["lost"] == 0 for p in phases if p in result)}
    if "handover" in result:
        resumed = result["handover"]["resumed_s"]
        result["targets_met"]["resumed_within_2s"] = \
            resumed is not None and resumed < RESUME_TARGET_SECONDS
    report.write_json(args.output, result)
    print_table(result)
    return 0


def print_table(result: dict[str, Any]) -> None:
    args = result["args"]
    print(f"\nneutrino bench failover-status: 3 servers on PostgreSQL, clustered NB/SB, "
          f"{args['rate']:g} creates/s")
    if "handover" in result:
        h = result["handover"]
        print(report.format_table(
            ["status handover", "resumed s", "takeover s", "up->ACTIVE p50 before",
             "max in 5 s after", "ports", "lost"],
            [["kill -9 of its server", h["resumed_s"], h["takeover_s"],
              h["up_to_active_before"]["p50_ms"], h["up_to_active_5s_after"]["max_ms"],
              h["ports"], h["lost"]]]))
    if "leader" in result:
        ld = result["leader"]
        def spread(figures: dict[str, float]) -> str:
            return "/".join(str(figures[k]) for k in ("p50_ms", "p99_ms", "max_ms"))
        print(report.format_table(
            [f"NB leader change (kill -9 of {ld['killed']})", "before: p50/p99/max ms",
             "5 s after: p50/p99/max ms"],
            [["create call", spread(ld["create_before"]), spread(ld["create_5s_after"])],
             ["create -> LSP in NB", spread(ld["create_to_in_nb_before"]),
              spread(ld["create_to_in_nb_5s_after"])],
             ["create -> Port_Binding in SB", spread(ld["create_to_in_sb_before"]),
              spread(ld["create_to_in_sb_5s_after"])],
             ["create -> up in NB", spread(ld["create_to_up_before"]),
              spread(ld["create_to_up_5s_after"])],
             ["create -> ACTIVE", spread(ld["create_to_active_before"]),
              spread(ld["create_to_active_5s_after"])]]))
        print(f"new leader elected {ld['elected_s']} s after the kill")
        print(f"failed creates: {ld['failed_creates']}, ports: {ld['ports']}, "
              f"lost: {ld['lost']}")
    print(f"targets met: {result['targets_met']}  (JSON: {args['output']})")
