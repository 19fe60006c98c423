"""``neutrino bench failover``: how long a router's gateway is gone when its chassis dies.

Issue 16's "the gateway moves to the next chassis by priority within a few seconds
(measure it)", through a real ``neutrino server`` on a fresh sandbox: ``--gateways``
gateway chassis on the sandbox's underlay (so OVN elects the active one over BFD),
SQLite, a router with a gateway and one associated floating IP.

Each round, once every BFD session is up and the router and floating IP are ACTIVE:

* the chassis that holds the gateway (SB ``Port_Binding`` of ``cr-lrp-…``) crashes:
  its ``ovn-controller`` and ``ovs-vswitchd`` are killed (SIGKILL), as a node dies;
* measured: crash -> another chassis's claim in SB (a plain SB monitor timestamps it),
  and what the API says meanwhile (``GET`` of the router and floating IP every
  ``POLL`` seconds): crash -> first ``DOWN`` (if any) -> ``ACTIVE`` again.  Whether the
  router is seen DOWN at all depends on ``--agent-down-time``: a gateway chassis that
  stops answering is judged down after it, and a claim that moves first leaves the
  router ACTIVE throughout (the server's default, 75 s, as Neutron's);
* then the chassis comes back (``ovs-vswitchd`` and ``ovn-controller`` started again)
  and, OVN's default, takes the gateway back: return -> its claim in SB, and how long
  the API said the router was DOWN during the handover (the other chassis releases
  the gateway before the returning one claims it, so there often is a gap).

Writes a JSON result (``--output``) and prints a table; no target.
"""
from __future__ import annotations

import argparse
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import ovs.db.idl

from neutrino.agent.idl import TrackedIdl, fetch_schema
from neutrino.bench import report
from neutrino.bench.fip import setup
from neutrino.bench.plug import run_until
from neutrino.bench.server import ovn_server
from neutrino.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for

#: Seconds between two reads of the router and floating IP through the API.
POLL = 0.01


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--rounds", type=int, default=10,
                        help="crashes of the gateway chassis, each followed by its return "
                             "(default 10)")
    parser.add_argument("--gateways", type=int, default=3,
                        help="gateway chassis (default 3, the fewest that fail over)")
    parser.add_argument("--agent-down-time", type=float, default=None,
                        help="the server's agent_down_time, its heartbeat a fifth of it "
                             "(default: the server's, 75 s)")
    parser.add_argument("--workers", type=int, default=2, help="API workers (default 2)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for any one step (default 60)")
    parser.add_argument("--output", default="bench-failover.json", help="JSON result path")


class ClaimWatch:
    """When a plain SB client sees each claim of one logical port, per round (claims
    while ``round`` is None, before the first, are not kept)."""

    def __init__(self, sb_remote: str, logical_port: str) -> None:
        self.round: int | None = None
        self._port = logical_port
        self._at: dict[tuple[int, str], float] = {}
        helper = fetch_schema(sb_remote, "OVN_Southbound", {
            "Chassis": ["name"], "Port_Binding": ["logical_port", "chassis"]})
        self.idl = TrackedIdl(sb_remote, helper, self._on_row)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=run_until, args=(self.idl, self._stop),
                                        name="watch-claims", daemon=True)
        self._thread.start()

    def _on_row(self, event: str, row: ovs.db.idl.Row, old: Any) -> None:
        # Chassis rows have no logical_port.
        if (self.round is not None and event != ovs.db.idl.ROW_DELETE
                and getattr(row, "logical_port", None) == self._port and row.chassis):
            self._at.setdefault((self.round, row.chassis[0].name), time.monotonic())

    def at(self, round_: int, chassis: str) -> float | None:
        """When *chassis* was first seen holding the port in round *round_*."""
        return self._at.get((round_, chassis))

    def ready(self) -> bool:
        return bool(self.idl.state == self.idl.IDL_S_MONITORING)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.idl.close()


@dataclass
class ApiWatch:
    """The router's and floating IP's statuses as the API answers them, with when each
    answer changed: ``changes`` of ``(seconds, router status, floating IP status)``."""

    api_url: str
    router_id: str
    fip_id: str
    changes: list[tuple[float, str, str]] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        self._thread = threading.Thread(target=self._run, name="bench-api-watch", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        with httpx.Client(base_url=self.api_url, timeout=30) as api:
            while not self._stop.is_set():
                router = api.get(f"/v2.0/routers/{self.router_id}").json()["router"]
                fip = api.get(f"/v2.0/floatingips/{self.fip_id}").json()["floatingip"]
                now = (time.monotonic(), router["status"], fip["status"])
                if not self.changes or self.changes[-1][1:] != now[1:]:
                    self.changes.append(now)
                self._stop.wait(POLL)

    def since(self, start: float) -> list[tuple[float, str, str]]:
        """Changes from *start* on, times relative to it."""
        return [(t - start, r, f) for t, r, f in self.changes if t >= start]

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(5)


def bfd_settled(sb: Sandbox) -> bool:
    """Every running gateway chassis runs BFD to every other one and all sessions are up:
    until then a chassis may claim the gateway and release it again."""
    running = [c for c in sb.chassis.values() if c.running("controller")]
    return all(sorted(c.bfd_states().values()) == ["up"] * (len(running) - 1)
               for c in running)


def _settled(sb: Sandbox, api: ApiWatch, cr_lrp: str, claimer: str | None = None) -> bool:
    holder = sb.bound_chassis(cr_lrp)
    return (holder is not None and (claimer is None or holder == claimer)
            and bfd_settled(sb) and api.changes[-1][1:] == ("ACTIVE", "ACTIVE"))


def one_round(sb: Sandbox, round_: int, cr_lrp: str, claims: ClaimWatch, api: ApiWatch,
              timeout: float) -> dict[str, Any]:
    """Crash the gateway's chassis, wait for the next to claim and the API to say ACTIVE;
    bring it back and wait until it holds the gateway again."""
    victim = sb.bound_chassis(cr_lrp)
    assert victim is not None
    chassis = sb.chassis[victim]
    claims.round = round_
    crashed = time.monotonic()
    # ovn-controller first: alive a moment longer than its switch, it would see the
    # tunnels go and release the gateway itself, which a node that loses power does not.
    chassis.kill("controller")
    chassis.kill("vswitchd")
    wait_for(lambda: any(claims.at(round_, c) for c in sb.chassis if c != victim), timeout,
             "another chassis claims the gateway")
    successor = next(c for c in sb.chassis if c != victim and claims.at(round_, c))
    wait_for(lambda: api.changes[-1][1:] == ("ACTIVE", "ACTIVE"), timeout, "ACTIVE again")
    during = api.since(crashed)
    claims.round = -round_ - 1  # the return's claims, apart from the crash's
    returned = time.monotonic()
    chassis.start(("vswitchd", "controller"))
    wait_for(lambda: _settled(sb, api, cr_lrp, victim), timeout, f"{victim} claims back")
    claimed_at = claims.at(round_, successor)
    back_at = claims.at(-round_ - 1, victim)
    assert claimed_at is not None and back_at is not None
    down = [t for t, r, _ in during if r != "ACTIVE"]
    handover = api.since(returned)
    gap = [t for t, r, _ in handover if r != "ACTIVE"]
    return {"victim": victim, "successor": successor,
            "claimed_s": claimed_at - crashed,
            "api_down_s": down[0] if down else None,
            "api_active_s": during[-1][0] if down else None,
            "api_during_crash": [list(c) for c in during],
            "claimed_back_s": back_at - returned,
            "api_return_gap_s": handover[-1][0] - gap[0] if gap else None,
            "api_during_return": [list(c) for c in handover]}


def _ms(values: list[float]) -> dict[str, Any]:
    ms = [v * 1000 for v in values]
    return {"n": len(ms), "p50": round(report.percentile(ms, 50), 1) if ms else None,
            "max": round(max(ms), 1) if ms else None}


def measure(args: argparse.Namespace, progress: report.Progress) -> dict[str, Any]:
    if args.gateways < 3:
        # The survivor of two sees no live tunnel: OVN then claims only on the chassis
        # of highest priority, lest an isolated chassis take the gateway.
        raise SystemExit("--gateways: at least 3 (of two, the survivor never claims)")
    with tempfile.TemporaryDirectory(prefix="nt-failover-") as tmp, \
            Sandbox(progress=progress.note) as sb:
        sb.start_central()
        for i in range(1, args.gateways + 1):
            sb.add_chassis(f"gw{i}", cms_options="enable-chassis-as-gw")
        server = ovn_server(Path(tmp), sb, args.workers)
        if args.agent_down_time is not None:
            server.env.update({"NEUTRINO_AGENT_DOWN_TIME": str(args.agent_down_time),
                               "NEUTRINO_HEARTBEAT_INTERVAL": str(args.agent_down_time / 5)})
        with server, httpx.Client(base_url=server.url, timeout=60) as client:
            fips, ports = setup(client, 1, args.timeout, progress)
            client.put(f"/v2.0/floatingips/{fips[0]['id']}",
                       json={"floatingip": {"port_id": ports[0]}}).raise_for_status()
            router = client.get("/v2.0/routers").raise_for_status().json()["routers"][0]
            gateway = client.get("/v2.0/ports", params={
                "device_owner": "network:router_gateway"}).raise_for_status().json()["ports"][0]
            cr_lrp = f"cr-lrp-{gateway['id']}"
            claims = ClaimWatch(sb.sb_remote, cr_lrp)
            api = ApiWatch(server.url, router["id"], fips[0]["id"])
            try:
                wait_for(claims.ready, 30, "SB monitor")
                wait_for(lambda: api.changes and _settled(sb, api, cr_lrp), args.timeout,
                         "BFD up, router and floating IP ACTIVE")
                progress.start(f"{args.rounds} crashes of the gateway chassis", args.rounds)
                rounds = []
                for i in range(args.rounds):
                    rounds.append(one_round(sb, i, cr_lrp, claims, api, args.timeout))
                    progress.update(i + 1, args.rounds)
                progress.done()
            finally:
                api.stop()
                claims.stop()
    went_down = [r for r in rounds if r["api_down_s"] is not None]
    return {"rounds": rounds, "gateways": args.gateways,
            "claimed_elsewhere_ms": _ms([r["claimed_s"] for r in rounds]),
            "api_down_ms": _ms([r["api_down_s"] for r in went_down]),
            "api_active_again_ms": _ms([r["api_active_s"] for r in went_down]),
            "claimed_back_ms": _ms([r["claimed_back_s"] for r in rounds]),
            "api_return_gap_ms": _ms([r["api_return_gap_s"] for r in rounds
                                      if r["api_return_gap_s"] is not None]),
            "rounds_api_down": len(went_down)}


def table(result: dict[str, Any]) -> str:
    f = result["failover"]
    n = len(f["rounds"])

    def row(label: str, key: str) -> tuple[Any, ...]:
        return (label, f[key]["n"], f[key]["p50"], f[key]["max"])
    return report.format_table(["measurement", "rounds", "p50 ms", "max ms"], [
        row("crash -> another chassis claims (SB)", "claimed_elsewhere_ms"),
        row("crash -> API says router DOWN", "api_down_ms"),
        row("crash -> API says ACTIVE again", "api_active_again_ms"),
        row("return -> claims the gateway back (SB)", "claimed_back_ms"),
        row("return: API says router DOWN for", "api_return_gap_ms"),
        (f"API never left ACTIVE during the crash (of {n})", n - f["rounds_api_down"],
         None, None)])


def run(args: argparse.Namespace) -> int:
    progress = report.Progress()
    result: dict[str, Any] = {"bench": "failover", "machine": report.machine(),
                              "args": vars(args)}
    result["failover"] = measure(args, progress)
    report.publish("failover", result, table(result), args.output)
    return 0
