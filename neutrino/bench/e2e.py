"""``neutrino bench e2e``: port create to ACTIVE through the whole system, vs bare OVN.

Two runs on identical fresh sandboxes of ``--chassis`` chassis, one after the other:

* ``neutrino``: ``neutrino server`` (SQLite, ``--workers`` API workers).
  ``--ports`` ports are created through the API, spread over the chassis (and
  over ``--networks`` networks, each with a subnet), each
  with ``binding:profile {"vif_plug_type": "dummy"}``; a client waiting on the
  ``/v2.0/events`` stream timestamps each port's ACTIVE.  ``--plugger agent``
  (default): one ``neutrino plug-agent`` process for all chassis plugs them,
  beside a plain ``ovn-controller`` each; ``--plugger ovn``: OVN's own C dummy
  plug in ``ovn-controller`` does, as in the baseline, so the difference is
  what Neutrino's API and status path add.
* ``baseline``: the same logical ports created directly in NB with the same
  offered load, with what Neutrino's OVN driver writes for such a port
  (``addresses`` and ``port_security`` "MAC IP", the subnet's DHCP options,
  ``requested-chassis``, ``vif-plug-type=dummy``, ``vif-plug-mtu-request``):
  OVN does more for a port with addresses than for a bare one, and that work
  is not Neutrino's.  Plugged by ``ovn-controller --enable-dummy-vif-plug``
  (OVN's own C code); a NB monitor timestamps ``Logical_Switch_Port.up``.

Both then delete everything and check nothing is left in SQL, NB, SB and
every chassis's OVS DB.  Writes a JSON result and a PNG plot of the latency CDFs.
"""
from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from neutrino.bench import report
from neutrino.bench.client import EventListener, Phase, RawClient, drive
from neutrino.bench.floor import Floor
from neutrino.bench.lsps import CIDR, BaselinePorts
from neutrino.bench.plug import FirstSeen, watch_claimed, watch_lsp, watch_plugged, watch_up
from neutrino.bench.server import CpuMeter, ServerProcess, ovn_server, start_agent, stop_agent
from neutrino.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for

#: Targets of issue 5 (ms added to the baseline), by scale.
SMALL, LARGE = (20.0, 100.0), (50.0, 250.0)
#: Target of issue 18: the whole system's creates/s over bare NB's, in the same run.
THROUGHPUT_RATIO = 0.7


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--chassis", type=int, default=1, help="chassis (default 1)")
    parser.add_argument("--ports", type=int, default=200, help="ports (default 200)")
    parser.add_argument("--networks", type=int, default=1,
                        help="networks the ports are spread over, port i on network i %% N "
                             "(and chassis i %% chassis): with as many networks as chassis, "
                             "each chassis's ovn-controller handles only its own network, as "
                             "on hosts that carry different tenants (default 1: every chassis "
                             "has ports of the one network, so each port change costs every "
                             "ovn-controller work that grows with the network's size)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="clients creating ports at once (default 8)")
    parser.add_argument("--rate", type=float, default=0.0,
                        help="start creates at this many per second (open loop, at most "
                             "--concurrency in flight); 0 (default): each client starts its "
                             "next create as soon as the last one answered")
    parser.add_argument("--workers", type=int, default=2,
                        help="API worker processes of neutrino server (default 2)")
    parser.add_argument("--chassis-nice", type=int, default=0,
                        help="run the simulated chassis' daemons (their ovsdb-server, "
                             "ovs-vswitchd, ovn-controller) at this nice value in both runs, so "
                             "that chassis that stand in for other hosts do not starve the "
                             "central services of CPU (default 0)")
    parser.add_argument("--plugger", choices=["agent", "ovn"], default="agent",
                        help="what plugs the Neutrino run's ports: Neutrino's plug agent "
                             "(default) or ovn-controller's built-in dummy plug, as in the "
                             "baseline")
    parser.add_argument("--rounds", type=int, default=1,
                        help="measure both runs this many times, alternating which goes first, "
                             "and pool the ports: on a shared machine the load drifts between "
                             "two runs made one after the other (default 1)")
    parser.add_argument("--throughput-ports", type=int, default=400,
                        help="before the latency phase of each run, this many unbound ports "
                             "created on a network of their own by --concurrency clients as "
                             "fast as they are answered (keep-alive connections), against the "
                             "same LSPs written by --concurrency direct ovsdbapp clients "
                             "(processes of their own) in the baseline: creates/s of the whole "
                             "system over what bare NB accepts (default 400; 0 skips)")
    parser.add_argument("--timeout", type=float, default=900.0,
                        help="seconds to wait for every port to be ACTIVE/up")
    parser.add_argument("--output", default="bench-e2e.json", help="JSON result path")
    parser.add_argument("--plot", default="bench-e2e.png", help="PNG plot path ('' for none)")


def _add_seconds(total: dict[str, float], more: dict[str, float]) -> None:
    for name, seconds in more.items():
        total[name] = total.get(name, 0.0) + seconds


def _per_create(cpu_seconds: dict[str, float], creates: int) -> dict[str, float] | None:
    """CPU milliseconds per create of each process and of all (``total``)."""
    if not cpu_seconds or not creates:
        return None
    per = {name: round(seconds * 1000 / creates, 2) for name, seconds in cpu_seconds.items()}
    return {**per, "total": round(sum(cpu_seconds.values()) * 1000 / creates, 2)}


@dataclass
class Throughput:
    """Creates of the throughput phase, pooled over rounds."""

    creates: int = 0
    errors: int = 0
    seconds: float = 0.0
    #: CPU seconds of Neutrino's processes over the phase (none for the baseline).
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def add(self, other: Throughput) -> None:
        self.creates += other.creates
        self.errors += other.errors
        self.seconds += other.seconds
        _add_seconds(self.cpu_seconds, other.cpu_seconds)

    def summary(self) -> dict[str, Any]:
        return {"creates": self.creates, "errors": self.errors,
                "per_second": round(self.creates / self.seconds, 1) if self.seconds else None,
                "cpu_ms_per_create": _per_create(self.cpu_seconds, self.creates)}


@dataclass
class Run:
    name: str
    created_at: dict[str, float] = field(default_factory=dict)
    ready_at: dict[str, float] = field(default_factory=dict)
    create_seconds: float = 0.0
    #: How long each create call took (the API request, or the NB transaction).
    create_call_ms: list[float] = field(default_factory=list)
    errors: int = 0
    rss_mb: float | None = None
    pss_mb: float | None = None
    rss_by_process: list[dict[str, Any]] = field(default_factory=list)
    #: When each port's LSP appeared in NB, its Port_Binding was claimed by a chassis in
    #: SB, its Interface row appeared on its chassis, and its LSP went up in NB.
    in_nb_at: dict[str, float] = field(default_factory=dict)
    claimed_at: dict[str, float] = field(default_factory=dict)
    plugged_at: dict[str, float] = field(default_factory=dict)
    up_at: dict[str, float] = field(default_factory=dict)
    #: Neutrino: when the status worker stamped the port's ACTIVE event as it wrote it.
    written_at: dict[str, float] = field(default_factory=dict)
    leftovers: dict[str, int] = field(default_factory=dict)
    #: The throughput phase: creates answered, errors, seconds taken.
    throughput: Throughput = field(default_factory=lambda: Throughput())
    #: The baseline's: the same phase against the stack's floor (``floor.py``).
    floor: Throughput = field(default_factory=lambda: Throughput())
    #: CPU seconds of Neutrino's processes over the latency phase, from the first create
    #: until every port was ACTIVE, by process (see :func:`neutrino_trees`).
    cpu_seconds: dict[str, float] = field(default_factory=dict)

    def add(self, other: Run) -> None:
        """Pool *other*, a later round of the same run, into this one."""
        for mine, theirs in ((self.created_at, other.created_at),
                             (self.in_nb_at, other.in_nb_at),
                             (self.claimed_at, other.claimed_at),
                             (self.plugged_at, other.plugged_at),
                             (self.up_at, other.up_at),
                             (self.written_at, other.written_at)):
            mine.update(theirs)
        if other.ready_at is not other.up_at:
            self.ready_at.update(other.ready_at)
        self.create_seconds += other.create_seconds
        self.create_call_ms += other.create_call_ms
        self.errors += other.errors
        self.rss_mb = max(self.rss_mb or 0.0, other.rss_mb or 0.0) or None
        self.pss_mb = max(self.pss_mb or 0.0, other.pss_mb or 0.0) or None
        self.rss_by_process = self.rss_by_process or other.rss_by_process
        for key, count in other.leftovers.items():
            self.leftovers[key] = self.leftovers.get(key, 0) + count
        self.throughput.add(other.throughput)
        self.floor.add(other.floor)
        _add_seconds(self.cpu_seconds, other.cpu_seconds)

    def latencies(self) -> list[float]:
        return [self.ready_at[k] - t for k, t in self.created_at.items() if k in self.ready_at]

    def stages(self) -> dict[str, float]:
        """p50 and p99 ms of each port's way, each mark from the create's start (LSP in NB,
        claimed in SB, Interface row, up in NB, and for Neutrino status written and event
        delivered; the create call itself is ``create_call_*``), and of the status path's
        own steps (up in NB -> written -> delivered): where the two runs part, and which
        step a tail comes from."""
        steps = [(f"create_to_{mark}", self.created_at, at) for mark, at in (
            ("in_nb", self.in_nb_at),
            ("claimed", self.claimed_at), ("plugged", self.plugged_at), ("up", self.up_at))]
        if self.ready_at is not self.up_at:
            steps += [("create_to_written", self.created_at, self.written_at),
                      ("create_to_ready", self.created_at, self.ready_at),
                      ("up_to_written", self.up_at, self.written_at),
                      ("written_to_ready", self.written_at, self.ready_at),
                      ("up_to_ready", self.up_at, self.ready_at)]
        stages = {}
        for name, start, end in steps:
            ms = [(end[k] - start[k]) * 1000 for k in start if k in end]
            for q in (50, 99):
                stages[f"{name}_p{q}_ms"] = round(report.percentile(ms, q), 1)
        return stages

    def summary(self) -> dict[str, Any]:
        ms = [v * 1000 for v in self.latencies()]
        return {"ports": len(self.created_at), "ready": len(ms), "errors": self.errors,
                "create_per_second": round(len(self.created_at) / self.create_seconds, 1)
                if self.create_seconds else None,
                "create_call_p50_ms": round(report.percentile(self.create_call_ms, 50), 1),
                "create_call_p99_ms": round(report.percentile(self.create_call_ms, 99), 1),
                "p50_ms": round(report.percentile(ms, 50), 1),
                "p90_ms": round(report.percentile(ms, 90), 1),
                "p99_ms": round(report.percentile(ms, 99), 1),
                "max_ms": round(max(ms, default=0.0), 1), "rss_mb": self.rss_mb,
                "pss_mb": self.pss_mb,
                "rss_by_process": self.rss_by_process, **self.stages(),
                "cpu_ms_per_create": _per_create(self.cpu_seconds, len(self.created_at)),
                "throughput": self.throughput.summary(),
                **({"floor_throughput": self.floor.summary()} if self.floor.creates else {}),
                "leftovers": self.leftovers}


def chassis_names(count: int) -> list[str]:
    return [f"hv{i}" for i in range(1, count + 1)]


def add_chassis(sandbox: Sandbox, args: argparse.Namespace, ovn_plugs: bool) -> None:
    """The run's chassis, their daemons at ``--chassis-nice``; *ovn_plugs*: with
    ``ovn-controller``'s own dummy plug."""
    for name in chassis_names(args.chassis):
        chassis = sandbox.add_chassis(name, hostname=name, dummy_vif_plug=ovn_plugs)
        for daemon in chassis.daemons.values():
            pid = daemon.pid()
            if pid is not None and args.chassis_nice:
                for task in os.listdir(f"/proc/{pid}/task"):  # nice is per thread on Linux
                    os.setpriority(os.PRIO_PROCESS, int(task), args.chassis_nice)
        if ovn_plugs:
            # OVN 23.03 holds back unplugging for ~10 s after start and only
            # retries on its next wake-up; its own tests lift that delay too.
            chassis.appctl("controller", "debug/ignore-startup-delay")


def ovs_leftovers(sandbox: Sandbox) -> int:
    """Interfaces with an ``iface-id`` still on any chassis's integration bridge."""
    count = 0
    for chassis in sandbox.chassis.values():
        out = chassis.vsctl("--bare", "--columns=external_ids", "find", "Interface",
                            "external_ids:iface-id!=''")
        count += sum(1 for line in out.splitlines() if "iface-id" in line)
    return count


def ovn_leftovers(sandbox: Sandbox) -> dict[str, int]:
    def rows(out: str) -> int:
        return sum(1 for line in out.splitlines() if line.strip())

    return {"nb_logical_switch_ports": rows(sandbox.nbctl("--bare", "--columns=_uuid", "list",
                                                          "Logical_Switch_Port")),
            "nb_logical_switches": rows(sandbox.nbctl("--bare", "--columns=_uuid", "list",
                                                      "Logical_Switch")),
            "sb_port_bindings": rows(sandbox.sbctl("--bare", "--columns=_uuid", "list",
                                                   "Port_Binding")),
            "ovs_interfaces": ovs_leftovers(sandbox)}


def wait_clean(sandbox: Sandbox, timeout: float = 120) -> dict[str, int]:
    deadline = time.monotonic() + timeout
    while True:
        left = ovn_leftovers(sandbox)
        if not any(left.values()) or time.monotonic() > deadline:
            return left
        time.sleep(0.5)


def create_all(create: Callable[[int], None], args: argparse.Namespace,
               progress: report.Progress) -> float:
    """Call ``create(i)`` for every port as ``--concurrency``/``--rate`` say; seconds taken.

    Both runs use this, so Neutrino and the baseline get the same offered load.
    """
    began = time.monotonic()

    def paced(i: int) -> None:
        if args.rate > 0:
            time.sleep(max(0.0, began + i / args.rate - time.monotonic()))
        create(i)

    with ThreadPoolExecutor(args.concurrency) as pool:
        for done, _ in enumerate(pool.map(paced, range(args.ports)), 1):
            progress.update(done, args.ports)
    return time.monotonic() - began


class DataplaneWatch:
    """Timestamps each port's Interface row on any chassis and its LSP going up in NB."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.in_nb = watch_lsp(sandbox.nb_remote)
        self.claimed = watch_claimed(sandbox.sb_remote)
        self.up = watch_up(sandbox.nb_remote)
        self.plugged: list[FirstSeen] = [watch_plugged(c.ovs_remote)
                                         for c in sandbox.chassis.values()]

    def record(self, run: Run) -> None:
        run.in_nb_at.update(self.in_nb.at)
        run.claimed_at.update(self.claimed.at)
        run.up_at.update(self.up.at)
        for watcher in self.plugged:
            run.plugged_at.update(watcher.at)

    def stop(self) -> None:
        for watcher in (self.in_nb, self.claimed, self.up, *self.plugged):
            watcher.stop()


def wait_all(ready: Callable[[], int], total: int, timeout: float,
             progress: report.Progress) -> None:
    """Wait until ``ready()`` reaches *total*, or *timeout*: the report counts what was."""
    deadline = time.monotonic() + timeout
    while ready() < total and time.monotonic() < deadline:
        progress.update(ready(), total)
        time.sleep(0.05)
    progress.done(f"{ready()}/{total} ready")


#: Seconds the throughput phase's CPU is counted past its last create: what the status
#: worker and the plug agent do about the last ports created.
SETTLE = 1.0
#: The network (and in the baseline the switch) of the throughput phase.
THROUGHPUT_NETWORK = "bench-throughput"


async def create_unbound(api: RawClient, network_id: str, trees: dict[str, int | None],
                         args: argparse.Namespace, progress: report.Progress,
                         who: str) -> tuple[Phase, CpuMeter]:
    """``--throughput-ports`` unbound ports of *network_id*, created by ``--concurrency``
    clients each as soon as its last one was answered, with the CPU of *trees*."""

    def create(client: Any, i: int) -> Any:
        return client.post("/v2.0/ports", json={"port": {
            "network_id": network_id, "device_id": f"vm-t{i}"}})

    progress.start(f"{who}: {args.throughput_ports} unbound creates, "
                   f"{args.concurrency} clients", args.throughput_ports)
    with CpuMeter(trees) as meter:
        phase = await drive(api, args.concurrency, range(args.throughput_ports), create,
                            progress)
        await asyncio.sleep(SETTLE)
    progress.done(f"{phase.stats.per_second:.0f} creates/s")
    return phase, meter


def neutrino_throughput(endpoint: str, trees: dict[str, int | None], args: argparse.Namespace,
                        progress: report.Progress) -> Throughput:
    """``--throughput-ports`` unbound ports created through the API by ``--concurrency``
    keep-alive clients as fast as they are answered, then deleted."""

    async def measure() -> Throughput:
        async with RawClient(endpoint, args.concurrency) as api:
            await api.open(args.concurrency)
            r = await api.post("/v2.0/networks", json={"network": {"name": THROUGHPUT_NETWORK}})
            r.raise_for_status()
            network_id = r.json()["network"]["id"]
            (await api.post("/v2.0/subnets", json={"subnet": {
                "network_id": network_id, "cidr": CIDR, "ip_version": 4}})).raise_for_status()

            phase, meter = await create_unbound(api, network_id, trees, args, progress,
                                                "neutrino")
            ids = [r.json()["port"]["id"] for r in phase.responses]
            await drive(api, args.concurrency, ids,
                        lambda client, port_id: client.delete(f"/v2.0/ports/{port_id}"))
            (await api.delete(f"/v2.0/networks/{network_id}")).raise_for_status()
        cpu = meter.seconds()
        del cpu["client"]
        return Throughput(phase.stats.count, phase.stats.errors, phase.stats.seconds, cpu)

    return asyncio.run(measure())


def _direct_client(remote: str, switch: str, lsps: list[tuple[str, dict[str, Any]]],
                   start: Any, results: Any) -> None:
    """One direct NB client of the baseline's throughput phase, in a process of its own:
    connects, waits for the others, writes *lsps* one transaction each and puts
    ``(began, ended, written, errors)`` on *results*."""
    from neutrino.ovn.connection import Northbound

    nb = Northbound(remote, 60)
    # What bare NB accepts, not what a Python replica of every LSP costs: each client
    # monitors only the LSPs it writes (ovsdbapp reads back its own rows).
    mine = {"bench-client": str(os.getpid())}
    nb.ovsdb_connection.idl.cond_change("Logical_Switch_Port", [
        ["external_ids", "includes", ["map", list(mine.items())]]])
    try:
        wait_for(lambda: nb.ready, 30, "NB connection")
        start.wait()
        began, errors = time.monotonic(), 0
        for name, columns in lsps:
            columns = {**columns, "external_ids": {**columns["external_ids"], **mine}}
            try:
                with nb.transaction(check_error=True) as txn:
                    txn.add(nb.lsp_add(switch, name, **columns))
            except Exception:  # noqa: BLE001 - counted, as the API run counts its errors
                errors += 1
        results.put((began, time.monotonic(), len(lsps) - errors, errors))
    finally:
        nb.close()


def baseline_throughput(sandbox: Sandbox, nb: Any, args: argparse.Namespace,
                        progress: report.Progress) -> Throughput:
    """The throughput phase's LSPs, as Neutrino's driver writes them for unbound ports,
    written by ``--concurrency`` ovsdbapp clients, each a process with its own NB
    connection monitoring only the LSPs it writes: what bare NB accepts.  Throughput runs
    from the first client's start to the last one's end."""
    ports = BaselinePorts(nb, 1, prefix=THROUGHPUT_NETWORK)
    names = [f"tput-{i:06d}" for i in range(args.throughput_ports)]
    lsps = [(name, ports.columns(name, i, None)) for i, name in enumerate(names)]
    context = multiprocessing.get_context("spawn")  # not fork: this process runs threads
    start, results = context.Barrier(args.concurrency + 1), context.Queue()
    clients = [context.Process(target=_direct_client, args=(
        sandbox.nb_remote, ports.switch(0), lsps[k::args.concurrency], start, results))
        for k in range(args.concurrency)]
    progress.start(f"baseline: {args.throughput_ports} LSPs from {args.concurrency} direct "
                   "NB clients")
    for client in clients:
        client.start()
    start.wait(timeout=120)
    done = [results.get(timeout=args.timeout) for _ in clients]
    for client in clients:
        client.join(30)
    seconds = max(d[1] for d in done) - min(d[0] for d in done)
    result = Throughput(sum(d[2] for d in done), sum(d[3] for d in done), seconds)
    progress.done(f"{result.creates / seconds:.0f} creates/s")
    ports.delete(sandbox)
    return result


def floor_throughput(sandbox: Sandbox, nb: Any, args: argparse.Namespace,
                     progress: report.Progress) -> Throughput:
    """The throughput phase against the stack's floor (:mod:`neutrino.bench.floor`) in
    ``--workers`` processes, writing the baseline's LSPs to a switch of its own."""
    ports = BaselinePorts(nb, 1, prefix=f"{THROUGHPUT_NETWORK}-floor")
    floor = Floor(sandbox.nb_remote, ports.switch(0), str(ports.dhcp_uuids[0]), args.workers)
    try:
        floor.wait_ready()

        async def measure() -> tuple[Phase, CpuMeter]:
            async with RawClient(floor.url, args.concurrency) as api:
                await api.open(args.concurrency)
                return await create_unbound(api, ports.switch(0), {"floor": floor.pid}, args,
                                            progress, "stack floor")

        phase, meter = asyncio.run(measure())
    finally:
        floor.stop()
    ports.delete(sandbox)
    cpu = meter.seconds()
    del cpu["client"]
    return Throughput(phase.stats.count, phase.stats.errors, phase.stats.seconds, cpu)


def neutrino_trees(server: ServerProcess, agent: subprocess.Popen | None) -> dict[str, int | None]:
    """Neutrino's processes whose CPU a create costs: the server (its supervisor and API
    workers, one of which runs the status worker) and the plug agent."""
    return {"server": server.pid, **({"plug_agent": agent.pid} if agent else {})}


def measure_neutrino(args: argparse.Namespace, progress: report.Progress) -> Run:
    run = Run("neutrino")
    names = chassis_names(args.chassis)
    with (tempfile.TemporaryDirectory(prefix="nt-e2e-") as tmp,
          Sandbox(progress=progress.note) as sb):
        workdir = Path(tmp)
        sb.start_central()
        add_chassis(sb, args, ovn_plugs=args.plugger == "ovn")
        agent = start_agent(sb, workdir) if args.plugger == "agent" else None
        server = ovn_server(workdir, sb, args.workers).start(timeout=120)
        endpoint = server.url
        trees = neutrino_trees(server, agent)
        watch = DataplaneWatch(sb)
        try:
            if args.throughput_ports:
                run.throughput = neutrino_throughput(endpoint, trees, args, progress)
            with httpx.Client(base_url=endpoint, timeout=60,
                              limits=httpx.Limits(max_connections=args.concurrency)) as api:
                nets = []
                for k in range(args.networks):
                    nets.append(api.post("/v2.0/networks", json={"network": {
                        "name": f"bench-{k}"}}).raise_for_status().json()["network"])
                    api.post("/v2.0/subnets", json={"subnet": {
                        "network_id": nets[-1]["id"], "cidr": CIDR, "ip_version": 4}}
                    ).raise_for_status()
                listener = EventListener(endpoint)

                def create(i: int) -> None:
                    body = {"port": {"network_id": nets[i % len(nets)]["id"],
                                     "device_id": f"vm-{i}",
                                     "binding:host_id": names[i % len(names)],
                                     "binding:profile": {"vif_plug_type": "dummy"}}}
                    started = time.monotonic()
                    r = api.post("/v2.0/ports", json=body)
                    if r.status_code != 201:
                        run.errors += 1
                        return
                    run.created_at[r.json()["port"]["id"]] = started
                    run.create_call_ms.append((time.monotonic() - started) * 1000)

                progress.start(f"neutrino: create {args.ports} ports on {args.chassis} chassis",
                               args.ports)
                with CpuMeter(trees) as meter:
                    run.create_seconds = create_all(create, args, progress)
                    progress.done(f"{args.ports / run.create_seconds:.0f} creates/s")
                    progress.start("neutrino: wait for ACTIVE (event stream)", args.ports)
                    wait_all(lambda: len(listener.active_at), len(run.created_at), args.timeout,
                             progress)
                run.cpu_seconds = meter.seconds()
                del run.cpu_seconds["client"]
                listener.stop()
                run.ready_at.update(listener.active_at)
                run.written_at.update(listener.written_at)
                watch.record(run)
                memory = [report.tree_memory(pid) for pid in trees.values() if pid]
                run.rss_mb = round(sum(m.rss_mb for m in memory), 1)
                run.pss_mb = round(sum(m.pss_mb for m in memory), 1)
                run.rss_by_process = [p for pid in trees.values() if pid
                                      for p in report.process_memory(pid)]

                progress.start("neutrino: delete everything", len(run.created_at))
                with ThreadPoolExecutor(args.concurrency) as pool:
                    list(pool.map(lambda pid: api.delete(f"/v2.0/ports/{pid}"), run.created_at))
                for net in nets:
                    api.delete(f"/v2.0/networks/{net['id']}")
                sql_left = len(api.get("/v2.0/ports").json()["ports"]) + len(
                    api.get("/v2.0/networks").json()["networks"])
                run.leftovers = {"sql_rows": sql_left, **wait_clean(sb)}
                progress.done(f"leftovers: {run.leftovers}")
        finally:
            watch.stop()
            server.stop()
            if agent is not None:
                stop_agent(agent)
    return run


def measure_baseline(args: argparse.Namespace, progress: report.Progress, round_: int = 0) -> Run:
    from neutrino.ovn.connection import Northbound

    run = Run("baseline")
    names = chassis_names(args.chassis)
    with Sandbox(progress=progress.note) as sb:
        sb.start_central()
        add_chassis(sb, args, ovn_plugs=True)
        watch = DataplaneWatch(sb)
        run.ready_at = run.up_at  # ready means up in NB here
        nb = Northbound(sb.nb_remote, 60)
        wait_for(lambda: nb.ready, 30, "NB connection")
        try:
            if args.throughput_ports:
                run.throughput = baseline_throughput(sb, nb, args, progress)
                run.floor = floor_throughput(sb, nb, args, progress)
            ports = BaselinePorts(nb, args.networks)

            def create(i: int) -> None:
                lsp = f"bench-{round_}-{i:06d}"
                columns = ports.columns(lsp, i, names[i % len(names)])
                started = time.monotonic()
                with nb.transaction(check_error=True) as txn:
                    txn.add(nb.lsp_add(ports.switch(i), lsp, **columns))
                run.created_at[lsp] = started
                run.create_call_ms.append((time.monotonic() - started) * 1000)

            progress.start(f"baseline: create {args.ports} LSPs in NB", args.ports)
            run.create_seconds = create_all(create, args, progress)
            progress.done()
            progress.start("baseline: wait for up=true in NB", args.ports)
            deadline = time.monotonic() + args.timeout
            while len(watch.up.at) < args.ports and time.monotonic() < deadline:
                progress.update(len(watch.up.at), args.ports)
                time.sleep(0.05)
            watch.record(run)
            progress.done(f"{len(run.ready_at)}/{args.ports} up")
            progress.start("baseline: delete everything", args.ports)
            ports.delete(sb)
            run.leftovers = wait_clean(sb)
            progress.done(f"leftovers: {run.leftovers}")
        finally:
            watch.stop()
            nb.close()
    return run


#: The table's stage rows: the JSON key and what it measures.
STAGES = (("create_to_in_nb", "create -> LSP in NB"),
          ("create_to_claimed", "create -> claimed in SB"),
          ("create_to_plugged", "create -> Interface row"),
          ("create_to_up", "create -> up in NB"),
          ("create_to_written", "create -> status written"),
          ("create_to_ready", "create -> ACTIVE event"),
          ("up_to_written", "up in NB -> status written"),
          ("written_to_ready", "status written -> event"),
          ("up_to_ready", "up in NB -> ACTIVE event"))


def _difference(ours: float, baseline: float | None) -> float | None:
    """What Neutrino adds to a step both runs measure."""
    return None if baseline is None else round(ours - baseline, 1)


def plot(path: str, runs: list[Run], title: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5), dpi=110)
    for run in runs:
        ms = sorted(v * 1000 for v in run.latencies())
        if ms:
            ax.plot(ms, [(i + 1) / len(ms) for i in range(len(ms))], label=run.name)
    ax.set_xlabel("create to ACTIVE / up (ms)")
    ax.set_ylabel("fraction of ports")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def run(args: argparse.Namespace) -> int:
    progress = report.Progress()
    machine = report.machine()
    ours, base = Run("neutrino"), Run("baseline")
    base.ready_at = base.up_at
    for round_ in range(args.rounds):
        if args.rounds > 1:
            progress.note(f"round {round_ + 1} of {args.rounds}")
        def baseline(r: int = round_) -> None:
            base.add(measure_baseline(args, progress, r))

        measures: list[Callable[[], None]] = [
            lambda: ours.add(measure_neutrino(args, progress)), baseline]
        for measure in measures if round_ % 2 == 0 else reversed(measures):
            measure()
    o, b = ours.summary(), base.summary()
    added = {k: round(o[k] - b[k], 1) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")}
    throughput_ratio = report.ratio(o["throughput"]["per_second"] or 0.0,
                                    b["throughput"]["per_second"] or 0.0)
    p50_target, p99_target = SMALL if args.chassis * args.ports <= 1000 else LARGE
    met = {"p50": added["p50_ms"] <= p50_target, "p99": added["p99_ms"] <= p99_target,
           "no_leftovers": not any(ours.leftovers.values()) and not any(base.leftovers.values()),
           "all_ready": o["ready"] == args.ports * args.rounds and o["errors"] == 0,
           "rss_below_200mb": (ours.rss_mb or 0) < 200}
    if args.throughput_ports:
        met["throughput_ratio"] = (throughput_ratio or 0.0) >= THROUGHPUT_RATIO and \
            not o["throughput"]["errors"] and not b["throughput"]["errors"]
    rows = [(k, b[k], o[k], added.get(k)) for k in ("p50_ms", "p90_ms", "p99_ms", "max_ms")]
    rows += [("create_per_second", b["create_per_second"], o["create_per_second"], None),
             *((f"create call p{q} ms", b[f"create_call_p{q}_ms"], o[f"create_call_p{q}_ms"],
                _difference(o[f"create_call_p{q}_ms"], b[f"create_call_p{q}_ms"]))
               for q in (50, 99)),
             *((f"{label} p{q} ms", b.get(f"{key}_p{q}_ms"), o[f"{key}_p{q}_ms"],
                _difference(o[f"{key}_p{q}_ms"], b.get(f"{key}_p{q}_ms")))
               for key, label in STAGES for q in (50, 99)),
             *((f"CPU ms per create: {name}", None, ms, None)
               for name, ms in (o["cpu_ms_per_create"] or {}).items()),
             ("neutrino processes RSS MB", None, o["rss_mb"], None),
             ("neutrino processes PSS MB", None, o["pss_mb"], None)]
    load = f"{args.rate:g} creates/s" if args.rate > 0 else f"{args.concurrency} clients"
    spread = f" on {args.networks} networks" if args.networks > 1 else ""
    title = (f"neutrino bench e2e: {args.chassis} chassis x {args.ports} ports{spread}, {load}, "
             f"plugged by {'ovn-controller' if args.plugger == 'ovn' else 'the plug agent'}")
    print(f"\n{title}")
    print(report.format_table(["metric", "baseline (bare OVN)", "neutrino", "added"], rows))
    if args.throughput_ports:
        tput_o, tput_b, tput_f = o["throughput"], b["throughput"], b["floor_throughput"]
        print(f"\nthroughput: {args.throughput_ports} unbound ports x {args.rounds} round(s), "
              f"{args.concurrency} clients")
        print(report.format_table(["metric", "baseline (bare NB)", "stack floor", "neutrino"], [
            ("creates/s", tput_b["per_second"], tput_f["per_second"], tput_o["per_second"]),
            ("over bare NB", 1.0, report.ratio(tput_f["per_second"] or 0.0,
                                               tput_b["per_second"] or 0.0), throughput_ratio),
            ("errors", tput_b["errors"], tput_f["errors"], tput_o["errors"]),
            ("CPU ms per create: server", None, tput_f["cpu_ms_per_create"]["floor"],
             tput_o["cpu_ms_per_create"]["server"]),
            *((f"CPU ms per create: {name}", None, None, ms)
              for name, ms in tput_o["cpu_ms_per_create"].items() if name != "server")]))
    print(f"targets (added p50 <= {p50_target:g} ms, p99 <= {p99_target:g} ms"
          + (f", creates/s >= {THROUGHPUT_RATIO:g} x bare NB" if args.throughput_ports else "")
          + f"): {met}")
    machine["loadavg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    print(f"load average at start {machine['loadavg_at_start']}, at end "
          f"{machine['loadavg_at_end']} ({machine['cpus']} CPUs)")
    report.write_json(args.output, {"bench": "e2e", "machine": machine, "args": vars(args),
                                    "baseline": b, "neutrino": o, "added_ms": added,
                                    "throughput_ratio": throughput_ratio, "targets_met": met})
    if args.plot:
        plot(args.plot, [base, ours], title)
        print(f"wrote {args.output} and {args.plot}")
    return 0 if all(met.values()) else 1
