"""`neutrino bench e2e` runs end to end at a tiny size and reports what it promises."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

#: What plugs the ports, the processes measured (the server's supervisor and its one
#: API worker, and the plug agent's if it runs) and the rounds run, by --plugger.
PLUGGERS = {"agent": ("the plug agent", 3, 1), "ovn": ("ovn-controller", 2, 2)}


@pytest.mark.parametrize("plugger", sorted(PLUGGERS))
def test_e2e_bench_tiny(tmp_path: Path, plugger: str) -> None:
    what_plugs, processes, rounds = PLUGGERS[plugger]
    out, png = tmp_path / "e2e.json", tmp_path / "e2e.png"
    proc = subprocess.run([sys.executable, "-m", "neutrino.cli", "bench", "e2e", "--chassis", "2",
                           "--ports", "6", "--concurrency", "2", "--rate", "20",
                           "--workers", "1", "--plugger", plugger, "--rounds", str(rounds),
                           "--throughput-ports", "8",
                           "--output", str(out), "--plot", str(png)],
                          capture_output=True, text=True, timeout=600)
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    for side in ("neutrino", "baseline"):
        # Rounds pool their ports.
        assert result[side]["ports"] == 6 * rounds and result[side]["ready"] == 6 * rounds
        assert result[side]["p50_ms"] > 0
        # Every stage was seen. Their order is not asserted: each mark is seen by a
        # watcher of its own (the LSP, its up, the SB claim, the Interface row), and
        # on a loaded machine any of them may see its change later than another.
        for stage in ("create_to_in_nb", "create_to_claimed", "create_to_plugged",
                      "create_to_up"):
            assert 0 < result[side][f"{stage}_p50_ms"] <= result[side][f"{stage}_p99_ms"]
        assert not any(result[side]["leftovers"].values()), result[side]["leftovers"]
    assert result["neutrino"]["errors"] == 0
    # The throughput phase: both sides created every port, and the ratio is theirs.
    throughput = {side: result[side]["throughput"] for side in ("neutrino", "baseline")}
    for side in throughput.values():
        assert (side["creates"], side["errors"]) == (8 * rounds, 0) and side["per_second"] > 0
    assert result["throughput_ratio"] == round(
        throughput["neutrino"]["per_second"] / throughput["baseline"]["per_second"], 2)
    assert "throughput_ratio" in result["targets_met"]
    # The stack's floor ran the same phase in the baseline's sandbox, and its server's CPU
    # was measured; the table shows it beside the others.
    floor = result["baseline"]["floor_throughput"]
    assert (floor["creates"], floor["errors"]) == (8 * rounds, 0) and floor["per_second"] > 0
    assert floor["cpu_ms_per_create"]["floor"] > 0
    assert "stack floor" in proc.stdout and "over bare NB" in proc.stdout
    # CPU per create of the Neutrino processes: the server's, the plug agent's if it runs.
    for cpu in (result["neutrino"]["cpu_ms_per_create"],
                throughput["neutrino"]["cpu_ms_per_create"]):
        assert cpu["server"] > 0
        assert set(cpu) == {"server", "total"} | ({"plug_agent"} if plugger == "agent" else set())
        assert cpu["total"] == pytest.approx(sum(v for k, v in cpu.items() if k != "total"),
                                             abs=0.02)
    assert result["baseline"]["cpu_ms_per_create"] is None
    assert "creates/s >= 0.7 x bare NB" in proc.stdout and "load average at start" in proc.stdout
    # The server and the bench watch NB over two connections: the ACTIVE event may come
    # a fraction of a millisecond before the bench's own watcher sees NB's up.
    assert result["neutrino"]["up_to_ready_p99_ms"] >= result["neutrino"]["up_to_ready_p50_ms"]
    # The status path's steps: the server stamps an event as it writes the status, and
    # the client receives it after the commit (one clock: both read the machine's time).
    assert 0 <= result["neutrino"]["written_to_ready_p50_ms"] <= \
        result["neutrino"]["written_to_ready_p99_ms"]
    assert result["neutrino"]["create_to_written_p50_ms"] <= \
        result["neutrino"]["create_to_ready_p50_ms"]
    assert "up_to_written_p50_ms" in result["neutrino"]
    assert "up_to_written_p50_ms" not in result["baseline"]
    assert "up in NB -> status written p50 ms" in proc.stdout
    assert result["neutrino"]["rss_mb"] >= result["neutrino"]["pss_mb"] > 0
    assert len(result["neutrino"]["rss_by_process"]) == processes
    assert result["args"]["rate"] == 20 and result["args"]["workers"] == 1
    assert set(result["added_ms"]) == {"p50_ms", "p90_ms", "p99_ms", "max_ms"}
    assert result["targets_met"]["no_leftovers"] and result["targets_met"]["all_ready"]
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert (f"neutrino bench e2e: 2 chassis x 6 ports, 20 creates/s, plugged by {what_plugs}"
            in proc.stdout)
