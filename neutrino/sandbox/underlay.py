"""The sandbox's simulated physical network: it lets tunnels between chassis carry packets.

Chassis on the dummy datapath share no wire. Without one, the BFD sessions
``ovn-controller`` runs on its geneve tunnels never come up, and of a gateway group of
two or more chassis none claims the gateway: a chassis cannot tell a dead peer from its
own isolation. So, as OVN's own test suite does, a hub switch (its own ``ovsdb-server``
and ``ovs-vswitchd``, bridge ``underlay``, plain MAC learning) has one dummy port per
chassis listening on a unix socket. Each chassis plugs its bridge ``br-underlay`` into
its port (a dummy port streaming to the socket), holds its encap IP on that bridge
(``netdev-dummy/ip4addr``) with the route to the underlay subnet (``ovs/route/add``),
and is told every peer's MAC (``tnl/neigh/set``: nothing answers ARP on a dummy port).
That state lives in ``ovs-vswitchd`` alone, so a chassis plugs in again whenever its
``ovs-vswitchd`` starts.
"""
from __future__ import annotations

import ipaddress
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from neutrino.sandbox.ovs import OvsDaemons

NETWORK = ipaddress.IPv4Network("10.254.0.0/16")
CHASSIS_BRIDGE = "br-underlay"
HUB_BRIDGE = "underlay"

#: ``ovs-appctl`` to a chassis's ``ovs-vswitchd``.
Appctl = Callable[..., str]


@dataclass(frozen=True)
class Attachment:
    """Where one chassis meets the underlay: its encap IP and its hub port's socket."""

    chassis: str
    ip: ipaddress.IPv4Address
    socket: Path

    @property
    def mac(self) -> str:
        """The MAC of the chassis's ``br-underlay``, fixed by its IP: a restarted chassis
        keeps it, so its peers' neighbour entries stay right."""
        return "0a:fe:" + ":".join(f"{byte:02x}" for byte in self.ip.packed)


class Underlay:
    """The hub switch and the chassis attached to it, in ``directory``."""

    def __init__(self, directory: Path) -> None:
        self.ovs = OvsDaemons("underlay", directory)
        self._attachments: dict[str, Attachment] = {}

    def start(self) -> None:
        self.ovs.start_ovsdb()
        self.ovs.vsctl("init", "--", "--may-exist", "add-br", HUB_BRIDGE,
                       "--", "set", "Bridge", HUB_BRIDGE, "datapath_type=dummy", wait=False)
        self.ovs.vswitchd.start()

    @property
    def running(self) -> bool:
        return self.ovs.vswitchd.running

    def attach(self, chassis: str) -> Attachment:
        """Give ``chassis`` the next IP of :data:`NETWORK` and a hub port to plug into (the
        port is kept from an earlier run of the same sandbox directory)."""
        index = len(self._attachments) + 1
        port = f"p{index}"
        attachment = Attachment(chassis, NETWORK[index], self.ovs.directory / f"{port}.sock")
        self.ovs.vsctl("--may-exist", "add-port", HUB_BRIDGE, port, "--", "set", "Interface", port,
                       f"options:pstream=punix:{attachment.socket}")
        self._attachments[chassis] = attachment
        return attachment

    def plug(self, chassis: str, vsctl: Callable[..., str], appctl: Appctl) -> None:
        """Connect a chassis whose ``ovs-vswitchd`` just started (``vsctl`` and ``appctl``
        reach its OVS) and tell it where its peers are."""
        own = self._attachments[chassis]
        vsctl("--may-exist", "add-br", CHASSIS_BRIDGE,
              "--", "set", "Bridge", CHASSIS_BRIDGE, "datapath_type=dummy",
              f"other_config:hwaddr=\"{own.mac}\"",
              "--", "--may-exist", "add-port", CHASSIS_BRIDGE, HUB_BRIDGE,
              "--", "set", "Interface", HUB_BRIDGE, f"options:stream=unix:{own.socket}")
        appctl("netdev-dummy/ip4addr", CHASSIS_BRIDGE, f"{own.ip}/{NETWORK.prefixlen}")
        appctl("ovs/route/add", str(NETWORK), CHASSIS_BRIDGE)
        for peer in self._attachments.values():
            if peer is not own:
                learn(appctl, peer)

    def stop(self) -> None:
        self.ovs.vswitchd.stop()
        self.ovs.ovsdb.stop()

    def pids(self) -> list[int]:
        return [p for d in (self.ovs.ovsdb, self.ovs.vswitchd) if (p := d.pid()) is not None]


def learn(appctl: Appctl, peer: Attachment) -> None:
    """Tell a chassis's ``ovs-vswitchd`` the MAC behind a peer's encap IP."""
    appctl("tnl/neigh/set", CHASSIS_BRIDGE, str(peer.ip), peer.mac)
