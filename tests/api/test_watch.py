"""Waiting without polling: long-poll on a port's status and the SSE event stream."""
from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
import uvicorn

from neutrino.api import watch
from neutrino.api.app import create_app
from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin


@pytest.fixture
def live_url(plugin: Plugin) -> Iterator[str]:
    """The real app served by uvicorn on a free loopback port, in this process."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    server = uvicorn.Server(uvicorn.Config(create_app(plugin), host="127.0.0.1", port=port,
                                           log_config=None, access_log=False))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.01)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(5)


@pytest.fixture
def port(plugin: Plugin) -> dict:
    net = plugin.create_network(ADMIN, {"name": "n"})
    return plugin.create_port(ADMIN, {"network_id": net["id"], "device_id": "vm1"})


def later(delay: float, func, *args) -> threading.Thread:
    thread = threading.Timer(delay, func, args)
    thread.start()
    return thread


def test_long_poll_returns_when_status_is_reached(live_url: str, make_plugin, port: dict) -> None:
    writer = make_plugin()  # another plugin on the same database: like the status worker process
    later(0.3, writer.set_port_statuses, [(port["id"], "ACTIVE", None)])
    started = time.monotonic()
    r = httpx.get(f"{live_url}/v2.0/ports/{port['id']}",
                  params={"wait_for_status": "ACTIVE", "timeout": 20}, timeout=30)
    waited = time.monotonic() - started
    assert r.status_code == 200
    assert r.json()["port"]["status"] == "ACTIVE"
    assert 0.25 <= waited < 10  # returned on the change, not at the timeout


def test_long_poll_times_out_with_current_state(live_url: str, port: dict) -> None:
    started = time.monotonic()
    r = httpx.get(f"{live_url}/v2.0/ports/{port['id']}",
                  params={"wait_for_status": "ACTIVE", "timeout": 0.5}, timeout=30)
    assert time.monotonic() - started >= 0.5
    assert r.status_code == 200 and r.json()["port"]["status"] == "DOWN"


def test_long_poll_already_there_returns_at_once(live_url: str, plugin: Plugin, port: dict) -> None:
    r = httpx.get(f"{live_url}/v2.0/ports/{port['id']}",
                  params={"wait_for_status": "DOWN", "timeout": 30}, timeout=5)
    assert r.json()["port"]["status"] == "DOWN"


@pytest.mark.parametrize("params", [{"wait_for_status": "UP"},
                                    {"wait_for_status": "ACTIVE", "timeout": "soon"},
                                    {"wait_for_status": "ACTIVE", "timeout": 301}])
def test_long_poll_bad_parameters(live_url: str, port: dict, params: dict) -> None:
    r = httpx.get(f"{live_url}/v2.0/ports/{port['id']}", params=params, timeout=5)
    assert r.status_code == 400 and r.json()["NeutronError"]["type"] == "InvalidInput"


def test_long_poll_unknown_port(live_url: str) -> None:
    r = httpx.get(f"{live_url}/v2.0/ports/nope", params={"wait_for_status": "ACTIVE"}, timeout=5)
    assert r.status_code == 404 and r.json()["NeutronError"]["type"] == "PortNotFound"


def read_events(response: httpx.Response, count: int) -> list[dict]:
    events, data = [], {}
    for line in response.iter_lines():
        if line.startswith("id: "):
            data["id"] = int(line[4:])
        elif line.startswith("event: "):
            data["event"] = line[7:]
        elif line.startswith("data: "):
            data["data"] = json.loads(line[6:])
        elif line == "" and "data" in data:
            events.append(data)
            data = {}
            if len(events) == count:
                return events
    return events


def test_event_stream_delivers_each_transition_in_order(live_url: str, make_plugin, plugin: Plugin,
                                                        port: dict) -> None:
    other = plugin.create_port(ADMIN, {"network_id": port["network_id"]})
    writer = make_plugin()
    steps = [("ACTIVE", None), ("DOWN", "interface removed"), ("ACTIVE", None)]

    def write() -> None:
        for status, reason in steps:
            writer.set_port_statuses([(other["id"], status, reason)])  # filtered out below
            writer.set_port_statuses([(port["id"], status, reason)])

    with httpx.stream("GET", f"{live_url}/v2.0/events",
                      params={"resource": "port", "resource_id": port["id"]}, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        later(0.3, write)
        events = read_events(r, 3)
    assert [(e["data"]["status"], e["data"]["status_reason"]) for e in events] == steps
    assert all(e["event"] == "port.status" and e["data"]["device_id"] == "vm1" for e in events)
    ids = [e["id"] for e in events]
    assert ids == sorted(ids)

    # Resuming after the first event replays the rest from the log.
    with httpx.stream("GET", f"{live_url}/v2.0/events", params={"resource_id": port["id"]},
                      headers={"Last-Event-ID": str(ids[0])}, timeout=30) as r:
        replay = read_events(r, 2)
    assert [e["id"] for e in replay] == ids[1:]


def test_a_new_stream_is_served_before_the_ringers_find_it(live_url: str, make_plugin,
                                                           port: dict, monkeypatch) -> None:
    """A ringer looks for listeners at most once a second: a stream's doorbell bound
    after that look is not rung, so until the next look its tail reads the log at the
    fast tick.  (It read at the slow fallback tick: a new stream's first events came
    up to 250 ms late.)  With a fallback tick and keep-alives of a minute, only the fast
    tick beats the client's 10 s read timeout."""
    monkeypatch.setattr(watch, "RUNG_TICK", 60.0)
    monkeypatch.setattr(watch, "KEEPALIVE_SECONDS", 60.0)
    writer = make_plugin()
    writer.set_port_statuses([(port["id"], "BUILD", "starting")])  # its ringer looks now
    with httpx.stream("GET", f"{live_url}/v2.0/events", params={"resource_id": port["id"]},
                      timeout=10) as r:
        later(0.2, writer.set_port_statuses, [(port["id"], "ACTIVE", None)])
        events = read_events(r, 1)
    assert [e["data"]["status"] for e in events] == ["ACTIVE"]


@pytest.mark.parametrize("params", [{"colour": "red"}, {"resource": "subnet"},
                                    {"status": "SIDEWAYS"}, {"status": ["ACTIVE", "GONE"]}])
def test_event_stream_rejects_unknown_filters_and_values(live_url: str,
                                                         params: dict[str, Any]) -> None:
    r = httpx.get(f"{live_url}/v2.0/events", params=params, timeout=5)
    assert r.status_code == 400, r.text
    assert r.json()["NeutronError"]["type"] == "BadRequest"
