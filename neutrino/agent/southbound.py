"""The part of the OVN Southbound database this chassis needs, and nothing more.

The agent monitors, with server-side conditions:

* its own ``Chassis`` and ``Chassis_Private`` rows (by ``system-id``);
* ``Port_Binding`` rows whose ``requested_chassis`` (or
  ``requested_additional_chassis``) is this chassis, or whose
  ``options:requested-chassis`` names it - the latter covers the moments when
  northd has not (re)resolved the column yet, e.g. while ovn-controller
  re-creates its Chassis row, so those ports are never mistaken for gone.

A port binding outside these conditions is, for this chassis, not there.
"""
from __future__ import annotations

import enum
import uuid
from typing import Any

import ovs.db.idl

from neutrino.agent.idl import TrackedIdl, ref_uuids, row_map, row_value
from neutrino.plugproto import REQUESTED_CHASSIS


class CanBind(enum.Enum):
    """``lport_can_bind_on_this_chassis`` of ovn-controller."""

    NO = 0
    MAIN = 1
    ADDITIONAL = 2


class SouthboundState:
    """Indexes over the monitored SB rows plus the logical ports that changed."""

    def __init__(self, system_id: str) -> None:
        self.system_id = system_id
        self.idl: TrackedIdl | None = None
        self.pb_by_name: dict[str, uuid.UUID] = {}
        self._name_of_pb: dict[uuid.UUID, str] = {}
        self.dirty: set[str] = set()
        self.chassis_changed = True
        #: The Port_Binding condition last set, to know when it is acknowledged.
        self.pb_condition: list[Any] = []

    def on_row(self, event: str, row: ovs.db.idl.Row, old: Any) -> None:
        table = row._table.name  # noqa: SLF001 - an ovs Row's table has no public name
        if table == "Port_Binding":
            if not _claim_only(event, old):
                self._on_pb(event, row)
        elif table == "Chassis":
            self.chassis_changed = True

    def _on_pb(self, event: str, row: ovs.db.idl.Row) -> None:
        old_name = self._name_of_pb.pop(row.uuid, None)
        if old_name is not None:
            if self.pb_by_name.get(old_name) == row.uuid:
                del self.pb_by_name[old_name]
            self.dirty.add(old_name)
        if event == ovs.db.idl.ROW_DELETE:
            return
        name = row_value(row, "logical_port")
        self.pb_by_name[name] = row.uuid
        self._name_of_pb[row.uuid] = name
        self.dirty.add(name)

    def rebuild(self) -> None:
        assert self.idl is not None
        self.pb_by_name.clear()
        self._name_of_pb.clear()
        for row in self.idl.tables["Port_Binding"].rows.values():
            self._on_pb(ovs.db.idl.ROW_CREATE, row)
        self.dirty.clear()

    def take_dirty(self) -> set[str]:
        dirty, self.dirty = self.dirty, set()
        return dirty

    # -- rows ----------------------------------------------------------------
    def chassis(self) -> ovs.db.idl.Row | None:
        return self._named("Chassis")

    def chassis_private(self) -> ovs.db.idl.Row | None:
        return self._named("Chassis_Private")

    def nb_cfg(self) -> int:
        """The last ``nb_cfg`` ovn-controller answered (0: none yet)."""
        row = self.chassis_private()
        return int(row_value(row, "nb_cfg") or 0) if row is not None else 0

    def _named(self, table: str) -> ovs.db.idl.Row | None:
        if self.idl is None:
            return None
        for row in self.idl.tables[table].rows.values():
            if row_value(row, "name") == self.system_id:
                return row
        return None

    def port_binding(self, lport: str) -> ovs.db.idl.Row | None:
        pb_uuid = self.pb_by_name.get(lport)
        if pb_uuid is None or self.idl is None:
            return None
        return self.idl.tables["Port_Binding"].rows.get(pb_uuid)

    def lport_names(self) -> set[str]:
        return set(self.pb_by_name)

    # -- conditions ------------------------------------------------------------
    def update_conditions(self, chassis: ovs.db.idl.Row | None) -> None:
        """Point the server-side conditions at this chassis (name, hostname, row)."""
        assert self.idl is not None
        by_name = [["name", "==", self.system_id]]
        self.idl.cond_change("Chassis", by_name)
        self.idl.cond_change("Chassis_Private", by_name)
        names = {self.system_id}
        if chassis is not None and row_value(chassis, "hostname"):
            names.add(row_value(chassis, "hostname"))
        cond: list[Any] = [["options", "includes", ["map", [[REQUESTED_CHASSIS, n]]]]
                           for n in sorted(names)]
        if chassis is not None:
            ref = ["uuid", str(chassis.uuid)]
            cond.append(["requested_chassis", "==", ref])
            if "requested_additional_chassis" in self.idl.tables["Port_Binding"].columns:
                cond.append(["requested_additional_chassis", "includes", ref])
        self.pb_condition = cond
        self.idl.cond_change("Port_Binding", cond)

    def loaded_for(self, chassis: ovs.db.idl.Row | None) -> bool:
        """The SB view is complete for this chassis: connected, loaded, and the
        Port_Binding condition in force names the current Chassis row."""
        assert self.idl is not None
        if chassis is None or not self.idl.loaded():
            return False
        ref = ["requested_chassis", "==", ["uuid", str(chassis.uuid)]]
        return ref in self.pb_condition and self.idl.condition_acked("Port_Binding",
                                                                     self.pb_condition)


def _claim_only(event: str, old: Any) -> bool:
    """An update of ``chassis`` alone: ovn-controller claiming or releasing the port. No
    plan depends on it (the install watch reads it when it needs it), so it costs no
    pass."""
    return (event == ovs.db.idl.ROW_UPDATE and old is not None
            and set(old._data) == {"chassis"})  # noqa: SLF001 - the changed columns


def claimed_here(pb: ovs.db.idl.Row, chassis: ovs.db.idl.Row) -> bool:
    """ovn-controller on *chassis* has claimed the port."""
    return chassis.uuid in ref_uuids(pb, "chassis")


def can_bind(pb: ovs.db.idl.Row, chassis: ovs.db.idl.Row) -> CanBind:
    """Whether ``pb`` may be bound on ``chassis``, exactly as ovn-controller decides
    (``lport_can_bind_on_this_chassis``): the resolved columns first, then the
    ``requested-chassis`` option by chassis name or hostname."""
    if chassis.uuid in ref_uuids(pb, "requested_chassis"):
        return CanBind.MAIN
    if chassis.uuid in ref_uuids(pb, "requested_additional_chassis"):
        return CanBind.ADDITIONAL
    option = row_map(pb, "options").get(REQUESTED_CHASSIS, "")
    if not option:
        return CanBind.MAIN
    result = CanBind.MAIN
    names = (row_value(chassis, "name"), row_value(chassis, "hostname"))
    for token in (t for t in option.split(",") if t):
        if token in names:
            return result
        result = CanBind.ADDITIONAL
    return CanBind.NO


def requested_here(pb: ovs.db.idl.Row, chassis: ovs.db.idl.Row) -> bool:
    """Plugging needs the resolved column to name this chassis (the option alone
    never plugs, as in ovn-controller)."""
    return chassis.uuid in ref_uuids(pb, "requested_chassis")


def is_vif(pb: ovs.db.idl.Row) -> bool:
    """A plain VIF: empty type and no parent port (not a container port)."""
    return row_value(pb, "type") == "" and not row_value(pb, "parent_port")
