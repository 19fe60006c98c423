"""One OVN chassis: its own OVS database, a dummy-datapath ovs-vswitchd and ovn-controller.

Several chassis share a machine by having separate directories, sockets and
``system-id``s; they all point at the sandbox's SB database.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass, field
from pathlib import Path

from neutrino.sandbox.daemon import Daemon, check_socket_path, run_tool
from neutrino.sandbox.errors import SandboxError

VSWITCH_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")

#: Components of a chassis, in start order.
COMPONENTS = ("ovsdb", "vswitchd", "controller")


@dataclass
class ChassisConfig:
    """What the chassis announces to OVN through its Open_vSwitch external_ids."""

    name: str
    hostname: str
    sb_remote: str
    encap_ip: str = "127.0.0.1"
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

    def __init__(self, config: ChassisConfig, directory: Path) -> None:
        self.config = config
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.db_file = directory / "conf.db"
        self.socket = directory / "db.sock"
        check_socket_path(self.socket)
        controller_argv = ["ovn-controller", self.ovs_remote]
        if config.dummy_vif_plug:
            controller_argv.append("--enable-dummy-vif-plug")
        self.daemons: dict[str, Daemon] = {
            "ovsdb": Daemon(f"{config.name}/ovsdb", [
                "ovsdb-server", str(self.db_file), f"--remote=punix:{self.socket}",
            ], directory),
            "vswitchd": Daemon(f"{config.name}/vswitchd", [
                "ovs-vswitchd", self.ovs_remote, "--enable-dummy=override",
                "--disable-system", "--disable-system-route",
            ], directory),
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
        return f"unix:{self.socket}"

    def vsctl(self, *args: str, wait: bool = True, timeout: float = 30.0) -> str:
        """Run ``ovs-vsctl`` against this chassis; ``wait=False`` adds ``--no-wait``
        (needed while ovs-vswitchd is not running)."""
        argv = ["ovs-vsctl", f"--db={self.ovs_remote}", f"--timeout={int(timeout)}"]
        if not wait:
            argv.append("--no-wait")
        return run_tool([*argv, *args], self.directory, timeout=timeout + 5)

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
            else:
                self.daemons[component].start()

    def _start_ovsdb(self) -> None:
        if not self.db_file.exists():
            run_tool(["ovsdb-tool", "create", str(self.db_file), str(VSWITCH_SCHEMA)],
                     self.directory)
        self.daemons["ovsdb"].start()
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
