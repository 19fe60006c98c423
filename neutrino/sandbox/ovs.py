"""An Open vSwitch of the sandbox: its own ``ovsdb-server`` and a dummy-datapath ``ovs-vswitchd``.

Shared by the chassis and by the underlay's hub switch, so both run OVS the same way.
"""
from __future__ import annotations

from pathlib import Path

from neutrino.sandbox.daemon import Daemon, check_socket_path, run_tool

VSWITCH_SCHEMA = Path("/usr/share/openvswitch/vswitch.ovsschema")


class OvsDaemons:
    """The database and switch daemons of one OVS instance living in ``directory``."""

    def __init__(self, label: str, directory: Path) -> None:
        self.directory = directory
        directory.mkdir(parents=True, exist_ok=True)
        self.db_file = directory / "conf.db"
        self.socket = directory / "db.sock"
        check_socket_path(self.socket)
        self.ovsdb = Daemon(f"{label}/ovsdb", [
            "ovsdb-server", str(self.db_file), f"--remote=punix:{self.socket}",
        ], directory)
        # ``system``, not ``override``: only system interfaces become dummy ones; geneve
        # ports stay real tunnel vports that the userspace datapath encapsulates, so
        # tunnels carry packets (BFD) once an underlay connects the switches.
        self.vswitchd = Daemon(f"{label}/vswitchd", [
            "ovs-vswitchd", self.remote, "--enable-dummy=system",
            "--disable-system", "--disable-system-route",
        ], directory)

    @property
    def remote(self) -> str:
        """The local OVS DB remote."""
        return f"unix:{self.socket}"

    def start_ovsdb(self) -> None:
        """Create the database on first start, then start ``ovsdb-server``."""
        if not self.db_file.exists():
            run_tool(["ovsdb-tool", "create", str(self.db_file), str(VSWITCH_SCHEMA)],
                     self.directory)
        self.ovsdb.start()

    def vsctl(self, *args: str, wait: bool = True, timeout: float = 30.0) -> str:
        """Run ``ovs-vsctl``; ``wait=False`` adds ``--no-wait`` (needed while
        ovs-vswitchd is not running)."""
        argv = ["ovs-vsctl", f"--db={self.remote}", f"--timeout={int(timeout)}"]
        if not wait:
            argv.append("--no-wait")
        return run_tool([*argv, *args], self.directory, timeout=timeout + 5)
