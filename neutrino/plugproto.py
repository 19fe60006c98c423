"""The plug protocol: every name the plug agent and the OVN driver exchange through OVN.

Neutrino's OVN driver asks for a port to be plugged by writing
``Logical_Switch_Port.options`` (northd copies them to SB
``Port_Binding.options``); the plug agent on the chassis plugs it, marks the
interface in the chassis's OVS DB the way ovn-controller expects, and reports
back in its ``Chassis_Private.external_ids``, which the driver reads for
statuses and the agents listing.  Both sides import the names from here, so
neither can drift from the other; docs/plug-agent.md describes the values.

A leaf module beside ``neutrino.workqueue``: the agent is a standalone daemon
that must not import ``neutrino.ovn`` (nor the driver the agent), and both may
import this.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass

# -- Port_Binding options: what the driver asks for (LSP options in NB) ---------------
#: The chassis (name or hostname) the port is to be bound, and plugged, on.
REQUESTED_CHASSIS = "requested-chassis"
#: The VIF plug provider that is to plug the port.
VIF_PLUG_TYPE = "vif-plug-type"
#: MTU to request on the plugged interface (``mtu_request``; <= 0 or absent: none).
VIF_PLUG_MTU = "vif-plug-mtu-request"
#: Namespace of provider options: ``vif-plug:<type>:<key>``.
VIF_PLUG_PREFIX = "vif-plug:"
#: The representor provider's options: the PF's MAC and the VF number behind it.
REPRESENTOR_PF_MAC = "vif-plug:representor:pf-mac"
REPRESENTOR_VF_NUM = "vif-plug:representor:vf-num"

# -- Interface external_ids in the chassis's OVS DB (ovn-controller's markers) -----------
#: The logical port an interface backs; ovn-controller claims the port by it.
IFACE_ID = "iface-id"
#: The plug type of an interface a provider plugged; an interface without it is
#: not the agent's and is never touched.
OVN_PLUGGED = "ovn-plugged"
#: ovn-controller's mark ("true") on an interface whose port it has fully installed.
OVN_INSTALLED = "ovn-installed"

# -- Chassis_Private external_ids: what the agent reports ------------------------------
#: Every key the agent writes starts with this; it deletes its keys it no longer wants.
AGENT_PREFIX = "neutrino-plug-agent"
#: Unix time (whole seconds) of the last heartbeat; deleted on a clean stop.
AGENT_HEARTBEAT = f"{AGENT_PREFIX}-heartbeat"
#: JSON: version, pid, interval (heartbeat seconds), started_at, providers
#: ({type: "ok" | "busy: ..." | "degraded: ..."}), plug_outcomes
#: ({type: {"plugged", "failed", "unplugged": int}}); deleted on a clean stop.
AGENT_INFO = f"{AGENT_PREFIX}-info"
#: ``<prefix><logical port>`` = ``<code>: <message>`` while the port cannot be plugged.
AGENT_ERROR_PREFIX = f"{AGENT_PREFIX}-error:"


class Problem(enum.StrEnum):
    """The ``<code>`` of an error report: why a port requested here is not plugged."""

    #: ``vif-plug-type`` names no provider registered on this chassis.
    UNKNOWN_TYPE = "unknown-type"
    #: The provider declined (e.g. no representor found); message has its reason.
    DECLINED = "declined"
    #: An interface with this iface-id exists that no provider plugged.
    FOREIGN_INTERFACE = "foreign-interface"
    #: The provider now wants another interface name; the port must be recreated.
    NAME_CHANGE = "name-change"
    #: The interface name is taken by another port or interface.
    NAME_CONFLICT = "name-conflict"
    #: The OVS DB rejected this port's change (retried with backoff).
    TRANSACTION_FAILED = "transaction-failed"
    #: The provider raised, overran its deadline or answered nonsense.
    PROVIDER_ERROR = "provider-error"
    #: Plugged and claimed, but ovn-controller never installed it; plugged again.
    NOT_INSTALLED = "not-installed"


def error_key(lport: str) -> str:
    """The Chassis_Private external_ids key of ``lport``'s error report."""
    return AGENT_ERROR_PREFIX + lport


@dataclass(frozen=True)
class PortProblem:
    """Why one port is not plugged as asked: an error report, kept until it is gone."""

    code: Problem
    message: str

    def render(self) -> str:
        """The report's value; readers show it as the port's status reason."""
        return f"{self.code}: {self.message}"
