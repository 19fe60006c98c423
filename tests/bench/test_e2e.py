"""`neutrino bench e2e` runs end to end at a tiny size and reports what it promises."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_e2e_bench_tiny(tmp_path: Path) -> None:
    out, png = tmp_path / "e2e.json", tmp_path / "e2e.png"
    proc = subprocess.run([sys.executable, "-m", "neutrino.cli", "bench", "e2e", "--chassis", "2",
                           "--ports", "6", "--concurrency", "2", "--output", str(out),
                           "--plot", str(png)], capture_output=True, text=True, timeout=600)
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    for side in ("neutrino", "baseline"):
        assert result[side]["ports"] == 6 and result[side]["ready"] == 6
        assert result[side]["p50_ms"] > 0
        assert not any(result[side]["leftovers"].values()), result[side]["leftovers"]
    assert result["neutrino"]["errors"] == 0
    assert set(result["added_ms"]) == {"p50_ms", "p90_ms", "p99_ms", "max_ms"}
    assert result["targets_met"]["no_leftovers"] and result["targets_met"]["all_ready"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "neutrino bench e2e: 2 chassis x 6 ports" in proc.stdout
