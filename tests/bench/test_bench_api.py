"""``neutrino bench api`` runs end to end at tiny sizes and reports what it promises.

No timing is asserted: these tests prove the bench works (real server, both
databases, every phase) and that its JSON and table keep their shape, so
figures from different runs stay comparable.
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from neutrino import cli
from neutrino.bench import api

STATS = {"count", "errors", "seconds", "per_second", "p50_ms", "p99_ms", "mean_ms", "max_ms"}
CPU = {"server", "database", "client"}


def run_bench(tmp_path: Path, capsys: pytest.CaptureFixture, *argv: str) -> tuple[dict, str]:
    output = tmp_path / "bench.json"
    assert cli.main(["bench", "api", *argv, "--output", str(output)]) == 0
    return json.loads(output.read_text()), capsys.readouterr().out


def check_phase(stats: dict[str, Any], count: int) -> None:
    assert STATS <= set(stats)
    assert stats["count"] == count and stats["errors"] == 0
    assert stats["per_second"] > 0 and 0 < stats["p50_ms"] <= stats["p99_ms"] <= stats["max_ms"]
    assert set(stats["cpu_ms"]) == CPU


def test_bench_api_on_both_databases(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    report, table = run_bench(tmp_path, capsys, "--db", "both", "--clients", "1,2",
                              "--ports", "20", "--list-size", "30", "--rss-ports", "45",
                              "--bulk-size", "10", "--bulk-rounds", "2")
    assert report["bench"] == "api"
    assert report["settings"] == {"clients": [1, 2], "ports": 20, "list_size": 30,
                                  "bulk_size": 10, "bulk_rounds": 2,
                                  "rss_ports": 45, "fill": "api", "workers": 2,
                                  "client": "raw", "nice": 0, "mechanism_drivers": "",
                                  "auth": "noauth"}
    assert set(report["results"]) == {"sqlite", "postgresql"}
    for db, result in report["results"].items():
        assert set(result["baseline"]) == set(result["operations"]) == {"1", "2"}
        # Every client connection is found on one of the server's processes.
        assert {c: sum(v) for c, v in result["connections_per_worker"].items()} == {"1": 1, "2": 2}
        for clients in ("1", "2"):
            check_phase(result["baseline"][clients], 20)
            assert set(result["operations"][clients]) == set(api.OPERATIONS)
            for op, stats in result["operations"][clients].items():
                check_phase(stats, 20)
                assert stats["cost_vs_baseline"] > 0 and stats["p50_vs_baseline"] > 0, (db, op)
                assert stats["error_samples"] == []
        bulk = result["bulk"]
        assert (bulk["ports_per_request"], bulk["requests"]) == (10, 2)
        check_phase(bulk["single"], 20)
        check_phase(bulk["bulk"], 2)
        assert bulk["speedup_per_port"] == round(
            bulk["single"]["ms_per_port"] / bulk["bulk"]["ms_per_port"], 2) > 0
        assert set(bulk["bulk"]["cpu_ms_per_port"]) == CPU
        # The CRUD and bulk phases delete what they create: listing sees exactly the
        # filled ports.
        assert result["list"]["ports"] == 30 and result["list"]["fill"]["created"] == 30
        assert result["list"]["seconds_median"] > 0 and result["list"]["bytes"] > 0
        memory = result["memory"]
        assert memory["ports"] == 45 and memory["fill"] == {
            "method": "api", "created": 15, "seconds": memory["fill"]["seconds"],
            "creates_per_second": memory["fill"]["creates_per_second"]}
        # The supervisor and both API workers are counted.
        assert memory["after"]["processes"] == 3
        assert {"pid", "command", "rss_mb", "pss_mb"} <= set(memory["by_process"][0])
        assert "neutrino.cli server" in memory["by_process"][0]["command"]
        assert memory["after"]["rss_mb"] >= memory["after"]["pss_mb"] > 0
        assert memory["peak"]["rss_mb"] >= memory["after"]["rss_mb"] * 0.5
        check_phase(result["create_at_scale"], 20)
    # Create targets are defined at 8 clients, not measured here; the others are.
    targets = {(t["db"], t["target"]) for t in report["targets"]}
    assert targets == {(db, name) for db in ("sqlite", "postgresql")
                       for name in ("list_seconds", "server_rss_mb")}
    assert all(isinstance(t["ok"], bool) for t in report["targets"])
    for line in ("GET / (baseline)", "create", "show", "list", "update", "delete",
                 "GET /v2.0/ports (30 ports)", "server memory (45 ports", "server_rss_mb",
                 "one per request → bulks of 10"):
        assert line in table


def test_bench_api_db_fill_and_httpx_client(tmp_path: Path, capsys: pytest.CaptureFixture,
                                            ) -> None:
    report, _ = run_bench(tmp_path, capsys, "--db", "sqlite", "--clients", "1", "--ports", "5",
                          "--list-size", "300", "--rss-ports", "0", "--fill", "db",
                          "--bulk-size", "0",
                          "--client", "httpx", "--workers", "1")
    result = report["results"]["sqlite"]
    assert report["settings"]["client"] == "httpx" and report["settings"]["workers"] == 1
    check_phase(result["operations"]["1"]["create"], 5)
    # Ports written straight to SQL read back like the API's own.
    assert result["list"]["ports"] == 300
    assert result["list"]["fill"]["method"] == "db"
    assert "memory" not in result
    assert {t["target"] for t in report["targets"]} == {"list_seconds"}


def test_bench_api_with_and_without_keystone(tmp_path: Path,
                                             capsys: pytest.CaptureFixture) -> None:
    """``--auth both``: the same phases without identity and with Keystone tokens (every
    request accepted), and what auth adds to each operation."""
    report, table = run_bench(tmp_path, capsys, "--db", "sqlite", "--clients", "2",
                              "--ports", "10", "--list-size", "0", "--rss-ports", "0",
                              "--bulk-size", "0", "--auth", "both")
    assert set(report["results"]) == {"sqlite", "sqlite+keystone"}
    for result in report["results"].values():
        for stats in result["operations"]["2"].values():
            check_phase(stats, 10)
    costs = {c["operation"]: c for c in report["auth_cost"]}
    assert set(costs) == set(api.OPERATIONS)
    for cost in costs.values():
        assert cost["db"] == "sqlite" and cost["auth"] == "keystone" and cost["clients"] == 2
        noauth, keystone = cost["p50_ms"]
        assert cost["added_p50_ms"] == round(keystone - noauth, 2)
        assert cost["per_second_ratio"] > 0
    assert "added p50 ms" in table and "sqlite+keystone" in table


def test_unavailable_bench_is_reported_not_crashed(monkeypatch: pytest.MonkeyPatch,
                                                   capsys: pytest.CaptureFixture) -> None:
    from neutrino.bench import cli as bench_cli

    monkeypatch.setitem(bench_cli.BENCHES, "plug", ("neutrino.bench.not_written_yet", "x"))
    assert cli.main(["bench", "plug", "--anything"]) == 2
    assert "neutrino.bench.not_written_yet is not installed" in capsys.readouterr().err
