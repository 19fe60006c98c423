"""``neutrino bench status``: NB ``up`` to port status through a real ``neutrino server``.

Issue 3's status figures, each against a baseline measured in the same run, on
fresh sandboxes (real NB/SB/northd and a chassis with ``ovn-controller``) and the
embedded SQLite database:

* **burst** — ``--ports`` ports are created through the API with
  ``binding:host_id`` of the chassis and bound; once the API shows every one
  ``DOWN`` (interface not present), their interfaces are plugged back to back
  by one ``ovs-vsctl add-port br-int … external_ids:iface-id=<port id>`` call.
  Baseline: the moment the last port is ``up`` in NB (ovn-controller claims,
  northd writes ``up``), seen by a NB monitor.  Measured: the moment the last
  port is ``ACTIVE`` for a client of ``GET /v2.0/events``.  Target: all ACTIVE
  at most 1 s after all up in NB.

* **sync** — ``--sync-ports`` ports whose NB state changed while every server
  was down: SQL says ``ACTIVE`` for all of them, NB has each LSP and its chassis
  has no interface for any (``up`` false: the hypervisor lost its VMs while
  Neutrino was stopped).  Measured: from launching ``neutrino server`` until the
  database holds the right status (``DOWN``, interface not present) for every
  port, checked with a count query every 20 ms and once more through the API
  at the end; and until the status worker has published itself in
  ``NB_Global`` (the end of its first full sync).  Baselines: the same server
  start with nothing to change (every status already right), and a bare
  python-ovs client loading the same NB tables (the floor any server pays).
  Target: every status right in < 10 s.

  How the ports are made (creating 10,000 through the API would take minutes):
  one port is created and bound by the core in-process (``Plugin.create_port``
  with the OVN driver), its row is copied ``--sync-ports - 1`` times in SQL
  (new id, MAC, IP and name; status ACTIVE), and the LSPs are written by the OVN
  driver's own drift repair (``DriftRepair.run``) in-process — the same rows a
  server's repair would write.  No status worker runs during setup.

Writes a JSON result (``--output``) and prints a table.
"""
from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import sqlite3
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import ovs.db.idl
import ovs.poller

from neutrino.bench import report
from neutrino.bench.client import EventListener
from neutrino.bench.plug import run_until
from neutrino.bench.server import ServerError, ServerProcess, ovn_server
from neutrino.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for

#: Issue 3's targets.
BURST_TARGET_SECONDS = 1.0
SYNC_TARGET_SECONDS = 10.0
CHASSIS = "hv1"
NOT_PRESENT = f"interface not present on chassis '{CHASSIS}'"
#: Room for well over 100,000 ports.
CIDR = "10.64.0.0/12"
FIRST_COPY_IP = (10 << 24) | (72 << 16)
COPY_MAC_PREFIX = "fa:16:3f"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ports", type=int, default=200,
                        help="burst: interfaces plugged back to back (default 200)")
    parser.add_argument("--sync-ports", type=int, default=10000,
                        help="sync: ports whose status changed while no server ran "
                             "(default 10000)")
    parser.add_argument("--phases", default="burst,sync",
                        help="comma-separated phases to run: burst, sync (default both)")
    parser.add_argument("--workers", type=int, default=2, help="API workers (default 2)")
    parser.add_argument("--timeout", type=float, default=300.0,
                        help="seconds to wait for any one step (default 300)")
    parser.add_argument("--output", default="bench-status.json", help="JSON result path")


# ---------------------------------------------------------------- watching


class NbMonitor:
    """A plain python-ovs client of NB timestamping what the bench waits for: the first
    time each LSP is seen and is ``up``, and each value of NB_Global's
    ``neutrino:status_worker``.  It reads from any cluster member, leader or not, so
    that a leader change does not blind it while NB elects."""

    def __init__(self, remote: str) -> None:
        from neutrino.ovn import keys
        from neutrino.ovn.connection import schema_helper

        self._worker_key = keys.GLOBAL_WORKER
        helper = schema_helper(remote, "OVN_Northbound", {
            "Logical_Switch_Port": ["name", "up"], "NB_Global": ["external_ids"]})
        self.seen_at: dict[str, float] = {}
        self.up_at: dict[str, float] = {}
        self.worker_at: dict[str, float] = {}
        self._lock = threading.Lock()
        self.idl = _NotifyingIdl(remote, helper, self._on_row, leader_only=False)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="bench-nb-monitor", daemon=True)
        self._thread.start()

    def _on_row(self, event: str, row: Any) -> None:
        if event == ovs.db.idl.ROW_DELETE:
            return
        now = time.monotonic()
        table = row._table.name  # noqa: SLF001 - an ovs Row's table has no public name
        with self._lock:
            if table == "Logical_Switch_Port":
                self.seen_at.setdefault(row.name, now)
                if row.up == [True] and row.name not in self.up_at:
                    self.up_at[row.name] = now
            elif table == "NB_Global":
                worker = row.external_ids.get(self._worker_key)
                if worker and worker not in self.worker_at:
                    self.worker_at[worker] = now

    def _loop(self) -> None:
        run_until(self.idl, self._stop)

    def up_count(self, names: set[str]) -> int:
        with self._lock:
            return sum(1 for n in names if n in self.up_at)

    def workers(self) -> dict[str, float]:
        with self._lock:
            return dict(self.worker_at)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.idl.close()


class _NotifyingIdl(ovs.db.idl.Idl):
    def __init__(self, remote: str, helper: ovs.db.idl.SchemaHelper,
                 on_row: Callable[[str, Any], None], leader_only: bool = True) -> None:
        super().__init__(remote, helper, leader_only=leader_only)
        self._on_row = on_row

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        self._on_row(event, row)


def nb_load_seconds(remote: str, expected_ports: int, timeout: float) -> float:
    """Seconds a bare python-ovs client takes to load the NB tables Neutrino monitors."""
    from neutrino.ovn.connection import NB_TABLES, schema_helper

    started = time.monotonic()
    idl = ovs.db.idl.Idl(remote, schema_helper(remote, "OVN_Northbound", NB_TABLES))
    try:
        deadline = started + timeout
        while not (idl.state == idl.IDL_S_MONITORING and
                   len(idl.tables["Logical_Switch_Port"].rows) >= expected_ports):
            if time.monotonic() > deadline:
                raise TimeoutError("NB did not load")
            idl.run()
            poller = ovs.poller.Poller()
            idl.wait(poller)
            poller.timer_wait(50)
            poller.block()
        return time.monotonic() - started
    finally:
        idl.close()


def wait_until(done: Callable[[], int], total: int, timeout: float, label: str,
               progress: report.Progress, interval: float = 0.01) -> None:
    progress.start(label, total)
    deadline = time.monotonic() + timeout
    while (n := done()) < total:
        if time.monotonic() > deadline:
            progress.done(f"gave up at {n}/{total}")
            raise TimeoutError(f"{label}: {n}/{total} after {timeout:.0f}s")
        progress.update(n, total)
        time.sleep(interval)
    progress.done()


def _ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"p50": round(report.percentile(ms, 50), 1), "p90": round(report.percentile(ms, 90), 1),
            "p99": round(report.percentile(ms, 99), 1), "max": round(max(ms, default=0.0), 1)}


# ---------------------------------------------------------------- burst


def measure_burst(args: argparse.Namespace, progress: report.Progress) -> dict[str, Any]:
    count = args.ports
    with tempfile.TemporaryDirectory(prefix="nt-status-") as tmp, \
            Sandbox(progress=progress.note) as sb:
        sb.start_central()
        chassis = sb.add_chassis(CHASSIS, hostname=CHASSIS)
        with ovn_server(Path(tmp), sb, args.workers) as server, \
                httpx.Client(base_url=server.url, timeout=60) as api:
            net = api.post("/v2.0/networks", json={"network": {"name": "burst"}}
                           ).raise_for_status().json()["network"]
            api.post("/v2.0/subnets", json={"subnet": {
                "network_id": net["id"], "cidr": CIDR, "ip_version": 4}}).raise_for_status()
            progress.start(f"burst: create and bind {count} ports through the API", count)
            ids: list[str] = []
            for i in range(count):
                port = api.post("/v2.0/ports", json={"port": {
                    "network_id": net["id"], "device_id": f"vm-{i}",
                    "binding:host_id": CHASSIS}}).raise_for_status().json()["port"]
                ids.append(port["id"])
                progress.update(i + 1, count)
            progress.done()
            wanted = set(ids)

            def down_not_present() -> int:
                ports = api.get("/v2.0/ports", params={
                    "network_id": net["id"], "fields": ["id", "status", "status_reason"]}
                ).raise_for_status().json()["ports"]
                return sum(1 for p in ports if p["id"] in wanted and p["status"] == "DOWN"
                           and p["status_reason"] == NOT_PRESENT)
            wait_until(down_not_present, count, args.timeout,
                       "burst: wait until the API shows every port DOWN (not present)",
                       progress, interval=0.2)

            monitor = NbMonitor(sb.nb_remote)
            listener = EventListener(server.url)
            try:
                wait_for(lambda: monitor.idl.state == monitor.idl.IDL_S_MONITORING, 30,
                         "NB monitor")
                commands: list[str] = []
                for i, port_id in enumerate(ids):
                    name = f"b{i:05d}"
                    commands += ["--", "add-port", "br-int", name, "--", "set", "Interface",
                                 name, "type=internal", f"external_ids:iface-id={port_id}"]
                progress.note(f"burst: plugging {count} interfaces with one ovs-vsctl call")
                plugged_at = time.monotonic()
                chassis.vsctl(*commands[1:], timeout=max(60.0, args.timeout))
                vsctl_seconds = time.monotonic() - plugged_at
                wait_until(lambda: monitor.up_count(wanted), count, args.timeout,
                           "burst: wait for up in NB (baseline)", progress)
                wait_until(lambda: listener.count(wanted), count, args.timeout,
                           "burst: wait for ACTIVE on /v2.0/events", progress)
                if listener.error is not None:
                    raise listener.error
                up = {p: monitor.up_at[p] for p in ids}
                active = {p: listener.active_at[p] for p in ids}
            finally:
                listener.stop()
                monitor.stop()
    all_up = max(up.values()) - plugged_at
    all_active = max(active.values()) - plugged_at
    after = all_active - all_up
    return {"ports": count, "vsctl_seconds": round(vsctl_seconds, 3),
            "all_up_in_nb_seconds": round(all_up, 3),
            "all_active_seconds": round(all_active, 3),
            "active_after_up_seconds": round(after, 3),
            "up_to_active_ms": _ms([active[p] - up[p] for p in ids]),
            "plug_to_active_ms": _ms([active[p] - plugged_at for p in ids]),
            "target_seconds": BURST_TARGET_SECONDS, "target_met": after <= BURST_TARGET_SECONDS}


# ---------------------------------------------------------------- sync


def prepare_sync(workdir: Path, sb: Sandbox, count: int,
                 progress: report.Progress) -> dict[str, Any]:
    """``count`` bound ports, ACTIVE in SQL, each with its LSP in NB (none plugged)."""
    from neutrino.config import Settings
    from neutrino.core.context import ADMIN
    from neutrino.core.handle import BackendHandle
    from neutrino.core.plugin import Plugin
    from neutrino.db.migrate import upgrade
    from neutrino.db.session import Database
    from neutrino.ovn.mech_driver import OVNMechanismDriver
    from neutrino.ovn.nbcache import NbCache
    from neutrino.ovn.repair import DriftRepair

    started = time.monotonic()
    url = f"sqlite:///{workdir / 'neutrino.db'}"
    db = Database(url)
    upgrade(db)
    settings = Settings.load(database_url=url, ovn_nb_connection=sb.nb_remote,
                             ovn_sb_connection=sb.sb_remote, mechanism_drivers=["ovn"])
    plugin = Plugin(settings, db)
    try:
        driver = next(d for d in plugin.mech.drivers if isinstance(d, OVNMechanismDriver))
        nb, directory = driver.nb, driver.directory
        assert nb is not None and directory is not None  # Plugin() initialized the driver
        wait_for(lambda: nb.ready and directory.synced, 60, "OVN connections")
        net = plugin.create_network(ADMIN, {"name": "sync"})
        plugin.create_subnet(ADMIN, {"network_id": net["id"], "cidr": CIDR, "ip_version": 4})
        template = plugin.create_port(ADMIN, {"network_id": net["id"], "device_id": "vm-0",
                                       "binding:host_id": CHASSIS})
        if template["binding:vif_type"] != "ovs":
            raise RuntimeError(f"the template port did not bind: {template['status_reason']}")
        progress.start(f"sync: copy the bound port {count - 1} times in SQL", count - 1)
        copy_ports(db, template["id"], count - 1, progress)
        progress.done()
        progress.start(f"sync: write {count} LSPs with the OVN driver's drift repair")
        repair = DriftRepair(nb, NbCache(), BackendHandle(plugin), directory)
        done = repair.run()
        progress.done(", ".join(f"{k} {v}" for k, v in sorted(done.items())) or "nothing")
    finally:
        plugin.stop()
        db.dispose()
    return {"method": "one port created and bound in-process by the core, copied in SQL "
                      "as ACTIVE; LSPs written by the OVN driver's drift repair in-process",
            "lsps_written": done, "seconds": round(time.monotonic() - started, 1)}


def copy_ports(db: Any, template_id: str, count: int, progress: report.Progress) -> None:
    """Copies of a bound port row (new id, MAC, IP, name), ACTIVE, in chunks."""
    from sqlalchemy import insert, select, update

    from neutrino.db.models import IPAllocation, Port

    with db.read() as session:
        row = dict(session.execute(select(Port.__table__).where(
            Port.id == template_id)).mappings().one())
        ip = dict(session.execute(select(IPAllocation.__table__).where(
            IPAllocation.port_id == template_id)).mappings().one())
    now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    done = 0
    while done < count:
        chunk = min(5000, count - done)
        ports, ips = [], []
        for i in range(done, done + chunk):
            port_id = str(uuid.uuid4())
            address = FIRST_COPY_IP + i
            ports.append({**row, "id": port_id, "name": f"sync-{i}", "device_id": f"vm-{i + 1}",
                          "mac_address": f"{COPY_MAC_PREFIX}:{(i >> 16) & 255:02x}:"
                                         f"{(i >> 8) & 255:02x}:{i & 255:02x}",
                          "status": "ACTIVE", "status_reason": None,
                          "created_at": now, "updated_at": now})
            ips.append({**ip, "port_id": port_id,
                        "ip_address": ".".join(str(address >> s & 255) for s in (24, 16, 8, 0))})
        with db.write() as session:
            session.execute(insert(Port.__table__), ports)
            session.execute(insert(IPAllocation.__table__), ips)
        done += chunk
        progress.update(done, count)
    with db.write() as session:
        session.execute(update(Port.__table__).where(Port.id == template_id).values(
            status="ACTIVE", status_reason=None))


def count_status(conn: sqlite3.Connection, status: str, reason: str | None,
                 ) -> Callable[[], int]:
    """A count query on the database file itself (a WAL reader never blocks the server)."""
    sql = "SELECT count(*) FROM ports WHERE status = ? AND " + \
          ("status_reason IS NULL" if reason is None else "status_reason = ?")
    params = (status,) if reason is None else (status, reason)

    def count() -> int:
        try:
            return conn.execute(sql, params).fetchone()[0]
        except sqlite3.OperationalError:  # a checkpoint in progress: next time
            return 0
    return count


def start_measured(server: ServerProcess, monitor: NbMonitor, count: Callable[[], int],
                   total: int, timeout: float, label: str,
                   progress: report.Progress) -> dict[str, float]:
    """Launch the server; seconds until healthy, until ``count() == total`` and until a new
    status worker has published itself (its first full sync is over)."""
    before = set(monitor.workers())
    started = time.monotonic()
    server.launch()
    process = server.process
    assert process is not None  # launch() started it
    marks: dict[str, float] = {}
    cpu = 0.0
    progress.start(label, total)
    deadline = started + timeout
    while len(marks) < 3:
        now = time.monotonic()
        if process.poll() is not None:
            raise ServerError("neutrino server exited:\n" + server.log_tail())
        if now > deadline:
            raise TimeoutError(f"{label}: not done after {timeout:.0f}s ({marks})")
        if "all_right" not in marks:
            n = count()
            progress.update(n, total)
            if n >= total:
                marks["all_right"] = now - started
        if "synced" not in marks:
            fresh = {w: t for w, t in monitor.workers().items() if w not in before}
            if fresh:
                marks["synced"] = min(fresh.values()) - started
                cpu = report.tree_cpu_seconds(server.pid)
        if "healthy" not in marks:
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(server.url + "/healthz", timeout=0.5).status_code == 200:
                    marks["healthy"] = time.monotonic() - started
        time.sleep(0.02)
    progress.done(", ".join(f"{k} {v:.2f}s" for k, v in marks.items()) +
                  f", server CPU {cpu:.1f}s")
    # CPU time of every server process until the first full sync ended: unlike the
    # wall-clock figures, it hardly moves when other work shares the machine.
    return {**{f"{k}_seconds": round(v, 3) for k, v in marks.items()},
            "server_cpu_seconds_to_synced": round(cpu, 2)}


def api_statuses(url: str) -> dict[str, int]:
    ports = httpx.get(f"{url}/v2.0/ports", params={"fields": ["id", "status", "status_reason"]},
                      timeout=120).raise_for_status().json()["ports"]
    counts: dict[str, int] = {}
    for port in ports:
        key = port["status"] + (f" ({port['status_reason']})" if port["status_reason"] else "")
        counts[key] = counts.get(key, 0) + 1
    return counts


def measure_sync(args: argparse.Namespace, progress: report.Progress) -> dict[str, Any]:
    from neutrino.sandbox.ovsdb import free_tcp_port

    count = args.sync_ports
    with tempfile.TemporaryDirectory(prefix="nt-status-") as tmp, \
            Sandbox(progress=progress.note) as sb:
        workdir = Path(tmp)
        sb.start_central()
        sb.add_chassis(CHASSIS, hostname=CHASSIS)
        setup = prepare_sync(workdir, sb, count, progress)
        progress.start("sync: bare NB client loads the NB tables (baseline)")
        nb_load = nb_load_seconds(sb.nb_remote, count, args.timeout)
        progress.done(f"{nb_load:.2f}s")
        monitor = NbMonitor(sb.nb_remote)
        server = ovn_server(workdir, sb, args.workers)
        server.port = free_tcp_port()
        conn = sqlite3.connect(workdir / "neutrino.db", check_same_thread=False)
        try:
            wait_for(lambda: monitor.idl.state == monitor.idl.IDL_S_MONITORING, 60,
                     "NB monitor")
            changed: dict[str, Any] = start_measured(
                server, monitor, count_status(conn, "DOWN", NOT_PRESENT), count,
                args.timeout, f"sync: server start, {count} statuses to change", progress)
            changed["api"] = api_statuses(server.url)
            server.stop()
            unchanged: dict[str, Any] = start_measured(
                server, monitor, count_status(conn, "DOWN", NOT_PRESENT), count,
                args.timeout, f"sync: server start, {count} statuses already right (baseline)",
                progress)
            unchanged["api"] = api_statuses(server.url)
        finally:
            server.stop()
            monitor.stop()
            conn.close()
    right = changed.get("all_right_seconds", float("inf"))
    return {"ports": count, "setup": setup, "nb_load_seconds": round(nb_load, 3),
            "changed": changed, "unchanged": unchanged,
            "target_seconds": SYNC_TARGET_SECONDS,
            "target_met": right < SYNC_TARGET_SECONDS
            and changed["api"] == {f"DOWN ({NOT_PRESENT})": count}}


# ---------------------------------------------------------------- report


def table(result: dict[str, Any]) -> str:
    rows: list[tuple[Any, ...]] = []
    burst = result.get("burst")
    if burst:
        n = burst["ports"]
        rows += [
            (f"burst ({n} ports): plug -> all up in NB", "baseline",
             burst["all_up_in_nb_seconds"], None),
            (f"burst ({n} ports): plug -> all ACTIVE via /v2.0/events", "measured",
             burst["all_active_seconds"], None),
            ("burst: all ACTIVE after all up", "measured",
             burst["active_after_up_seconds"], f"<= {BURST_TARGET_SECONDS:g} s"),
            ("burst: up -> ACTIVE per port, p50 / p99 ms", "measured",
             f"{burst['up_to_active_ms']['p50']} / {burst['up_to_active_ms']['p99']}", None),
        ]
    sync = result.get("sync")
    if sync:
        n = sync["ports"]
        rows += [
            (f"sync ({n} ports): bare client loads NB", "baseline", sync["nb_load_seconds"],
             None),
            ("sync: start -> first full sync, nothing to change", "baseline",
             sync["unchanged"].get("synced_seconds"), None),
            ("sync: start -> every status right", "",
             sync["changed"].get("all_right_seconds"), f"< {SYNC_TARGET_SECONDS:g} s"),
            ("sync: start -> first full sync, all changed", "",
             sync["changed"].get("synced_seconds"), None),
            ("sync: start -> /healthz answers", "measured", sync["changed"].get("healthy_seconds"),
             None),
            ("sync: server CPU until synced, nothing to change", "baseline",
             sync["unchanged"].get("server_cpu_seconds_to_synced"), None),
            ("sync: server CPU until synced, all changed", "measured",
             sync["changed"].get("server_cpu_seconds_to_synced"), None),
        ]
    return report.format_table(["measurement", "role", "seconds", "target"], rows)


def run(args: argparse.Namespace) -> int:
    phases = {p.strip() for p in args.phases.split(",") if p.strip()}
    unknown = phases - {"burst", "sync"}
    if unknown or not phases:
        print(f"neutrino bench status: unknown phases {sorted(unknown)}", file=sys.stderr)
        return 2
    progress = report.Progress()
    result: dict[str, Any] = {"bench": "status", "machine": report.machine(), "args": vars(args)}
    if "burst" in phases:
        result["burst"] = measure_burst(args, progress)
    if "sync" in phases:
        result["sync"] = measure_sync(args, progress)
    result["targets_met"] = {p: result[p]["target_met"] for p in ("burst", "sync") if p in result}
    report.publish("status", result, f"{table(result)}\ntargets met: {result['targets_met']}",
                   args.output)
    return 0 if all(result["targets_met"].values()) else 1
