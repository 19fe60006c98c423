"""One API worker process of ``neutrino server``:
``python -m neutrino.worker FD PID READY STATE serve|wait``.

Started by the supervisor (:mod:`neutrino.server`, process ``PID``) with the
listening socket inherited as file descriptor ``FD``, the write end of a pipe
as ``READY``, the supervisor's ``STATE`` file (its view of the workers, for
``/healthz``), whether to serve at once or only once healthy, and the
settings in the environment.  It builds its own plugin,
starts the background work every serving process runs (the backends' status
worker, event pruning), writes to ``READY`` once its components are healthy
(the supervisor then starts the next worker) and serves until SIGTERM/SIGINT.
"""
from __future__ import annotations

import contextlib
import ctypes
import gc
import os
import resource
import signal
import socket
import sys
import threading
import time

import anyio.to_thread
import uvicorn

from neutrino import log
from neutrino.api.app import create_app
from neutrino.api.connections import protocol_with_deadline
from neutrino.config import Settings
from neutrino.core.plugin import Plugin, all_healthy
from neutrino.db import migrate
from neutrino.db.session import Database
from neutrino.server import EXIT_NO_SCHEMA, READY_TIMEOUT, read_supervisor_state

#: prctl option: the signal this process gets when its parent dies.
_PR_SET_PDEATHSIG = 1


#: Descriptors a worker needs besides its clients' connections (database pool, OVSDB,
#: log and metrics files, the listening socket).
OWN_FILES = 200


def raise_open_files_limit(connections: int) -> None:
    """Let the process hold *connections* sockets besides its own files: the usual soft
    limit (1024) is below what ``max_connections_per_worker`` allows; never above the
    hard limit (an operator's ceiling)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = connections + OWN_FILES
    if soft != resource.RLIM_INFINITY and soft < wanted:
        resource.setrlimit(resource.RLIMIT_NOFILE, (
            wanted if hard == resource.RLIM_INFINITY else min(wanted, hard), hard))


def die_with_supervisor(supervisor: int) -> None:
    """Get SIGTERM when the supervisor dies, even by SIGKILL, so no orphan keeps the port."""
    ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, signal.SIGTERM)
    if os.getppid() != supervisor:  # it died before prctl took effect
        os.kill(os.getpid(), signal.SIGTERM)


#: Threads that run blocking request handlers (anyio's default is 40).
REQUEST_THREADS = 8


def limit_request_threads() -> None:
    """Run blocking handlers on at most ``REQUEST_THREADS`` threads.

    Handlers are CPU-bound Python under the GIL or wait on a database that
    serialises writers, so more threads add no throughput; each one adds its
    stack, its pooled database connection and its page cache to the worker.
    Requests beyond the limit wait on the event loop, in arrival order.
    """
    anyio.to_thread.current_default_thread_limiter().total_tokens = REQUEST_THREADS


#: Seconds a thread holds the GIL while others want it (Python's default: 5 ms).
#: A handler back from one of a create's seven database round trips waited up
#: to that long, each time, for a CPU-bound sibling to let go.
GIL_SWITCH_INTERVAL = 0.001


def tune_interpreter() -> None:
    """Keep full garbage collections and GIL hand-overs short.

    The objects that exist once the app is built (modules, routes, schemas,
    SQLAlchemy's mappers) live as long as the process; moved out of the
    collector's generations, a full collection no longer walks them, which
    took tens of milliseconds out of an unlucky request.
    """
    gc.collect()
    gc.freeze()
    sys.setswitchinterval(GIL_SWITCH_INTERVAL)


#: Seconds between two looks at the components' health while starting.
READY_POLL = 0.05


def report_ready(plugin: Plugin, ready_fd: int, serve_at_once: bool) -> None:
    """Write to *ready_fd* once every component is healthy; after ``READY_TIMEOUT`` the
    supervisor has stopped waiting and it gives up.

    Unless *serve_at_once*, this runs before the worker takes any request (its
    siblings serve meanwhile), else in a thread of its own while it serves.
    """
    def wait_healthy() -> None:
        deadline = time.monotonic() + READY_TIMEOUT
        while not all_healthy(plugin.health()):
            if time.monotonic() >= deadline:
                break
            time.sleep(READY_POLL)
        else:
            with contextlib.suppress(BrokenPipeError):  # the supervisor closed its end
                os.write(ready_fd, b"\n")
        os.close(ready_fd)

    if serve_at_once:
        threading.Thread(target=wait_healthy, name="ready-report", daemon=True).start()
    else:
        wait_healthy()


def main(fd: int, supervisor: int, ready_fd: int, state_file: str, serve_at_once: bool) -> int:
    die_with_supervisor(supervisor)
    log.setup()
    settings = Settings.load()
    db = Database(settings.database_url)
    if migrate.current_revision(db) is None:
        return EXIT_NO_SCHEMA
    plugin = Plugin(settings, db)
    app = create_app(plugin, lambda: read_supervisor_state(state_file))
    tune_interpreter()
    app.router.on_startup.append(limit_request_threads)
    app.router.on_startup.append(plugin.start_workers)
    app.router.on_startup.append(lambda: report_ready(plugin, ready_fd, serve_at_once))
    app.router.on_shutdown.append(plugin.stop)
    raise_open_files_limit(settings.max_connections_per_worker)
    config = uvicorn.Config(app, log_config=None, access_log=False, timeout_graceful_shutdown=5,
                            http=protocol_with_deadline(settings.client_header_timeout),
                            limit_concurrency=settings.max_connections_per_worker)
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])
    return 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4],
                  sys.argv[5] == "serve"))
