"""A private PostgreSQL server in a directory, for tests and benchmarks.

Uses Debian's server binaries directly (never the system cluster).  As root
it runs them as the ``postgres`` user, since PostgreSQL refuses to run as root.
"""
from __future__ import annotations

import glob
import os
import pwd
import subprocess
import tempfile
import time
from pathlib import Path

from neutrino.sandbox.errors import SandboxError
from neutrino.sandbox.ovsdb import free_tcp_port


def _bindir() -> Path:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if not found:
        raise SandboxError("PostgreSQL server binaries not found: install Debian's `postgresql`")
    return Path(found[-1]).parent


class PostgresServer:
    """``start()``, ``create_database(name) -> url``, ``stop()``."""

    def __init__(self, base_dir: str | Path | None = None):
        self.base_dir = Path(base_dir or tempfile.mkdtemp(prefix="ntpg"))
        self.data_dir = self.base_dir / "data"
        self.port = free_tcp_port()
        self.bindir = _bindir()
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            self._as_user = ["runuser", "-u", "postgres", "--"]

    def _run(self, *argv: str) -> None:
        result = subprocess.run([*self._as_user, *argv], capture_output=True, text=True,
                                timeout=120)
        if result.returncode != 0:
            output = result.stderr.strip() or result.stdout.strip()
            raise SandboxError(f"{argv[0]} failed: {output}")

    def start(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        if self._as_user:
            user = pwd.getpwnam("postgres")
            os.chown(self.base_dir, user.pw_uid, user.pw_gid)
        if not self.data_dir.exists():
            self._run(str(self.bindir / "initdb"), "-D", str(self.data_dir), "-U", "postgres",
                      "-A", "trust", "--no-sync", "-E", "UTF8")
        options = (f"-p {self.port} -k {self.base_dir} -c listen_addresses=127.0.0.1 "
                   "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                   "-c max_connections=300")
        self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data_dir), "-l",
                  str(self.base_dir / "postgres.log"), "-o", options, "-w", "start")

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str, template: str | None = None) -> str:
        """A new empty database, or a copy of *template* (much faster than migrating)."""
        import psycopg

        with psycopg.connect(f"host=127.0.0.1 port={self.port} user=postgres dbname=postgres",
                             autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
            copy = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{name}"{copy}')
        return self.url(name)

    def stop(self) -> None:
        """Stop the server and remove its directory, without waiting for the removal.

        Nothing of the data is kept, so the server stops at once (``immediate``: no
        shutdown checkpoint).  A test session leaves a database per test, gigabytes of
        small files that take a disk tens of seconds to delete: the directory is moved
        aside and deleted by a process of its own that nobody waits for."""
        if self.data_dir.exists():
            try:
                self._run(str(self.bindir / "pg_ctl"), "-D", str(self.data_dir),
                          "-m", "immediate", "-w", "stop")
            except SandboxError:
                time.sleep(0.1)
        if not self.base_dir.exists():
            return
        aside = self.base_dir.with_name(f"{self.base_dir.name}.removed")
        self.base_dir.rename(aside)
        # setsid -f: rm runs in a session of its own, and setsid returns at once.
        subprocess.run(["setsid", "-f", "rm", "-rf", "--", str(aside)], check=True,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=30)
