"""Port binding against the chassis directory, and binding:profile validation.

``decide`` is a pure function of the port, its network's segments and the
directory, used both by ``bind_port`` and by the status worker when it asks
"could this failed port bind now?" (a chassis appeared) or "why is it not
bound?" (the status reason), so the reason a client reads is always the one
binding would give right now.
"""
from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from neutrino.drivers.api import VIF_TYPE_OVS, InvalidInput
from neutrino.ovn import keys
from neutrino.ovn.chassis import ChassisDirectory, ChassisInfo

#: vnic types this driver binds.  Neutron's OVN driver also takes SR-IOV
#: "external" ports (which need HA chassis groups) and vhost-user/virtio-forwarder
#: variants; Neutrino refuses them with a reason rather than half-supporting them.
SUPPORTED_VNIC_TYPES = (keys.VNIC_NORMAL, keys.VNIC_REMOTE_MANAGED)
OVERLAY_TYPES = ("geneve", "local")
PHYSNET_TYPES = ("flat", "vlan")
INTEGRATION_BRIDGE = "br-int"

_REMOTE_MANAGED_TYPES: dict[str, tuple[type, ...]] = {
    "pci_vendor_info": (str,),
    "pci_slot": (str,),
    "physical_network": (str, type(None)),
    "card_serial_number": (str,),
    "pf_mac_address": (str,),
    "vf_num": (int,),
}


def validate_profile(port: Mapping[str, Any]) -> None:
    """Reject a binding:profile OVN cannot act on (HTTP 400), as Neutron does.

    A remote-managed port may have an empty profile (created before Nova picks
    a VF); once any of its keys is given, all six are required together.
    """
    profile = port.get("binding:profile") or {}
    if not isinstance(profile, Mapping):
        raise InvalidInput("Invalid binding:profile. It must be a dictionary.")
    if (port.get("binding:vnic_type") or keys.VNIC_NORMAL) == keys.VNIC_REMOTE_MANAGED:
        present = [k for k in keys.REMOTE_MANAGED_KEYS if k in profile]
        if present and len(present) != len(keys.REMOTE_MANAGED_KEYS):
            raise InvalidInput("Invalid binding:profile. "
                               f"{', '.join(keys.REMOTE_MANAGED_KEYS)} are all required.")
        for key in present:
            value = profile[key]
            if not isinstance(value, _REMOTE_MANAGED_TYPES[key]) or isinstance(value, bool):
                raise InvalidInput(f"Invalid binding:profile. {key} {value!r} value invalid type")
    plug_type = profile.get(keys.PROFILE_VIF_PLUG_TYPE)
    if plug_type is not None and (not isinstance(plug_type, str) or not plug_type):
        raise InvalidInput(f"Invalid binding:profile. {keys.PROFILE_VIF_PLUG_TYPE} "
                           "must be a non-empty string.")
    for key, value in profile.items():
        if key.startswith(keys.PROFILE_VIF_PLUG_PREFIX) and not isinstance(value, (str, int)):
            raise InvalidInput(f"Invalid binding:profile. {key} must be a string or an integer.")


@dataclass
class Decision:
    """A binding (segment, vif type, details) or the reasons there is none."""

    chassis: ChassisInfo | None = None
    segment: Mapping[str, Any] | None = None
    vif_type: str = ""
    vif_details: dict[str, Any] = field(default_factory=dict)
    reasons: list[str] = field(default_factory=list)

    @property
    def bound(self) -> bool:
        return self.segment is not None

    @property
    def reason(self) -> str:
        return "; ".join(self.reasons)


def target_chassis(port: Mapping[str, Any], directory: ChassisDirectory) -> tuple[
        ChassisInfo | None, str | None]:
    """The chassis a port must be plugged on, or why there is none.

    A remote-managed port is plugged on the DPU whose ``ovn-cms-options`` carry
    its card serial number (its ``binding:host_id`` stays the hypervisor);
    every other port on the chassis whose hostname or name is the host.
    """
    vnic = port.get("binding:vnic_type") or keys.VNIC_NORMAL
    if vnic == keys.VNIC_REMOTE_MANAGED:
        serial = (port.get("binding:profile") or {}).get("card_serial_number")
        if not serial:
            return None, "remote-managed port has no card_serial_number in binding:profile"
        chassis = directory.by_card_serial(serial)
        if chassis is None:
            return None, f"no chassis with card-serial-number '{serial}'"
        return chassis, None
    host = port.get("binding:host_id") or ""
    if not host:
        return None, "no host"
    chassis = directory.by_host(host)
    if chassis is None:
        return None, f"no chassis with hostname or name '{host}'"
    return chassis, None


def vif_details(chassis: ChassisInfo) -> dict[str, Any]:
    """What Nova needs to plug an OVS port, as Neutron's OVN driver reports it."""
    return {
        "port_filter": True,
        "connectivity": "l2",
        "bridge_name": INTEGRATION_BRIDGE,
        "datapath_type": chassis.datapath_type,
        "ovs_create_tap": True,
    }


def decide(port: Mapping[str, Any], segments: Sequence[Mapping[str, Any]],
           directory: ChassisDirectory) -> Decision:
    vnic = port.get("binding:vnic_type") or keys.VNIC_NORMAL
    if vnic not in SUPPORTED_VNIC_TYPES:
        return Decision(reasons=[f"vnic_type '{vnic}' is not supported by OVN"])
    chassis, why = target_chassis(port, directory)
    if chassis is None:
        return Decision(reasons=[why or "no chassis"])
    reasons = []
    for segment in segments:
        network_type = segment.get("network_type")
        physnet = segment.get("physical_network")
        if network_type in PHYSNET_TYPES:
            if physnet not in chassis.physnets:
                reasons.append(f"chassis '{chassis.name}' has no bridge mapping for "
                               f"physical network '{physnet}'")
                continue
        elif network_type not in OVERLAY_TYPES:
            reasons.append(f"network type '{network_type}' is not supported by OVN")
            continue
        return Decision(chassis=chassis, segment=segment, vif_type=VIF_TYPE_OVS,
                        vif_details=vif_details(chassis))
    if not segments:
        reasons.append("network has no segments")
    return Decision(chassis=chassis, reasons=reasons)
