"""What a port's or network's status is, and why it is not ACTIVE (S3, S4): a pure decision table.

The status worker (``neutrino.ovn.status``) feeds it the facts of one
Logical_Switch_Port and the chassis directory; nothing here reads a database
or keeps state, so every row of the table is tested on its own.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from neutrino.drivers.api import VIF_TYPE_BINDING_FAILED
from neutrino.drivers.status import ACTIVE, BUILD, DOWN, NO_HOST
from neutrino.ovn import keys
from neutrino.ovn.chassis import ChassisInfo
from neutrino.plugproto import REQUESTED_CHASSIS, VIF_PLUG_TYPE

NB_UNREACHABLE = "OVN northbound unreachable"
WAITING_FOR_PORT = "waiting for OVN northbound to create the logical switch port"
WAITING_FOR_SWITCH = "waiting for OVN northbound to create the logical switch"
ADMIN_DOWN = "admin_state_up is false"
NOT_PRESENT = "interface not present on chassis"
#: A port its chassis's plug agent plugs: the interface may well be there (plugged, not
#: installed by ovn-controller yet), so "not present" would not be true.
NOT_INSTALLED = "waiting for the interface to be plugged and installed on chassis"
SB_UNKNOWN = "waiting for OVN southbound (chassis not known yet)"

Status = tuple[str, "str | None"]


@dataclass(frozen=True)
class LspView:
    """The facts of one Logical_Switch_Port that decide its port's status."""

    port_id: str
    up: bool
    enabled: bool
    requested_chassis: str
    vif_type: str
    vnic_type: str
    plug_type: str

    @classmethod
    def of(cls, row: Any) -> LspView:
        """From an LSP (an IDL row or its :class:`~neutrino.ovn.nbcache.LspRow` copy)."""
        ext = row.external_ids
        return cls(port_id=ext.get(keys.PORT_ID, row.name),
                   up=row.up == [True],
                   enabled=row.enabled != [False],
                   requested_chassis=row.options.get(REQUESTED_CHASSIS, ""),
                   vif_type=ext.get(keys.VIF_TYPE, ""),
                   vnic_type=ext.get(keys.VNIC_TYPE, keys.VNIC_NORMAL),
                   plug_type=row.options.get(VIF_PLUG_TYPE, ""))


class Directory(Protocol):
    """What the table asks the chassis directory (``neutrino.ovn.chassis.ChassisDirectory``)."""

    @property
    def synced(self) -> bool: ...

    def by_host(self, host: str) -> ChassisInfo | None: ...

    def alive(self, name: str) -> bool: ...

    def plug_agent_alive(self, name: str) -> bool: ...


def port_status(view: LspView | None, directory: Directory,
                binding_reason: str | None = None) -> Status:
    """The status a port has, and why it is not ACTIVE; first match wins."""
    if view is None:
        return BUILD, WAITING_FOR_PORT
    if not view.enabled:
        return DOWN, ADMIN_DOWN
    if view.vif_type == VIF_TYPE_BINDING_FAILED:
        return DOWN, binding_reason or "binding failed"
    if view.up:
        return ACTIVE, None
    name = view.requested_chassis
    if not name:
        return DOWN, binding_reason or NO_HOST
    if not directory.synced:
        return DOWN, SB_UNKNOWN
    chassis = directory.by_host(name)
    if chassis is None:
        return DOWN, f"no chassis with hostname or name '{name}'"
    if not directory.alive(chassis.name):
        return DOWN, f"chassis '{chassis.name}' is down"
    error = chassis.plug_errors.get(view.port_id)
    if error:
        return DOWN, f"plug agent on chassis '{chassis.name}': {error}"
    if view.plug_type and chassis.plug_agent is None:
        # Never started, or stopped cleanly (it withdraws its report): nobody will plug.
        return DOWN, f"no plug agent running on chassis '{chassis.name}'"
    if view.plug_type and not directory.plug_agent_alive(chassis.name):
        return DOWN, f"plug agent on chassis '{chassis.name}' is down"
    if view.plug_type:
        return DOWN, f"{NOT_INSTALLED} '{chassis.name}'"
    return DOWN, f"{NOT_PRESENT} '{chassis.name}'"


def network_status(exists: bool) -> Status:
    """A network is ACTIVE once its logical switch exists."""
    return (ACTIVE, None) if exists else (BUILD, WAITING_FOR_SWITCH)
