"""``/healthz`` judged (neutrino/api/health.py): ok, degraded with the problems named,
starting and down answered 503, and components shown only with ``healthz_details``.
Chassis and NB problems are shown against real OVN in tests/ovn; a replaced worker
against a real server in tests/test_server.py."""
from __future__ import annotations

from pathlib import Path

from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.config import Settings
from neutrino.core.plugin import Plugin
from neutrino.db.session import Database
from tests.conftest import PluginFactory


def test_a_healthy_server_is_ok_and_shows_no_components_by_default(
        make_plugin: PluginFactory) -> None:
    answer = TestClient(create_app(make_plugin())).get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "problems": []}


def test_details_show_the_components(make_plugin: PluginFactory) -> None:
    body = TestClient(create_app(make_plugin(healthz_details=True))).get("/healthz").json()
    assert body["components"]["database"]["healthy"] is True
    assert body["components"]["database"]["backend"] in ("sqlite", "postgresql")


def test_a_worker_being_replaced_is_degraded_not_down(make_plugin: PluginFactory) -> None:
    view = {"total": 2, "serving": 1, "restarts": 1}
    client = TestClient(create_app(make_plugin(), lambda: {"api_workers": dict(view)}))
    answer = client.get("/healthz")
    assert answer.status_code == 200
    assert answer.json() == {"status": "degraded", "problems": ["1 of 2 API workers serving"]}
    view["serving"] = 2
    assert client.get("/healthz").json()["status"] == "ok"


def test_an_unreachable_database_is_down_and_its_address_is_not_shown(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/missing/dir/neutrino.db"
    plugin = Plugin(Settings.load(database_url=url, mechanism_drivers=[],
                                  auth_strategy="noauth"), Database(url))
    try:
        answer = TestClient(create_app(plugin)).get("/healthz")
    finally:
        plugin.stop()
        plugin.db.dispose()
    assert answer.status_code == 503
    assert answer.json() == {"status": "down", "problems": ["database unreachable"]}
    assert str(tmp_path) not in answer.text


def test_a_daemon_down_is_a_problem_and_restarts_are_counted(make_plugin: PluginFactory) -> None:
    view = {"api_workers": {"total": 2, "serving": 2, "restarts": 3},
            "daemons": {"ovn-northd": {"running": False, "restarts": 2},
                        "plug-agent": {"running": True, "restarts": 0}}}
    client = TestClient(create_app(make_plugin(metrics_require_auth=False), lambda: view))
    assert client.get("/healthz").json() == {
        "status": "degraded", "problems": ["daemon ovn-northd is down; restarting it"]}
    metrics = client.get("/metrics").text
    assert "neutrino_api_worker_restarts_total 3.0" in metrics
    assert 'neutrino_daemon_restarts_total{daemon="ovn-northd"} 2.0' in metrics
    assert 'neutrino_daemon_restarts_total{daemon="plug-agent"} 0.0' in metrics


def test_a_daemon_still_starting_is_a_problem_named_so(make_plugin: PluginFactory) -> None:
    """``neutrino up`` runs its API workers while Keystone starts: 503 ``starting`` until
    Keystone serves (clients wait for a 200), and not said to be restarting a daemon that
    never died."""
    view = {"api_workers": {"total": 1, "serving": 1, "restarts": 0},
            "daemons": {"keystone": {"running": False, "restarts": 0, "starting": True}}}
    client = TestClient(create_app(make_plugin(), lambda: view))
    answer = client.get("/healthz")
    assert answer.status_code == 503
    assert answer.json() == {"status": "starting", "problems": ["daemon keystone is starting"]}
    view["daemons"]["keystone"] = {"running": True, "restarts": 0}
    assert client.get("/healthz").json()["status"] == "ok"
