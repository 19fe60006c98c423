"""``neutrino server``: the API workers plus this server's status-worker process.

Each API worker process builds its own plugin (its own DB pool and backend
connections) from the environment, so workers share nothing but the
database and OVN.  One extra process per server runs the backends'
background work (status watching, repair); backends decide among servers
which one acts (e.g. the OVN driver's OVSDB lock).
"""
from __future__ import annotations

import argparse
import multiprocessing
import os
import shutil
import signal
import tempfile
import threading

import uvicorn

from neutrino import log
from neutrino.config import Settings
from neutrino.core import events
from neutrino.db import migrate
from neutrino.db.session import Database

#: Seconds between prunings of the status event log.
PRUNE_INTERVAL = 60.0


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", help="TOML settings file (else NEUTRINO_CONFIG)")
    parser.add_argument("--host", dest="bind_host")
    parser.add_argument("--port", dest="bind_port", type=int)
    parser.add_argument("--workers", dest="api_workers", type=int)
    parser.add_argument("--database-url")


def settings_from(args: argparse.Namespace) -> Settings:
    return Settings.load(args.config, bind_host=args.bind_host, bind_port=args.bind_port,
                         api_workers=args.api_workers, database_url=args.database_url)


def create_app():  # noqa: ANN201 - uvicorn factory
    """Build the app in an API worker process, from the environment."""
    from neutrino.api.app import create_app as build
    from neutrino.core.plugin import Plugin

    log.setup()
    settings = Settings.load()
    plugin = Plugin(settings, Database(settings.database_url))
    app = build(plugin)
    app.router.on_shutdown.append(plugin.stop)
    return app


def run_status_worker(env: dict[str, str]) -> None:
    """Body of the status-worker process: run backends' background work until SIGTERM."""
    from neutrino.core.plugin import Plugin

    os.environ.update(env)
    log.setup()
    settings = Settings.load()
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    db = Database(settings.database_url)
    plugin = Plugin(settings, db)
    plugin.start_workers()
    while not stop.wait(PRUNE_INTERVAL):
        events.prune(db)
    plugin.stop()


def check_schema(settings: Settings) -> None:
    db = Database(settings.database_url)
    try:
        if migrate.current_revision(db) is None:
            raise SystemExit("the database has no schema: run `neutrino db upgrade` first")
    finally:
        db.dispose()


def serve(settings: Settings) -> None:
    """Run API workers and the status worker in the foreground until SIGINT/SIGTERM."""
    env = settings.to_env()
    # All processes of this server write metrics here; /metrics sums them.
    env["PROMETHEUS_MULTIPROC_DIR"] = tempfile.mkdtemp(prefix="neutrino-metrics-")
    os.environ.update(env)
    check_schema(settings)
    worker = multiprocessing.get_context("spawn").Process(
        target=run_status_worker, args=(env,), name="neutrino-status-worker", daemon=True)
    worker.start()
    try:
        uvicorn.run("neutrino.server:create_app", factory=True, host=settings.bind_host,
                    port=settings.bind_port, workers=settings.api_workers, log_config=None,
                    access_log=False, timeout_graceful_shutdown=5)
    finally:
        worker.terminate()
        worker.join(10)
        if worker.is_alive():
            worker.kill()
        shutil.rmtree(env["PROMETHEUS_MULTIPROC_DIR"], ignore_errors=True)


def run(args: argparse.Namespace) -> int:
    log.setup()
    serve(settings_from(args))
    return 0
