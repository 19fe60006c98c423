"""The agents (``/v2.0/agents``) as Neutron's OVN driver presents them.

One "OVN Controller agent" per chassis (id = chassis name, binary
``ovn-controller``) and, where Neutrino's plug agent reports in SB, one
"Neutrino plug agent" beside it.  ``alive`` comes from the heartbeat rule in
:mod:`neutrino.ovn.chassis`; a plug agent is never alive on a dead chassis.
Deleting one deletes what it registered in SB (:class:`ForgetAgent`).
"""
from __future__ import annotations

import datetime
import uuid
from typing import Any

from ovsdbapp.backend.ovs_idl import command, idlutils

from neutrino.ovn.chassis import ChassisDirectory, ChassisInfo
from neutrino.plugproto import AGENT_PREFIX

CONTROLLER_TYPE = "OVN Controller agent"
CONTROLLER_GATEWAY_TYPE = "OVN Controller Gateway agent"
PLUG_AGENT_TYPE = "Neutrino plug agent"
PLUG_AGENT_BINARY = "neutrino-plug-agent"
_PLUG_AGENT_NAMESPACE = uuid.UUID("5d0a4b7e-3c1f-4f7e-9a55-2f6b7f0e8c11")


def _now() -> str:
    return datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%d %H:%M:%S")


def availability_zones(chassis: ChassisInfo) -> list[str]:
    """From ``ovn-cms-options`` ``availability-zones=az1:az2``, as Neutron reads them."""
    prefix = "availability-zones="
    for option in chassis.cms_options:
        if option.startswith(prefix):
            return [az.strip() for az in option[len(prefix):].split(":") if az.strip()]
    return []


def _common(chassis: ChassisInfo) -> dict[str, Any]:
    return {
        "host": chassis.hostname,
        "availability_zone": ", ".join(availability_zones(chassis)),
        "topic": "n/a",
        "admin_state_up": True,
        "start_flag": True,
        "heartbeat_timestamp": _now(),
        "created_at": None,
        "started_at": None,
        "resources_synced": None,
    }


def controller_agent(chassis: ChassisInfo, alive: bool) -> dict[str, Any]:
    gateway = "enable-chassis-as-gw" in chassis.cms_options
    return {
        **_common(chassis),
        "id": chassis.name,
        "agent_type": CONTROLLER_GATEWAY_TYPE if gateway else CONTROLLER_TYPE,
        "binary": "ovn-controller",
        "description": "",
        "alive": alive,
        "configurations": {
            "chassis_name": chassis.name,
            "bridge-mappings": ",".join(f"{p}:{b}" for p, b in
                                        sorted(chassis.bridge_mappings.items())),
            "datapath-type": chassis.datapath_type,
            "iface-types": chassis.other_config.get("iface-types", ""),
            "ovn-cms-options": ",".join(chassis.cms_options),
            "card-serial-numbers": sorted(chassis.card_serials),
        },
    }


def _timestamp(unix: Any) -> str | None:
    try:
        moment = datetime.datetime.fromtimestamp(float(unix), datetime.UTC)
    except (TypeError, ValueError, OverflowError):
        return None
    return moment.strftime("%Y-%m-%d %H:%M:%S")


def plug_agent_id(chassis_name: str) -> str:
    """The plug agent's agent id: stable for its chassis, unlike its process."""
    return str(uuid.uuid5(_PLUG_AGENT_NAMESPACE, chassis_name))


def plug_agent(chassis: ChassisInfo, alive: bool) -> dict[str, Any] | None:
    agent = chassis.plug_agent
    if agent is None:
        return None
    return {
        **_common(chassis),
        "id": plug_agent_id(chassis.name),
        "agent_type": PLUG_AGENT_TYPE,
        "binary": PLUG_AGENT_BINARY,
        "description": "",
        "alive": alive,
        "heartbeat_timestamp": _timestamp(agent.heartbeat),
        "started_at": _timestamp(agent.info.get("started_at")),
        "configurations": {
            "chassis_name": chassis.name,
            "version": agent.info.get("version"),
            "heartbeat_interval": agent.interval,
            "providers": agent.info.get("providers", {}),
            "plug_errors": len(chassis.plug_errors),
        },
    }


def list_agents(directory: ChassisDirectory) -> list[dict[str, Any]]:
    agents = []
    for chassis in directory.all():
        agents.append(controller_agent(chassis, directory.alive(chassis.name)))
        plug = plug_agent(chassis, directory.plug_agent_alive(chassis.name))
        if plug is not None:
            agents.append(plug)
    return agents


class ForgetAgent(command.BaseCommand):
    """Delete an agent's registration from SB, as Neutron's OVN driver does: a controller
    agent's ``Chassis`` and ``Chassis_Private`` rows, a plug agent's report keys in its
    chassis's ``Chassis_Private``.  A running ovn-controller registers its chassis again
    at once, a running plug agent reports again at its next heartbeat: only a dead
    agent stays gone.  ``result``: whether it found the agent."""

    def __init__(self, api: Any, agent_id: str) -> None:
        super().__init__(api)
        self.agent_id = agent_id

    def run_idl(self, txn: Any) -> None:
        self.result = False
        for chassis in list(self.api.tables["Chassis"].rows.values()):
            private = next(idlutils.rows_by_value(self.api.idl, "Chassis_Private", "name",
                                                  chassis.name), None)
            if self.agent_id == chassis.name:
                chassis.delete()
                if private is not None:
                    private.delete()
                self.result = True
            elif self.agent_id == plug_agent_id(chassis.name) and private is not None:
                for key in [k for k in private.external_ids if k.startswith(AGENT_PREFIX)]:
                    private.delkey("external_ids", key)
                self.result = True
