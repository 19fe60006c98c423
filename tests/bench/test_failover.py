"""``neutrino bench failover`` runs end to end at a tiny size and reports what it promises.

No timing is asserted: the test proves the bench crashes the chassis holding the
gateway, sees another claim it in SB and the API answer ACTIVE again, brings the
chassis back until it holds the gateway again, and keeps the JSON and table's shape.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from neutrino import cli


def test_bench_failover(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    output = tmp_path / "failover.json"
    assert cli.main(["bench", "failover", "--rounds", "1", "--gateways", "3",
                     "--agent-down-time", "1.5", "--workers", "1",
                     "--output", str(output)]) == 0
    result = json.loads(output.read_text())
    assert result["bench"] == "failover" and result["args"]["rounds"] == 1
    failover = result["failover"]
    (round_,) = failover["rounds"]
    assert round_["victim"] != round_["successor"]
    assert {round_["victim"], round_["successor"]} <= {"gw1", "gw2", "gw3"}
    assert 0 < round_["claimed_s"] and 0 < round_["claimed_back_s"]
    # The API ends the crash ACTIVE (if it ever left it); a DOWN came before that.
    changes = round_["api_during_crash"]
    assert not changes or changes[-1][1:] == ["ACTIVE", "ACTIVE"]
    if round_["api_down_s"] is not None:
        assert round_["api_down_s"] < round_["api_active_s"]
    if round_["api_return_gap_s"] is not None:
        assert failover["api_return_gap_ms"]["n"] == 1
    for key in ("claimed_elsewhere_ms", "claimed_back_ms"):
        assert failover[key]["n"] == 1 and failover[key]["p50"] == failover[key]["max"] > 0
    table = capsys.readouterr().out
    for line in ("crash -> another chassis claims (SB)", "crash -> API says ACTIVE again",
                 "return -> claims the gateway back (SB)"):
        assert line in table
