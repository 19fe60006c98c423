"""``neutrino up``: the whole system on this machine, in the foreground.

Starts (or resumes, from the same state directory) a local OVN — NB, SB,
ovn-northd, ``--chassis N`` chassis each with ``ovn-controller``, and one
plug agent process for them all — then the API server and status worker on an
embedded SQLite database, and prints how to use it.  Ctrl-C stops everything.
"""
from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
from pathlib import Path

from neutrino import log
from neutrino.config import Settings, sqlite_url
from neutrino.db import migrate
from neutrino.db.session import Database


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--state-dir", default="./neutrino-state",
                        help="where the database, OVN files and logs live (default: %(default)s)")
    parser.add_argument("--port", type=int, default=9696, help="API port (default: %(default)s)")
    parser.add_argument("--chassis", type=int, default=1, help="local chassis to run (default: 1)")
    parser.add_argument("--workers", type=int, default=2, help="API worker processes")


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def chassis_hostname(index: int) -> str:
    host = socket.gethostname()
    return host if index == 1 else f"{host}-{index}"


def clouds_yaml(endpoint: str) -> str:
    return f"""clouds:
  neutrino:
    auth_type: none
    network_endpoint_override: {endpoint}/
    region_name: RegionOne
"""


def usage(endpoint: str, host: str, state_dir: Path) -> str:
    return f"""
Neutrino is running: {endpoint}  (health: {endpoint}/healthz)

Save this as ~/.config/openstack/clouds.yaml (a copy is in {state_dir}/clouds.yaml):

{clouds_yaml(endpoint)}
Then try:

  export OS_CLOUD=neutrino
  openstack network create demo
  openstack subnet create --network demo --subnet-range 10.0.0.0/24 demo-subnet
  openstack port create --network demo --host {host} --binding-profile vif_plug_type=dummy demo-port
  openstack port show demo-port -c status   # ACTIVE once the plug agent has plugged it

Press Ctrl-C to stop.
"""


def start_ovn(state_dir: Path, chassis: int):  # noqa: ANN201 - Sandbox, imported lazily
    from neutrino.sandbox.sandbox import Sandbox

    sandbox = Sandbox(state_dir / "ovn", progress=lambda m: say(f"ovn: {m}"), keep_dir=True)
    sandbox.start_central()
    for i in range(1, chassis + 1):
        sandbox.add_chassis(f"chassis-{i}", hostname=chassis_hostname(i))
    return sandbox


def start_plug_agents(sandbox, state_dir: Path) -> list[subprocess.Popen]:  # noqa: ANN001 - as above
    """One ``neutrino plug-agent`` process serves every local chassis (one agent
    thread each), logging to ``plug-agent.log``: a process per chassis would
    cost ~37 MB each."""
    logfile = open(state_dir / "plug-agent.log", "ab")  # owned by child
    remotes = [chassis.ovs_remote for chassis in sandbox.chassis.values()]
    agent = subprocess.Popen([sys.executable, "-m", "neutrino.cli", "plug-agent", *remotes],
                             stdout=logfile, stderr=subprocess.STDOUT, start_new_session=True)
    say(f"plug agent started for {', '.join(sandbox.chassis)}")
    return [agent]


def run(args: argparse.Namespace) -> int:
    log.setup(os.environ.get("NEUTRINO_LOG_LEVEL", "WARNING"))
    state_dir = Path(args.state_dir).resolve()
    state_dir.mkdir(parents=True, exist_ok=True)
    overrides = {"database_url": os.environ.get("NEUTRINO_DATABASE_URL") or sqlite_url(state_dir),
                 "bind_port": args.port, "api_workers": args.workers,
                 # Until `up` starts its own Keystone: an explicit, loopback-only noauth.
                 "auth_strategy": "noauth"}
    sandbox, agents = None, []
    try:
        if not os.environ.get("NEUTRINO_OVN_NB_CONNECTION"):
            say(f"starting OVN with {args.chassis} chassis in {state_dir / 'ovn'}")
            sandbox = start_ovn(state_dir, args.chassis)
            overrides["ovn_nb_connection"] = sandbox.nb_remote
            overrides["ovn_sb_connection"] = sandbox.sb_remote
            agents = start_plug_agents(sandbox, state_dir)
        settings = Settings.load(**overrides)
        say(f"database {settings.database_url}: upgrading schema")
        db = Database(settings.database_url)
        migrate.upgrade(db)
        db.dispose()
        endpoint = f"http://{settings.bind_host}:{settings.bind_port}"
        (state_dir / "clouds.yaml").write_text(clouds_yaml(endpoint))
        say(f"starting API server on {endpoint} with {settings.api_workers} workers")
        from neutrino.server import serve

        text = usage(endpoint, chassis_hostname(1), state_dir)
        serve(settings, ready=lambda: print(text, flush=True))
    except KeyboardInterrupt:
        pass
    finally:
        say("stopping")
        for agent in agents:
            agent.terminate()
        for agent in agents:
            try:
                agent.wait(10)
            except subprocess.TimeoutExpired:
                agent.kill()
        if sandbox is not None:
            sandbox.stop()
        say("stopped")
    return 0
