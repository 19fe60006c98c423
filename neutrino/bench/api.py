"""``neutrino bench api``: the REST API measured end to end, as a client sees it.

A real ``neutrino server`` runs in a subprocess (its supervisor and API
workers, by default with no mechanism driver: the pure core), on SQLite and
on a private PostgreSQL.  An asyncio load generator then measures, at
each client concurrency:

* ``GET /`` (the version document): the cost of the HTTP stack alone, the
  baseline every other figure is divided by (the project reports speed as
  ratios against a baseline measured in the same run);
* port create, show, list (first page of 50), update and delete;
* ``GET /v2.0/ports`` with ``--list-size`` ports in the database;
* bulk create: requests of ``--bulk-size`` ports against as many single creates,
  one client, in the same run (time per port, and their ratio);
* the summed memory of the server's processes with ``--rss-ports`` ports,
  after creating them (through the API by default) and serving requests.

With ``--auth both`` each database is measured twice, without identity and
with Keystone tokens (a local Keystone, requests as its ``admin``: the same
data as ``noauth``'s all-powerful caller, so the difference is token validation
and policy), and the cost of auth per operation is reported.

The server process and its database are in :mod:`neutrino.bench.server`, the
load generator in :mod:`neutrino.bench.client`; this module holds the phases
and what they report.
"""
from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import statistics
import tempfile
import time
from collections.abc import Awaitable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from neutrino.bench import report
from neutrino.bench.client import Client, Phase, RawClient, Request, client_for, drive
from neutrino.bench.report import Progress
from neutrino.bench.server import (
    BenchDatabase,
    CpuMeter,
    PeakSampler,
    ServerProcess,
    database,
    insert_ports,
)
from neutrino.sandbox.keystone import ADMIN, Keystone

CREATE, SHOW, LIST, UPDATE, DELETE = "create", "show", "list", "update", "delete"
OPERATIONS = (CREATE, SHOW, LIST, UPDATE, DELETE)
LABELS = {LIST: "list (limit=50)"}
#: Subnet of the bench network: room for well over 100,000 ports.
BENCH_CIDR = "10.0.0.0/12"

TARGETS = {
    "creates_per_second_8_clients": (">=", 300.0),
    "create_p99_ms_8_clients": ("<", 50.0),
    "list_seconds": ("<", 1.0),
    "server_rss_mb": ("<", 200.0),
}


# ---------------------------------------------------------------- requests


def _version(client: Client, _item: Any) -> Awaitable[Any]:
    return client.get("/")


def _creator(network_id: str) -> Request:
    def create(client: Client, i: Any) -> Awaitable[Any]:
        return client.post("/v2.0/ports", json={"port": {"network_id": network_id,
                                                         "name": f"bench-{i}"}})
    return create


def _bulk_creator(network_id: str, size: int) -> Request:
    def create(client: Client, i: Any) -> Awaitable[Any]:
        return client.post("/v2.0/ports", json={"ports": [
            {"network_id": network_id, "name": f"bulk-{i}-{j}"} for j in range(size)]})
    return create


def _show(client: Client, port_id: str) -> Awaitable[Any]:
    return client.get(f"/v2.0/ports/{port_id}")


def _list_page(client: Client, _item: Any) -> Awaitable[Any]:
    return client.get("/v2.0/ports", params={"limit": "50"})


def _update(client: Client, port_id: str) -> Awaitable[Any]:
    return client.put(f"/v2.0/ports/{port_id}", json={"port": {"name": "renamed"}})


def _delete(client: Client, port_id: str) -> Awaitable[Any]:
    return client.delete(f"/v2.0/ports/{port_id}")


def _ids(phase: Phase) -> list[str]:
    return [r.json()["port"]["id"] for r in phase.responses]


def _bulk_ids(phase: Phase) -> list[str]:
    return [p["id"] for r in phase.responses for p in r.json()["ports"]]


# ---------------------------------------------------------------- phases


@dataclass(frozen=True)
class Auth:
    """How a run's server authenticates, and what its requests carry."""

    name: str
    #: The server's settings (``NEUTRINO_*``).
    env: dict[str, str]
    headers: dict[str, str]


NOAUTH = Auth("noauth", {}, {})


def keystone_auth(keystone: Keystone) -> Auth:
    """Keystone tokens: the server validates them as Neutrino's service user; the bench
    sends one of the admin's, validated once by each worker and then cached there."""
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    from neutrino.up import authtoken

    a = keystone.auth(ADMIN)
    token = session.Session(auth=v3.Password(
        auth_url=a["auth_url"], username=a["username"], password=a["password"],
        project_name=a["project_name"], user_domain_name=a["user_domain_name"],
        project_domain_name=a["project_domain_name"])).get_token()
    assert token, "Keystone gave no token"
    return Auth("keystone", {"NEUTRINO_AUTH_STRATEGY": "keystone",
                             "NEUTRINO_KEYSTONE_AUTHTOKEN": json.dumps(authtoken(keystone))},
                {"X-Auth-Token": token})


@dataclass
class Bench:
    """One database's run: the server, the bench network, and what was measured."""

    db: str
    database: BenchDatabase
    server: ServerProcess
    args: argparse.Namespace
    progress: Progress
    auth: Auth = NOAUTH
    network_id: str = ""
    subnet_id: str = ""
    #: Ports on the bench network now (the CRUD phases delete what they create).
    ports: int = 0
    result: dict[str, Any] = field(default_factory=dict)

    def label(self, text: str) -> str:
        return f"[{self.db}] {text}"

    async def setup_network(self) -> None:
        async with httpx.AsyncClient(base_url=self.server.url, timeout=60,
                                     headers=self.auth.headers) as client:
            net = await client.post("/v2.0/networks", json={"network": {"name": "bench"}})
            net.raise_for_status()
            self.network_id = net.json()["network"]["id"]
            sub = await client.post("/v2.0/subnets", json={"subnet": {
                "network_id": self.network_id, "cidr": BENCH_CIDR, "ip_version": 4}})
            sub.raise_for_status()
            self.subnet_id = sub.json()["subnet"]["id"]

    async def operations(self) -> None:
        """Baseline and port CRUD at each concurrency."""
        baseline: dict[str, Any] = {}
        operations: dict[str, Any] = {}
        spread: dict[str, list[int]] = {}
        n = self.args.ports
        for clients in self.args.clients:
            async with client_for(self.server.url, clients, self.args.client,
                                  self.auth.headers) as client:
                if isinstance(client, RawClient):
                    await client.open(clients)
                # Warm the connections and each worker's token cache up.
                await drive(client, clients, range(min(n, 50)), _list_page)
                spread[str(clients)] = sorted(
                    report.connections_by_process(self.server.pid, self.server.port).values(),
                    reverse=True)
                base = await self._phase(client, clients, "GET / (baseline)", range(n), _version)
                created = await self._phase(client, clients, CREATE, range(n),
                                            _creator(self.network_id))
                ids = _ids(created)
                phases = {CREATE: created,
                          SHOW: await self._phase(client, clients, SHOW, ids, _show),
                          LIST: await self._phase(client, clients, LABELS[LIST], range(n),
                                                  _list_page),
                          UPDATE: await self._phase(client, clients, UPDATE, ids, _update),
                          DELETE: await self._phase(client, clients, DELETE, ids, _delete)}
            baseline[str(clients)] = dict(base.stats.as_dict(), cpu_ms=base.cpu_ms)
            operations[str(clients)] = {
                op: dict(phase.stats.as_dict(),
                         cost_vs_baseline=report.ratio(base.stats.per_second,
                                                       phase.stats.per_second),
                         p50_vs_baseline=report.ratio(phase.stats.p50_ms, base.stats.p50_ms),
                         server_cpu_vs_baseline=report.ratio(phase.cpu_ms["server"],
                                                             base.cpu_ms["server"]),
                         cpu_ms=phase.cpu_ms, error_samples=phase.error_samples)
                for op, phase in phases.items()}
        self.result["baseline"] = baseline
        self.result["operations"] = operations
        #: Client connections per server worker, most loaded first, at each concurrency.
        self.result["connections_per_worker"] = spread

    async def _phase(self, client: Client, clients: int, name: str,
                     items: Iterable[Any], request: Request) -> Phase:
        items = list(items)
        self.progress.start(self.label(f"{name}, {clients} client(s)"), len(items))
        with CpuMeter({"server": self.server.pid, "database": self.database.pid}) as meter:
            phase = await drive(client, clients, items, request, self.progress)
        phase.cpu_ms = meter.per_request(len(items))
        s = phase.stats
        self.progress.done(f"{s.per_second:.0f}/s p50 {s.p50_ms:.1f} ms p99 {s.p99_ms:.1f} ms"
                           + (f", {s.errors} errors" if s.errors else ""))
        return phase

    async def bulk(self) -> None:
        """``--bulk-rounds`` bulk creates of ``--bulk-size`` ports against as many single
        creates, one client each, one after the other; then both sets are deleted."""
        size, rounds = self.args.bulk_size, self.args.bulk_rounds
        async with client_for(self.server.url, 1, self.args.client,
                              self.auth.headers) as client:
            if isinstance(client, RawClient):
                await client.open(1)
            single = await self._phase(client, 1, f"create x {size * rounds} (one per request)",
                                       range(size * rounds), _creator(self.network_id))
            bulk = await self._phase(client, 1, f"bulk create of {size} x {rounds}",
                                     range(rounds), _bulk_creator(self.network_id, size))
            if single.stats.errors or bulk.stats.errors:
                raise RuntimeError(f"bulk phase failed: {single.error_samples} "
                                   f"{bulk.error_samples}")
            await drive(client, 1, _ids(single) + _bulk_ids(bulk), _delete)
        ports = size * rounds
        per_port = {name: round(phase.stats.seconds * 1000 / ports, 3)
                    for name, phase in (("single", single), ("bulk", bulk))}
        self.progress.note(self.label(
            f"per port: {per_port['single']} ms one per request, {per_port['bulk']} ms in "
            f"bulks of {size}"))
        self.result["bulk"] = {
            "ports_per_request": size, "requests": rounds,
            # ``cpu_ms`` per request, as every phase's: a bulk's is that of *size* ports.
            "single": dict(single.stats.as_dict(), ms_per_port=per_port["single"],
                           cpu_ms=single.cpu_ms, cpu_ms_per_port=single.cpu_ms),
            "bulk": dict(bulk.stats.as_dict(), ms_per_port=per_port["bulk"],
                         cpu_ms=bulk.cpu_ms, cpu_ms_per_port={
                             k: round(v / size, 3) for k, v in bulk.cpu_ms.items()}),
            "speedup_per_port": report.ratio(per_port["single"], per_port["bulk"])}

    async def fill(self, count: int) -> dict[str, Any]:
        """Bring the database to *count* ports (the bench network's ports only)."""
        have = self.ports
        missing = max(0, count - have)
        self.progress.start(self.label(f"fill to {count} ports ({self.args.fill})"), missing)
        started = time.perf_counter()
        if self.args.fill == "db":
            await asyncio.to_thread(insert_ports, self.server.database_url, self.network_id,
                                    self.subnet_id, have, missing, self.progress)
            rate = None
        else:
            async with client_for(self.server.url, 32, self.args.client,
                                  self.auth.headers) as client:
                phase = await drive(client, 32, range(have, have + missing),
                                    _creator(self.network_id), self.progress)
            if phase.stats.errors:
                raise RuntimeError(f"filling failed: {phase.error_samples}")
            rate = round(phase.stats.per_second, 1)
        took = time.perf_counter() - started
        self.ports += missing
        self.progress.done(f"{missing} ports" + (f", {rate}/s" if rate else ""))
        return {"method": self.args.fill, "created": missing, "seconds": round(took, 2),
                "creates_per_second": rate}

    async def listing(self, base_p50_ms: float | None) -> None:
        fill = await self.fill(self.args.list_size)
        times, size, count = [], 0, 0
        self.progress.start(self.label(f"GET /v2.0/ports with {self.args.list_size} ports"), 5)
        async with httpx.AsyncClient(base_url=self.server.url, timeout=300,
                                     headers=self.auth.headers) as client:
            for i in range(5):
                started = time.perf_counter()
                response = await client.get("/v2.0/ports")
                times.append(time.perf_counter() - started)
                response.raise_for_status()
                size, count = len(response.content), len(response.json()["ports"])
                self.progress.update(i + 1, 5)
        median = statistics.median(times)
        self.progress.done(f"median {median * 1000:.0f} ms, {count} ports, {size / 1e6:.1f} MB")
        self.result["list"] = {
            "ports": count, "bytes": size, "fill": fill, "seconds_median": round(median, 4),
            "seconds_min": round(min(times), 4),
            "vs_baseline": report.ratio(median * 1000, base_p50_ms) if base_p50_ms else None}

    async def memory(self) -> None:
        before = self.server.memory()
        sampler = PeakSampler(self.server)
        with sampler:
            fill = await self.fill(self.args.rss_ports)
            # Serve a little of everything with the table full, so the figure is
            # that of a server at work, not of one that only ever inserted.
            async with client_for(self.server.url, 8, self.args.client,
                                  self.auth.headers) as client:
                created = await self._phase(client, 8, f"create with {self.args.rss_ports} ports",
                                            range(self.args.ports), _creator(self.network_id))
                ids = _ids(created)
                await drive(client, 8, ids, _show)
                await drive(client, 8, range(100), _list_page)
                await drive(client, 8, ids, _delete)
        after = self.server.memory()
        self.progress.note(self.label(
            f"server memory with {self.args.rss_ports} ports: RSS {after.rss_mb:.0f} MB "
            f"(peak {sampler.peak.rss_mb:.0f} MB), PSS {after.pss_mb:.0f} MB, "
            f"{after.processes} processes"))
        self.result["memory"] = {"ports": self.args.rss_ports, "fill": fill,
                                 "before_fill": before.as_dict(), "after": after.as_dict(),
                                 "peak": sampler.peak.as_dict(),
                                 "by_process": report.process_memory(self.server.pid)}
        self.result["create_at_scale"] = dict(created.stats.as_dict(), cpu_ms=created.cpu_ms)


# ---------------------------------------------------------------- run


def run_name(database: BenchDatabase, auth: Auth) -> str:
    """``sqlite``, ``postgresql``; ``sqlite+keystone`` … with Keystone tokens."""
    return database.kind if auth is NOAUTH else f"{database.kind}+{auth.name}"


async def bench_one(database: BenchDatabase, workdir: Path, args: argparse.Namespace,
                    progress: Progress, auth: Auth = NOAUTH) -> dict[str, Any]:
    db = run_name(database, auth)
    env = {"NEUTRINO_MECHANISM_DRIVERS": args.mechanism_drivers, **auth.env}
    server = ServerProcess(database.url, workdir / f"server-{db}", workers=args.workers, env=env)
    progress.note(f"[{db}] starting neutrino server ({args.workers} API workers, "
                  f"mechanism drivers: {args.mechanism_drivers or 'none'}, auth: {auth.name})")
    with server:
        bench = Bench(db, database, server, args, progress, auth)
        await bench.setup_network()
        bench.result["server"] = {"workers": args.workers, "empty": server.memory().as_dict()}
        await bench.operations()
        lowest = str(min(args.clients))
        base_p50 = bench.result["baseline"][lowest]["p50_ms"]
        if args.bulk_size:
            await bench.bulk()
        if args.list_size:
            await bench.listing(base_p50)
        if args.rss_ports:
            await bench.memory()
        return bench.result


def check_targets(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Each target of the issue, per database, with the measured value and a verdict."""
    checks = []
    for db, result in results.items():
        ops = result.get("operations", {}).get("8", {})
        values = {
            "creates_per_second_8_clients": ops.get(CREATE, {}).get("per_second"),
            "create_p99_ms_8_clients": ops.get(CREATE, {}).get("p99_ms"),
            "list_seconds": result.get("list", {}).get("seconds_median"),
            "server_rss_mb": result.get("memory", {}).get("after", {}).get("rss_mb"),
        }
        for name, value in values.items():
            if value is None:
                continue
            op, limit = TARGETS[name]
            ok = value >= limit if op == ">=" else value < limit
            checks.append({"db": db, "target": name, "value": value, "limit": f"{op} {limit:g}",
                           "ok": ok})
    return checks


def auth_cost(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per database, concurrency and operation: what Keystone tokens (validation from the
    worker's cache, policy) add to the same run without identity."""
    rows = []
    for name, keyed in results.items():
        kind, _, auth = name.partition("+")
        if not auth or kind not in results:
            continue
        for clients, ops in keyed["operations"].items():
            for op, with_auth in ops.items():
                plain = results[kind]["operations"][clients][op]
                rows.append({
                    "db": kind, "auth": auth, "clients": int(clients), "operation": op,
                    "p50_ms": [plain["p50_ms"], with_auth["p50_ms"]],
                    "p99_ms": [plain["p99_ms"], with_auth["p99_ms"]],
                    "per_second": [round(plain["per_second"], 1),
                                   round(with_auth["per_second"], 1)],
                    "added_p50_ms": round(with_auth["p50_ms"] - plain["p50_ms"], 2),
                    "added_p99_ms": round(with_auth["p99_ms"] - plain["p99_ms"], 2),
                    "added_server_cpu_ms": round(with_auth["cpu_ms"]["server"]
                                                 - plain["cpu_ms"]["server"], 3),
                    "per_second_ratio": report.ratio(with_auth["per_second"],
                                                     plain["per_second"])})
    return rows


def tables(output: dict[str, Any]) -> str:
    rows = []
    for db, result in output["results"].items():
        for clients, base in result["baseline"].items():
            spread = "/".join(map(str, result.get("connections_per_worker", {}).get(clients, [])))
            rows.append([db, f"{clients} ({spread})" if spread else int(clients),
                         "GET / (baseline)", base["per_second"], base["p50_ms"],
                         base["p99_ms"], base["errors"], 1.0, *base["cpu_ms"].values(), 1.0])
            for op, s in result["operations"][clients].items():
                rows.append([db, int(clients), LABELS.get(op, op), s["per_second"], s["p50_ms"],
                             s["p99_ms"], s["errors"], s["cost_vs_baseline"],
                             *s["cpu_ms"].values(), s["server_cpu_vs_baseline"]])
    text = [report.format_table(
        ["db", "clients (per worker)", "operation", "ops/s", "p50 ms", "p99 ms", "errors", "x base",
         "cpu ms: server", "db", "client", "server cpu x base"], rows)]
    extra = []
    for db, result in output["results"].items():
        if "bulk" in result:
            bulk = result["bulk"]
            extra.append([db, f"port create, ms per port: one per request → bulks of "
                          f"{bulk['ports_per_request']} (1 client)",
                          f"{bulk['single']['ms_per_port']} → {bulk['bulk']['ms_per_port']} ms "
                          f"({bulk['speedup_per_port']}x faster)", None])
        if "list" in result:
            lst = result["list"]
            extra.append([db, f"GET /v2.0/ports ({lst['ports']} ports)",
                          f"{lst['seconds_median'] * 1000:.0f} ms", lst["vs_baseline"]])
        if "memory" in result:
            mem = result["memory"]
            after = mem["after"]
            extra.append([db, f"server memory ({mem['ports']} ports, {after['processes']} procs)",
                          f"RSS {after['rss_mb']:.0f} MB, PSS {after['pss_mb']:.0f} MB", None])
            scale = result["create_at_scale"]
            extra.append([db, f"create with {mem['ports']} ports (8 clients)",
                          f"{scale['per_second']:.0f}/s p99 {scale['p99_ms']:.1f} ms", None])
    if extra:
        text.append(report.format_table(["db", "measure", "value", "x baseline p50"], extra))
    if output.get("auth_cost"):
        text.append(report.format_table(
            ["db", "clients", "operation", "p50 ms noauth → auth", "added p50 ms",
             "p99 ms noauth → auth", "added p99 ms", "ops/s noauth → auth", "x",
             "added server cpu ms"],
            [[c["db"], c["clients"], LABELS.get(c["operation"], c["operation"]),
              "{} → {}".format(*c["p50_ms"]), c["added_p50_ms"], "{} → {}".format(*c["p99_ms"]),
              c["added_p99_ms"], "{} → {}".format(*c["per_second"]), c["per_second_ratio"],
              c["added_server_cpu_ms"]] for c in output["auth_cost"]]))
    if output["targets"]:
        text.append(report.format_table(
            ["db", "target", "value", "limit", "met"],
            [[t["db"], t["target"], t["value"], t["limit"], "yes" if t["ok"] else "NO"]
             for t in output["targets"]]))
    return "\n\n".join(text)


def _int_list(text: str) -> list[int]:
    values = [int(v) for v in text.split(",") if v.strip()]
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError("expected positive integers, e.g. 1,8,32")
    return values


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument("--clients", type=_int_list, default=[1, 8, 32],
                        help="concurrent clients, comma-separated (default 1,8,32)")
    parser.add_argument("--ports", type=int, default=1000,
                        help="requests per operation and concurrency (default 1000)")
    parser.add_argument("--list-size", type=int, default=10_000,
                        help="ports in the database when timing GET /v2.0/ports (0: skip)")
    parser.add_argument("--bulk-size", type=int, default=100,
                        help="ports per bulk create request, against as many single creates "
                             "(0: skip)")
    parser.add_argument("--bulk-rounds", type=int, default=5,
                        help="bulk create requests (and single creates of as many ports)")
    parser.add_argument("--rss-ports", type=int, default=100_000,
                        help="ports in the database when measuring server memory (0: skip)")
    parser.add_argument("--fill", choices=["api", "db"], default="api",
                        help="create the list/memory ports through the API with 32 clients "
                             "(default) or insert them straight into the database")
    parser.add_argument("--client", choices=["raw", "httpx"], default="raw",
                        help="load generator: a lean asyncio HTTP/1.1 client (default) or "
                             "httpx.AsyncClient; both report their CPU per request")
    parser.add_argument("--mechanism-drivers", default="",
                        help="NEUTRINO_MECHANISM_DRIVERS of the server (default: none, pure core)")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--auth", choices=["noauth", "keystone", "both"], default="noauth",
                        help="the server without identity (default), with Keystone tokens "
                             "(a local Keystone, requests as its admin), or both one after "
                             "the other on each database, with what auth adds")
    parser.add_argument("--nice", type=int, default=0,
                        help="scheduling priority of the bench, its server and database "
                             "(e.g. -5 on a machine shared with other work; negative needs root)")
    parser.add_argument("--workdir", help="keep server logs and SQLite files here")
    parser.add_argument("--output", help="write the results as JSON to this file")


def run(args: argparse.Namespace) -> int:
    progress = Progress()
    if args.nice:
        os.nice(args.nice)  # inherited by the server and PostgreSQL started below
    kinds = ["sqlite", "postgresql"] if args.db == "both" else [args.db]
    output: dict[str, Any] = {
        "bench": "api", "machine": report.machine(),
        "settings": {"clients": args.clients, "ports": args.ports, "list_size": args.list_size,
                     "bulk_size": args.bulk_size, "bulk_rounds": args.bulk_rounds,
                     "rss_ports": args.rss_ports, "fill": args.fill, "workers": args.workers,
                     "client": args.client, "nice": args.nice, "auth": args.auth,
                     "mechanism_drivers": args.mechanism_drivers},
        "results": {}, "targets": []}
    with contextlib.ExitStack() as stack:
        if args.workdir:
            workdir = Path(args.workdir)
            workdir.mkdir(parents=True, exist_ok=True)
        else:
            workdir = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="ntbench")))
        auths = []
        if args.auth in ("noauth", "both"):
            auths.append(NOAUTH)
        if args.auth in ("keystone", "both"):
            progress.note("starting a local Keystone")
            auths.append(keystone_auth(stack.enter_context(Keystone(workdir / "keystone"))))
        for kind in kinds:
            with database(kind, workdir) as db:
                for auth in auths:
                    output["results"][run_name(db, auth)] = asyncio.run(
                        bench_one(db, workdir, args, progress, auth))
    output["machine"]["loadavg_at_end"] = [round(v, 2) for v in os.getloadavg()]
    output["targets"] = check_targets(output["results"])
    output["auth_cost"] = auth_cost(output["results"])
    print(tables(output))
    print(f"\nload average at start {output['machine']['loadavg_at_start']}, at end "
          f"{output['machine']['loadavg_at_end']} ({output['machine']['cpus']} CPUs): "
          "figures are only comparable on a quiet machine")
    if args.output:
        report.write_json(args.output, output)
    return 0
