"""``neutrino bench converge``: how long the whole system takes to settle after a restart.

One sandbox of ``--chassis`` chassis, ``neutrino server`` (SQLite) and one plug agent.
``--ports`` bound, plugged ports are created through the API and waited for until
ACTIVE; then the system is restarted as an operator would restart it, three times:

* ``neutrino``: the Neutrino server and the plug agent only;
* ``baseline``: every OVN daemon (NB and SB ovsdb-server, ovn-northd, each chassis's
  ovsdb-server, ovs-vswitchd and ovn-controller) with no Neutrino process running: bare
  OVN with the same NB, SB and OVS content;
* ``everything``: every OVN daemon and the Neutrino processes (started again and
  settled after the baseline first).

For each it measures, from the moment the restart begins:

* ``restarted_s``: the daemons are started again;
* ``caught_up_s``: an ``nb_cfg`` written once the OVN daemons are back has been answered
  by every chassis (``ovn-nbctl --wait=hv sync``): ovn-controller has caught up with
  everything in SB before it;
* ``active_s``: the status worker of the new server has run its first full sync and the
  API shows every port ACTIVE;
* ``settled_s``: an ``nb_cfg`` written after that is answered by every chassis: OVN has
  processed everything Neutrino wrote while converging (the baseline: ``caught_up_s``);
* ``left_active``: the ports that were reported anything but ACTIVE meanwhile (from the
  status event log), with their reasons;
* ``transactions``: NB, SB and each chassis's OVS transactions committed meanwhile, by
  writer, Neutrino's by what they changed (``ovsdb_log``), and CPU seconds of every
  daemon;
* ``idle``: the same counts over ``--idle`` seconds after settling: what a system at rest
  writes on every loop.

The figure is ``everything``'s ``settled_s`` over the baseline's ``caught_up_s``.
"""
from __future__ import annotations

import argparse
import sqlite3
import subprocess
import tempfile
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from neutrino.bench import ovsdb_log, report
from neutrino.bench.e2e import chassis_names
from neutrino.bench.lsps import CIDR
from neutrino.bench.server import ServerProcess, launch_agent, ovn_server, stop_agent
from neutrino.ovn import keys
from neutrino.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for

#: Order of the restarts (the baseline needs Neutrino stopped, ``everything`` running).
VARIANTS = ("neutrino", "baseline", "everything")

#: Ports per create request while setting up.
BULK_SIZE = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ports", type=int, default=200, help="ports (default 200)")
    parser.add_argument("--chassis", type=int, default=1, help="chassis (default 1)")
    parser.add_argument("--networks", type=int, default=1,
                        help="networks the ports are spread over, port i on network i %% N "
                             "and chassis i %% chassis (default 1); ovn-controller's work for "
                             "a port change grows with its network's size")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="clients creating the ports (default 8)")
    parser.add_argument("--workers", type=int, default=2,
                        help="API worker processes of neutrino server (default 2)")
    parser.add_argument("--idle", type=float, default=30.0,
                        help="seconds at rest after each restart settled, whose writes and "
                             "CPU are counted apart (default 30; 0: none)")
    parser.add_argument("--timeout", type=float, default=1800.0,
                        help="seconds to wait for each phase (default 1800)")
    parser.add_argument("--output", default="bench-converge.json", help="JSON result path")


@dataclass
class Restart:
    """What a variant restarts."""

    neutrino: bool
    ovn: bool


RESTARTS = {"neutrino": Restart(neutrino=True, ovn=False),
            "baseline": Restart(neutrino=False, ovn=True),
            "everything": Restart(neutrino=True, ovn=True)}


class System:
    """The sandbox, the Neutrino server and plug agent, started and stopped as a whole."""

    def __init__(self, sandbox: Sandbox, workdir: Path, workers: int) -> None:
        self.sandbox = sandbox
        self.workdir = workdir
        self.server: ServerProcess = ovn_server(workdir, sandbox, workers)
        self.agent: subprocess.Popen | None = None
        assert sandbox.nb is not None and sandbox.sb is not None  # central is started
        self.nb, self.sb = sandbox.nb, sandbox.sb
        self.nb_file, self.sb_file = self.nb.members[0].db_file, self.sb.members[0].db_file

    # -- Neutrino --------------------------------------------------------------------
    @property
    def neutrino_running(self) -> bool:
        return self.agent is not None

    def start_neutrino(self, first: bool = False) -> None:
        self.agent = launch_agent(self.sandbox, self.workdir)
        if first:
            self.server.start(timeout=120)
        else:
            self.server.launch()

    def stop_neutrino(self) -> None:
        self.server.stop()
        if self.agent is not None:
            stop_agent(self.agent)
            self.agent = None

    # -- OVN ---------------------------------------------------------------------------
    def stop_ovn(self) -> None:
        sb = self.sandbox
        for chassis in sb.chassis.values():
            chassis.stop()
        assert sb.northd is not None
        sb.northd.stop()
        self.nb.stop()
        self.sb.stop()

    def start_ovn(self, timeout: float) -> None:
        sb = self.sandbox
        self.nb.start(timeout)
        self.sb.start(timeout)
        assert sb.northd is not None
        sb.northd.start()
        for chassis in sb.chassis.values():
            chassis.start()

    # -- looking -----------------------------------------------------------------------
    def daemons(self) -> dict[str, int]:
        """Pid of every process whose CPU is counted, by name."""
        sb = self.sandbox
        pids = {"nb": self.nb.members[0].daemon.pid(), "sb": self.sb.members[0].daemon.pid(),
                "northd": sb.northd.pid() if sb.northd else None}
        for chassis in sb.chassis.values():
            for name in ("vswitchd", "controller"):
                pids[f"{chassis.name}/{name}"] = chassis.daemons[name].pid()
        if self.agent is not None:
            pids["neutrino-server"] = self.server.pid
            pids["plug-agent"] = self.agent.pid
        return {name: pid for name, pid in pids.items() if pid is not None}

    def databases(self) -> dict[str, Path]:
        """The file of every database whose transactions are counted: ``nb``, ``sb`` and
        ``ovs/<chassis>``."""
        return {"nb": self.nb_file, "sb": self.sb_file,
                **{f"ovs/{c.name}": c.ovs.db_file for c in self.sandbox.chassis.values()}}

    def sync(self, timeout: float) -> None:
        """Write a new ``nb_cfg`` and wait until every chassis has answered it."""
        self.sandbox.nbctl("--wait=hv", "sync", timeout=timeout)

    def worker_identity(self) -> str:
        """The status worker that last completed a full sync, as it published itself."""
        return self.sandbox.nbctl("--if-exists", "get", "NB_Global", ".",
                                  f'external_ids:"{keys.GLOBAL_WORKER}"')

    def sql(self, query: str, *params: Any) -> list[tuple[Any, ...]]:
        with sqlite3.connect(self.workdir / "neutrino.db") as db:
            return db.execute(query, params).fetchall()

    def last_event(self) -> int:
        return int(self.sql("SELECT coalesce(max(id), 0) FROM status_events")[0][0])

    def left_active(self, after: int) -> dict[str, Any]:
        """Ports reported other than ACTIVE in events after id *after*, and why."""
        rows = self.sql("SELECT resource_id, status, status_reason FROM status_events "
                        "WHERE id > ? AND resource = 'port' AND status != 'ACTIVE'", after)
        reasons = Counter(f"{status}: {reason}" for _, status, reason in rows)
        return {"ports": len({r[0] for r in rows}), "events": len(rows),
                "reasons": dict(reasons.most_common(5))}

    def active_ports(self, api: httpx.Client) -> int | None:
        """Ports the API shows ACTIVE, or None while it does not answer."""
        try:
            r = api.get("/v2.0/ports", params=[("fields", "id"), ("fields", "status")])
        except httpx.HTTPError:
            return None
        if r.status_code != 200:
            return None
        return sum(1 for p in r.json()["ports"] if p["status"] == "ACTIVE")


class Meter:
    """Transactions in NB and SB and CPU seconds of every daemon, from now on."""

    def __init__(self, system: System) -> None:
        self.system = system
        self.offsets = {db: ovsdb_log.file_size(path) for db, path in system.databases().items()}
        self.cpu = {name: (pid, report.tree_cpu_seconds(pid))
                    for name, pid in system.daemons().items()}

    def read(self) -> dict[str, Any]:
        """What happened since the meter was made. A daemon restarted meanwhile counts from
        its start (its predecessor was stopped at once); a database file that ovsdb-server
        compacted meanwhile has no records to count (``None``)."""
        counts: dict[str, Any] = {}
        for db, path in self.system.databases().items():
            try:
                counts[db] = ovsdb_log.tally(db.split("/")[0], path, self.offsets[db]).as_dict()
            except ValueError:
                counts[db] = None
        cpu = {}
        for name, pid in self.system.daemons().items():
            was_pid, was = self.cpu.get(name, (None, 0.0))
            cpu[name] = round(report.tree_cpu_seconds(pid) - (was if was_pid == pid else 0.0), 2)
        return {"transactions": counts, "cpu_seconds": cpu}


class Convergence:
    """Restarts the system one way and measures until it has settled."""

    def __init__(self, system: System, args: argparse.Namespace,
                 progress: report.Progress) -> None:
        self.system, self.args, self.progress = system, args, progress

    def wait_active(self, api: httpx.Client, began: float, old_worker: str) -> float:
        """Until a new status worker completed a full sync and every port is ACTIVE; the
        seconds since *began*."""
        total = self.args.ports

        def converged() -> bool:
            active = self.system.active_ports(api)
            self.progress.update(active or 0, total)
            return active == total and self.system.worker_identity() not in ("", old_worker)

        wait_for(converged, self.args.timeout, "every port ACTIVE", interval=0.5)
        return time.monotonic() - began

    def run(self, name: str, api: httpx.Client) -> dict[str, Any]:
        system, restart, timeout = self.system, RESTARTS[name], self.args.timeout
        event_floor = system.last_event()
        old_worker = system.worker_identity()
        meter = Meter(system)
        self.progress.start(f"{name}: restart", self.args.ports)
        began = time.monotonic()
        if restart.neutrino:
            system.stop_neutrino()
        if restart.ovn:
            system.stop_ovn()
            system.start_ovn(timeout)
        if restart.neutrino:
            system.start_neutrino()
        result: dict[str, Any] = {"restarted_s": round(time.monotonic() - began, 2)}
        caught_up: dict[str, float] = {}

        def catch_up() -> None:
            system.sync(timeout)
            caught_up["s"] = time.monotonic() - began

        watcher = threading.Thread(target=catch_up, daemon=True)
        watcher.start()
        if system.neutrino_running:
            result["active_s"] = round(self.wait_active(api, began, old_worker), 2)
        watcher.join(timeout)
        result["caught_up_s"] = round(caught_up["s"], 2)
        if system.neutrino_running:
            system.sync(timeout)
            result["settled_s"] = round(time.monotonic() - began, 2)
            result["left_active"] = system.left_active(event_floor)
        else:
            result["settled_s"] = result["caught_up_s"]
        result.update(meter.read())
        self.progress.done(f"settled in {result['settled_s']:.1f}s")
        if self.args.idle > 0:
            self.progress.start(f"{name}: at rest for {self.args.idle:g}s")
            idle = Meter(system)
            time.sleep(self.args.idle)
            result["idle"] = idle.read()
            self.progress.done()
        return result


def populate(system: System, api: httpx.Client, args: argparse.Namespace,
             progress: report.Progress) -> dict[str, Any]:
    """Create the ports and wait until they are ACTIVE and OVN has settled."""
    networks = []
    for k in range(args.networks):
        networks.append(api.post("/v2.0/networks", json={"network": {"name": f"converge-{k}"}}
                                 ).raise_for_status().json()["network"])
        api.post("/v2.0/subnets", json={"subnet": {
            "network_id": networks[-1]["id"], "cidr": CIDR, "ip_version": 4}}
        ).raise_for_status()
    hosts = chassis_names(args.chassis)

    def port(i: int) -> dict[str, Any]:
        return {"network_id": networks[i % len(networks)]["id"], "device_id": f"vm-{i}",
                "binding:host_id": hosts[i % len(hosts)],
                "binding:profile": {"vif_plug_type": "dummy"}}

    def create(first: int) -> int:
        """One bulk request of ports *first*.. : thousands of ports are set up in minutes
        (one per request, 5,000 took over 20 minutes behind a loaded OVN)."""
        batch = range(first, min(first + BULK_SIZE, args.ports))
        api.post("/v2.0/ports", json={"ports": [port(i) for i in batch]}).raise_for_status()
        return len(batch)

    progress.start(f"create {args.ports} ports in bulks of {BULK_SIZE}", args.ports)
    began = time.monotonic()
    done = 0
    with ThreadPoolExecutor(args.concurrency) as pool:
        for created_now in pool.map(create, range(0, args.ports, BULK_SIZE)):
            done += created_now
            progress.update(done, args.ports)
    created = time.monotonic() - began
    progress.done(f"{args.ports / created:.0f} creates/s")
    progress.start("wait for every port ACTIVE", args.ports)

    def all_active() -> bool:
        active = system.active_ports(api) or 0
        progress.update(active, args.ports)
        return active == args.ports

    wait_for(all_active, args.timeout, "every port ACTIVE", interval=0.5)
    system.sync(args.timeout)
    progress.done()
    return {"create_per_second": round(args.ports / created, 1),
            "active_s": round(time.monotonic() - began, 1)}


def measure(args: argparse.Namespace, progress: report.Progress) -> dict[str, Any]:
    with (tempfile.TemporaryDirectory(prefix="nt-conv-") as tmp,
          Sandbox(progress=progress.note) as sb):
        sb.start_central()
        for name in chassis_names(args.chassis):
            sb.add_chassis(name, hostname=name)
        system = System(sb, Path(tmp), args.workers)
        system.start_neutrino(first=True)
        try:
            # A create may wait long behind a loaded OVN; it is never retried (no duplicates).
            with httpx.Client(base_url=system.server.url, timeout=args.timeout,
                              limits=httpx.Limits(max_connections=args.concurrency)) as api:
                result: dict[str, Any] = {"setup": populate(system, api, args, progress)}
                convergence = Convergence(system, args, progress)
                for name in VARIANTS:
                    if name == "everything" and not system.neutrino_running:
                        progress.start("start Neutrino again and settle", args.ports)
                        old_worker = system.worker_identity()
                        system.start_neutrino()
                        convergence.wait_active(api, time.monotonic(), old_worker)
                        system.sync(args.timeout)
                        progress.done()
                    if name == "baseline":
                        system.stop_neutrino()
                    result[name] = convergence.run(name, api)
        finally:
            system.stop_neutrino()
    return result


def neutrino_transactions(variant: dict[str, Any]) -> str:
    """Neutrino's NB / SB / OVS (all chassis) transactions; ``?``: not countable."""
    counts = variant["transactions"]
    ovs = [c for db, c in counts.items() if db.startswith("ovs/")]
    return " / ".join("?" if None in group else str(sum(c["neutrino"] for c in group))
                      for group in ([counts["nb"]], [counts["sb"]], ovs))


def run(args: argparse.Namespace) -> int:
    progress = report.Progress()
    result = measure(args, progress)
    base, everything = result["baseline"], result["everything"]
    ratio = report.ratio(everything["settled_s"], base["caught_up_s"])
    rows = []
    for name in VARIANTS:
        v = result[name]
        rows.append((name, v["restarted_s"], v.get("active_s"), v["caught_up_s"],
                     v["settled_s"], v.get("left_active", {}).get("ports"),
                     neutrino_transactions(v),
                     neutrino_transactions(v["idle"]) if "idle" in v else None))
    title = (f"neutrino bench converge: {args.chassis} chassis x {args.ports} ports on "
             f"{args.networks} network(s), {args.workers} API workers")
    print(f"\n{title}")
    print(report.format_table(["restart", "restarted s", "ACTIVE s", "OVN caught up s",
                               "settled s", "ports left ACTIVE", "Neutrino NB/SB/OVS txns",
                               f"at rest {args.idle:g}s"], rows))
    print(f"everything settled / bare OVN caught up: {ratio}")
    report.write_json(args.output, {"bench": "converge", "machine": report.machine(),
                                    "args": vars(args), **result,
                                    "ratio_everything_to_baseline": ratio})
    print(f"wrote {args.output}")
    return 0
