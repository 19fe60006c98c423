"""/metrics: Prometheus exposition of API latency, status transitions and bindings."""
from __future__ import annotations

import re

from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from tests.drivers import RECORDER


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in a Prometheus text exposition (0 if absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{") and not line.startswith(name + " "):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line.split(" ")[0]))
        if all(found.get(k) == v for k, v in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_transitions_and_bindings(client: TestClient,
                                                         plugin: Plugin) -> None:
    before = client.get("/metrics").text
    net = client.post("/v2.0/networks", json={"network": {"name": "m"}}).json()["network"]
    port = client.post("/v2.0/ports", json={"port": {"network_id": net["id"],
                                                     "binding:host_id": "hv1"}}).json()["port"]
    plugin.set_port_statuses([(port["id"], "ACTIVE", None)])
    after = client.get("/metrics")
    assert after.status_code == 200
    assert after.headers["content-type"].startswith("text/plain")
    text = after.text

    def delta(name: str, **labels: str) -> float:
        return sample(text, name, **labels) - sample(before, name, **labels)

    assert delta("neutrino_api_request_seconds_count", method="POST", route="/v2.0/ports",
                 code="201") == 1
    assert delta("neutrino_status_transitions_total", resource="port", status="ACTIVE") == 1
    # No mechanism driver: the binding attempt was committed as binding_failed (4a path).
    assert delta("neutrino_port_bindings_total", outcome="4a") == 1


def test_bound_to_active_counts_each_binding_s_first_active_only(make_plugin) -> None:
    plugin = make_plugin(mechanism_drivers=[RECORDER])
    client = TestClient(create_app(plugin))

    def observed() -> float:
        return sample(client.get("/metrics").text, "neutrino_port_bound_to_active_seconds_count")

    before = observed()
    net = plugin.create_network(ADMIN, {"name": "m"})
    port = plugin.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    assert port["binding:vif_type"] == "ovs"
    # Slow to plug: DOWN with a reason in between still makes the next ACTIVE the first.
    plugin.set_port_statuses([(port["id"], "DOWN", "interface not present")])
    plugin.set_port_statuses([(port["id"], "ACTIVE", None)])
    assert observed() == before + 1
    # A flap: its ACTIVE is not a binding's.
    plugin.set_port_statuses([(port["id"], "DOWN", "interface removed")])
    plugin.set_port_statuses([(port["id"], "ACTIVE", None)])
    assert observed() == before + 1
    # Bound anew (another host): its first ACTIVE counts again.
    moved = plugin.update_port(ADMIN, port["id"], {"binding:host_id": "hv2"})
    assert moved["binding:vif_type"] == "ovs"
    plugin.set_port_statuses([(port["id"], "ACTIVE", None)])
    assert observed() == before + 2
