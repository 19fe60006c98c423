"""Real OVN and OVS daemons started from the distribution's packages in one directory.

``Sandbox`` runs NB/SB ovsdb-servers (standalone or RAFT), ovn-northd and any
number of chassis (ovsdb-server + dummy-datapath ovs-vswitchd + ovn-controller).
"""
from neutrino.sandbox.chassis import Chassis, ChassisConfig
from neutrino.sandbox.errors import SandboxError
from neutrino.sandbox.sandbox import Sandbox

__all__ = ["Chassis", "ChassisConfig", "Sandbox", "SandboxError"]
