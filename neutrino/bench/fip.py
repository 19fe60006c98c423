"""``neutrino bench fip``: floating IP associate to ACTIVE through a real ``neutrino server``.

Issue 16's figure, against a baseline measured in the same run, on a fresh sandbox
(real NB/SB/northd and one gateway chassis with ``ovn-controller``) and SQLite:

* setup, through the API: an external network, a tenant network behind a router
  whose gateway is on it, ``--associations`` instance ports and as many floating
  IPs, none associated; then the bench waits until the router is ACTIVE (the
  gateway chassis claimed its chassis-redirect port).
* measured, one association at a time (so none queues behind another): from just
  before ``PUT /v2.0/floatingips/<id>`` with the port until a client of
  ``GET /v2.0/events`` sees the floating IP ``ACTIVE``.
* baseline: from the same moment until a plain NB monitor sees the floating IP's
  ``dnat_and_snat`` NAT row — the time until OVN holds what Neutron's driver would
  already call ACTIVE.  Neutrino waits for the row to come back to it, and for its
  router's gateway to be claimed, before it says ACTIVE.

Writes a JSON result (``--output``) and prints a table; no target, the ratio is the figure.
"""
from __future__ import annotations

import argparse
import functools
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from neutrino.bench import report
from neutrino.bench.client import EventListener
from neutrino.bench.plug import FirstSeen
from neutrino.bench.server import ovn_server
from neutrino.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for

GATEWAY = "gw1"
#: Room for thousands of floating IPs and instance ports.
EXTERNAL_CIDR = "172.24.0.0/16"
TENANT_CIDR = "10.6.0.0/16"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--associations", type=int, default=200,
                        help="floating IPs associated one after another (default 200)")
    parser.add_argument("--workers", type=int, default=2, help="API workers (default 2)")
    parser.add_argument("--timeout", type=float, default=60.0,
                        help="seconds to wait for any one step (default 60)")
    parser.add_argument("--output", default="bench-fip.json", help="JSON result path")


def watch_nat(nb_remote: str) -> FirstSeen:
    """When a plain NB client first sees each ``dnat_and_snat`` NAT row, by external IP."""
    return FirstSeen(nb_remote, "OVN_Northbound", "NAT", ["type", "external_ip"],
                     lambda r: r.external_ip if r.type == "dnat_and_snat" else None)


def _create(api: httpx.Client, collection: str, body: dict[str, Any]) -> dict[str, Any]:
    resource = collection[:-1]
    return api.post(f"/v2.0/{collection}", json={resource: body}
                    ).raise_for_status().json()[resource]


def setup(api: httpx.Client, count: int, timeout: float,
          progress: report.Progress) -> tuple[list[dict[str, Any]], list[str]]:
    """The routed topology; returns the floating IPs and the instance port ids."""
    external = _create(api, "networks", {"name": "public", "router:external": True})
    _create(api, "subnets", {"network_id": external["id"], "cidr": EXTERNAL_CIDR,
                             "ip_version": 4})
    tenant = _create(api, "networks", {"name": "private"})
    subnet = _create(api, "subnets", {"network_id": tenant["id"], "cidr": TENANT_CIDR,
                                      "ip_version": 4})
    router = _create(api, "routers", {"name": "r", "external_gateway_info": {
        "network_id": external["id"]}})
    api.put(f"/v2.0/routers/{router['id']}/add_router_interface",
            json={"subnet_id": subnet["id"]}).raise_for_status()
    progress.start(f"setup: {count} instance ports and {count} floating IPs", count)
    fips, ports = [], []
    for i in range(count):
        ports.append(_create(api, "ports", {"network_id": tenant["id"], "name": f"vm-{i}"})["id"])
        fips.append(_create(api, "floatingips", {"floating_network_id": external["id"]}))
        progress.update(i + 1, count)
    progress.done()
    wait_for(lambda: api.get(f"/v2.0/routers/{router['id']}").raise_for_status()
             .json()["router"]["status"] == "ACTIVE", timeout, "router ACTIVE")
    return fips, ports


def _seen(fip: dict[str, Any], nat: FirstSeen, events: EventListener) -> bool:
    return bool(events.count({fip["id"]})) and fip["floating_ip_address"] in nat.at


def associate(api: httpx.Client, fips: list[dict[str, Any]], ports: list[str],
              nat: FirstSeen, events: EventListener, timeout: float,
              progress: report.Progress) -> tuple[list[float], list[float], list[float]]:
    """Seconds from each association's request to its NAT row, its 200 and its ACTIVE."""
    to_nat, to_reply, to_active = [], [], []
    progress.start("associate one floating IP at a time", len(fips))
    for i, (fip, port) in enumerate(zip(fips, ports, strict=True)):
        started = time.monotonic()
        api.put(f"/v2.0/floatingips/{fip['id']}",
                json={"floatingip": {"port_id": port}}).raise_for_status()
        to_reply.append(time.monotonic() - started)
        # The watchers timestamp what they see; how often this looks changes no figure.
        wait_for(functools.partial(_seen, fip, nat, events), timeout,
                 f"floating IP {fip['floating_ip_address']} ACTIVE and its NAT row in NB",
                 interval=0.002)
        to_active.append(events.active_at[fip["id"]] - started)
        to_nat.append(nat.at[fip["floating_ip_address"]] - started)
        progress.update(i + 1, len(fips))
    progress.done()
    if events.error is not None:
        raise events.error
    return to_nat, to_reply, to_active


def _ms(values: list[float]) -> dict[str, float]:
    ms = [v * 1000 for v in values]
    return {"p50": round(report.percentile(ms, 50), 1), "p99": round(report.percentile(ms, 99), 1),
            "max": round(max(ms, default=0.0), 1)}


def measure(args: argparse.Namespace, progress: report.Progress) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="nt-fip-") as tmp, \
            Sandbox(progress=progress.note) as sb:
        sb.start_central()
        sb.add_chassis(GATEWAY, hostname=GATEWAY, cms_options="enable-chassis-as-gw")
        with ovn_server(Path(tmp), sb, args.workers) as server, \
                httpx.Client(base_url=server.url, timeout=60) as api:
            fips, ports = setup(api, args.associations, args.timeout, progress)
            nat = watch_nat(sb.nb_remote)
            events = EventListener(server.url, resource="floatingip")
            try:
                wait_for(lambda: nat.idl.state == nat.idl.IDL_S_MONITORING, 30, "NAT monitor")
                to_nat, to_reply, to_active = associate(api, fips, ports, nat, events,
                                                        args.timeout, progress)
            finally:
                events.stop()
                nat.stop()
            statuses = {f["status"] for f in api.get("/v2.0/floatingips").raise_for_status()
                        .json()["floatingips"]}
    nat_ms, active_ms = _ms(to_nat), _ms(to_active)
    return {"associations": len(to_active), "nat_in_nb_ms": nat_ms,
            "put_reply_ms": _ms(to_reply), "active_ms": active_ms,
            "active_after_nat_ms": _ms([a - n for a, n in zip(to_active, to_nat, strict=True)]),
            "ratio": {p: report.ratio(active_ms[p], nat_ms[p]) for p in ("p50", "p99")},
            "final_statuses": sorted(statuses)}


def table(result: dict[str, Any]) -> str:
    fip = result["fip"]
    n = fip["associations"]

    def row(label: str, role: str, key: str) -> tuple[Any, ...]:
        return (label, role, fip[key]["p50"], fip[key]["p99"], fip[key]["max"])
    return report.format_table(["measurement", "role", "p50 ms", "p99 ms", "max ms"], [
        row(f"associate ({n}) -> NAT row in NB", "baseline", "nat_in_nb_ms"),
        row("associate -> PUT answered", "measured", "put_reply_ms"),
        row("associate -> ACTIVE on /v2.0/events", "measured", "active_ms"),
        row("NAT row in NB -> ACTIVE", "measured", "active_after_nat_ms"),
        ("ACTIVE / NAT in NB (ratio)", "", fip["ratio"]["p50"], fip["ratio"]["p99"], None)])


def run(args: argparse.Namespace) -> int:
    progress = report.Progress()
    result: dict[str, Any] = {"bench": "fip", "machine": report.machine(), "args": vars(args)}
    result["fip"] = measure(args, progress)
    report.publish("fip", result, table(result), args.output)
    return 0
