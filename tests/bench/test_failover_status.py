"""`neutrino bench failover-status` at a tiny size: three servers on PostgreSQL and a
clustered NB/SB under create load; after kill -9 of the status worker's server and of
the NB leader, no acknowledged port is lost and transitions resume (S4). Its figures
are the bench's to report; none is asserted here."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_failover_status_bench_tiny(tmp_path: Path) -> None:
    out = tmp_path / "failover.json"
    proc = subprocess.run([sys.executable, "-m", "neutrino.cli", "bench", "failover-status",
                           "--rate", "8", "--clients", "2", "--before", "2", "--after", "5",
                           "--output", str(out)], capture_output=True, text=True, timeout=600)
    assert out.exists(), proc.stdout + proc.stderr
    result = json.loads(out.read_text())
    handover, leader = result["handover"], result["leader"]
    # The load runs on the servers that stay up: every create is answered and reported.
    assert handover["failed_creates"] == 0 and handover["lost"] == 0, handover
    assert handover["ports"] >= 20
    # Transitions resumed: a port that went up after the kill was reported ACTIVE, by a
    # worker that took the lock and published itself after it.
    assert handover["resumed_s"] > 0 and handover["takeover_s"] > 0
    assert handover["up_to_active_5s_after"]["count"] > 0
    # A new NB leader, elected while the old one was down; every port created around the
    # change in SB (ovn-northd translated it) and ACTIVE.
    assert leader["new_leader"] != leader["killed"]
    assert leader["elected_s"] > 0, leader
    assert leader["lost"] == 0 and leader["failed_creates"] == 0, leader
    assert leader["create_to_in_sb_5s_after"]["count"] > 0
    assert leader["create_to_active_5s_after"]["count"] > 0
    assert result["targets_met"]["nothing_lost"]
    assert "neutrino bench failover-status: 3 servers on PostgreSQL" in proc.stdout
