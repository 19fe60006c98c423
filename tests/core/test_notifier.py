"""S4: port status changes reach the CMS webhook, batched and retried, without blocking."""
from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin


class Webhook:
    """A real HTTP endpoint that fails the first *fail_first* posts with 503.

    Every post first waits for :attr:`gate`, so a test can hold the webhook
    back and show that nothing waits for it.
    """

    def __init__(self, fail_first: int = 0):
        self.bodies: list[dict] = []
        self.attempts = 0
        self.gate = threading.Event()
        self.gate.set()
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                hook.gate.wait(30)
                hook.attempts += 1
                if hook.attempts <= fail_first:
                    self.send_response(503)
                else:
                    hook.bodies.append(body)
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_port}/events"

    def events(self) -> list[dict]:
        return [e for body in self.bodies for e in body["events"]]

    def wait_events(self, count: int, timeout: float = 10) -> list[dict]:
        deadline = time.monotonic() + timeout
        while len(self.events()) < count and time.monotonic() < deadline:
            time.sleep(0.02)
        return self.events()


@pytest.fixture
def webhook() -> Webhook:
    hook = Webhook(fail_first=2)
    yield hook
    hook.server.shutdown()


def test_transitions_are_posted_batched_and_retried(make_plugin, webhook: Webhook) -> None:
    plugin: Plugin = make_plugin(notify_url=webhook.url)
    net = plugin.create_network(ADMIN, {"name": "n"})
    ports = [plugin.create_port(ADMIN, {"network_id": net["id"], "device_id": f"vm-{i}"})
             for i in range(5)]
    # The webhook answers nothing until the gate opens: a caller that waited
    # for it would hang here (and the test time out) instead of returning.
    webhook.gate.clear()
    changed = plugin.set_port_statuses([(p["id"], "ACTIVE", None) for p in ports]).changed
    assert sorted(changed) == sorted(p["id"] for p in ports)
    assert webhook.attempts == 0 and webhook.bodies == []
    webhook.gate.set()
    events = webhook.wait_events(5)
    assert webhook.attempts >= 3  # two 503s, then success
    assert len(webhook.bodies) == 1  # one batch for one burst
    assert {e["tag"] for e in events} == {p["id"] for p in ports}
    assert {e["server_uuid"] for e in events} == {f"vm-{i}" for i in range(5)}
    assert {e["name"] for e in events} == {"network-vif-plugged"}

    # A reason-only change is not a plug event; going DOWN is an unplug event.
    plugin.set_port_statuses([(ports[0]["id"], "ACTIVE", None)])
    plugin.set_port_statuses([(ports[1]["id"], "DOWN", "interface removed")])
    events = webhook.wait_events(6)
    assert len(events) == 6
    assert events[-1]["name"] == "network-vif-unplugged"
    assert events[-1]["tag"] == ports[1]["id"]
    port = plugin.get_port(ADMIN, ports[1]["id"])
    assert port["status"] == "DOWN" and port["status_reason"] == "interface removed"


def test_status_write_bumps_revision_only_on_change(plugin: Plugin) -> None:
    net = plugin.create_network(ADMIN, {"name": "n"})
    port = plugin.create_port(ADMIN, {"network_id": net["id"]})
    assert plugin.set_port_statuses([(port["id"], "ACTIVE", None)]).changed == [port["id"]]
    after = plugin.get_port(ADMIN, port["id"])
    assert after["revision_number"] == port["revision_number"] + 1
    assert after["status_reason"] is None  # S3: ACTIVE needs no reason
    assert plugin.set_port_statuses([(port["id"], "ACTIVE", None)]).changed == []
    assert plugin.get_port(ADMIN, port["id"])["revision_number"] == after["revision_number"]
    assert plugin.set_port_statuses([("no-such-port", "ACTIVE", None)]).changed == []
