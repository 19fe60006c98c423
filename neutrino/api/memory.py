"""Keeping API workers' memory flat after big responses (glibc only; no-ops elsewhere).

Rendering 10,000 ports takes some 40 MB of objects, many larger than
Python's small-object allocator handles, so they come from malloc, spread
over the arenas of the threads that served them; glibc keeps such memory
once freed.  Without this an API worker that served a few big lists stayed
70 MB larger for good.
"""
from __future__ import annotations

import ctypes
import ctypes.util
from typing import Any

#: A list response this long hands its memory back to the OS once sent.
RELEASE_AFTER = 1000
#: mallopt's M_ARENA_MAX and M_MMAP_THRESHOLD.
_M_ARENA_MAX = -8
_M_MMAP_THRESHOLD = -3
#: Blocks at least this large are mmap'ed, so freeing them returns them to the OS.
MMAP_THRESHOLD = 256 * 1024


def _libc() -> Any:
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


_LIBC = _libc()


def tune_malloc(arenas: int = 2) -> None:
    """Keep freed memory from staying with the worker.

    Threads share *arenas* malloc arenas instead of up to 8 per core: each
    request thread otherwise grows an arena of its own and keeps what it freed;
    threads allocate while holding the GIL anyway, so sharing costs nothing.
    And the mmap threshold is fixed: glibc raises it to the size of any mmap'ed
    block freed, so after one 10 MB response body every later one came from the
    heap and stayed there.  Call before the thread pool starts.
    """
    if _LIBC is not None:
        _LIBC.mallopt(_M_ARENA_MAX, arenas)
        _LIBC.mallopt(_M_MMAP_THRESHOLD, MMAP_THRESHOLD)


def release_memory() -> None:
    """Return freed heap memory to the OS (after a big response was sent)."""
    if _LIBC is not None:
        _LIBC.malloc_trim(0)
