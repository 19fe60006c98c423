"""Reading OVN databases the independent way (``ovn-nbctl``/``ovn-sbctl --format=json``),
small waits on the core, and the dual-stack network labs start from, for the OVN backend
tests."""
from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for


def _atom(value: Any) -> Any:
    """OVSDB JSON (RFC 7047) -> Python: maps to dicts, sets to lists, uuids to strings."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, data = value
        if kind == "map":
            return {_atom(k): _atom(v) for k, v in data}
        if kind == "set":
            return [_atom(v) for v in data]
        if kind in ("uuid", "named-uuid"):
            return data
    return value


def rows(ctl: Callable[..., str], table: str, *records: str) -> list[dict[str, Any]]:
    out = json.loads(ctl("--format=json", "list", table, *records))
    return [{h: _atom(v) for h, v in zip(out["headings"], row, strict=True)} for row in out["data"]]


def nb_rows(ovn: Sandbox, table: str, *records: str) -> list[dict[str, Any]]:
    return rows(ovn.nbctl, table, *records)


def nb_row(ovn: Sandbox, table: str, record: str) -> dict[str, Any] | None:
    found = rows(ovn.nbctl, table) if table == "DHCP_Options" else \
        [r for r in rows(ovn.nbctl, table) if r.get("name") == record]
    if table == "DHCP_Options":
        found = [r for r in found if r["external_ids"].get("neutrino:subnet_id") == record
                 and "neutrino:port_id" not in r["external_ids"]]
    return found[0] if found else None


def lsp(ovn: Sandbox, port_id: str) -> dict[str, Any] | None:
    return nb_row(ovn, "Logical_Switch_Port", port_id)


def switch(ovn: Sandbox, network_id: str) -> dict[str, Any] | None:
    return nb_row(ovn, "Logical_Switch", f"neutrino-{network_id}")


def switch_port_names(ovn: Sandbox, network_id: str) -> set[str]:
    ls = switch(ovn, network_id)
    if ls is None:
        return set()
    ports = ls["ports"] if isinstance(ls["ports"], list) else [ls["ports"]]
    return {r["name"] for r in nb_rows(ovn, "Logical_Switch_Port") if r["_uuid"] in ports}


def one(value: Any) -> Any:
    """An optional column's value: ``[]`` -> None, ``[x]``/``x`` -> x."""
    if isinstance(value, list):
        return value[0] if value else None
    return value


def plug(chassis: Any, ifname: str, port_id: str) -> None:
    chassis.vsctl("add-port", "br-int", ifname, "--", "set", "Interface", ifname,
                  "type=internal", f"external_ids:iface-id={port_id}")


def unplug(chassis: Any, ifname: str) -> None:
    chassis.vsctl("del-port", "br-int", ifname)


def port_status(plugin: Plugin, port_id: str) -> tuple[str, str | None]:
    port = plugin.port_without_binding(port_id)
    assert port is not None
    return port["status"], port["status_reason"]


def wait_port(plugin: Plugin, port_id: str, status: str, reason: str | None = None,
              timeout: float = 10.0) -> float:
    """Wait until the port has ``status`` (and ``reason`` if given); seconds it took."""
    start = time.monotonic()

    def check() -> bool:
        got = port_status(plugin, port_id)
        return got[0] == status and (reason is None or got[1] == reason)
    try:
        wait_for(check, timeout, f"port {port_id} {status} {reason or ''}", interval=0.02)
    except Exception as e:
        raise AssertionError(f"port {port_id} is {port_status(plugin, port_id)}, "
                             f"wanted {status} {reason!r}") from e
    return time.monotonic() - start


def wait_network(plugin: Plugin, network_id: str, status: str, timeout: float = 10.0) -> None:
    wait_for(lambda: plugin.get_network(ADMIN, network_id)["status"] == status, timeout,
             f"network {network_id} {status}", interval=0.02)


class DualStackLab:
    """A network (*network*'s attributes) with an IPv4 subnet, 10.0.0.0/24 (gateway
    10.0.0.1), and a DHCPv6-stateful one, 2001:db8::/64: what a test lab adds ports to."""

    def __init__(self, core: Plugin, ovn: Sandbox, **network: Any) -> None:
        self.core, self.ovn = core, ovn
        self.net = core.create_network(ADMIN, network)
        self.v4 = core.create_subnet(ADMIN, {"network_id": self.net["id"],
                                             "cidr": "10.0.0.0/24", "ip_version": 4})
        self.v6 = core.create_subnet(ADMIN, {"network_id": self.net["id"],
                                             "cidr": "2001:db8::/64", "ip_version": 6,
                                             "ipv6_address_mode": "dhcpv6-stateful",
                                             "ipv6_ra_mode": "dhcpv6-stateful"})
