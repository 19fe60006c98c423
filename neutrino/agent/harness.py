"""Run a plug agent beside a sandbox chassis and read back what it did.

Shared by the tests, the provider conformance suite and ``neutrino bench plug``:
an in-process agent thread for one chassis, and a snapshot of the interfaces
on its integration bridge in the terms the reference comparison uses.
"""
from __future__ import annotations

import json
import threading
from dataclasses import dataclass
from typing import Any

from neutrino.agent.agent import Agent, AgentConfig
from neutrino.agent.registry import ProviderRegistry
from neutrino.sandbox import Chassis
from neutrino.sandbox.wait import wait_for


class AgentThread:
    """An :class:`Agent` for ``chassis`` running in a daemon thread."""

    def __init__(self, chassis: Chassis, registry: ProviderRegistry | None = None,
                 **config: Any) -> None:
        self.chassis = chassis
        if registry is None:
            config.setdefault("providers", ["dummy"])
        self.agent = Agent(AgentConfig(ovs_remote=chassis.ovs_remote, **config), registry)
        self._thread = threading.Thread(target=self._run, name=f"agent-{chassis.name}",
                                        daemon=True)
        self.error: BaseException | None = None

    def _run(self) -> None:
        try:
            self.agent.run()
        except BaseException as exc:  # surfaced by stop() so tests see it
            self.error = exc
            raise

    def start(self) -> AgentThread:
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        self.agent.stop()
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise RuntimeError("plug agent did not stop")
        if self.error is not None:
            raise RuntimeError("plug agent crashed") from self.error

    def wait_unplug_enabled(self, timeout: float = 10.0) -> None:
        """Wait until both databases are loaded (the agent may unplug)."""
        wait_for(lambda: self.agent.unplug_enabled, timeout, "agent to load both databases")

    def __enter__(self) -> AgentThread:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


@dataclass(frozen=True)
class PluggedRow:
    """What the reference comparison looks at for one interface."""

    uuid: str
    name: str
    port: str
    type: str
    options: tuple[tuple[str, str], ...]
    mtu_request: int | None
    iface_id: str | None
    ovn_plugged: str | None

    def comparable(self) -> tuple[Any, ...]:
        """Everything but the row UUID, which differs between databases."""
        return (self.name, self.port, self.type, self.options, self.mtu_request,
                self.iface_id, self.ovn_plugged)


def _ovsdb_value(value: Any) -> Any:
    """Decode ovs-vsctl JSON: ["map", [[k, v]]], ["set", []], ["uuid", u], scalars."""
    if isinstance(value, list) and len(value) == 2 and isinstance(value[0], str):
        kind, data = value
        if kind == "map":
            return {k: _ovsdb_value(v) for k, v in data}
        if kind == "set":
            return [_ovsdb_value(v) for v in data]
        if kind == "uuid":
            return data
    return value


def bridge_rows(chassis: Chassis, bridge: str = "br-int") -> dict[str, PluggedRow]:
    """Interfaces of VIF ports on ``bridge`` (with an ``iface-id``), by name."""
    def table(name: str, columns: str) -> list[dict[str, Any]]:
        out = json.loads(chassis.vsctl("--format=json", f"--columns={columns}", "list", name))
        heads = out["headings"]
        return [{h: _ovsdb_value(v) for h, v in zip(heads, row, strict=True)}
                for row in out["data"]]

    bridges = [b for b in table("Bridge", "name,ports") if b["name"] == bridge]
    if not bridges:
        return {}
    ports = bridges[0]["ports"]
    port_ids = set(ports if isinstance(ports, list) else [ports])
    port_of_iface: dict[str, str] = {}
    for port in table("Port", "_uuid,name,interfaces"):
        if port["_uuid"] in port_ids:
            ifaces = port["interfaces"]
            for iface in ifaces if isinstance(ifaces, list) else [ifaces]:
                port_of_iface[iface] = port["name"]
    rows = {}
    for iface in table("Interface", "_uuid,name,type,options,mtu_request,external_ids"):
        ext = iface["external_ids"]
        if iface["_uuid"] not in port_of_iface or "iface-id" not in ext:
            continue
        mtu = iface["mtu_request"]
        rows[iface["name"]] = PluggedRow(
            uuid=iface["_uuid"], name=iface["name"], port=port_of_iface[iface["_uuid"]],
            type=iface["type"], options=tuple(sorted(iface["options"].items())),
            mtu_request=mtu if isinstance(mtu, int) else None,
            iface_id=ext.get("iface-id"), ovn_plugged=ext.get("ovn-plugged"))
    return rows
