"""``neutrino conformance``: start ``neutrino up``, run the network API tests, summarise.

1. ``neutrino up`` in ``WORK_DIR/up`` (a fresh state each run, so results do not depend on
   what an earlier run left), on a free port, with the provider physical network
   ``foo`` (VLANs 1-10) for VLAN tests; or ``--attach STATE_DIR``: an ``up`` already running there.
2. ``tempest.conf`` from its ``clouds.yaml`` (the admin cloud) and the extensions Neutrino
   announces (:mod:`neutrino.conformance.tempest_conf`).
3. ``tempest run`` of :data:`TESTS` with ``--concurrency`` workers, in ``WORK_DIR/tempest``.
4. The stestr repository's last run, as a summary per test module and a list of every
   test's outcome, into ``--results`` (:mod:`neutrino.conformance.summary`).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from neutrino.conformance import summary
from neutrino.conformance.tempest_conf import (
    DEFAULT_POOLS,
    PUBLIC_CIDR,
    PUBLIC_NETWORK,
    QUOTAS,
    VLAN_RANGES,
    Target,
    render,
)
from neutrino.sandbox.ovsdb import free_tcp_port
from neutrino.sandbox.wait import wait_for

#: Both suites' network API tests, admin tests included; scenario tests need servers.
TESTS = r"^(tempest\.api\.network|neutron_tempest_plugin\.api)\."
VENV_ENV = "NEUTRINO_TEMPEST_VENV"
ROWS_SCRIPT = Path(__file__).with_name("subunit_rows.py")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--work-dir", default="./conformance-run",
                        help="where the run's up/ state, tempest workspace and logs go; "
                             "both are replaced on every run (default: %(default)s)")
    parser.add_argument("--results", default="docs/results/conformance",
                        help="where the summary is written (default: %(default)s)")
    parser.add_argument("--attach", metavar="STATE_DIR",
                        help="test the `neutrino up` already running with this state dir "
                             "instead of starting one")
    parser.add_argument("--concurrency", type=int, default=2,
                        help="tempest worker processes (default: %(default)s)")
    parser.add_argument("--regex", default=TESTS,
                        help="tests to run (default: both suites' network API tests)")


def say(message: str) -> None:
    print(f"==> {message}", flush=True)


def tempest_venv() -> Path:
    """``.venv-tempest`` beside the virtualenv Neutrino runs in, as conformance.sh makes it."""
    return Path(os.environ.get(VENV_ENV) or Path(sys.prefix).parent / ".venv-tempest")


class Up:
    """A ``neutrino up`` of this run, stopped (Ctrl-C) by :meth:`stop`."""

    def __init__(self, state_dir: Path, log_path: Path) -> None:
        shutil.rmtree(state_dir, ignore_errors=True)
        self.state_dir = state_dir
        self.port = free_tcp_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("NEUTRINO_", "OS_"))}
        env["NEUTRINO_NETWORK_VLAN_RANGES"] = VLAN_RANGES
        env.update({f"NEUTRINO_QUOTA_{name.upper()}": str(limit)
                    for name, limit in QUOTAS.items()})
        with log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "neutrino.cli", "up", "--state-dir", str(state_dir),
                 "--port", str(self.port)],
                stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.log_path = log_path

    def wait_ready(self, timeout: float = 300) -> None:
        def ready() -> bool:
            if self.process.poll() is not None:
                return True
            try:
                healthy = httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
            except httpx.HTTPError:
                return False
            return healthy.is_success and (self.state_dir / "clouds.yaml").exists()

        wait_for(ready, timeout, "neutrino up", interval=0.5)
        if self.process.poll() is not None:
            tail = self.log_path.read_text(errors="replace").splitlines()[-20:]
            raise RuntimeError("neutrino up exited:\n" + "\n".join(tail))

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def admin_cloud(state_dir: Path) -> dict[str, Any]:
    clouds = yaml.safe_load((state_dir / "clouds.yaml").read_text())["clouds"]
    cloud = clouds["neutrino"]
    if cloud.get("auth_type") != "password":
        raise RuntimeError("the conformance run needs Keystone: `neutrino up` without "
                           "--auth none")
    return cloud


def network_api(cloud: dict[str, Any]) -> httpx.Client:
    """A client of the network endpoint of Keystone's catalog, with the admin's token."""
    auth = cloud["auth"]
    body = {"auth": {"identity": {"methods": ["password"], "password": {"user": {
        "name": auth["username"], "password": auth["password"],
        "domain": {"name": auth["user_domain_name"]}}}},
        "scope": {"project": {"name": auth["project_name"],
                              "domain": {"name": auth["project_domain_name"]}}}}}
    token = httpx.post(auth["auth_url"] + "/auth/tokens", json=body, timeout=30)
    token.raise_for_status()
    network = next(entry for entry in token.json()["token"]["catalog"]
                   if entry["type"] == "network")
    url = next(e["url"] for e in network["endpoints"] if e["interface"] == "public")
    return httpx.Client(base_url=url.rstrip("/") + "/v2.0", timeout=30,
                        headers={"X-Auth-Token": token.headers["X-Subject-Token"]})


def announced_extensions(api: httpx.Client) -> tuple[str, ...]:
    """``/v2.0/extensions`` as the admin sees them."""
    answer = api.get("/extensions")
    answer.raise_for_status()
    return tuple(sorted(e["alias"] for e in answer.json()["extensions"]))


def public_network(api: httpx.Client) -> str:
    """The id of the external network ``public`` with its subnet, made if missing: what a
    cloud's operator provides and router and floating IP tests take their gateways and
    addresses from (``[network] public_network_id``)."""
    found = api.get("/networks", params={"name": PUBLIC_NETWORK, "router:external": "true"})
    found.raise_for_status()
    if found.json()["networks"]:
        return str(found.json()["networks"][0]["id"])
    made = api.post("/networks", json={"network": {"name": PUBLIC_NETWORK,
                                                   "router:external": True}})
    made.raise_for_status()
    network_id = str(made.json()["network"]["id"])
    api.post("/subnets", json={"subnet": {"network_id": network_id, "name": PUBLIC_NETWORK,
                                          "cidr": PUBLIC_CIDR}}).raise_for_status()
    return network_id


def default_subnetpools(api: httpx.Client) -> None:
    """The shared default subnet pools of both IP versions, made if missing: devstack
    makes them, and the auto-allocated topology tests skip without one."""
    for name, prefix, length in DEFAULT_POOLS:
        version = 6 if ":" in prefix else 4
        found = api.get("/subnetpools", params={"is_default": "true", "ip_version": version})
        found.raise_for_status()
        if not found.json()["subnetpools"]:
            api.post("/subnetpools", json={"subnetpool": {
                "name": name, "prefixes": [prefix], "default_prefixlen": length,
                "is_default": True, "shared": True}}).raise_for_status()


def prepare_workspace(workspace: Path, venv: Path, target: Target) -> Path:
    """A tempest workspace as ``tempest init`` makes one (without its registry in ~)."""
    shutil.rmtree(workspace, ignore_errors=True)
    (workspace / "etc").mkdir(parents=True)
    package = subprocess.run(
        [str(venv / "bin" / "python"), "-c",
         "import os, tempest; print(os.path.dirname(tempest.__file__))"],
        check=True, capture_output=True, text=True).stdout.strip()
    (workspace / ".stestr.conf").write_text(
        f"[DEFAULT]\ntest_path={package}/test_discover\ntop_dir={os.path.dirname(package)}\n"
        "group_regex=([^\\.]*\\.)*\n")
    subprocess.run([str(venv / "bin" / "stestr"), "init"], cwd=workspace, check=True,
                   capture_output=True)
    config = workspace / "etc" / "tempest.conf"
    config.write_text(render(target, workspace))
    config.chmod(0o600)  # it holds the admin password
    return config


def run_tempest(workspace: Path, venv: Path, config: Path, regex: str,
                concurrency: int) -> float:
    """``tempest run``; its per-test lines go to the terminal and ``run.log``. Seconds taken."""
    started = time.monotonic()
    with (workspace / "run.log").open("w") as log:
        process = subprocess.Popen(
            [str(venv / "bin" / "tempest"), "run", "--config-file", str(config),
             "--regex", regex, "--concurrency", str(concurrency)],
            cwd=workspace, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        assert process.stdout is not None
        for line in process.stdout:
            log.write(line)
            print(line, end="", flush=True)
        process.wait()
    return time.monotonic() - started


def listed_tests(workspace: Path, venv: Path, config: Path, regex: str) -> list[str]:
    env = {**os.environ, "TEMPEST_CONFIG_DIR": str(config.parent),
           "TEMPEST_CONFIG": config.name}
    out = subprocess.run([str(venv / "bin" / "stestr"), "list", regex], cwd=workspace,
                         env=env, check=True, capture_output=True, text=True).stdout
    return [line.strip() for line in out.splitlines() if line.strip()]


def last_run_rows(workspace: Path, venv: Path) -> list[dict[str, Any]]:
    stream = subprocess.run([str(venv / "bin" / "stestr"), "last", "--subunit"],
                            cwd=workspace, check=True, capture_output=True).stdout
    (workspace / "last.subunit").write_bytes(stream)
    out = subprocess.run([str(venv / "bin" / "python"), "-P", str(ROWS_SCRIPT)],
                         input=stream, check=True, capture_output=True).stdout
    return [json.loads(line) for line in out.decode().splitlines()]


def preamble(regex: str, concurrency: int, extensions: tuple[str, ...]) -> str:
    return f"""\
`neutrino conformance` (`scripts/conformance.sh`): tempest and neutron-tempest-plugin at the
versions pinned in `scripts/tempest-requirements.txt`, run against `neutrino up` (local
Keystone, dynamic credentials), tests matching `{regex}`, {concurrency} workers.
Tests of extensions Neutrino does not announce skip themselves. Announced extensions:
{", ".join(f"`{e}`" for e in extensions)}.

`tests.txt` beside this page lists every test's outcome and duration."""


def run(args: argparse.Namespace) -> int:
    venv = tempest_venv()
    if not (venv / "bin" / "tempest").exists():
        print(f"tempest is not installed in {venv}: run scripts/conformance.sh, which "
              "installs it", file=sys.stderr)
        return 2
    work_dir = Path(args.work_dir).resolve()
    work_dir.mkdir(parents=True, exist_ok=True)
    up: Up | None = None
    try:
        if args.attach:
            state_dir = Path(args.attach).resolve()
        else:
            state_dir = work_dir / "up"
            say(f"starting neutrino up in {state_dir} (log: {work_dir / 'up.log'})")
            up = Up(state_dir, work_dir / "up.log")
            up.wait_ready()
        cloud = admin_cloud(state_dir)
        with network_api(cloud) as api:
            extensions = announced_extensions(api)
            public = public_network(api)
            default_subnetpools(api)
        auth = cloud["auth"]
        target = Target(auth_url=auth["auth_url"], admin_username=auth["username"],
                        admin_password=auth["password"], admin_project=auth["project_name"],
                        region=cloud.get("region_name", "RegionOne"), extensions=extensions,
                        public_network_id=public)
        workspace = work_dir / "tempest"
        config = prepare_workspace(workspace, venv, target)
        listed = listed_tests(workspace, venv, config, args.regex)
        say(f"running {len(listed)} tests with {args.concurrency} workers "
            f"(workspace {workspace})")
        wall = run_tempest(workspace, venv, config, args.regex, args.concurrency)
        with (workspace / "tempest.log").open(errors="replace") as log:
            requests = summary.error_requests(log)
        result = summary.outcomes(listed, last_run_rows(workspace, venv), wall, requests)
    finally:
        if up is not None:
            say("stopping neutrino up")
            up.stop()
    results = Path(args.results)
    results.mkdir(parents=True, exist_ok=True)
    (results / "README.md").write_text(summary.markdown(
        result, "Conformance: OpenStack's network API tests against Neutrino",
        preamble(args.regex, args.concurrency, extensions)))
    (results / "tests.txt").write_text(summary.listing(result))
    say(f"{len(result.outcomes)} tests: {result.count('passed')} passed, "
        f"{result.count('failed')} failed, {result.count('skipped')} skipped in "
        f"{wall / 60:.1f} min; summary in {results / 'README.md'}")
    return 1 if result.count("failed") else 0
