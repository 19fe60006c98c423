"""``neutrino server``: a small supervisor and its API worker processes.

The supervisor binds the listening socket and runs ``api_workers`` worker
processes (:mod:`neutrino.worker`) that accept on it; it restarts a worker
that dies and stops them all on SIGINT/SIGTERM.  It imports neither the web
stack nor SQLAlchemy, so it costs a bare interpreter's memory, and it holds no
state: every worker builds its own plugin (DB pool, backend connections).

Each worker also runs the backends' background work (the status worker); the
backends choose among all workers of all servers which one acts (the OVN
driver: an OVSDB lock).  So a worker's death hands that work over exactly as
a whole server's death does, and no process exists only to wait for it.

At start the workers come up one after another: each is started once the
previous one reports its components healthy (for OVN: its copy of NB and SB
loaded), or after ``READY_TIMEOUT``.  Loading 10,000 ports of NB in every
worker at once shared two cores between them and delayed the first full
status sync by as much; one at a time, the first worker serves and syncs
while the next loads.  Once every worker is up, the supervisor tells systemd
(``READY=1`` on ``$NOTIFY_SOCKET``, so ``Type=notify`` units and the benchmarks
start using the server only when all of it serves).
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import select
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from typing import Any

from neutrino import log
from neutrino.config import Settings, identity_problem
from neutrino.log import RateLimitedLog, fmt

LOG = logging.getLogger(__name__)

#: Exit status of a worker that found no schema in the database (no restart).
EXIT_NO_SCHEMA = 78
#: Seconds a worker gets to finish after SIGTERM before it is killed.
STOP_TIMEOUT = 10.0
#: Restart delays of a worker that keeps dying: doubled per quick death, capped.
RESTART_DELAY, RESTART_DELAY_MAX = 0.5, 10.0
#: A worker that ran this long before dying is restarted without delay.
STABLE_AFTER = 30.0
#: Seconds a starting worker gets to report itself healthy before the next one
#: starts anyway (a backend may be unreachable for a long time).
READY_TIMEOUT = 30.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML settings file (else NEUTRINO_CONFIG)")
    parser.add_argument("--host", dest="bind_host")
    parser.add_argument("--port", dest="bind_port", type=int)
    parser.add_argument("--workers", dest="api_workers", type=int)
    parser.add_argument("--database-url")


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.load(args.config, bind_host=args.bind_host, bind_port=args.bind_port,
                         api_workers=args.api_workers, database_url=args.database_url)


def listen(host: str, port: int) -> socket.socket:
    """The listening socket all workers accept on (the kernel spreads connections)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.create_server((host, port), family=family, backlog=2048)
    sock.set_inheritable(True)
    return sock


class Worker:
    """One API worker process slot: started, watched and restarted by the supervisor."""

    def __init__(self, index: int, sock: socket.socket, env: dict[str, str]) -> None:
        self.index = index
        self.sock = sock
        self.env = env
        self.process: subprocess.Popen | None = None
        self.started = 0.0
        self.delay = RESTART_DELAY
        self.restart_at: float | None = None
        #: Read end of the pipe the worker writes to once healthy (closed once it did).
        self._ready_pipe: int | None = None

    def start(self, state_file: str, serve_at_once: bool) -> None:
        """Start the worker; unless *serve_at_once*, it takes no request before it is
        healthy (its siblings serve meanwhile: a replaced worker is not a 503)."""
        fd = self.sock.fileno()
        self._close_ready_pipe()
        self._ready_pipe, ready_write = os.pipe()
        try:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "neutrino.worker", str(fd), str(os.getpid()),
                 str(ready_write), state_file, "serve" if serve_at_once else "wait"],
                pass_fds=(fd, ready_write), env=self.env)
        finally:
            os.close(ready_write)
        self.started = time.monotonic()
        self.restart_at = None
        LOG.info(fmt("API worker started", worker=self.index, worker_pid=self.process.pid,
                     serve_at_once=serve_at_once))

    @property
    def serving(self) -> bool:
        """Running, and reported healthy (or given up waiting for it)."""
        return self.process is not None and self.restart_at is None and \
            self._ready_pipe is None and self.process.poll() is None

    def up(self) -> bool:
        """Whether the worker reported itself healthy (or died, or ran past READY_TIMEOUT)."""
        if self._ready_pipe is None:
            return self.process is not None
        took = round(time.monotonic() - self.started, 2)
        # Readable: the worker wrote, or its end closed because it died (EOF).
        if select.select([self._ready_pipe], [], [], 0)[0]:
            if os.read(self._ready_pipe, 1):
                LOG.info(fmt("API worker healthy", worker=self.index, seconds=took))
        elif took >= READY_TIMEOUT:
            LOG.warning(fmt("API worker not healthy in time; counting it as up",
                            worker=self.index, seconds=took))
        else:
            return False
        self._close_ready_pipe()
        return True

    def _close_ready_pipe(self) -> None:
        if self._ready_pipe is not None:
            os.close(self._ready_pipe)
            self._ready_pipe = None

    def exited(self) -> int | None:
        """The worker's exit status if it died since the last check."""
        if self.process is None or self.restart_at is not None:
            return None
        return self.process.poll()

    def schedule_restart(self, now: float) -> None:
        ran = now - self.started
        self.delay = 0.0 if ran >= STABLE_AFTER else min(max(self.delay * 2, RESTART_DELAY),
                                                        RESTART_DELAY_MAX)
        self.restart_at = now + self.delay

    def terminate(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()

    def wait(self, deadline: float) -> None:
        if self.process is None:
            return
        try:
            self.process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            LOG.warning(fmt("API worker did not stop in time; killing it",
                            worker_pid=self.process.pid))
            self.process.kill()
            self.process.wait()


def notify_ready() -> None:
    """Send systemd's ``READY=1`` to ``$NOTIFY_SOCKET``, if set (sd_notify(3) protocol)."""
    address = os.environ.get("NOTIFY_SOCKET")
    if not address:
        return
    if address.startswith("@"):  # an abstract socket
        address = "\0" + address[1:]
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        try:
            sock.sendto(b"READY=1", address)
        except OSError as e:
            LOG.warning(fmt("could not notify readiness", notify_socket=address, error=str(e)))


class SupervisorState:
    """The supervisor's view, in a file every worker reads for ``/healthz`` and
    ``/metrics``: its API workers and, under ``neutrino up``, the daemons it keeps.

    Written (atomically) only when it changes; the workers share nothing else.
    """

    def __init__(self, path: str, workers: list[Worker],
                 daemons: Callable[[], dict[str, Any]] = dict) -> None:
        self.path, self.workers, self.daemons = path, workers, daemons
        self.restarts = 0
        self._written: dict[str, Any] | None = None

    def update(self) -> None:
        for worker in self.workers:
            if worker.process is not None and worker.restart_at is None:
                worker.up()  # notes a worker that became healthy
        state = {"api_workers": {"total": len(self.workers),
                                 "serving": sum(w.serving for w in self.workers),
                                 "restarts": self.restarts},
                 "daemons": self.daemons()}
        if state != self._written:
            partial = f"{self.path}.tmp"
            with open(partial, "w") as f:
                json.dump(state, f)
            os.replace(partial, self.path)
            self._written = state


def read_supervisor_state(path: str) -> dict[str, Any] | None:
    """What :class:`SupervisorState` last wrote; None if unreadable."""
    try:
        with open(path) as f:
            state = json.load(f)
    except (OSError, ValueError):
        return None
    return state if isinstance(state, dict) else None


def supervise(workers: list[Worker], stop: threading.Event, state: SupervisorState,
              ready: Callable[[], None] = notify_ready) -> None:
    """Keep every worker running until *stop* is set; raise if the schema is missing.

    *ready* is called once, when the last worker of the first start is up.
    """
    warn = RateLimitedLog(LOG)
    unstarted = list(workers)
    announced = False

    def start(worker: Worker) -> None:
        worker.start(state.path, serve_at_once=not any(w.serving for w in workers))

    while True:
        if not announced and all(w.up() for w in workers if w.process is not None):
            if unstarted:
                start(unstarted.pop(0))
            else:
                LOG.info(fmt("all API workers up", workers=len(workers)))
                ready()
                announced = True
        state.update()
        if stop.wait(0.05 if not announced else 0.2):
            return
        now = time.monotonic()
        for worker in workers:
            status = worker.exited()
            if status == EXIT_NO_SCHEMA:
                raise SystemExit("the database has no schema: run `neutrino db upgrade` first")
            if status is not None:
                worker.schedule_restart(now)
                state.restarts += 1
                warn.warning(("worker-died", worker.index), "API worker died; restarting it",
                             worker=worker.index, exit_status=status, delay_s=worker.delay)
            if worker.restart_at is not None and now >= worker.restart_at:
                start(worker)


def serve(settings: Settings, ready: Callable[[], None] = notify_ready,
          daemons: Callable[[], dict[str, Any]] = dict) -> None:
    """Run the API workers in the foreground until SIGINT/SIGTERM; *ready*: see
    :func:`supervise`; *daemons*: the state of other daemons to publish (``neutrino up``'s
    :meth:`~neutrino.upkeep.Upkeep.state`)."""
    problem = identity_problem(settings)
    if problem:
        raise SystemExit(f"neutrino server: {problem}")
    env = {**os.environ, **settings.to_env()}
    run_dir = tempfile.mkdtemp(prefix="neutrino-server-")
    # All workers write metrics here; /metrics on any of them sums them all.
    env["PROMETHEUS_MULTIPROC_DIR"] = os.path.join(run_dir, "metrics")
    os.mkdir(env["PROMETHEUS_MULTIPROC_DIR"])
    stop = threading.Event()
    previous = {sig: signal.signal(sig, lambda *_: stop.set())
                for sig in (signal.SIGINT, signal.SIGTERM)}
    sock = listen(settings.bind_host, settings.bind_port)
    workers = [Worker(i, sock, env) for i in range(settings.api_workers)]
    LOG.info(fmt("serving", host=settings.bind_host, port=settings.bind_port,
                 workers=settings.api_workers))
    try:
        state = SupervisorState(os.path.join(run_dir, "supervisor.json"), workers, daemons)
        supervise(workers, stop, state, ready)
    finally:
        for worker in workers:
            worker.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for worker in workers:
            worker.wait(deadline)
        sock.close()
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        shutil.rmtree(run_dir, ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    log.setup()
    serve(settings_from(args))
    return 0
