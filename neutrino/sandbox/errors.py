"""Errors raised by the sandbox."""
from __future__ import annotations


class SandboxError(RuntimeError):
    """A daemon failed to start or stop, a tool failed, or a wait timed out."""
