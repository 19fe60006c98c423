"""``neutrino bench status`` runs end to end at tiny sizes and reports what it promises.

No timing is asserted: the test proves both phases work against real OVN and a
real ``neutrino server``, and that the JSON and the table keep their shape.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from neutrino import cli

NOT_PRESENT = "DOWN (interface not present on chassis 'hv1')"


def test_bench_status_burst_and_sync(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    output = tmp_path / "status.json"
    code = cli.main(["bench", "status", "--ports", "5", "--sync-ports", "20",
                     "--output", str(output)])
    result = json.loads(output.read_text())
    assert code == (0 if all(result["targets_met"].values()) else 1)
    assert result["bench"] == "status"
    assert set(result["targets_met"]) == {"burst", "sync"}
    assert result["args"]["ports"] == 5 and result["args"]["sync_ports"] == 20

    burst = result["burst"]
    assert burst["ports"] == 5
    for key in ("all_up_in_nb_seconds", "all_active_seconds", "vsctl_seconds"):
        assert burst[key] > 0, key
    assert burst["active_after_up_seconds"] == pytest.approx(
        burst["all_active_seconds"] - burst["all_up_in_nb_seconds"], abs=0.002)
    for latencies in (burst["up_to_active_ms"], burst["plug_to_active_ms"]):
        assert set(latencies) == {"p50", "p90", "p99", "max"}
        assert latencies["p50"] <= latencies["p90"] <= latencies["p99"] <= latencies["max"]
    assert burst["target_seconds"] == 1.0 and isinstance(burst["target_met"], bool)

    sync = result["sync"]
    assert sync["ports"] == 20
    assert sync["setup"]["lsps_written"] == {"logical_switch_port.created": 19}
    assert sync["nb_load_seconds"] > 0
    for run in ("changed", "unchanged"):
        marks = sync[run]
        assert 0 <= marks["all_right_seconds"] and 0 < marks["synced_seconds"]
        assert marks["healthy_seconds"] > 0 and marks["server_cpu_seconds_to_synced"] > 0
        # Checked through the API at the end: every port has its right status.
        assert marks["api"] == {NOT_PRESENT: 20}, run
    assert sync["target_seconds"] == 10.0 and isinstance(sync["target_met"], bool)

    table = capsys.readouterr().out
    for line in ("burst (5 ports): plug -> all up in NB", "burst: all ACTIVE after all up",
                 "sync (20 ports): bare client loads NB", "sync: start -> every status right",
                 "sync: start -> first full sync, nothing to change", "targets met"):
        assert line in table


def test_bench_status_rejects_unknown_phases(capsys: pytest.CaptureFixture) -> None:
    assert cli.main(["bench", "status", "--phases", "burst,nope"]) == 2
    assert "nope" in capsys.readouterr().err
