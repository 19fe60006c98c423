"""``neutrino bench plug``: the plug agent against OVN's own C plug code, in one run.

Two fresh sandboxes run the same workload, one after the other:

* ``ovn-c`` (the baseline): ``ovn-controller --enable-dummy-vif-plug`` plugs
  the ports itself;
* ``neutrino``: a plain ``ovn-controller`` beside ``neutrino plug-agent``
  (a separate process, so its CPU and memory can be measured) with the
  ``dummy`` provider.

For each, ``--ports`` logical switch ports requested on the chassis with
``vif-plug-type=dummy`` are created in NB in batches of ``--batch`` as fast as
``ovn-nbctl`` allows. Monitors timestamp the moment each port's Interface
row appears in the chassis's OVS DB (the plug step alone) and the moment its
``Logical_Switch_Port.up`` turns true (plug plus ovn-controller's binding).
Reported: ports per second (from the first creation to the last port up),
creation-to-up latency p50/p90/p99, and, once every port is up and the chassis
has settled (``--settle``), the idle CPU (% of one core, over ``--idle``
seconds, which includes one of the agent's periodic full passes at its default
30 s interval) and resident memory of the agent and of ovn-controller. Ratios
are against the baseline; the targets are p50 within 1.5x of it and an idle
agent below 2%.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import ovs.db.idl
import ovs.poller

from neutrino.agent.idl import TrackedIdl, fetch_schema, ref_uuids
from neutrino.bench import report
from neutrino.sandbox import Chassis, Sandbox
from neutrino.sandbox.wait import wait_for


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ports", type=int, default=1000, help="ports to plug (default 1000)")
    parser.add_argument("--batch", type=int, default=50,
                        help="ports created per NB transaction (default 50)")
    parser.add_argument("--idle", type=float, default=30.0,
                        help="seconds of idle CPU measurement once all ports are up "
                             "(default 30)")
    parser.add_argument("--settle", type=float, default=15.0,
                        help="seconds to let the chassis settle after the last port is up, "
                             "before measuring idle CPU (default 15)")
    parser.add_argument("--timeout", type=float, default=600.0,
                        help="seconds to wait for all ports to come up (default 600)")
    parser.add_argument("--json", metavar="PATH", help="also write the results as JSON")


def run_until(idl: Any, stop: threading.Event) -> None:
    """Keep a watcher's IDL current until *stop* is set (wakes at least every 100 ms)."""
    while not stop.is_set():
        idl.run()
        poller = ovs.poller.Poller()
        idl.wait(poller)
        poller.timer_wait(100)
        poller.block()


class FirstSeen:
    """Timestamps the first time a row of a table matches, keyed by ``key(row)``.

    Used on NB (``Logical_Switch_Port.up`` true, by name) and on the chassis's
    OVS DB (an Interface with ``iface-id`` appears: the port is plugged).
    """

    def __init__(self, remote: str, schema: str, table: str, columns: list[str],
                 key: Callable[[ovs.db.idl.Row], str | None]) -> None:
        helper = fetch_schema(remote, schema, {table: columns})
        self.at: dict[str, float] = {}
        self._key = key
        self.idl = TrackedIdl(remote, helper, self._on_row)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name=f"watch-{table}", daemon=True)
        self._thread.start()

    def _on_row(self, event: str, row: ovs.db.idl.Row, old: Any) -> None:
        if event != ovs.db.idl.ROW_DELETE:
            key = self._key(row)
            if key is not None and key not in self.at:
                self.at[key] = time.monotonic()

    def _loop(self) -> None:
        run_until(self.idl, self._stop)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.idl.close()


def watch_up(nb_remote: str) -> FirstSeen:
    return FirstSeen(nb_remote, "OVN_Northbound", "Logical_Switch_Port", ["name", "up"],
                     # A row just inserted may not carry ``up`` yet.
                     lambda r: r.name if getattr(r, "up", None) == [True] else None)


def watch_lsp(nb_remote: str) -> FirstSeen:
    """Each LSP's first appearance in NB: the create's NB write committed."""
    return FirstSeen(nb_remote, "OVN_Northbound", "Logical_Switch_Port", ["name"],
                     lambda r: r.name)


def watch_bound(sb_remote: str) -> FirstSeen:
    """Each Port_Binding's first appearance in SB: ovn-northd translated the LSP."""
    return FirstSeen(sb_remote, "OVN_Southbound", "Port_Binding", ["logical_port"],
                     lambda r: r.logical_port)


def watch_claimed(sb_remote: str) -> FirstSeen:
    """Each Port_Binding's first claim by a chassis in SB (``ovn-controller`` bound it)."""
    return FirstSeen(sb_remote, "OVN_Southbound", "Port_Binding", ["logical_port", "chassis"],
                     # The Chassis table is not replicated: read the reference's uuid.
                     lambda r: r.logical_port if ref_uuids(r, "chassis") else None)


def watch_plugged(ovs_remote: str) -> FirstSeen:
    return FirstSeen(ovs_remote, "Open_vSwitch", "Interface", ["name", "external_ids"],
                     lambda r: r.external_ids.get("iface-id"))


@dataclass
class Result:
    name: str
    ports: int
    seconds: float
    latencies: list[float] = field(default_factory=list)
    #: creation to Interface row in the chassis's OVS DB (the plug step alone)
    plug_latencies: list[float] = field(default_factory=list)
    #: CPU seconds used while the ports were being plugged
    busy_cpu: dict[str, float] = field(default_factory=dict)
    agent_cpu_pct: float | None = None
    agent_rss_mb: float | None = None
    controller_cpu_pct: float = 0.0
    controller_rss_mb: float = 0.0

    @property
    def per_second(self) -> float:
        return self.ports / self.seconds if self.seconds else 0.0

    def pct(self, p: float) -> float:
        return report.percentile(self.latencies, p) * 1000.0

    def plug_pct(self, p: float) -> float:
        return report.percentile(self.plug_latencies, p) * 1000.0

    def as_dict(self) -> dict[str, Any]:
        return {"ports": self.ports, "seconds": round(self.seconds, 3),
                "ports_per_second": round(self.per_second, 1),
                "p50_ms": round(self.pct(50), 1), "p90_ms": round(self.pct(90), 1),
                "p99_ms": round(self.pct(99), 1),
                "plug_p50_ms": round(self.plug_pct(50), 1),
                "plug_p99_ms": round(self.plug_pct(99), 1), "busy_cpu_seconds": self.busy_cpu,
                "agent_idle_cpu_pct": self.agent_cpu_pct,
                "agent_rss_mb": self.agent_rss_mb,
                "ovn_controller_idle_cpu_pct": round(self.controller_cpu_pct, 2),
                "ovn_controller_rss_mb": round(self.controller_rss_mb, 1)}


def start_agent(sb: Sandbox, chassis: Chassis) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-m", "neutrino.cli", "plug-agent",
                             chassis.ovs_remote, "--providers", "dummy",
                             "--log-level", "WARNING"])
    wait_for(lambda: "neutrino-plug-agent-heartbeat" in sb.sbctl(
        "get", "Chassis_Private", chassis.name, "external_ids"), 30, "agent heartbeat")
    return proc


def idle_cpu_pct(pids: list[int], seconds: float) -> list[float]:
    before = [report.tree_cpu_seconds(p) for p in pids]
    time.sleep(seconds)
    return [round((report.tree_cpu_seconds(p) - b) / seconds * 100.0, 2)
            for p, b in zip(pids, before, strict=True)]


def measure(name: str, args: argparse.Namespace, progress: report.Progress) -> Result:
    use_agent = name == "neutrino"
    with Sandbox() as sb:
        sb.start_central()
        sb.nbctl("ls-add", "sw0")
        chassis = sb.add_chassis("hv1", dummy_vif_plug=not use_agent)
        agent = start_agent(sb, chassis) if use_agent else None
        watcher = watch_up(sb.nb_remote)
        plugged = watch_plugged(chassis.ovs_remote)
        controller_pid = chassis.daemons["controller"].pid()
        assert controller_pid is not None
        assert sb.northd is not None  # start_central started it
        pids = {"ovn-controller": controller_pid, "ovn-northd": sb.northd.pid()}
        if agent is not None:
            pids["agent"] = agent.pid
        running = {k: p for k, p in pids.items() if p}
        cpu_before = {k: report.tree_cpu_seconds(p) for k, p in running.items()}
        try:
            # Short names: the dummy provider cuts names to 15 bytes, and OVN's C code
            # stalls on names that collide after the cut.
            names = [f"bp{i:06d}" for i in range(args.ports)]
            created: dict[str, float] = {}
            progress.start(f"{name}: create {args.ports} ports, wait for up", args.ports)
            start = time.monotonic()
            for i in range(0, len(names), args.batch):
                cmds: list[str] = []
                for lsp in names[i:i + args.batch]:
                    cmds += ["--", "lsp-add", "sw0", lsp, "--", "lsp-set-options", lsp,
                             "requested-chassis=hv1", "vif-plug-type=dummy"]
                sb.nbctl(*cmds[1:])
                now = time.monotonic()
                created.update((lsp, now) for lsp in names[i:i + args.batch])
                progress.update(len(watcher.at), args.ports)
            deadline = time.monotonic() + args.timeout
            while len(watcher.at) < len(names):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"{name}: only {len(watcher.at)} of {len(names)} "
                                       "ports came up")
                progress.update(len(watcher.at), args.ports)
                time.sleep(0.05)
            last_up = max(watcher.at[n] for n in names)
            result = Result(name, args.ports, last_up - start,
                            [watcher.at[n] - created[n] for n in names])
            result.plug_latencies = [plugged.at[n] - created[n] for n in names]
            result.busy_cpu = {k: round(report.tree_cpu_seconds(running[k]) - v, 2)
                               for k, v in cpu_before.items()}
            progress.done(f"{result.per_second:.0f} ports/s, p50 {result.pct(50):.0f} ms")
            progress.note(f"{name}: settling {args.settle:.0f}s, then measuring idle CPU "
                          f"for {args.idle:.0f}s")
            time.sleep(args.settle)
            cpu = idle_cpu_pct([controller_pid] + ([agent.pid] if agent else []), args.idle)
            result.controller_cpu_pct = cpu[0]
            result.controller_rss_mb = report.tree_memory(controller_pid).rss_mb
            if agent:
                result.agent_cpu_pct = cpu[1]
                result.agent_rss_mb = round(report.tree_memory(agent.pid).rss_mb, 1)
            return result
        finally:
            watcher.stop()
            plugged.stop()
            if agent is not None:
                agent.terminate()
                agent.wait(10)


def run(args: argparse.Namespace) -> int:
    progress = report.Progress()
    base = measure("ovn-c", args, progress)
    ours = measure("neutrino", args, progress)
    rows = [
        ("ports plugged per second", base.per_second, ours.per_second,
         report.ratio(ours.per_second, base.per_second)),
        ("create-to-up p50 ms", base.pct(50), ours.pct(50), report.ratio(ours.pct(50),
                                                                         base.pct(50))),
        ("create-to-up p90 ms", base.pct(90), ours.pct(90), report.ratio(ours.pct(90),
                                                                         base.pct(90))),
        ("create-to-up p99 ms", base.pct(99), ours.pct(99), report.ratio(ours.pct(99),
                                                                         base.pct(99))),
        ("create-to-plugged p50 ms (OVS row)", base.plug_pct(50), ours.plug_pct(50),
         report.ratio(ours.plug_pct(50), base.plug_pct(50))),
        ("create-to-plugged p99 ms (OVS row)", base.plug_pct(99), ours.plug_pct(99),
         report.ratio(ours.plug_pct(99), base.plug_pct(99))),
        ("CPU s while plugging: ovn-controller", base.busy_cpu.get("ovn-controller"),
         ours.busy_cpu.get("ovn-controller"), None),
        ("CPU s while plugging: ovn-northd", base.busy_cpu.get("ovn-northd"),
         ours.busy_cpu.get("ovn-northd"), None),
        ("CPU s while plugging: plug agent", None, ours.busy_cpu.get("agent"), None),
        ("plug agent idle CPU % of a core", None, ours.agent_cpu_pct, None),
        ("plug agent RSS MiB", None, ours.agent_rss_mb, None),
        ("ovn-controller idle CPU %", base.controller_cpu_pct, ours.controller_cpu_pct, None),
        ("ovn-controller RSS MiB", base.controller_rss_mb, ours.controller_rss_mb, None),
    ]
    print(f"\nneutrino bench plug: {args.ports} ports on one chassis, batches of {args.batch}")
    print(report.format_table(["metric", "ovn-c (baseline)", "neutrino", "ratio"], rows))
    p50_ok = ours.pct(50) <= 1.5 * base.pct(50)
    cpu_ok = ours.agent_cpu_pct is not None and ours.agent_cpu_pct < 2.0
    print(f"\ntarget p50 <= 1.5x baseline: {'met' if p50_ok else 'NOT met'}; "
          f"idle agent CPU < 2%: {'met' if cpu_ok else 'NOT met'}")
    if args.json:
        report.write_json(args.json, {"bench": "plug", "machine": report.machine(),
                                      "args": vars(args), "ovn_c": base.as_dict(),
                                      "neutrino": ours.as_dict()})
    return 0 if p50_ok and cpu_ok else 1
