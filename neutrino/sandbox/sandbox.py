"""A whole OVN deployment in one directory: NB and SB databases, ovn-northd, chassis.

Used by ``neutrino up``, by the tests and by the benchmarks. Everything runs
from Debian's packaged binaries, never as a system service, and every path
lives under the sandbox directory, so several sandboxes can run side by side.
"""
from __future__ import annotations

import logging
import shutil
import signal
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from neutrino.sandbox.chassis import Chassis, ChassisConfig
from neutrino.sandbox.daemon import (
    Daemon,
    adopt_orphans,
    release_guardian,
    run_tool,
    start_guardian,
)
from neutrino.sandbox.errors import SandboxError
from neutrino.sandbox.ovsdb import Database
from neutrino.sandbox.underlay import Underlay
from neutrino.sandbox.wait import wait_for

LOG = logging.getLogger(__name__)

NB_SCHEMA = Path("/usr/share/ovn/ovn-nb.ovsschema")
SB_SCHEMA = Path("/usr/share/ovn/ovn-sb.ovsschema")

Progress = Callable[[str], None]


class Sandbox:
    """Start and control real OVN daemons under ``base_dir``.

    ``base_dir`` defaults to a fresh short directory under /tmp (unix socket
    paths are limited to 107 bytes); a sandbox that created its directory
    removes it on :meth:`stop` unless ``keep_dir`` is set. An existing directory
    is reused: its database files survive a restart of the sandbox. If the
    owning process dies without :meth:`stop`, a guardian process stops the
    daemons (see :mod:`neutrino.sandbox.guardian`).
    """

    def __init__(self, base_dir: str | Path | None = None,
                 progress: Progress | None = None, keep_dir: bool = False) -> None:
        adopt_orphans()
        self._owns_dir = base_dir is None and not keep_dir
        self.base_dir = Path(base_dir) if base_dir else Path(tempfile.mkdtemp(prefix="nt"))
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._progress = progress
        self._guardian = start_guardian(self.base_dir, remove=self._owns_dir)
        self.nb: Database | None = None
        self.sb: Database | None = None
        self.northd: Daemon | None = None
        self.chassis: dict[str, Chassis] = {}
        self.underlay = Underlay(self.base_dir / "hub")  # short: unix socket paths fit 107 bytes

    # -- context manager ---------------------------------------------------
    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    def _say(self, message: str) -> None:
        LOG.info("sandbox %s: %s", self.base_dir, message)
        if self._progress:
            self._progress(message)

    # -- central -----------------------------------------------------------
    def start_central(self, clustered: bool | str = False, tcp: bool = False,
                      timeout: float = 60.0) -> None:
        """Start NB and SB ovsdb-servers and ovn-northd, and wait until northd works.

        ``clustered`` is ``True`` (NB and SB), ``"nb"`` or ``"sb"`` to run that
        database as a 3-member RAFT cluster on loopback TCP. ``tcp`` also opens a
        loopback TCP listener on every database server (see :attr:`nb_tcp_remote`).
        """
        nb_clustered = clustered is True or clustered == "nb"
        sb_clustered = clustered is True or clustered == "sb"
        self.nb = Database("nb", NB_SCHEMA, self.base_dir, nb_clustered, tcp)
        self.sb = Database("sb", SB_SCHEMA, self.base_dir, sb_clustered, tcp)
        for db in (self.nb, self.sb):
            self._say(f"starting {db.db_name} ovsdb-server"
                      + (" cluster" if db.clustered else ""))
            db.start(timeout)
        northd_dir = self.base_dir / "northd"
        northd_dir.mkdir(exist_ok=True)
        self.northd = Daemon("northd", [
            "ovn-northd", f"--ovnnb-db={self.nb.remote}", f"--ovnsb-db={self.sb.remote}",
        ], northd_dir)
        self._say("starting ovn-northd")
        self.northd.start()
        self.nbctl("--wait=sb", "sync", timeout=timeout)
        self._say("central ready")

    @property
    def nb_remote(self) -> str:
        """NB remote(s) on unix sockets, comma-separated for a cluster."""
        return self._db("nb").remote

    @property
    def sb_remote(self) -> str:
        """SB remote(s) on unix sockets, comma-separated for a cluster."""
        return self._db("sb").remote

    @property
    def nb_tcp_remote(self) -> str | None:
        return self._db("nb").tcp_remote

    @property
    def sb_tcp_remote(self) -> str | None:
        return self._db("sb").tcp_remote

    def _db(self, key: str) -> Database:
        db = self.nb if key == "nb" else self.sb
        if db is None:
            raise SandboxError("central is not started; call start_central() first")
        return db

    def nbctl(self, *args: str, timeout: float = 30.0) -> str:
        """Run ``ovn-nbctl`` against the NB database and return its output."""
        return self._ctl("ovn-nbctl", self._db("nb"), args, timeout)

    def sbctl(self, *args: str, timeout: float = 30.0) -> str:
        """Run ``ovn-sbctl`` against the SB database and return its output."""
        return self._ctl("ovn-sbctl", self._db("sb"), args, timeout)

    def trace(self, datapath: str, microflow: str, *options: str) -> str:
        """``ovn-trace --minimal`` of *microflow* entering the logical *datapath*, on SB as
        ovn-northd computed it from NB once it caught up (``ovn-nbctl --wait=sb sync``).

        The minimal output names every ``output("<port>")`` the packet reaches; a packet
        that no port receives has none.  *options*: e.g. ``--ct=est,trk`` for a packet of
        an established connection (the default is a new one).
        """
        self.nbctl("--wait=sb", "sync")
        return run_tool(["ovn-trace", f"--db={self._db('sb').live_remote}", "--minimal",
                         *options, datapath, microflow], self.base_dir, timeout=30.0)

    def _ctl(self, tool: str, db: Database, args: tuple[str, ...], timeout: float) -> str:
        """Run a one-shot client, retrying while a cluster has no reachable leader
        (the tool then fails before sending anything, so a retry is safe)."""
        deadline = time.monotonic() + timeout
        while True:
            argv = [tool, f"--db={db.live_remote}", f"--timeout={max(1, int(timeout))}", *args]
            try:
                return run_tool(argv, self.base_dir, timeout=timeout + 5)
            except SandboxError as exc:
                if ("database connection failed" not in str(exc)
                        or time.monotonic() >= deadline):
                    raise
            time.sleep(0.1)

    # -- chassis -----------------------------------------------------------
    def add_chassis(self, name: str, hostname: str | None = None,
                    bridge_mappings: str | None = None, cms_options: str | None = None,
                    dummy_vif_plug: bool = False,
                    external_ids: dict[str, str] | None = None,
                    timeout: float = 60.0) -> Chassis:
        """Start a chassis on the underlay and wait until it has registered in SB.

        Each chassis gets its own encap IP on the underlay, which the sandbox starts
        with its first chassis; the chassis already there learn where the new one is.
        """
        if name in self.chassis:
            raise SandboxError(f"chassis {name!r} already exists")
        if not self.underlay.running:
            self._say("starting the underlay")
            self.underlay.start()
        attachment = self.underlay.attach(name)
        config = ChassisConfig(
            name=name, hostname=hostname or name, sb_remote=self.sb_remote,
            encap_ip=str(attachment.ip), bridge_mappings=bridge_mappings,
            cms_options=cms_options, dummy_vif_plug=dummy_vif_plug,
            extra_external_ids=dict(external_ids or {}))
        chassis = Chassis(config, self.base_dir / f"c{len(self.chassis) + 1}", self.underlay)
        self.chassis[name] = chassis
        self._say(f"starting chassis {name}")
        chassis.start()
        for other in self.chassis.values():
            if other is not chassis and other.running("vswitchd"):
                other.learn_peer(attachment)
        self.wait_chassis(name, timeout)
        self._say(f"chassis {name} ready")
        return chassis

    def wait_chassis(self, name: str, timeout: float = 60.0) -> None:
        """Wait until chassis ``name`` is registered in SB (Chassis and Chassis_Private)."""
        wait_for(lambda: self.sbctl("--bare", "--columns=name", "find", "Chassis_Private",
                                    f"name={name}") == name,
                 timeout, f"chassis {name} in SB")

    def bound_chassis(self, logical_port: str) -> str | None:
        """The name of the chassis whose claim SB records for ``logical_port`` (a gateway's
        ``cr-lrp-…`` too), or None while no chassis holds it."""
        chassis = self.sbctl("--bare", "--columns=chassis", "find", "Port_Binding",
                             f"logical_port={logical_port}")
        return self.sbctl("get", "Chassis", chassis, "name").strip('"') if chassis else None

    def wait_port_up(self, lsp: str, up: bool = True, timeout: float = 30.0) -> None:
        """Wait until NB ``Logical_Switch_Port.up`` of ``lsp`` is ``up``."""
        want = "true" if up else "false"

        def check() -> bool:
            value = self.nbctl("--if-exists", "get", "Logical_Switch_Port", lsp, "up")
            return value == want or (not up and value in ("", "[]"))
        wait_for(check, timeout, f"{lsp} up={want}")

    # -- failures ----------------------------------------------------------
    def _component(self, component: str) -> Daemon:
        if component == "northd":
            if self.northd is None:
                raise SandboxError("central is not started")
            return self.northd
        key = component.rstrip("0123456789")
        if key in ("nb", "sb"):
            db = self._db(key)
            return db.member(component if db.clustered and component != key
                             else db.members[0].daemon.name).daemon
        raise SandboxError(f"unknown component {component!r}: nb, sb, nb1..3, sb1..3, northd "
                           "(use Chassis.kill/restart for chassis daemons)")

    def kill(self, component: str, sig: int = signal.SIGKILL) -> None:
        """Kill a central daemon (``nb``, ``sb``, ``nbN``/``sbN`` in a cluster, ``northd``)."""
        self._say(f"killing {component}")
        self._component(component).kill(sig)

    def restart(self, component: str, timeout: float = 30.0) -> None:
        """(Re)start a central daemon on the same database file, socket and port."""
        daemon = self._component(component)
        self._say(f"restarting {component}")
        daemon.stop()
        daemon.start()
        key = component.rstrip("0123456789")
        if key in ("nb", "sb"):
            db = self._db(key)
            db.wait_ready(timeout, only=db.member(daemon.name))

    def running(self, component: str) -> bool:
        return self._component(component).running

    @property
    def guardian_pid(self) -> int:
        return self._guardian.pid

    def pids(self) -> list[int]:
        """Pids of every daemon of this sandbox that is running now."""
        daemons: list[Daemon] = []
        for db in (self.nb, self.sb):
            if db:
                daemons += [m.daemon for m in db.members]
        if self.northd:
            daemons.append(self.northd)
        pids = [p for d in daemons if (p := d.pid()) is not None]
        for chassis in self.chassis.values():
            pids += chassis.pids()
        return pids + self.underlay.pids()

    def stop(self) -> None:
        """Stop every daemon (chassis first, then northd, then databases).

        Idempotent; leaves no process behind (escalates to SIGKILL if needed).
        """
        errors: list[str] = []
        for chassis in self.chassis.values():
            try:
                chassis.stop()
            except SandboxError as exc:
                errors.append(str(exc))
        self.underlay.stop()
        if self.northd:
            self.northd.stop()
        for db in (self.nb, self.sb):
            if db:
                db.stop()
        release_guardian(self._guardian)
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)
        if errors:
            raise SandboxError("; ".join(errors))
