"""``neutrino up``: the whole system on this machine, in the foreground.

Starts (or resumes, from the same state directory) a local OVN — NB, SB,
ovn-northd, ``--chassis N`` chassis (all gateway chassis) each with ``ovn-controller``, and one
plug agent process for them all — and, side by side with it, a local Keystone
in ``<state-dir>/keystone`` (unless the settings name an existing Keystone, or
``--auth none``); then the API server and status worker on an embedded SQLite
database, and prints how to use it, with a ``clouds.yaml`` for the admin and
the demo user.  Every daemon it starts is restarted if it dies
(:mod:`neutrino.upkeep`, counted in ``/healthz`` and ``/metrics``).  Ctrl-C or
SIGTERM stops everything.
"""
from __future__ import annotations

import argparse
import functools
import json
import os
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from neutrino import log
from neutrino.config import Settings, sqlite_url
from neutrino.db import migrate
from neutrino.db.session import Database
from neutrino.ovn import keys
from neutrino.sandbox.chassis import COMPONENTS
from neutrino.sandbox.daemon import pid_alive
from neutrino.sandbox.guardian import terminate
from neutrino.sandbox.keystone import ADMIN, DEMO, REGION, SERVICE, Keystone
from neutrino.sandbox.sandbox import Sandbox
from neutrino.upkeep import Upkeep


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", default="./neutrino-state",
                        help="where the database, OVN, Keystone files and logs live "
                             "(default: %(default)s)")
    parser.add_argument("--port", type=int, default=9696, help="API port (default: %(default)s)")
    parser.add_argument("--chassis", type=int, default=1, help="local chassis to run (default: 1)")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")
    parser.add_argument("--auth", choices=("keystone", "none"), default="keystone",
                        help="keystone: requests carry Keystone tokens, from a local Keystone "
                             "started in STATE_DIR/keystone unless the settings name one "
                             "([keystone_authtoken]); none: no authentication "
                             "(default: %(default)s)")


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def chassis_hostname(index: int) -> str:
    host = socket.gethostname()
    return host if index == 1 else f"{host}-{index}"


# -- clouds.yaml and the usage text ------------------------------------------

def password_cloud(name: str, auth: dict[str, str]) -> str:
    """One cloud of a ``clouds.yaml``: password auth, the network endpoint found in the
    catalog. The password is quoted: a generated one could otherwise read as a number."""
    lines = [f"  {name}:", "    auth_type: password", "    auth:"]
    lines += [f"      {key}: {json.dumps(value) if key == 'password' else value}"
              for key, value in auth.items()]
    lines.append(f"    region_name: {REGION}")
    return "\n".join(lines) + "\n"


def keystone_clouds_yaml(keystone: Keystone) -> str:
    """Clouds ``neutrino`` (the admin), ``neutrino-demo`` (a member of ``demo``) and
    ``neutrino-service`` (Neutrino's service user: what Nova's calls to Neutron act as;
    Neutron's policy lets only the ``service`` role set ``binding:profile``)."""
    return ("clouds:\n" + password_cloud("neutrino", keystone.auth(ADMIN))
            + password_cloud("neutrino-demo", keystone.auth(DEMO))
            + password_cloud("neutrino-service", keystone.auth(SERVICE)))


def noauth_clouds_yaml(endpoint: str) -> str:
    """Without Keystone there is no catalog: clients are told the endpoint."""
    return f"""clouds:
  neutrino:
    auth_type: none
    network_endpoint_override: {endpoint}/
    region_name: {REGION}
"""


def write_private(path: Path, text: str) -> None:
    """Write ``path`` readable by its owner only (it holds passwords), atomically, so a
    reader never sees half a file and an older, wider mode never survives."""
    tmp = path.with_suffix(".tmp")
    tmp.unlink(missing_ok=True)
    with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
        f.write(text)
    tmp.replace(path)


def example_commands(host: str, demo: bool) -> str:
    """*demo*: the local Keystone's clouds exist; the bound port is then created as the
    service user, as Nova binds ports (``binding:profile`` is the service role's)."""
    as_service = "OS_CLOUD=neutrino-service " if demo else ""
    commands = [
        "openstack network create demo",
        "openstack subnet create --network demo --subnet-range 10.0.0.0/24 demo-subnet",
        f"{as_service}openstack port create --network demo --host {host}"
        " --binding-profile vif_plug_type=dummy demo-port",
        "openstack port show demo-port -c status   # ACTIVE once the plug agent has plugged it",
    ]
    if demo:
        commands.append("OS_CLOUD=neutrino-demo openstack network create demo-net"
                        "   # as the demo user, in project demo")
    return "".join(f"  {command}\n" for command in commands)


def usage(endpoint: str, host: str, state_dir: Path, clouds: str | None,
          keystone_url: str | None) -> str:
    """What to do next. ``clouds`` is the written clouds.yaml (None: an existing Keystone,
    whose users Neutrino does not know); ``keystone_url`` None means no authentication."""
    lines = [f"\nNeutrino is running: {endpoint}  (health: {endpoint}/healthz)"]
    if keystone_url:
        lines.append(f"Identity: Keystone at {keystone_url}")
    if clouds is None:
        lines.append("\nAuthenticate with your own credentials for that Keystone (a cloud of "
                     "your clouds.yaml);\nNeutrino must be in its catalog as the network "
                     "service (docs/identity.md).\n\nThen try:\n")
        lines.append("  export OS_CLOUD=<your cloud>")
    else:
        clouds_file = state_dir / "clouds.yaml"
        lines.append(f"\nThis clouds.yaml is in {clouds_file} "
                     "(or save it as ~/.config/openstack/clouds.yaml):\n")
        lines.append(clouds)
        lines.append("Then try:\n")
        lines.append(f"  export OS_CLIENT_CONFIG_FILE={clouds_file} OS_CLOUD=neutrino")
    demo = clouds is not None and keystone_url is not None
    lines.append(example_commands(host, demo))
    lines.append("Press Ctrl-C to stop.")
    return "\n".join(lines) + "\n"


# -- Keystone ----------------------------------------------------------------

def authtoken(keystone: Keystone) -> dict[str, Any]:
    """The server's ``[keystone_authtoken]`` for the local Keystone: it validates tokens
    as Neutrino's service user, as Neutron does with its own."""
    return {"www_authenticate_uri": keystone.auth_url, "auth_type": "password",
            **keystone.auth(SERVICE)}


class KeystoneStart:
    """The local Keystone starting in a thread while OVN starts in the main one: both
    mostly wait on subprocesses, so side by side they take the time of the slower."""

    def __init__(self, keystone: Keystone) -> None:
        self.keystone = keystone
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._start, name="keystone-start", daemon=True)
        self._thread.start()

    def _start(self) -> None:
        try:
            self.keystone.start()
        except BaseException as exc:  # noqa: BLE001 - raised in the main thread by wait()
            self._error = exc

    def wait(self) -> Keystone:
        """The running Keystone; the error of its start, if any, is raised here."""
        self._thread.join()
        if self._error is not None:
            raise self._error
        return self.keystone

    def stop(self) -> None:
        """Stop Keystone once its start is over: stopping midway would race the start,
        which would then leave a server running."""
        self._thread.join()
        self.keystone.stop()


# -- OVN ---------------------------------------------------------------------

def start_ovn(sandbox: Sandbox, chassis: int) -> None:
    """Central OVN and *chassis* chassis, every one a gateway chassis: a router's gateway
    is scheduled on all of them, OVN elects the active one over BFD on the sandbox's
    underlay, and another takes over when it stops (docs/ovn-backend.md, "Gateway
    failover")."""
    sandbox.start_central()
    for i in range(1, chassis + 1):
        sandbox.add_chassis(f"chassis-{i}", hostname=chassis_hostname(i),
                            cms_options=keys.GATEWAY_CHASSIS_OPTION)


def keep_ovn(upkeep: Upkeep, sandbox: Sandbox, agent: PlugAgent) -> None:
    """Have *upkeep* restart any OVN daemon, chassis daemon, the underlay's switch or the
    plug agent that dies."""
    central = {"nb": "ovn-nb", "sb": "ovn-sb", "northd": "ovn-northd"}
    for component, name in central.items():
        upkeep.keep(name, functools.partial(sandbox.running, component),
                    functools.partial(sandbox.restart, component))
    upkeep.keep("underlay", lambda: sandbox.underlay.running, sandbox.underlay.start)
    for chassis_name, chassis in sandbox.chassis.items():
        for component in COMPONENTS:
            upkeep.keep(f"{chassis_name}/{component}",
                        functools.partial(chassis.running, component),
                        functools.partial(chassis.restart, component))
    upkeep.keep("plug-agent", agent.running, agent.start)


class PlugAgent:
    """The one ``neutrino plug-agent`` process serving every local chassis (one agent
    thread each; a process per chassis would cost ~37 MB each), logging to
    ``plug-agent.log``.

    Its pidfile is in the OVN sandbox's directory, so the sandbox's guardian stops
    it with the OVN daemons if ``up`` is killed; a later ``up`` on the same state
    dir stops one that is still running before it starts its own: never two agents
    on one chassis.
    """

    def __init__(self, sandbox: Sandbox, state_dir: Path) -> None:
        self.remotes = [chassis.ovs_remote for chassis in sandbox.chassis.values()]
        self.logfile = state_dir / "plug-agent.log"
        self.pidfile = sandbox.base_dir / "plug-agent" / "plug-agent.pid"
        self.process: subprocess.Popen | None = None

    def start(self) -> None:
        self._stop_previous()
        with open(self.logfile, "ab") as log_file:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "neutrino.cli", "plug-agent", *self.remotes],
                stdout=log_file, stderr=subprocess.STDOUT, start_new_session=True)
        self.pidfile.parent.mkdir(exist_ok=True)
        self.pidfile.write_text(f"{self.process.pid}\n")

    def running(self) -> bool:
        return self.process is not None and pid_alive(self.process.pid)

    def stop(self) -> None:
        if self.process is not None:
            terminate([self.process.pid], grace=10)
            self.process.wait()
            self.process = None
        self.pidfile.unlink(missing_ok=True)

    def _stop_previous(self) -> None:
        try:
            pid = int(self.pidfile.read_text())
            ours = b"plug-agent" in Path(f"/proc/{pid}/cmdline").read_bytes()
        except (OSError, ValueError):
            return  # none, or gone
        if ours and pid_alive(pid):
            say(f"stopping the plug agent (pid {pid}) a previous run left behind")
            terminate([pid], grace=10)


@dataclass(frozen=True)
class Identity:
    """How the server checks requests and clients authenticate."""

    #: Settings for the server: ``auth_strategy`` and, for the local Keystone,
    #: ``keystone_authtoken``.
    settings: dict[str, Any]
    #: The clouds.yaml to write and print; None for an existing Keystone (its users
    #: are not Neutrino's to know).
    clouds: str | None
    #: Where tokens come from; None without authentication.
    keystone_url: str | None


def identity(auth: str, settings: Settings, endpoint: str,
             keystone: Keystone | None) -> Identity:
    """The identity of this run: none, the local ``keystone``, or the one the settings
    name (``auth`` is ``keystone`` and there is no local one)."""
    if auth == "none":
        return Identity({"auth_strategy": "noauth"}, noauth_clouds_yaml(endpoint), None)
    if keystone is None:
        named = settings.keystone_authtoken
        return Identity({"auth_strategy": "keystone"}, None,
                        named.get("www_authenticate_uri") or named.get("auth_url"))
    return Identity({"auth_strategy": "keystone", "keystone_authtoken": authtoken(keystone)},
                    keystone_clouds_yaml(keystone), keystone.auth_url)


def write_clouds(state_dir: Path, clouds: str | None) -> None:
    if clouds is None:  # one from an earlier run would name a Keystone not in use
        (state_dir / "clouds.yaml").unlink(missing_ok=True)
    else:
        write_private(state_dir / "clouds.yaml", clouds)


class Stopwatch:
    """When each part of the start was done, in seconds from the start: printed as it
    goes and summed up once the whole system is ready (the parts overlap: Keystone
    starts beside OVN, the database and the API workers)."""

    def __init__(self) -> None:
        self.start = time.monotonic()
        self.marks: dict[str, float] = {}

    def mark(self, part: str) -> None:
        self.marks[part] = time.monotonic() - self.start

    def summary(self) -> str:
        parts = ", ".join(f"{part} {at:.1f} s" for part, at in self.marks.items())
        return f"ready in {time.monotonic() - self.start:.1f} s ({parts})"


def run(args: argparse.Namespace) -> int:
    log.setup(os.environ.get("NEUTRINO_LOG_LEVEL", "WARNING"))
    clock = Stopwatch()
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    overrides: dict[str, Any] = {
        "database_url": os.environ.get("NEUTRINO_DATABASE_URL") or sqlite_url(state_dir),
        "bind_port": args.port, "api_workers": args.workers}
    settings = Settings.load(**overrides)
    endpoint = f"http://{settings.bind_host}:{settings.bind_port}"
    keystone: Keystone | None = None
    keystone_start: KeystoneStart | None = None
    sandbox: Sandbox | None = None
    agent: PlugAgent | None = None
    upkeep = Upkeep()
    try:
        if args.auth == "keystone" and not settings.keystone_authtoken:
            say(f"starting Keystone in {state_dir / 'keystone'}")
            keystone = Keystone(state_dir / "keystone", network_url=endpoint)
            # Its port and passwords are known at once: the API workers start meanwhile.
            keystone.prepare()
            keystone_start = KeystoneStart(keystone)
            upkeep.expect("keystone")
        if not os.environ.get("NEUTRINO_OVN_NB_CONNECTION"):
            say(f"starting OVN with {args.chassis} chassis in {state_dir / 'ovn'}")
            sandbox = Sandbox(state_dir / "ovn", progress=lambda m: say(f"ovn: {m}"),
                              keep_dir=True)
            start_ovn(sandbox, args.chassis)
            overrides["ovn_nb_connection"] = sandbox.nb_remote
            overrides["ovn_sb_connection"] = sandbox.sb_remote
            agent = PlugAgent(sandbox, state_dir)
            agent.start()
            say(f"plug agent started for {', '.join(sandbox.chassis)}")
            keep_ovn(upkeep, sandbox, agent)
            clock.mark("OVN")
        say(f"database {settings.database_url}: upgrading schema")
        db = Database(settings.database_url)
        migrate.upgrade(db)
        db.dispose()
        clock.mark("schema")
        ident = identity(args.auth, settings, endpoint, keystone)
        settings = Settings.load(**overrides, **ident.settings)
        write_clouds(state_dir, ident.clouds)
        say(f"starting API server on {endpoint} with {settings.api_workers} workers")
        from neutrino.server import serve

        text = usage(endpoint, chassis_hostname(1), state_dir, ident.clouds, ident.keystone_url)

        def ready() -> None:
            """The API workers are up: once Keystone is too, the system is."""
            clock.mark("API workers")
            if keystone_start is not None:
                running = keystone_start.wait()
                clock.mark("Keystone")
                say(f"Keystone running on {running.auth_url}")
                upkeep.keep("keystone", lambda: bool(running.pids()), running.restart)
            say(clock.summary())
            print(text, flush=True)

        upkeep.start()
        serve(settings, ready=ready, daemons=upkeep.state)
    except KeyboardInterrupt:
        pass
    finally:
        say("stopping")
        upkeep.stop()
        if agent is not None:
            agent.stop()
        if sandbox is not None:
            sandbox.stop()
        if keystone_start is not None:
            keystone_start.stop()
        say("stopped")
    return 0
