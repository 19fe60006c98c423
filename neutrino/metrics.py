"""Prometheus metrics of every Neutrino process.

``neutrino server`` runs several processes; it points
``PROMETHEUS_MULTIPROC_DIR`` at a fresh directory before starting them, so
``/metrics`` on any API worker reports the sum over all of them.
"""
from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Histogram,
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


def exposition() -> tuple[bytes, str]:
    """The text exposition for ``/metrics`` and its content type."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
        return generate_latest(registry), CONTENT_TYPE_LATEST
    return generate_latest(REGISTRY), CONTENT_TYPE_LATEST
