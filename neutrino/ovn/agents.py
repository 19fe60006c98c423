"""The agents listing (``GET /v2.0/agents``) as Neutron's OVN driver presents it.

One "OVN Controller agent" per chassis (id = chassis name, binary
``ovn-controller``) and, where Neutrino's plug agent reports in SB, one
"Neutrino plug agent" beside it.  ``alive`` comes from the heartbeat rule in
:mod:`neutrino.ovn.chassis`; a plug agent is never alive on a dead chassis.
"""
from __future__ import annotations

import datetime
import uuid
from typing import Any

from neutrino.ovn.chassis import ChassisDirectory, ChassisInfo

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


def plug_agent(chassis: ChassisInfo, alive: bool) -> dict[str, Any] | None:
    agent = chassis.plug_agent
    if agent is None:
        return None
    return {
        **_common(chassis),
        "id": str(uuid.uuid5(_PLUG_AGENT_NAMESPACE, chassis.name)),
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
