"""/metrics of a multi-process server: counters summed over processes, plus the
scrape-time metrics of the process serving the scrape, added once."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.api.test_metrics import sample

PROCESS = """
import sys
from prometheus_client.core import CounterMetricFamily
from neutrino.metrics import OVSDB_RECONNECTS, exposition

OVSDB_RECONNECTS.labels("nb").inc()
if sys.argv[1] == "scrape":
    outcomes = CounterMetricFamily("neutrino_plug_outcomes", "", labels=["chassis"])
    outcomes.add_metric(["hv1"], 3)
    sys.stdout.write(exposition(lambda: [outcomes])[0].decode())
"""


def test_scrape_sums_processes_and_adds_scrape_time_metrics(tmp_path: Path) -> None:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(tmp_path)}

    def process(role: str) -> str:
        return subprocess.run([sys.executable, "-c", PROCESS, role], env=env, check=True,
                              capture_output=True, text=True).stdout
    process("count")
    text = process("scrape")
    assert sample(text, "neutrino_ovsdb_reconnects_total", database="nb") == 2
    assert sample(text, "neutrino_plug_outcomes_total", chassis="hv1") == 3
