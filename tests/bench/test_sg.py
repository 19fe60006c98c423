"""``neutrino bench sg`` runs end to end at a tiny size and reports what it promises.

No timing is asserted (the figures are the bench's to report): every change must
reach NB, as the bench's NB monitor sees it, or the run fails; the JSON and the
table keep their shape, so figures from different runs stay comparable.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from neutrino import cli
from neutrino.bench import sg


def test_bench_sg_tiny(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    output = tmp_path / "sg.json"
    assert cli.main(["bench", "sg", "--members", "12", "--baseline-members", "2",
                     "--repeat", "3", "--workers", "1", "--output", str(output)]) == 0
    result, table = json.loads(output.read_text()), capsys.readouterr().out
    assert result["bench"] == "sg"
    assert {k: result["settings"][k] for k in ("members", "baseline_members", "repeat")} == {
        "members": 12, "baseline_members": 2, "repeat": 3}
    assert set(result["results"]) == set(sg.OPERATIONS)
    for op, measured in result["results"].items():
        by_members = measured["by_members"]
        assert set(by_members) == {"2", "12"}
        for stats in by_members.values():
            assert stats["count"] == 3, op
            assert 0 < stats["p50_ms"] <= stats["p99_ms"]
            assert 0 < stats["api_p50_ms"] <= stats["api_p99_ms"]
        assert measured["p50_vs_baseline"] == round(
            by_members["12"]["p50_ms"] / by_members["2"]["p50_ms"], 2)
    targets = {(t["operation"], t["target"]) for t in result["targets"]}
    assert targets == {(op, target) for op in sg.OPERATIONS
                       for target in ("p50 ms with 12 members", "p50 / baseline p50")}
    assert all(isinstance(t["ok"], bool) for t in result["targets"])
    assert "groups of 2 (baseline) and 12 ports" in table
    for op in sg.OPERATIONS:
        assert op in table
