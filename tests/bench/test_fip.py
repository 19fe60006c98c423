"""``neutrino bench fip`` runs end to end at a tiny size and reports what it promises.

No timing is asserted: the test proves the bench works against real OVN and a real
``neutrino server``, that each figure is measured, and that the JSON and table keep
their shape.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from neutrino import cli


def test_bench_fip(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    output = tmp_path / "fip.json"
    assert cli.main(["bench", "fip", "--associations", "4", "--workers", "1",
                     "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    assert result["bench"] == "fip" and result["args"]["associations"] == 4
    fip = result["fip"]
    assert fip["associations"] == 4
    # Every floating IP ended associated and ACTIVE (none DOWN or still in BUILD).
    assert fip["final_statuses"] == ["ACTIVE"]
    for key in ("nat_in_nb_ms", "put_reply_ms", "active_ms"):
        assert 0 < fip[key]["p50"] <= fip[key]["p99"] <= fip[key]["max"], key
    assert fip["ratio"]["p50"] == round(fip["active_ms"]["p50"] / fip["nat_in_nb_ms"]["p50"], 2)
    table = capsys.readouterr().out
    for line in ("associate (4) -> NAT row in NB", "associate -> ACTIVE on /v2.0/events",
                 "ACTIVE / NAT in NB (ratio)"):
        assert line in table
