"""One detached OVS/OVN daemon in a sandbox directory: start, stop, kill.

Every daemon is started with ``--detach --no-chdir --pidfile --log-file`` and
with all of its rundir/logdir/dbdir environment variables pointing at its own
directory, so nothing touches ``/var/run`` and the system services are never
involved. The pidfile is the single source of truth for "is it running".
"""
from __future__ import annotations

import ctypes
import glob
import os
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from neutrino.sandbox.errors import SandboxError

#: Linux limit for ``sun_path`` minus the terminating NUL.
MAX_UNIX_PATH = 107
PR_SET_CHILD_SUBREAPER = 36


def check_socket_path(path: Path) -> None:
    """Fail early with a clear message instead of a cryptic bind error."""
    if len(str(path).encode()) > MAX_UNIX_PATH:
        raise SandboxError(
            f"unix socket path {path} is longer than {MAX_UNIX_PATH} bytes; "
            "use a shorter sandbox directory (e.g. tempfile.mkdtemp(prefix='nt'))"
        )


def daemon_env(directory: Path) -> dict[str, str]:
    """Environment that keeps every default path of OVS and OVN inside ``directory``."""
    env = dict(os.environ)
    d = str(directory)
    for prefix in ("OVS", "OVN"):
        for kind in ("RUNDIR", "LOGDIR", "DBDIR", "SYSCONFDIR"):
            env[f"{prefix}_{kind}"] = d
    return env


def run_tool(argv: Sequence[str], directory: Path, timeout: float = 60.0,
             check: bool = True) -> str:
    """Run a CLI tool (ovs-vsctl, ovn-nbctl, ...) and return its stripped stdout."""
    try:
        proc = subprocess.run(list(argv), env=daemon_env(directory), capture_output=True,
                              text=True, timeout=timeout)
    except subprocess.TimeoutExpired as exc:
        raise SandboxError(f"{' '.join(argv)} timed out after {timeout}s") from exc
    if check and proc.returncode != 0:
        raise SandboxError(
            f"{' '.join(argv)} failed ({proc.returncode}): {proc.stderr.strip()}")
    return proc.stdout.strip()


def adopt_orphans() -> None:
    """Become a child subreaper so detached daemons are reparented to this process.

    ``--detach`` orphans the daemon; in a container whose pid 1 does not reap,
    every stopped daemon would stay a zombie. As subreaper we reap our own
    daemons in :func:`pid_alive`. Only orphaned descendants are affected.
    """
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def pid_alive(pid: int) -> bool:
    """True if ``pid`` exists and is not a zombie (reaping it if it is our child)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    if state in ("Z", "X"):
        # A multi-threaded daemon's leader shows "Z" while its other threads
        # still exit; it is gone only once reaped (or if it is not our child).
        try:
            reaped, _ = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            return False
        return reaped == 0
    return True


def start_guardian(base: Path, remove: bool) -> subprocess.Popen:
    """Start the guardian of ``base`` (:mod:`neutrino.sandbox.guardian`): it stops the
    daemons with a pidfile in a subdirectory of ``base`` once the returned process's
    stdin closes, that is on :func:`release_guardian` or when this process dies.

    Here rather than in the guardian module: ``python -m`` warns when the module it
    runs was already imported by its package.
    """
    return subprocess.Popen([sys.executable, "-m", "neutrino.sandbox.guardian", str(base),
                             "remove" if remove else "keep"], stdin=subprocess.PIPE)


def release_guardian(guardian: subprocess.Popen) -> None:
    """Close the guardian's pipe after a clean stop and wait for it to finish."""
    if guardian.poll() is None:
        assert guardian.stdin is not None  # started with stdin=PIPE
        guardian.stdin.close()
        guardian.wait(30)


class Daemon:
    """A daemon process identified by its pidfile.

    ``argv`` is the full command line without the common daemon options, which
    are added here. ``unixctl`` is the control socket path when the program
    accepts ``--unixctl``; otherwise (ovn-controller) the default
    ``<dir>/<program>.<pid>.ctl`` is found by pid.
    """

    def __init__(self, name: str, argv: Sequence[str], directory: Path,
                 own_unixctl: bool = True) -> None:
        self.name = name
        self.program = Path(argv[0]).name
        self.directory = directory
        self.pidfile = directory / f"{self.program}.pid"
        self.logfile = directory / f"{self.program}.log"
        self._own_unixctl = own_unixctl
        self._unixctl = directory / f"{self.program}.ctl"
        check_socket_path(self._unixctl)
        self.argv = list(argv)

    @property
    def unixctl(self) -> Path:
        """The control socket for ``ovs-appctl -t``."""
        if self._own_unixctl:
            return self._unixctl
        pid = self.pid()
        if pid is None:
            raise SandboxError(f"{self.name} is not running")
        return self.directory / f"{self.program}.{pid}.ctl"

    def pid(self) -> int | None:
        """The running daemon's pid, or None if it is not running."""
        try:
            pid = int(self.pidfile.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        return pid if pid_alive(pid) else None

    @property
    def running(self) -> bool:
        return self.pid() is not None

    def start(self) -> None:
        """Start detached; returns once the daemon reports it is ready (``--detach``)."""
        if self.running:
            return
        argv = self.argv + [
            "--no-chdir", f"--pidfile={self.pidfile}", f"--log-file={self.logfile}",
            "--detach",
        ]
        if self._own_unixctl:
            argv.append(f"--unixctl={self._unixctl}")
            self._unixctl.unlink(missing_ok=True)
        run_tool(argv, self.directory, timeout=60)
        if not self.running:
            raise SandboxError(f"{self.name} did not start; see {self.logfile}")

    def appctl(self, *args: str, timeout: float = 30.0) -> str:
        return run_tool(["ovs-appctl", "-T", str(int(timeout)), "-t", str(self.unixctl),
                         *args], self.directory, timeout=timeout + 5)

    def stop(self, *exit_args: str, timeout: float = 10.0) -> None:
        """Ask the daemon to exit (``ovs-appctl exit``); escalate to signals if it hangs."""
        pid = self.pid()
        if pid is None:
            return
        try:
            self.appctl("exit", *exit_args, timeout=timeout)
        except SandboxError:
            pass
        if not self._wait_gone(pid, timeout):
            self.kill(signal.SIGTERM)
            if not self._wait_gone(pid, 5):
                self.kill(signal.SIGKILL)
        self._cleanup()

    def kill(self, sig: int = signal.SIGKILL) -> None:
        """Send ``sig`` (default SIGKILL, for crash tests) and wait until it is gone."""
        pid = self.pid()
        if pid is None:
            return
        try:
            os.kill(pid, sig)
        except ProcessLookupError:
            return
        if sig in (signal.SIGKILL, signal.SIGTERM):
            if not self._wait_gone(pid, 10):
                raise SandboxError(f"{self.name} (pid {pid}) survived signal {sig}")
            self._cleanup()

    def _cleanup(self) -> None:
        """Remove what a killed daemon leaves behind so the next start is clean."""
        self.pidfile.unlink(missing_ok=True)
        if self._own_unixctl:
            self._unixctl.unlink(missing_ok=True)
        for path in glob.glob(str(self.directory / f"{self.program}.*.ctl")):
            Path(path).unlink(missing_ok=True)

    @staticmethod
    def _wait_gone(pid: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not pid_alive(pid):
                return True
            time.sleep(0.02)
        return not pid_alive(pid)
