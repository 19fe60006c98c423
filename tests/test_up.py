"""`neutrino up`: the whole system from a clean state dir, as a user runs it.

With the local Keystone (the default): runs the printed example commands
with the unmodified `openstack` CLI and the printed clouds.yaml (password
auth, the network endpoint found in Keystone's catalog), as the admin and as
the demo user, until a port is ACTIVE; stops with SIGINT and checks nothing
is left running, Keystone included; starts again on the same state dir and
finds the users and the data; stops with SIGTERM. Then `--auth none` as
before, an existing Keystone named by the settings, and SIGTERM while starting.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import stat
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import openstack
import pytest
import yaml
from keystoneauth1 import session
from keystoneauth1.identity import v3

from neutrino.sandbox.keystone import SERVICE, Keystone
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from neutrino.up import start_ovn

VENV_BIN = Path(sys.executable).parent
PASSWORD_AUTH = ("auth_url", "username", "password", "project_name", "user_domain_name",
                 "project_domain_name")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def clean_env(**extra: str) -> dict[str, str]:
    """This environment without Neutrino's settings or OpenStack credentials."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEUTRINO_", "OS_"))}
    return {**env, **extra}


class Up:
    def __init__(self, state_dir: Path, port: int, *args: str, **env: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "neutrino.cli", "up", "--state-dir", str(state_dir),
             "--port", str(port), *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
            text=True, env=clean_env(**env), start_new_session=True)
        self.lines: list[str] = []
        self.ready = threading.Event()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            self.lines.append(line)
            if "Press Ctrl-C to stop." in line:
                self.ready.set()

    def output(self) -> str:
        return "".join(self.lines)

    def wait_ready(self, timeout: float = 120) -> str:
        if not self.ready.wait(timeout):
            self.stop()
            pytest.fail("neutrino up did not become ready:\n" + self.output())
        return self.output()

    def stop(self, sig: int = signal.SIGINT) -> int:
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(60)
        finally:
            if self.proc.poll() is None:
                os.killpg(self.proc.pid, signal.SIGKILL)


def processes_using(path: Path) -> list[str]:
    """Command lines of live processes that mention *path* (sandbox daemons, agents,
    Keystone and the guardians)."""
    found = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(path) in cmdline:
            found.append(cmdline)
    return found


def server_environment(up: Up) -> dict[str, str]:
    """The environment of an API worker of *up*: the settings the server runs with."""
    for pid in os.listdir("/proc"):
        try:
            ppid = int(Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1])
            raw = Path(f"/proc/{pid}/environ").read_bytes()
        except (OSError, ValueError, IndexError):
            continue
        env = dict(item.split("=", 1) for item in raw.decode().split("\0") if "=" in item)
        if ppid == up.proc.pid and "NEUTRINO_AUTH_STRATEGY" in env:
            return env
    raise AssertionError("no API worker found")


def printed_clouds(printed: str) -> str:
    return printed[printed.index("clouds:"):printed.index("Then try:")].strip() + "\n"


def printed_commands(printed: str) -> list[str]:
    block = printed[printed.index("Then try:"):printed.index("Press Ctrl-C")]
    return [line.strip() for line in block.splitlines()[1:] if line.strip()]


def shell(*commands: str) -> subprocess.CompletedProcess:
    """*commands* in bash, as a user types them, with this virtualenv's `openstack`."""
    env = clean_env(PATH=f"{VENV_BIN}:{os.environ['PATH']}")
    return subprocess.run(["bash", "-euc", "\n".join(commands)], env=env, capture_output=True,
                          text=True, timeout=300)


def connect(clouds: Path, cloud: str) -> openstack.connection.Connection:
    """openstacksdk with *cloud* of the clouds.yaml file *clouds*, nothing else."""
    config = openstack.config.OpenStackConfig(config_files=[str(clouds)], load_envvars=False)
    return openstack.connection.Connection(config=config.get_one(cloud=cloud))


def wait_active(conn: openstack.connection.Connection, port_name: str) -> None:
    found = conn.network.find_port(port_name)
    assert found is not None
    active = conn.network.wait_for_status(found, "ACTIVE", failures=["ERROR"], interval=0.5,
                                          wait=60)  # openstacksdk's own polling wait
    assert active.status == "ACTIVE"


def test_up_with_keystone_runs_everything_and_resumes() -> None:
    state = Path(tempfile.mkdtemp(prefix="ntup"))
    port = free_port()
    up = Up(state, port)
    printed = up.wait_ready()
    endpoint = f"http://127.0.0.1:{port}"
    assert endpoint in printed

    clouds_file = state / "clouds.yaml"
    assert printed_clouds(printed) == clouds_file.read_text()
    assert stat.S_IMODE(clouds_file.stat().st_mode) == 0o600, "it holds passwords"
    clouds = yaml.safe_load(clouds_file.read_text())["clouds"]
    assert sorted(clouds) == ["neutrino", "neutrino-demo", "neutrino-service"]
    for name, user, project in (("neutrino", "admin", "admin"), ("neutrino-demo", "demo", "demo"),
                                ("neutrino-service", "neutrino", "service")):
        cloud = clouds[name]
        assert cloud["auth_type"] == "password" and cloud["region_name"] == "RegionOne"
        assert not any("endpoint" in key for key in cloud), "found through the catalog"
        assert cloud["auth"]["auth_url"].endswith("/v3")
        assert (cloud["auth"]["username"], cloud["auth"]["project_name"]) == (user, project)
        assert cloud["auth"]["user_domain_name"] == cloud["auth"]["project_domain_name"] \
            == "Default"
    assert processes_using(state / "keystone"), "a local Keystone runs in the state dir"

    # The printed commands, as printed: the admin makes a network and subnet, the service
    # user (as Nova would) the bound port, the demo user a network.
    commands = printed_commands(printed)
    assert any("OS_CLOUD=neutrino-demo" in command for command in commands)
    result = shell(*commands)
    assert result.returncode == 0, result.stderr
    # The demo user goes on: a subnet and a port on its network.
    result = shell(f"export OS_CLIENT_CONFIG_FILE={clouds_file} OS_CLOUD=neutrino-demo",
                   "openstack subnet create --network demo-net --subnet-range 10.9.0.0/24"
                   " demo-subnet2",
                   "openstack port create --network demo-net demo-port2 -f value -c name")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "demo-port2"

    admin = connect(clouds_file, "neutrino")
    assert admin.network.get_endpoint() == f"{endpoint}/v2.0", "from Keystone's catalog"
    wait_active(admin, "demo-port")

    # The server validates tokens as Neutrino's service user of the local Keystone.
    env = server_environment(up)
    assert env["NEUTRINO_AUTH_STRATEGY"] == "keystone"
    authtoken = json.loads(env["NEUTRINO_KEYSTONE_AUTHTOKEN"])
    assert authtoken["auth_type"] == "password"
    assert authtoken["auth_url"] == clouds["neutrino"]["auth"]["auth_url"]
    assert (authtoken["username"], authtoken["project_name"]) == (SERVICE.name, SERVICE.project)
    service = v3.Password(**{key: authtoken[key] for key in PASSWORD_AUTH})
    assert "service" in service.get_access(session.Session()).role_names

    assert up.stop() == 0, up.output()
    time.sleep(0.5)
    assert processes_using(state) == []

    again = Up(state, port)
    try:
        printed = again.wait_ready()
        resumed = yaml.safe_load(clouds_file.read_text())["clouds"]
        assert {name: cloud["auth"]["password"] for name, cloud in resumed.items()} == \
            {name: cloud["auth"]["password"] for name, cloud in clouds.items()}
        result = shell(f"export OS_CLIENT_CONFIG_FILE={clouds_file} OS_CLOUD=neutrino-demo",
                       "openstack port show demo-port2 -f value -c name")
        assert (result.returncode, result.stdout.strip()) == (0, "demo-port2"), result.stderr
        admin = connect(clouds_file, "neutrino")
        assert [s.name for s in admin.network.subnets(network_id=admin.network.find_network(
            "demo").id)] == ["demo-subnet"]
        wait_active(admin, "demo-port")
    finally:
        assert again.stop(signal.SIGTERM) == 0, again.output()
    time.sleep(0.5)
    assert processes_using(state) == []


def test_up_auth_none_runs_without_keystone(tmp_path: Path) -> None:
    state = tmp_path / "state"
    port = free_port()
    up = Up(state, port, "--auth", "none", "--chassis", "3")
    try:
        printed = up.wait_ready()
        clouds = yaml.safe_load(printed_clouds(printed))["clouds"]
        assert clouds == {"neutrino": {"auth_type": "none", "region_name": "RegionOne",
                                       "network_endpoint_override":
                                           f"http://127.0.0.1:{port}/"}}
        assert printed_clouds(printed) == (state / "clouds.yaml").read_text()
        assert not (state / "keystone").exists()
        assert server_environment(up)["NEUTRINO_AUTH_STRATEGY"] == "noauth"

        conn = connect(state / "clouds.yaml", "neutrino")
        net = conn.network.create_network(name="demo")
        subnet = conn.network.create_subnet(network_id=net.id, cidr="10.0.0.0/24",
                                            ip_version=4)
        conn.network.create_port(network_id=net.id, name="demo-port",
                                 binding_host_id=socket.gethostname(),
                                 binding_profile={"vif_plug_type": "dummy"})
        wait_active(conn, "demo-port")

        # Every chassis is a gateway chassis: they elect one (BFD over the underlay), so a
        # router's gateway and a floating IP work.
        public = conn.network.create_network(name="public", is_router_external=True)
        conn.network.create_subnet(network_id=public.id, cidr="172.24.4.0/24", ip_version=4)
        router = conn.network.create_router(name="r", external_gateway_info={
            "network_id": public.id})
        conn.network.add_interface_to_router(router, subnet_id=subnet.id)
        demo_port = conn.network.find_port("demo-port", ignore_missing=False)
        fip = conn.network.create_ip(floating_network_id=public.id, port_id=demo_port.id)
        wait_for(lambda: (conn.network.get_router(router.id).status,
                          conn.network.get_ip(fip.id).status) == ("ACTIVE", "ACTIVE"),
                 30, "router and floating IP active")
    finally:
        assert up.stop() == 0, up.output()
    time.sleep(0.5)
    assert processes_using(state) == []


def test_up_uses_the_keystone_the_settings_name(keystone: Keystone, tmp_path: Path) -> None:
    named = {"www_authenticate_uri": keystone.auth_url, "auth_type": "password",
             **keystone.auth(SERVICE)}
    state = tmp_path / "state"
    up = Up(state, free_port(), NEUTRINO_KEYSTONE_AUTHTOKEN=json.dumps(named))
    try:
        printed = up.wait_ready()
        assert f"Keystone at {keystone.auth_url}" in printed
        assert "clouds:" not in printed, "its users' passwords are not Neutrino's to print"
        assert not (state / "keystone").exists() and not (state / "clouds.yaml").exists()
        env = server_environment(up)
        assert env["NEUTRINO_AUTH_STRATEGY"] == "keystone"
        assert json.loads(env["NEUTRINO_KEYSTONE_AUTHTOKEN"]) == named
    finally:
        assert up.stop() == 0, up.output()


def test_sigterm_while_starting_leaves_no_process(tmp_path: Path) -> None:
    """Keystone starts in a thread beside OVN: a stop then waits for it and stops it."""
    state = tmp_path / "state"
    up = Up(state, free_port())
    wait_for(lambda: "starting OVN" in up.output(), 60, "up to start OVN")
    assert up.stop(signal.SIGTERM) == 0, up.output()
    assert "Press Ctrl-C" not in up.output()
    time.sleep(0.5)
    assert processes_using(state) == []


def pid_in(pidfile: Path) -> int | None:
    try:
        return int(pidfile.read_text())
    except (OSError, ValueError):
        return None


def plug_agents_of(state: Path) -> list[str]:
    return [c for c in processes_using(state) if "plug-agent" in c and "neutrino.cli" in c]


def test_up_restarts_what_dies_and_a_killed_up_leaves_no_second_agent(tmp_path: Path) -> None:
    """Issue 18 item 2: a killed NB or plug agent is started again and counted; after
    ``kill -9`` of ``up`` nothing it started keeps running, and a new ``up`` on the same
    state dir runs one plug agent."""
    state = tmp_path / "state"
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    up = Up(state, port, "--auth", "none", NEUTRINO_HEALTHZ_DETAILS="true")
    try:
        up.wait_ready()
        nb_pidfile = state / "ovn" / "nb" / "ovsdb-server.pid"
        agent_pidfile = state / "ovn" / "plug-agent" / "plug-agent.pid"
        nb, agent = pid_in(nb_pidfile), pid_in(agent_pidfile)
        assert nb is not None and agent is not None
        os.kill(nb, signal.SIGKILL)
        os.kill(agent, signal.SIGKILL)

        def restarted() -> bool:
            daemons = httpx.get(f"{url}/healthz", timeout=5).json()["components"]["daemons"]
            return all(daemons[name] == {"running": True, "restarts": 1}
                       for name in ("ovn-nb", "plug-agent"))
        wait_for(restarted, 60, "NB and the plug agent restarted")
        assert pid_in(nb_pidfile) not in (None, nb) and pid_in(agent_pidfile) not in (None, agent)
        metrics = httpx.get(f"{url}/metrics", timeout=5).text
        assert 'neutrino_daemon_restarts_total{daemon="ovn-nb"} 1.0' in metrics
        assert len(plug_agents_of(state)) == 1
    finally:
        up.proc.kill()  # `up` alone, as `kill -9 <pid of up>`
        up.proc.wait(30)
    # Killed without a chance to clean up: the guardians stop OVN and the plug agent,
    # the API workers die with their supervisor.
    wait_for(lambda: processes_using(state) == [], 30, "nothing of the killed up left")

    again = Up(state, port, "--auth", "none")
    try:
        again.wait_ready()
        assert len(plug_agents_of(state)) == 1
    finally:
        assert again.stop() == 0, again.output()


def test_every_chassis_is_a_gateway_and_they_elect_one() -> None:
    """`neutrino up --chassis 2` makes both chassis gateway chassis; over the sandbox's
    underlay they run BFD, and a router port scheduled on both (as the OVN driver does)
    is claimed by the one of highest priority."""
    sandbox = Sandbox()
    try:
        start_ovn(sandbox, 2)
        for name in ("chassis-1", "chassis-2"):
            assert "enable-chassis-as-gw" in sandbox.sbctl(
                "--bare", "--columns=other_config", "find", "Chassis", f"name={name}")
        sandbox.nbctl("lr-add", "r", "--", "lrp-add", "r", "lrp-gw", "fa:16:3e:00:00:01",
                      "172.24.4.2/24",
                      "--", "lrp-set-gateway-chassis", "lrp-gw", "chassis-1", "10",
                      "--", "lrp-set-gateway-chassis", "lrp-gw", "chassis-2", "20")
        wait_for(lambda: sandbox.bound_chassis("cr-lrp-gw") == "chassis-2", 20,
                 "the gateway claimed by chassis-2")
    finally:
        sandbox.stop()
