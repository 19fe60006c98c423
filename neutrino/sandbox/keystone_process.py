"""The two programs :mod:`neutrino.sandbox.keystone` runs with Keystone's own Python.

Keystone lives in its own virtualenv (its oslo.* and SQLAlchemy pins are not
Neutrino's), so this file imports nothing from Neutrino and is run by path::

    python -P -W ignore keystone_process.py manage CONFIG_DIR REGION PUBLIC_URL
    python -P -W ignore keystone_process.py serve CONFIG_DIR PORT

``-P`` keeps this file's directory off ``sys.path``: its sibling modules
(``daemon``, ``errors`` ...) would shadow packages of the same name.

``manage`` runs ``keystone-manage db_sync``, ``fernet_setup``,
``credential_setup`` and ``bootstrap`` (password from ``OS_BOOTSTRAP_PASSWORD``,
so it is not on a command line) in one process: importing Keystone costs
about 2 s of CPU, paid once here instead of four times. All four commands are
idempotent in Keystone itself.

``serve`` imports Keystone, waits for a line on stdin (the directory is set
up: the caller runs ``manage`` meanwhile), then serves Keystone's WSGI
application on loopback with cheroot; end-of-file instead means the caller
gave up. Cheroot: one process (SIGTERM stops it, no worker processes to
orphan), a thread pool for concurrent token validations, HTTP/1.1 keep-alive
for keystonemiddleware.
"""
from __future__ import annotations

import grp
import os
import pwd
import sys
from typing import Any

#: Threads serving requests: token validations from several API workers at once.
THREADS = 8


def manage(config_dir: str, region: str, public_url: str) -> None:
    from keystone.cmd import cli

    config = os.path.join(config_dir, "keystone.conf")
    # Key repositories are chowned to this user and group: whoever runs Neutrino.
    owner = ["--keystone-user", pwd.getpwuid(os.getuid()).pw_name,
             "--keystone-group", grp.getgrgid(os.getgid()).gr_name]
    for command in (["db_sync"], ["fernet_setup", *owner], ["credential_setup", *owner],
                    ["bootstrap", "--bootstrap-region-id", region,
                     "--bootstrap-public-url", public_url,
                     "--bootstrap-internal-url", public_url,
                     "--bootstrap-admin-url", public_url]):
        # Each command parses the configuration anew; clear() forgets the previous
        # command's parse so its command-line options can be registered again.
        cli.CONF.clear()
        cli.main(["keystone-manage", "--config-file", config, *command])


def immediate_transactions() -> None:
    """Start every SQLite transaction with ``BEGIN IMMEDIATE`` (it takes the write lock).

    oslo.db begins transactions with a plain ``BEGIN`` and Keystone reads before it writes
    (a user before deleting it, on every login before ``last_active_at``), so two such
    transactions at once each hold a read lock the other's write waits for: SQLite
    answers one of them "database is locked" at once, without waiting, and Keystone a
    500. Found by tempest creating and deleting users from parallel workers. Taking the
    write lock up front makes them wait their turn instead (the busy timeout of the
    connection URL); one server process on loopback loses nothing to it.
    """
    import sqlalchemy
    from sqlalchemy.engine import Engine

    @sqlalchemy.event.listens_for(Engine, "before_cursor_execute", retval=True)
    def begin_immediate(conn: Any, cursor: Any, statement: str, parameters: Any,
                        context: Any, executemany: bool) -> tuple[str, Any]:
        if statement == "BEGIN" and conn.dialect.name == "sqlite":
            statement = "BEGIN IMMEDIATE"
        return statement, parameters


def serve(config_dir: str, port: int) -> None:
    # The costly imports, which need neither the configuration nor the database.
    import keystone.server.flask.application  # noqa: F401
    from cheroot import wsgi

    immediate_transactions()

    if not sys.stdin.readline():
        raise SystemExit("keystone serve: no go-ahead on stdin")
    os.environ["OS_KEYSTONE_CONFIG_DIR"] = config_dir
    # Keystone parses sys.argv with oslo.config when it loads: hide ours from it.
    sys.argv = sys.argv[:1]
    from keystone.wsgi.api import application

    wsgi.Server(("127.0.0.1", port), application, numthreads=THREADS).safe_start()


def main(argv: list[str]) -> None:
    command, config_dir, *rest = argv
    if command == "manage":
        manage(config_dir, *rest)
    elif command == "serve":
        serve(config_dir, int(rest[0]))
    else:
        raise SystemExit(f"unknown command {command!r}: manage or serve")


if __name__ == "__main__":
    main(sys.argv[1:])
