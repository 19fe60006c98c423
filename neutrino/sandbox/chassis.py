"""One OVN chassis: its own OVS database, a dummy-datapath ovs-vswitchd and ovn-controller.

Several chassis share a machine by having separate directories, sockets and
``system-id``s; they all point at the sandbox's SB database, and their tunnels run
over the sandbox's underlay (:mod:`neutrino.sandbox.underlay`).
"""
from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

from neutrino.sandbox.daemon import Daemon
from neutrino.sandbox.errors import SandboxError
from neutrino.sandbox.ovs import OvsDaemons
from neutrino.sandbox.underlay import Attachment, Underlay, learn

#: Components of a chassis, in start order.
COMPONENTS = ("ovsdb", "vswitchd", "controller")


@dataclass
class ChassisConfig:
    """What the chassis announces to OVN through its Open_vSwitch external_ids."""

    name: str
    hostname: str
    sb_remote: str
    encap_ip: str
    bridge_mappings: str | None = None
    cms_options: str | None = None
    dummy_vif_plug: bool = False
    extra_external_ids: dict[str, str] = field(default_factory=dict)

    def external_ids(self) -> dict[str, str]:
        ids = {
            "system-id": self.name,
            "hostname": self.hostname,
            "ovn-remote": self.sb_remote,
            "ovn-encap-type": "geneve",
            "ovn-encap-ip": self.encap_ip,
        }
        if self.bridge_mappings is not None:
            ids["ovn-bridge-mappings"] = self.bridge_mappings
        if self.cms_options is not None:
            ids["ovn-cms-options"] = self.cms_options
        ids.update(self.extra_external_ids)
        return ids


class Chassis:
    """A running chassis. Use :meth:`vsctl` to change its OVS database."""

    def __init__(self, config: ChassisConfig, directory: Path, underlay: Underlay) -> None:
        self.config = config
        self.directory = directory
        self.ovs = OvsDaemons(config.name, directory)
        self.underlay = underlay
        controller_argv = ["ovn-controller", self.ovs_remote]
        if config.dummy_vif_plug:
            controller_argv.append("--enable-dummy-vif-plug")
        self.daemons: dict[str, Daemon] = {
            "ovsdb": self.ovs.ovsdb,
            "vswitchd": self.ovs.vswitchd,
            # ovn-controller takes no --unixctl; its socket is found by pid.
            "controller": Daemon(f"{config.name}/controller", controller_argv, directory,
                                 own_unixctl=False),
        }

    @property
    def name(self) -> str:
        return self.config.name

    @property
    def ovs_remote(self) -> str:
        """The chassis's local OVS DB remote, as given to ovn-controller and the plug agent."""
        return self.ovs.remote

    def vsctl(self, *args: str, wait: bool = True, timeout: float = 30.0) -> str:
        """Run ``ovs-vsctl`` against this chassis; ``wait=False`` adds ``--no-wait``
        (needed while ovs-vswitchd is not running)."""
        return self.ovs.vsctl(*args, wait=wait, timeout=timeout)

    def appctl(self, component: str, *args: str) -> str:
        """``ovs-appctl`` to one of this chassis's daemons."""
        return self._daemon(component).appctl(*args)

    def start(self, components: tuple[str, ...] = COMPONENTS) -> None:
        """Start the given components (all by default) in dependency order."""
        for component in COMPONENTS:
            if component not in components:
                continue
            if component == "ovsdb":
                self._start_ovsdb()
            elif component == "vswitchd":
                self.ovs.vswitchd.start()
                self.underlay.plug(self.name, self.vsctl, self._vswitchd_appctl)
            else:
                self.daemons[component].start()

    def bfd_states(self) -> dict[str, str]:
        """``bfd_status:state`` of each tunnel of this chassis that runs BFD (OVN turns it
        on between the chassis of a gateway group), by interface name."""
        out = self.vsctl("--format=csv", "--data=bare", "--no-headings",
                         "--columns=name,bfd_status", "find", "Interface", "type=geneve")
        states = {}
        for line in out.splitlines():
            name, _, status = line.partition(",")
            fields = dict(f.split("=", 1) for f in status.strip('"').split() if "=" in f)
            if "state" in fields:
                states[name] = fields["state"]
        return states

    def learn_peer(self, peer: Attachment) -> None:
        """Tell this chassis's running ``ovs-vswitchd`` where a newly attached peer is."""
        learn(self._vswitchd_appctl, peer)

    def _vswitchd_appctl(self, *args: str) -> str:
        return self.appctl("vswitchd", *args)

    def _start_ovsdb(self) -> None:
        self.ovs.start_ovsdb()
        ids = [f"external_ids:{k}=\"{v}\"" for k, v in self.config.external_ids().items()]
        self.vsctl("init", "--", "set", "Open_vSwitch", ".", *ids,
                   "--", "--may-exist", "add-br", "br-int",
                   "--", "set", "Bridge", "br-int", "datapath_type=dummy", "fail_mode=secure",
                   "other_config:disable-in-band=true", wait=False)

    def stop(self, component: str | None = None) -> None:
        """Stop one component gracefully, or all of them in reverse order.

        ovn-controller is told ``exit --restart`` so it keeps its Chassis record,
        like a service restart on a real node.
        """
        names = [component] if component else list(reversed(COMPONENTS))
        for name in names:
            daemon = self._daemon(name)
            if name == "controller":
                daemon.stop("--restart")
            else:
                daemon.stop()

    def kill(self, component: str, sig: int = signal.SIGKILL) -> None:
        """Kill one component (SIGKILL by default) to simulate a crash."""
        self._daemon(component).kill(sig)

    def restart(self, component: str) -> None:
        """Stop (if running) and start one component again on the same files and sockets."""
        self.stop(component)
        self.start((component,))

    def running(self, component: str) -> bool:
        return self._daemon(component).running

    def pids(self) -> list[int]:
        return [p for d in self.daemons.values() if (p := d.pid()) is not None]

    def _daemon(self, component: str) -> Daemon:
        try:
            return self.daemons[component]
        except KeyError:
            raise SandboxError(
                f"unknown chassis component {component!r}; one of {COMPONENTS}") from None
