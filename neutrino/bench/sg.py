"""``neutrino bench sg``: security group changes, from the API call to the change in NB.

A ``neutrino server`` with the OVN driver (SQLite, ``--workers`` API workers)
runs against a fresh sandbox.  Two groups are filled through the API: one of
``--members`` ports (1,000 by default) and the baseline, one of
``--baseline-members`` (10).  Then, ``--repeat`` times and alternating between
the two groups (so that the machine's load drifts over both alike), one client
measures each change of a group:

* ``rule add``: ``POST /v2.0/security-group-rules`` until its ACL is in NB;
* ``rule delete``: ``DELETE`` of that rule until its ACL has left NB;
* ``join``: ``PUT /v2.0/ports/{id}`` of a port outside the group with
  ``security_groups: [group]`` until the port's LSP is in the group's
  ``Port_Group.ports``;
* ``leave``: the same port back to ``security_groups: []`` until it is out.

"In NB" is when an NB monitor (:class:`NbChanges`) sees the change: what
ovn-northd and every other NB client can see, not the server's word.  Each
operation's p50 on the big group divided by the same operation's p50 on the
baseline group, measured in the same run, is the figure that says whether a
change costs more with more members; the targets are a p50 of at most 20 ms on
the big group and that ratio at most 1.5.
"""
from __future__ import annotations

import argparse
import functools
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import ovs.db.idl

from neutrino.agent.idl import TrackedIdl, fetch_schema, ref_uuids, row_map, row_value
from neutrino.bench import report
from neutrino.bench.plug import run_until
from neutrino.bench.server import ovn_server
from neutrino.ovn import acls, keys
from neutrino.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for

RULE_ADD, RULE_DELETE, JOIN, LEAVE = "rule add", "rule delete", "join", "leave"
OPERATIONS = (RULE_ADD, RULE_DELETE, JOIN, LEAVE)
#: Targets: p50 ms on the big group, and its p50 over the baseline group's.
P50_TARGET_MS = 20.0
RATIO_TARGET = 1.5
#: Room for the members of both groups.
CIDR = "10.128.0.0/12"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--members", type=int, default=1000,
                        help="ports in the big group (default 1000)")
    parser.add_argument("--baseline-members", type=int, default=10,
                        help="ports in the baseline group (default 10)")
    parser.add_argument("--repeat", type=int, default=100,
                        help="times each operation is measured on each group (default 100)")
    parser.add_argument("--workers", type=int, default=2,
                        help="API worker processes of neutrino server (default 2)")
    parser.add_argument("--concurrency", type=int, default=8,
                        help="clients creating the member ports at once (default 8)")
    parser.add_argument("--timeout", type=float, default=30.0,
                        help="seconds an operation may take to reach NB (default 30)")
    parser.add_argument("--output", default="bench-sg.json", help="JSON result path")


class NbChanges:
    """When each rule's ACL appeared in and left NB, and when each LSP last joined and
    left each Port_Group, as an NB monitor sees them (monotonic clock)."""

    def __init__(self, nb_remote: str) -> None:
        helper = fetch_schema(nb_remote, "OVN_Northbound", {
            "ACL": ["external_ids"], "Port_Group": ["name", "ports"],
            "Logical_Switch_Port": ["name"]})
        self.changed = threading.Condition()
        self.acl_added: dict[str, float] = {}
        self.acl_removed: dict[str, float] = {}
        #: (port group name, LSP name) -> when it last joined / left.
        self.joined: dict[tuple[str, str], float] = {}
        self.left: dict[tuple[str, str], float] = {}
        self._rule_of: dict[uuid.UUID, str] = {}
        #: Port group name -> its members' LSP uuids.
        self._members: dict[str, set[uuid.UUID]] = {}
        self._group_name: dict[uuid.UUID, str] = {}
        self._lsp_name: dict[uuid.UUID, str] = {}
        self.idl = TrackedIdl(nb_remote, helper, self._on_row)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=run_until, args=(self.idl, self._stop),
                                        name="watch-nb-groups", daemon=True)
        self._thread.start()

    def _on_row(self, event: str, row: ovs.db.idl.Row, _old: Any) -> None:
        now = time.monotonic()
        table = row._table.name  # noqa: SLF001 - the IDL has no public name for it
        with self.changed:
            if table == "Logical_Switch_Port" and event != ovs.db.idl.ROW_DELETE:
                self._lsp_name[row.uuid] = row_value(row, "name")
            elif table == "ACL":
                self._acl(event, row, now)
            elif table == "Port_Group":
                self._group(event, row, now)
            self.changed.notify_all()

    def _acl(self, event: str, row: ovs.db.idl.Row, now: float) -> None:
        if event == ovs.db.idl.ROW_CREATE:
            rule = row_map(row, "external_ids").get(keys.SECURITY_GROUP_RULE_ID)
            if rule is not None:
                self._rule_of[row.uuid] = rule
                self.acl_added[rule] = now
        elif event == ovs.db.idl.ROW_DELETE and row.uuid in self._rule_of:
            self.acl_removed[self._rule_of.pop(row.uuid)] = now

    def _group(self, event: str, row: ovs.db.idl.Row, now: float) -> None:
        if event == ovs.db.idl.ROW_DELETE:
            self._members.pop(self._group_name.pop(row.uuid, ""), None)
            return
        name = self._group_name[row.uuid] = row_value(row, "name")
        before = self._members.get(name, set())
        after = self._members[name] = ref_uuids(row, "ports")
        for members, when in ((after - before, self.joined), (before - after, self.left)):
            for member in members:
                when[(name, self._lsp_name.get(member, str(member)))] = now

    def has_members(self, group: str, count: int) -> bool:
        with self.changed:
            return len(self._members.get(group, ())) == count

    def wait(self, seen: Callable[[], float | None], timeout: float) -> float:
        """When ``seen()`` (called under the lock) first returns a time, or TimeoutError."""
        with self.changed:
            if not self.changed.wait_for(lambda: seen() is not None, timeout):
                raise TimeoutError
            found = seen()
            assert found is not None
            return found

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.idl.close()


class Group:
    """A security group with its members, and what was measured on it."""

    def __init__(self, api: httpx.Client, name: str, members: int) -> None:
        self.api = api
        self.size = members
        self.id: str = api.post("/v2.0/security-groups", json={"security_group": {
            "name": name}}).raise_for_status().json()["security_group"]["id"]
        self.port_group = acls.port_group_name(self.id)
        #: Operation -> (ms until in NB, ms of the API call) of each measurement.
        self.times: dict[str, list[tuple[float, float]]] = {op: [] for op in OPERATIONS}
        #: The port that joins and leaves the group (set by :func:`fill`).
        self.outsider = ""


def fill(api: httpx.Client, network_id: str, groups: list[Group], concurrency: int,
         progress: report.Progress) -> None:
    """Each group's member ports, and one port outside it that will join and leave."""
    wanted = [(g, [g.id]) for g in groups for _ in range(g.size)] + [(g, []) for g in groups]
    progress.start(f"create {len(wanted)} ports", len(wanted))

    def create(item: tuple[Group, list[str]]) -> None:
        group, security_groups = item
        port = api.post("/v2.0/ports", json={"port": {
            "network_id": network_id, "security_groups": security_groups}}
        ).raise_for_status().json()["port"]
        if not security_groups:
            group.outsider = port["id"]

    with ThreadPoolExecutor(concurrency) as pool:
        for done, _ in enumerate(pool.map(create, wanted), 1):
            progress.update(done, len(wanted))
    progress.done()


def measure_once(api: httpx.Client, nb: NbChanges, group: Group, i: int,
                 timeout: float) -> None:
    """Each operation once on *group*, the i-th time (rule i is for TCP port 1000 + i)."""
    def timed(op: str, call: Callable[[], httpx.Response],
              seen: Callable[[httpx.Response, float], float | None]) -> httpx.Response:
        """Make the call; wait until ``seen(response, started)`` says when NB had it."""
        started = time.monotonic()
        response = call().raise_for_status()
        answered = time.monotonic()
        try:
            in_nb = nb.wait(lambda: seen(response, started), timeout)
        except TimeoutError:
            raise TimeoutError(f"{op} #{i} on the group of {group.size} ports: not in NB "
                               f"{timeout:g} s after the call") from None
        group.times[op].append(((in_nb - started) * 1000, (answered - started) * 1000))
        return response

    def since(table: dict[tuple[str, str], float], started: float) -> float | None:
        """When the outsider last joined or left the group, if it was after *started*."""
        when = table.get((group.port_group, group.outsider))
        return when if when is not None and when >= started else None

    rule = timed(RULE_ADD, lambda: api.post("/v2.0/security-group-rules", json={
        "security_group_rule": {"security_group_id": group.id, "direction": "ingress",
                                "protocol": "tcp", "port_range_min": 1000 + i,
                                "port_range_max": 1000 + i}}),
        lambda r, _: nb.acl_added.get(r.json()["security_group_rule"]["id"])
    ).json()["security_group_rule"]
    timed(RULE_DELETE, lambda: api.delete(f"/v2.0/security-group-rules/{rule['id']}"),
          lambda _, __: nb.acl_removed.get(rule["id"]))
    port = f"/v2.0/ports/{group.outsider}"
    timed(JOIN, lambda: api.put(port, json={"port": {"security_groups": [group.id]}}),
          lambda _, started: since(nb.joined, started))
    timed(LEAVE, lambda: api.put(port, json={"port": {"security_groups": []}}),
          lambda _, started: since(nb.left, started))


def summary(groups: list[Group]) -> dict[str, Any]:
    """Per operation and group size: p50/p99 until in NB and of the API call, and the big
    group's p50 over the baseline's."""
    baseline, big = groups[0], groups[-1]
    result: dict[str, Any] = {}
    for op in OPERATIONS:
        sizes = {}
        for group in groups:
            to_nb = [t[0] for t in group.times[op]]
            call = [t[1] for t in group.times[op]]
            sizes[str(group.size)] = {
                "count": len(to_nb),
                "p50_ms": round(report.percentile(to_nb, 50), 2),
                "p99_ms": round(report.percentile(to_nb, 99), 2),
                "api_p50_ms": round(report.percentile(call, 50), 2),
                "api_p99_ms": round(report.percentile(call, 99), 2)}
        result[op] = {"by_members": sizes, "p50_vs_baseline": report.ratio(
            sizes[str(big.size)]["p50_ms"], sizes[str(baseline.size)]["p50_ms"])}
    return result


def check_targets(results: dict[str, Any], members: int) -> list[dict[str, Any]]:
    checks = []
    for op, result in results.items():
        p50 = result["by_members"][str(members)]["p50_ms"]
        ratio = result["p50_vs_baseline"]
        checks.append({"operation": op, "target": f"p50 ms with {members} members",
                       "value": p50, "limit": f"<= {P50_TARGET_MS:g}", "ok": p50 <= P50_TARGET_MS})
        checks.append({"operation": op, "target": "p50 / baseline p50", "value": ratio,
                       "limit": f"<= {RATIO_TARGET:g}",
                       "ok": ratio is not None and ratio <= RATIO_TARGET})
    return checks


def run(args: argparse.Namespace) -> int:
    progress = report.Progress()
    with (tempfile.TemporaryDirectory(prefix="nt-sg-") as tmp,
          Sandbox(progress=progress.note) as sb):
        sb.start_central()
        server = ovn_server(Path(tmp), sb, args.workers).start(timeout=120)
        nb = NbChanges(sb.nb_remote)
        try:
            with httpx.Client(base_url=server.url, timeout=60) as api:
                net = api.post("/v2.0/networks", json={"network": {"name": "bench-sg"}}
                               ).raise_for_status().json()["network"]
                api.post("/v2.0/subnets", json={"subnet": {
                    "network_id": net["id"], "cidr": CIDR, "ip_version": 4}}).raise_for_status()
                groups = [Group(api, f"bench-{n}", n)
                          for n in (args.baseline_members, args.members)]
                fill(api, net["id"], groups, args.concurrency, progress)
                for group in groups:
                    wait_for(functools.partial(nb.has_members, group.port_group, group.size), 120,
                             f"{group.size} members of {group.port_group} in NB")
                progress.start(f"measure {len(OPERATIONS)} operations x {args.repeat} on "
                               f"groups of {args.baseline_members} and {args.members}",
                               args.repeat)
                for group in groups:  # a first pass, not counted: each worker warms up
                    measure_once(api, nb, group, args.repeat, args.timeout)
                    group.times = {op: [] for op in OPERATIONS}
                for i in range(args.repeat):
                    for group in groups:
                        measure_once(api, nb, group, i, args.timeout)
                    progress.update(i + 1, args.repeat)
                progress.done()
        except TimeoutError as e:
            raise SystemExit(f"{e}; the server's log ends:\n{server.log_tail(60)}") from None
        finally:
            nb.stop()
            server.stop()
    results = summary(groups)
    targets = check_targets(results, args.members)
    rows = [[op, members, s["count"], s["p50_ms"], s["p99_ms"], s["api_p50_ms"],
             s["api_p99_ms"], r["p50_vs_baseline"] if members == str(args.members) else 1.0]
            for op, r in results.items() for members, s in r["by_members"].items()]
    print(f"\nneutrino bench sg: {args.repeat} x each operation, groups of "
          f"{args.baseline_members} (baseline) and {args.members} ports")
    print(report.format_table(["operation", "members", "count", "to NB p50 ms", "p99 ms",
                               "API call p50 ms", "p99 ms", "p50 x baseline"], rows))
    print(report.format_table(["operation", "target", "value", "limit", "ok"],
                              [[t["operation"], t["target"], t["value"], t["limit"], t["ok"]]
                               for t in targets]))
    report.write_json(args.output, {"bench": "sg", "machine": report.machine(),
                                    "settings": vars(args), "results": results,
                                    "targets": targets})
    print(f"wrote {args.output}")
    return 0
