"""The shared bench helpers: statistics, tables and process measurements."""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from neutrino.bench import report


def test_percentile_interpolates() -> None:
    assert report.percentile([], 50) == 0.0
    assert report.percentile([3.0], 99) == 3.0
    values = [float(v) for v in range(1, 101)]
    assert report.percentile(values, 50) == 50.5
    assert report.percentile(values, 99) == 99.01
    assert report.percentile(list(reversed(values)), 0) == 1.0


def test_summarize_in_milliseconds() -> None:
    stats = report.summarize([0.001, 0.002, 0.003, 0.004], seconds=2.0, errors=1)
    assert stats.count == 4 and stats.errors == 1
    assert stats.per_second == 2.0
    assert stats.p50_ms == 2.5 and stats.max_ms == 4.0 and stats.mean_ms == 2.5
    assert report.ratio(3.0, 1.5) == 2.0 and report.ratio(1.0, 0.0) is None


def test_table_aligns_numbers_right() -> None:
    text = report.format_table(["name", "ops/s"], [["create", 301.4], ["show", 12.25], ["x", None]])
    lines = text.splitlines()
    assert lines[0].split() == ["name", "ops/s"]
    assert lines[2].endswith("  301") and lines[3].endswith("12.25") and lines[4].endswith("-")
    assert len({len(line) for line in lines[1:3]}) == 1


def test_tree_memory_and_cpu_cover_children() -> None:
    child = subprocess.Popen([sys.executable, "-c",
                              "import time\nx = b'x' * (40 << 20)\ntime.sleep(30)"])
    try:
        deadline = time.monotonic() + 10
        while report.tree_memory(child.pid).rss_mb < 40 and time.monotonic() < deadline:
            time.sleep(0.05)
        alone = report.tree_memory(child.pid)
        assert alone.processes == 1 and alone.rss_mb > 40
        assert child.pid in report.process_tree(os.getpid())
        tree = report.tree_memory(os.getpid())
        assert tree.processes >= 2 and tree.rss_mb > alone.rss_mb
        assert report.tree_cpu_seconds(os.getpid()) > 0
    finally:
        child.kill()
        child.wait()


def test_write_json_replaces_atomically(tmp_path: Path) -> None:
    target = tmp_path / "out.json"
    report.write_json(target, {"a": 1})
    report.write_json(target, {"b": [1, 2]})
    assert json.loads(target.read_text()) == {"b": [1, 2]}
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_connections_by_process_counts_accepted_sockets() -> None:
    import socket

    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    port = server.getsockname()[1]
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    accepted = [server.accept()[0] for _ in clients]
    try:
        assert report.connections_by_process(os.getpid(), port) == {os.getpid(): 3}
    finally:
        for s in clients + accepted + [server]:
            s.close()
