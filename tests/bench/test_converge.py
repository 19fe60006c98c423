"""`neutrino bench converge` runs end to end at a tiny size and reports what it promises."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

VARIANTS = ("neutrino", "baseline", "everything")


def test_converge_bench_tiny(tmp_path: Path) -> None:
    out = tmp_path / "converge.json"
    proc = subprocess.run([sys.executable, "-m", "neutrino.cli", "bench", "converge",
                           "--ports", "4", "--networks", "2", "--workers", "1", "--idle", "1",
                           "--output", str(out)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0 and out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    assert result["setup"]["create_per_second"] > 0
    for name in VARIANTS:
        variant = result[name]
        assert 0 < variant["restarted_s"] <= variant["caught_up_s"] <= variant["settled_s"]
        for db in ("nb", "sb", "ovs/hv1"):
            counts = variant["transactions"][db]
            assert counts["total"] == counts["neutrino"] + counts["ovn"] + counts["bench"]
            assert sum(counts["neutrino_by_kind"].values()) >= counts["neutrino"]
        # The bench's own nb_cfg writes are told apart from Neutrino's.
        assert variant["transactions"]["nb"]["bench"] >= 1
        assert set(variant["idle"]) == {"transactions", "cpu_seconds"}
        assert variant["cpu_seconds"]["hv1/controller"] >= 0
    # Only the variants that run Neutrino have Neutrino's figures.
    for name in ("neutrino", "everything"):
        assert result[name]["caught_up_s"] <= result[name]["settled_s"]
        assert result[name]["active_s"] <= result[name]["settled_s"]
        assert result[name]["left_active"]["ports"] == 0
        assert result[name]["transactions"]["sb"]["neutrino"] >= 1  # the agent's heartbeat
        assert {"neutrino-server", "plug-agent"} <= set(result[name]["cpu_seconds"])
    baseline = result["baseline"]
    assert "active_s" not in baseline and baseline["settled_s"] == baseline["caught_up_s"]
    assert not any(baseline["transactions"][db]["neutrino"] for db in ("nb", "sb", "ovs/hv1"))
    assert "neutrino-server" not in baseline["cpu_seconds"]
    assert result["ratio_everything_to_baseline"] == round(
        result["everything"]["settled_s"] / baseline["caught_up_s"], 2)
    title = "neutrino bench converge: 1 chassis x 4 ports on 2 network(s), 1 API workers"
    assert title in proc.stdout
