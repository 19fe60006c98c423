"""A real Keystone in a directory, for ``neutrino up`` and the tests.

Neutrino authenticates requests with Keystone tokens, so its tests and its
one-machine mode need a real Keystone, not a mock. :class:`Keystone` runs one
from its own virtualenv (``.venv-keystone``, made by ``scripts/install.sh``)
with everything in one directory:

- ``keystone.conf`` (written on every start), ``keystone.db`` (SQLite),
  ``fernet-keys/`` and ``credential-keys/``, ``keystone.log``;
- ``state.json`` (mode 0600): the generated passwords, the port, and what the
  last setup registered, so a restart reuses all of it;
- ``run/keystone.pid``: the server process, for the guardian.

First start: ``keystone-manage`` creates the schema, the keys and the admin
(bootstrap) while the server process imports Keystone; the server then loads
the application, and the rest is created through the Keystone API: projects
``demo``, ``alt`` and ``service``, roles ``member``, ``reader`` and
``service``, the users of :data:`USERS` (``demo`` member of ``demo``,
``demo-reader`` reader of ``demo``, ``alt`` member of a second project ``alt``,
``nova`` with only the ``service`` role, as a compute service's user), Neutrino's
service user ``neutrino`` (``service`` and ``admin`` on ``service``, as Neutron's
own service user has), and the ``network`` service with its endpoints. A later start on the same
directory only starts the server: users, keys and therefore tokens survive; the
catalog is updated if the port or Neutrino's URL moved.
"""
from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx

from neutrino.sandbox.daemon import pid_alive, release_guardian, start_guardian
from neutrino.sandbox.errors import SandboxError
from neutrino.sandbox.guardian import terminate
from neutrino.sandbox.ovsdb import free_tcp_port
from neutrino.sandbox.wait import wait_for

#: Where Keystone's virtualenv is, if not beside Neutrino's own (``.venv-keystone``).
VENV_ENV = "NEUTRINO_KEYSTONE_VENV"
REGION = "RegionOne"
DOMAIN = "default"
PROCESS_SCRIPT = Path(__file__).with_name("keystone_process.py")

CONFIG = """\
# Written by Neutrino on every start of its local Keystone; edits are lost.
[DEFAULT]
debug = false
log_dir = {dir}
log_file = keystone.log
use_stderr = false

[database]
# A transaction waits up to 30 s for SQLite's write lock (keystone_process.py takes it
# at BEGIN) instead of 5.
connection = sqlite:///{dir}/keystone.db?timeout=30

[token]
provider = fernet

[fernet_tokens]
key_repository = {dir}/fernet-keys

[credential]
key_repository = {dir}/credential-keys

[cache]
# One server process, so an in-process cache stays coherent (Keystone invalidates
# it on its own writes): it takes an authenticated request from ~100 ms to ~10 ms.
enabled = true
backend = oslo_cache.dict

[identity]
# A development Keystone on loopback: bcrypt's minimum cost keeps each password
# authentication at a few milliseconds instead of ~0.3 s of CPU.
password_hash_rounds = 4
"""


@dataclass(frozen=True)
class User:
    """A user that :class:`Keystone` creates, with the roles it gets on its project."""

    name: str
    project: str
    roles: tuple[str, ...]


ADMIN = User("admin", "admin", ("admin",))
DEMO = User("demo", "demo", ("member",))
SERVICE = User("neutrino", "service", ("service", "admin"))
#: Callers for the policy tests: a reader of ``demo``, a member of a second project,
#: and a service user with no other role (what Nova's user is to Neutron).
DEMO_READER = User("demo-reader", "demo", ("reader",))
ALT = User("alt", "alt", ("member",))
NOVA = User("nova", "service", ("service",))
USERS = (ADMIN, DEMO, SERVICE, DEMO_READER, ALT, NOVA)
#: Roles the users above hold or clients expect; bootstrap makes them all in recent
#: Keystone releases (older ones lack ``service``).
ROLES = ("admin", "member", "reader", "service")


def default_venv() -> Path:
    """``.venv-keystone`` beside the virtualenv Neutrino runs in, as install.sh makes it."""
    return Path(os.environ.get(VENV_ENV) or Path(sys.prefix).parent / ".venv-keystone")


def port_free(port: int) -> bool:
    """Whether the server could bind ``port`` now (it sets SO_REUSEADDR too)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


class Keystone:
    """Start, use and stop a real Keystone under ``base_dir``.

    ``base_dir`` defaults to a fresh directory that :meth:`stop` removes
    (unless ``keep_dir``); an existing directory is reused with all its state.
    ``port`` defaults to the one the directory used last if it is free, else
    any free one. ``network_url`` is Neutrino's endpoint in the catalog. If
    the owning process dies without :meth:`stop`, a guardian stops Keystone.
    """

    def __init__(self, base_dir: str | Path | None = None, port: int | None = None,
                 network_url: str = "http://127.0.0.1:9696", venv: str | Path | None = None,
                 keep_dir: bool = False) -> None:
        self._owns_dir = base_dir is None and not keep_dir
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="ntks")).resolve()
        self.network_url = network_url.rstrip("/")
        self.venv = Path(venv) if venv else default_venv()
        self.logfile = self.base_dir / "keystone.log"
        self.pidfile = self.base_dir / "run" / "keystone.pid"
        self._state_file = self.base_dir / "state.json"
        self._requested_port = port
        self.port = 0
        self.passwords: dict[str, str] = {}
        self._process: subprocess.Popen | None = None
        self._guardian: subprocess.Popen | None = None

    # -- context manager ---------------------------------------------------
    def __enter__(self) -> Keystone:
        self.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    # -- what clients need -------------------------------------------------
    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def auth_url(self) -> str:
        """The identity endpoint clients authenticate against (``/v3``)."""
        return f"{self.url}/v3"

    def auth(self, user: User = ADMIN) -> dict[str, str]:
        """Password auth for ``user`` scoped to its project, with the option names of
        ``clouds.yaml``, keystoneauth1's ``v3.Password`` and ``[keystone_authtoken]``."""
        return {"auth_url": self.auth_url, "username": user.name,
                "password": self.passwords[user.name], "project_name": user.project,
                "user_domain_name": "Default", "project_domain_name": "Default"}

    # -- start / stop ------------------------------------------------------
    def start(self, timeout: float = 60.0) -> None:
        """Start Keystone (setting up what this directory lacks); return once it serves.

        On failure everything started is stopped and the error quotes the log.
        """
        if self._process is not None:
            return
        python = self.venv / "bin" / "python"
        if not python.exists():
            raise SandboxError(f"Keystone is not installed: {python} is missing "
                               "(scripts/install.sh makes it)")
        self.prepare()
        self._guardian = start_guardian(self.base_dir, remove=self._owns_dir)
        try:
            self._start(timeout)
        except BaseException:
            self.stop()
            raise

    def prepare(self) -> None:
        """Choose the port and the passwords (kept in ``state.json``) and write the
        configuration: all that clients and Neutrino need to know (:meth:`auth`,
        :attr:`auth_url`), known before the server runs, so they can start meanwhile.
        :meth:`start` does it too; doing it twice keeps the same port and passwords."""
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self._refuse_running()
        state = self._load_state()
        # A directory made before a user was added to USERS gets that user now.
        for user in USERS:
            state["passwords"].setdefault(user.name, secrets.token_urlsafe(16))
        self.passwords = state["passwords"]
        if not self.port:
            self.port = self._choose_port(state.get("port"))
        state["port"] = self.port
        self._save_state(state)
        (self.base_dir / "keystone.conf").write_text(CONFIG.format(dir=self.base_dir))

    def _start(self, timeout: float) -> None:
        state = self._load_state()
        # The server imports Keystone (~2 s of CPU) while keystone-manage sets up the
        # directory, and loads the application once it is told to go on.
        server = self._spawn_server()
        if not state.get("bootstrapped"):
            self._run_process(["manage", str(self.base_dir), REGION, self.auth_url],
                              timeout, {"OS_BOOTSTRAP_PASSWORD": self.passwords["admin"]})
            state["bootstrapped"] = True
            self._save_state(state)
        self._serve(server, timeout)
        catalog = {"identity": self.auth_url, "network": self.network_url}
        users = sorted(user.name for user in USERS)
        if state.get("catalog") != catalog or state.get("users") != users:
            self._set_up(catalog)
            state["catalog"], state["users"] = catalog, users
            self._save_state(state)

    def restart(self, timeout: float = 60.0) -> None:
        """Stop what is left of the server and start it again on the same directory."""
        self.stop()
        self.start(timeout)

    @property
    def guardian_pid(self) -> int | None:
        return self._guardian.pid if self._guardian else None

    def pids(self) -> list[int]:
        """The Keystone processes running now (the server; none once stopped)."""
        if self._process is None or not pid_alive(self._process.pid):
            return []
        return [self._process.pid]

    def stop(self) -> None:
        """Stop the server and the guardian; idempotent, leaves no process behind."""
        if self._process is not None:
            terminate([self._process.pid])
            self._process.wait(10)
            self._process = None
            self.pidfile.unlink(missing_ok=True)
        if self._guardian is not None:
            release_guardian(self._guardian)
            self._guardian = None
        if self._owns_dir:
            shutil.rmtree(self.base_dir, ignore_errors=True)

    # -- internals ---------------------------------------------------------
    def _refuse_running(self) -> None:
        """Two servers on one SQLite database and key repository would corrupt both."""
        try:
            pid = int(self.pidfile.read_text())
        except (FileNotFoundError, ValueError):
            return
        try:
            ours = str(self.base_dir).encode() in Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            return  # gone: the pidfile is stale
        if ours and pid_alive(pid):
            raise SandboxError(f"a Keystone (pid {pid}) already runs in {self.base_dir}")

    def _load_state(self) -> dict[str, Any]:
        if self._state_file.exists():
            return json.loads(self._state_file.read_text())
        return {"passwords": {}}

    def _save_state(self, state: dict[str, Any]) -> None:
        """Written atomically, readable only by the owner: it holds the passwords."""
        tmp = self._state_file.with_suffix(".tmp")
        tmp.unlink(missing_ok=True)
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "w") as f:
            json.dump(state, f, indent=2)
        tmp.replace(self._state_file)

    def _choose_port(self, previous: int | None) -> int:
        if self._requested_port:
            return self._requested_port
        if previous and port_free(previous):
            return previous
        return free_tcp_port()

    def _command(self, args: list[str]) -> list[str]:
        return [str(self.venv / "bin" / "python"), "-P", "-W", "ignore", str(PROCESS_SCRIPT),
                *args]

    def _run_process(self, args: list[str], timeout: float, env: dict[str, str]) -> None:
        with self.logfile.open("ab") as log:
            try:
                result = subprocess.run(self._command(args), stdout=log, stderr=log,
                                        env={**os.environ, **env}, timeout=timeout)
            except subprocess.TimeoutExpired as exc:
                raise SandboxError(f"keystone {args[0]} timed out{self._log_tail()}") from exc
        if result.returncode != 0:
            raise SandboxError(f"keystone {args[0]} failed ({result.returncode})"
                               f"{self._log_tail()}")

    def _log_tail(self, lines: int = 15) -> str:
        """The end of the log, so that a failure says why without a trip to the file."""
        try:
            tail = self.logfile.read_text(errors="replace").splitlines()[-lines:]
        except FileNotFoundError:
            return ""
        return f"; end of {self.logfile}:\n" + "\n".join(tail)

    def _spawn_server(self) -> subprocess.Popen:
        self.pidfile.parent.mkdir(exist_ok=True)
        with self.logfile.open("ab") as log:
            # Own session: Ctrl-C on ``neutrino up`` must not stop Keystone before
            # Neutrino, which stops it last.
            self._process = subprocess.Popen(
                self._command(["serve", str(self.base_dir), str(self.port)]),
                stdin=subprocess.PIPE, stdout=log, stderr=log, start_new_session=True)
        self.pidfile.write_text(str(self._process.pid))
        return self._process

    def _serve(self, server: subprocess.Popen, timeout: float) -> None:
        """Let the server load Keystone on the directory, now set up; wait until it serves."""
        try:
            server.stdin.write(b"go\n")  # type: ignore[union-attr]
            server.stdin.close()  # type: ignore[union-attr]
        except BrokenPipeError:
            pass  # it exited already: reported below

        def served() -> bool:
            return server.poll() is not None or httpx.get(self.auth_url, timeout=2).is_success

        try:
            wait_for(served, timeout, f"Keystone on {self.url}")
        except SandboxError as exc:
            raise SandboxError(f"{exc}{self._log_tail()}") from exc
        if server.poll() is not None:
            raise SandboxError(f"Keystone exited ({server.returncode}) on start"
                               f"{self._log_tail()}")

    def _set_up(self, catalog: dict[str, str]) -> None:
        """Create through the API what bootstrap does not; each step only if missing."""
        with _Api(self.auth_url, self.passwords["admin"]) as api:
            roles = {name: api.ensure("roles", {"name": name})["id"] for name in ROLES}
            projects = {user.project: api.ensure("projects", {"name": user.project,
                                                              "domain_id": DOMAIN})["id"]
                        for user in USERS}
            for user in USERS:
                user_id = api.ensure("users", {"name": user.name, "domain_id": DOMAIN},
                                     {"password": self.passwords[user.name],
                                      "default_project_id": projects[user.project]})["id"]
                for role in user.roles:
                    api.put(f"projects/{projects[user.project]}/users/{user_id}"
                            f"/roles/{roles[role]}")
            names = {"identity": "keystone", "network": "neutrino"}
            for kind, url in catalog.items():
                service_id = api.ensure("services", {"type": kind},
                                        {"name": names[kind]})["id"]
                for interface in ("public", "internal", "admin"):
                    endpoint = api.ensure(
                        "endpoints", {"service_id": service_id, "interface": interface,
                                      "region_id": REGION}, {"url": url})
                    if endpoint["url"] != url:
                        api.patch(f"endpoints/{endpoint['id']}", {"endpoint": {"url": url}})


class _Api:
    """The few Keystone v3 admin calls the setup needs, as the bootstrap admin."""

    def __init__(self, auth_url: str, password: str) -> None:
        self._http = httpx.Client(base_url=auth_url + "/", timeout=30)
        response = self._http.post("auth/tokens", json={"auth": {
            "identity": {"methods": ["password"], "password": {"user": {
                "name": ADMIN.name, "domain": {"id": DOMAIN}, "password": password}}},
            "scope": {"project": {"name": ADMIN.project, "domain": {"id": DOMAIN}}}}})
        self._check(response)
        self._http.headers["X-Auth-Token"] = response.headers["X-Subject-Token"]

    def __enter__(self) -> _Api:
        return self

    def __exit__(self, *exc: object) -> None:
        self._http.close()

    @staticmethod
    def _check(response: httpx.Response) -> None:
        if response.is_error:
            raise SandboxError(f"Keystone {response.request.method} {response.request.url}: "
                               f"{response.status_code} {response.text}")

    def ensure(self, collection: str, match: dict[str, str],
               extra: dict[str, str] | None = None) -> dict[str, Any]:
        """The one ``collection`` entry with the attributes ``match``, created if missing."""
        response = self._http.get(collection, params=match)
        self._check(response)
        found = response.json()[collection]
        if found:
            return found[0]
        member = collection[:-1]
        response = self._http.post(collection, json={member: {**match, **(extra or {})}})
        self._check(response)
        return response.json()[member]

    def put(self, path: str) -> None:
        self._check(self._http.put(path))

    def patch(self, path: str, body: dict[str, Any]) -> None:
        self._check(self._http.patch(path, json=body))
