"""Helpers every benchmark shares: latency statistics, tables, progress, memory, JSON.

The project reports speed as ratios against a baseline measured in the same
run (a machine's absolute speed says little); these helpers keep every bench
computing and printing those figures the same way, so results from
``neutrino bench api``, ``plug`` and later benches can be read side by side.
"""
from __future__ import annotations

import json
import math
import os
import sys
import time
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO


def percentile(values: Sequence[float], pct: float) -> float:
    """The *pct* percentile (0-100) by linear interpolation; 0.0 for no values."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = (len(ordered) - 1) * pct / 100.0
    low, high = math.floor(rank), math.ceil(rank)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Stats:
    """Throughput and latency of one measured phase (latencies in milliseconds)."""

    count: int
    errors: int
    seconds: float
    per_second: float
    p50_ms: float
    p99_ms: float
    mean_ms: float
    max_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in asdict(self).items()}


def summarize(latencies: Sequence[float], seconds: float, errors: int = 0) -> Stats:
    """Stats of a phase from per-request latencies (seconds) and its wall-clock time."""
    ms = [v * 1000.0 for v in latencies]
    return Stats(count=len(ms), errors=errors, seconds=seconds,
                 per_second=len(ms) / seconds if seconds > 0 else 0.0,
                 p50_ms=percentile(ms, 50), p99_ms=percentile(ms, 99),
                 mean_ms=sum(ms) / len(ms) if ms else 0.0, max_ms=max(ms, default=0.0))


def ratio(value: float, baseline: float) -> float | None:
    """*value* / *baseline*, or None when the baseline is zero (nothing to compare to)."""
    return round(value / baseline, 2) if baseline else None


def format_table(headers: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A plain-text table, numbers right-aligned, for terminals and CI logs."""
    def cell(v: Any) -> str:
        if v is None:
            return "-"
        if isinstance(v, float):
            return f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}"
        return str(v)

    text = [[cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in text)) if text else len(h)
              for i, h in enumerate(headers)]
    numeric = [all(_is_number(r[i]) for r in text) if text else False for i in range(len(headers))]

    def line(values: Sequence[str]) -> str:
        # Not strict: cells beyond the headers are left out, as they always were.
        return "  ".join(v.rjust(w) if num else v.ljust(w)
                         for v, w, num in zip(values, widths, numeric, strict=False)).rstrip()

    out = [line(list(headers)), line(["-" * w for w in widths])]
    out += [line(r) for r in text]
    return "\n".join(out)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text == "-"
    return True


class Progress:
    """Progress of long phases on stderr: rewritten in place on a terminal, else
    one line per phase (so CI logs stay short)."""

    def __init__(self, stream: TextIO | None = None, interval: float = 0.5):
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.interval = interval
        self._label = ""
        self._last = 0.0
        self._started = 0.0

    def start(self, label: str, total: int | None = None) -> None:
        self._label, self._started, self._last = label, time.monotonic(), 0.0
        if not self.tty:
            self.stream.write(f"{label} ...\n")
            self.stream.flush()
        else:
            self.update(0, total)

    def update(self, done: int, total: int | None = None) -> None:
        if not self.tty:
            return
        now = time.monotonic()
        if now - self._last < self.interval and done != total:
            return
        self._last = now
        of = f"/{total}" if total else ""
        self.stream.write(f"\r\x1b[K{self._label}: {done}{of} ({now - self._started:.1f}s)")
        self.stream.flush()

    def done(self, summary: str = "") -> None:
        took = time.monotonic() - self._started
        prefix = "\r\x1b[K" if self.tty else ""
        suffix = " - " + summary if summary else ""
        self.stream.write(f"{prefix}{self._label}: done in {took:.1f}s{suffix}\n")
        self.stream.flush()

    def note(self, text: str) -> None:
        self.stream.write(("\r\x1b[K" if self.tty else "") + text + "\n")
        self.stream.flush()


# ---------------------------------------------------------------- memory


def process_tree(pid: int) -> list[int]:
    """*pid* and all its descendants, read from /proc (processes that exit meanwhile are
    skipped)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # The command name is in parentheses and may contain spaces: split after it.
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        children.setdefault(ppid, []).append(int(entry))
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        todo.extend(children.get(current, []))
    return found


def _kb_field(path: str, name: str) -> int:
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(name + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


@dataclass
class Memory:
    """Memory of a process tree in MiB.

    ``rss`` sums each process's resident set (shared library pages counted once
    per process, as ``ps`` would); ``pss`` splits shared pages between the
    processes sharing them, so its sum is what the tree really costs.
    """

    processes: int
    rss_mb: float
    pss_mb: float

    def as_dict(self) -> dict[str, Any]:
        return {"processes": self.processes, "rss_mb": round(self.rss_mb, 1),
                "pss_mb": round(self.pss_mb, 1)}


def process_memory(pid: int) -> list[dict[str, Any]]:
    """Memory of each process of *pid*'s tree, to see which process costs what."""
    found = []
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                command = f.read().replace(b"\0", b" ").decode(errors="replace").strip()
        except OSError:
            continue
        found.append({"pid": p, "command": command[:100],
                      "rss_mb": round(_kb_field(f"/proc/{p}/status", "VmRSS") / 1024.0, 1),
                      "pss_mb": round(_kb_field(f"/proc/{p}/smaps_rollup", "Pss") / 1024.0, 1)})
    return found


def tree_memory(pid: int) -> Memory:
    pids = process_tree(pid)
    rss = sum(_kb_field(f"/proc/{p}/status", "VmRSS") for p in pids)
    pss = sum(_kb_field(f"/proc/{p}/smaps_rollup", "Pss") for p in pids)
    return Memory(processes=len(pids), rss_mb=rss / 1024.0, pss_mb=pss / 1024.0)


def tree_cpu_seconds(pid: int) -> float:
    """CPU time (user + system) used so far by *pid* and its descendants.

    Taken before and after a phase, it gives the server's CPU cost per request,
    a figure that moves much less than throughput when other work shares the
    machine.  Descendants that exited count too once reaped (their time is in
    their parent's children-time fields), e.g. PostgreSQL's per-connection
    backends.
    """
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for p in process_tree(pid):
        try:
            with open(f"/proc/{p}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        # utime, stime, cutime, cstime: fields 14-17 of proc(5)
        total += int(fields[11]) + int(fields[12]) + int(fields[13]) + int(fields[14])
    return total / ticks


def connections_by_process(pid: int, port: int) -> dict[int, int]:
    """Established TCP connections to local *port*, per process of *pid*'s tree.

    Shows how a multi-process server spread its clients: workers that share
    one listening socket do not take turns, and a skewed spread (7 of 8
    clients on one worker) bounds throughput and tail latency by one process.
    """
    inodes: dict[str, int] = {}
    for p in process_tree(pid):
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                try:
                    target = os.readlink(f"/proc/{p}/fd/{fd}")
                except OSError:
                    continue
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = p
        except OSError:
            continue
    counts: dict[int, int] = {}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                lines = f.readlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            local_port = int(fields[1].rsplit(":", 1)[1], 16)
            if local_port == port and fields[3] == "01" and fields[9] in inodes:  # ESTABLISHED
                owner = inodes[fields[9]]
                counts[owner] = counts.get(owner, 0) + 1
    return counts


# ---------------------------------------------------------------- output


def publish(name: str, result: dict[str, Any], text: str, path: str | os.PathLike) -> None:
    """End of a bench: its table (*text*) under its name, and *result* as JSON at *path*."""
    print(f"\nneutrino bench {name}")
    print(text)
    write_json(path, result)
    print(f"wrote {path}")


def write_json(path: str | os.PathLike, data: dict[str, Any]) -> None:
    """Write *data* atomically (a reader never sees half a report)."""
    target = Path(path)
    tmp = target.with_name(target.name + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n")
    tmp.replace(target)


def machine() -> dict[str, Any]:
    """What the figures were measured on: they are only comparable on the same."""
    load = os.getloadavg()
    return {"cpus": os.cpu_count(), "python": sys.version.split()[0],
            "loadavg_at_start": [round(v, 2) for v in load]}
