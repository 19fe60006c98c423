"""OVSDB servers for the sandbox: one standalone server, or a 3-member RAFT cluster.

A database keeps its file, unix socket and TCP port across restarts so that a
killed server can be brought back "in place" and clients reconnect to the same
remote, exactly as after a crash of a real deployment.
"""
from __future__ import annotations

import socket
from dataclasses import dataclass
from pathlib import Path

from neutrino.sandbox.daemon import Daemon, check_socket_path, run_tool
from neutrino.sandbox.errors import SandboxError
from neutrino.sandbox.wait import wait_for


def free_tcp_port() -> int:
    """A TCP port on loopback that is free right now (the kernel picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class DbMember:
    """One ovsdb-server process serving one database file."""

    daemon: Daemon
    db_file: Path
    socket: Path
    tcp_port: int | None
    raft_port: int | None

    @property
    def unix_remote(self) -> str:
        return f"unix:{self.socket}"

    @property
    def tcp_remote(self) -> str | None:
        return None if self.tcp_port is None else f"tcp:127.0.0.1:{self.tcp_port}"


class Database:
    """A schema served by one ovsdb-server, or by three clustered ones."""

    def __init__(self, key: str, schema: Path, base: Path, clustered: bool, tcp: bool) -> None:
        self.key = key
        self.schema = schema
        self.db_name = run_tool(["ovsdb-tool", "schema-name", str(schema)], base)
        self.clustered = clustered
        self.members: list[DbMember] = []
        count = 3 if clustered else 1
        for i in range(count):
            name = f"{key}{i + 1}" if clustered else key
            directory = base / name
            directory.mkdir(parents=True, exist_ok=True)
            sock = directory / "db.sock"
            check_socket_path(sock)
            db_file = directory / f"{key}.db"
            tcp_port = free_tcp_port() if tcp else None
            raft_port = free_tcp_port() if clustered else None
            remotes = [f"--remote=punix:{sock}"]
            if tcp_port is not None:
                remotes.append(f"--remote=ptcp:{tcp_port}:127.0.0.1")
            daemon = Daemon(name, ["ovsdb-server", str(db_file), *remotes], directory)
            self.members.append(DbMember(daemon, db_file, sock, tcp_port, raft_port))

    @property
    def remote(self) -> str:
        """Unix-socket remote(s), comma-separated for a cluster."""
        return ",".join(m.unix_remote for m in self.members)

    @property
    def live_remote(self) -> str:
        """Remotes of the members running now: one-shot tools (ovn-nbctl) try each
        remote only once and would fail on a stopped cluster member."""
        live = [m.unix_remote for m in self.members if m.daemon.running]
        return ",".join(live) or self.remote

    @property
    def tcp_remote(self) -> str | None:
        """Loopback TCP remote(s), or None if TCP was not requested."""
        remotes = [m.tcp_remote for m in self.members]
        return None if None in remotes else ",".join(r for r in remotes if r)

    def create_files(self) -> None:
        """Create database files that do not exist yet (existing ones are reused)."""
        first = self.members[0]
        for i, member in enumerate(self.members):
            if member.db_file.exists():
                continue
            directory = member.daemon.directory
            if not self.clustered:
                run_tool(["ovsdb-tool", "create", str(member.db_file), str(self.schema)],
                         directory)
            elif i == 0:
                run_tool(["ovsdb-tool", "create-cluster", str(member.db_file),
                          str(self.schema), f"tcp:127.0.0.1:{member.raft_port}"], directory)
            else:
                run_tool(["ovsdb-tool", "join-cluster", str(member.db_file), self.db_name,
                          f"tcp:127.0.0.1:{member.raft_port}",
                          f"tcp:127.0.0.1:{first.raft_port}"], directory)

    def start(self, timeout: float = 30.0) -> None:
        self.create_files()
        for member in self.members:
            member.daemon.start()
        self.wait_ready(timeout)

    def wait_ready(self, timeout: float = 30.0, only: DbMember | None = None) -> None:
        """Wait until the members (or just ``only``) serve the database; a cluster
        member is ready once it has joined."""
        for member in [only] if only else self.members:
            if not self.clustered:
                wait_for(member.socket.exists, timeout, f"{member.daemon.name} socket")
                continue

            def joined(m: DbMember = member) -> bool:
                return "Status: cluster member" in m.daemon.appctl("cluster/status", self.db_name)

            wait_for(joined, timeout, f"{member.daemon.name} to join")

    def member(self, name: str) -> DbMember:
        for m in self.members:
            if m.daemon.name == name:
                return m
        raise SandboxError(f"no database server {name!r}")

    def stop(self) -> None:
        for member in self.members:
            member.daemon.stop()
