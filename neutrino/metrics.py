"""Prometheus metrics of every Neutrino process.

``neutrino server`` runs several processes; it points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before starting them, so
``/metrics`` on any API worker reports the sum over all of them.  Metrics that
describe state every process holds alike (e.g. what chassis report in OVN SB)
are not summed: they are read at scrape time by the process serving it.
"""
from __future__ import annotations

import os
from collections.abc import Callable, Iterable

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
    Metric,
    generate_latest,
    multiprocess,
)

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)

API_LATENCY = Histogram("neutrino_api_request_seconds", "API request latency",
                        ["method", "route", "code"], buckets=LATENCY_BUCKETS)
STATUS_TRANSITIONS = Counter("neutrino_status_transitions_total",
                             "Status changes written, by resource and new status",
                             ["resource", "status"])
BOUND_TO_ACTIVE = Histogram("neutrino_port_bound_to_active_seconds",
                            "Time from a port's binding to its first ACTIVE",
                            buckets=LATENCY_BUCKETS)
BINDINGS = Counter("neutrino_port_bindings_total", "Binding attempts by outcome", ["outcome"])
OVSDB_RECONNECTS = Counter("neutrino_ovsdb_reconnects_total",
                           "Reconnections (not first connects) of OVSDB sessions, by database",
                           ["database"])
DRIFT_REPAIRS = Counter("neutrino_drift_repairs_total",
                        "NB rows the drift repair created, rewrote or deleted, by "
                        "<table>.<outcome>", ["kind"])


class _ScrapeTime:
    """Runs ``collect`` at every scrape: for metrics read from state, not counted as events
    occur."""

    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self.collect = collect


def exposition(scrape_time: Callable[[], Iterable[Metric]]) -> tuple[bytes, str]:
    """The text exposition for ``/metrics`` and its content type.

    ``scrape_time`` yields this process's metrics read at scrape time; they are
    added to the counters and histograms of every process (or of this one when
    ``PROMETHEUS_MULTIPROC_DIR`` is unset).
    """
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        multiprocess.MultiProcessCollector(registry)
    else:
        registry.register(REGISTRY)  # a registry is a collector of everything it holds
    registry.register(_ScrapeTime(scrape_time))
    return generate_latest(registry), CONTENT_TYPE_LATEST
