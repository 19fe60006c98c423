"""Identity against a real Keystone: tokens checked by keystonemiddleware, spoofed
headers ignored, a Keystone that is down answered with 503, and project isolation."""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from keystoneauth1 import session
from keystoneauth1.identity import v3

from neutrino.api import auth
from neutrino.api.app import create_app
from neutrino.config import Settings, identity_problem
from neutrino.sandbox.keystone import ADMIN, DEMO, SERVICE, Keystone, User

_tokens: dict[tuple[str, str], str] = {}


def token(keystone: Keystone, user: User) -> str:
    """A token of *user*, made once per test process (Keystone logins cost time)."""
    key = (keystone.auth_url, user.name)
    if key not in _tokens:
        _tokens[key] = session.Session(auth=v3.Password(**keystone.auth(user))).get_token()
    return _tokens[key]


def authtoken(keystone: Keystone) -> dict[str, Any]:
    """``[keystone_authtoken]`` as an operator writes it: Neutrino's service user."""
    return {**keystone.auth(SERVICE), "auth_type": "password"}


@pytest.fixture
def keystone_client(make_plugin: Callable[..., Any], keystone: Keystone) -> TestClient:
    plugin = make_plugin(auth_strategy="keystone", keystone_authtoken=authtoken(keystone))
    return TestClient(create_app(plugin))


def headers(keystone: Keystone, user: User, **extra: str) -> dict[str, str]:
    return {"X-Auth-Token": token(keystone, user), **extra}


def test_no_token_is_401_with_where_to_authenticate(keystone_client: TestClient,
                                                    keystone: Keystone) -> None:
    response = keystone_client.get("/v2.0/networks")
    assert response.status_code == 401
    assert response.json()["error"]["code"] == 401
    assert response.headers["WWW-Authenticate"] == f'Keystone uri="{keystone.auth_url}"'


def test_a_forged_token_is_401(keystone_client: TestClient, keystone: Keystone) -> None:
    forged = token(keystone, DEMO)[:-4] + "AAAA"
    assert keystone_client.get("/v2.0/networks", headers={"X-Auth-Token": forged}
                               ).status_code == 401
    assert keystone_client.post("/v2.0/networks", json={"network": {}},
                                headers={"X-Auth-Token": "garbage"}).status_code == 401


def test_version_documents_and_health_stay_open(keystone_client: TestClient) -> None:
    for path in ("/", "/v2.0", "/v2.0/", "/healthz", "/metrics"):
        assert keystone_client.get(path).status_code == 200, path


def test_metrics_can_require_a_token(make_plugin: Callable[..., Any],
                                     keystone: Keystone) -> None:
    client = TestClient(create_app(make_plugin(
        auth_strategy="keystone", keystone_authtoken=authtoken(keystone),
        metrics_require_auth=True)))
    assert client.get("/metrics").status_code == 401
    assert client.get("/metrics", headers=headers(keystone, DEMO)).status_code == 200


def test_spoofed_identity_headers_are_ignored(keystone_client: TestClient,
                                              keystone: Keystone) -> None:
    admin_net = keystone_client.post("/v2.0/networks", json={"network": {"name": "a"}},
                                     headers=headers(keystone, ADMIN)).json()["network"]
    spoofed = headers(keystone, DEMO, **{"X-Project-Id": admin_net["project_id"],
                                         "X-Roles": "admin", "X-Is-Admin-Project": "True"})
    assert keystone_client.get(f"/v2.0/networks/{admin_net['id']}",
                               headers=spoofed).status_code == 404
    assert keystone_client.get("/v2.0/networks", headers=spoofed).json()["networks"] == []
    created = keystone_client.post("/v2.0/networks", json={"network": {"name": "d"}},
                                   headers=spoofed).json()["network"]
    assert created["project_id"] != admin_net["project_id"]
    assert "provider:network_type" not in created  # not an admin either
    without_token = keystone_client.get("/v2.0/networks", headers={
        "X-Project-Id": admin_net["project_id"], "X-Roles": "admin",
        "X-Identity-Status": "Confirmed"})
    assert without_token.status_code == 401


def test_keystone_down_is_503_quickly_and_validated_tokens_stay_cached(
        make_plugin: Callable[..., Any], tmp_path: Path) -> None:
    own = Keystone(tmp_path / "keystone")
    own.start()
    try:
        client = TestClient(create_app(make_plugin(auth_strategy="keystone",
                                                   keystone_authtoken=authtoken(own))))
        user_token = token(own, DEMO)
        assert client.get("/v2.0/networks", headers={"X-Auth-Token": user_token}
                          ).status_code == 200
        verifier = auth.Keystone(authtoken(own))
        environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/v2.0/networks",
                   "HTTP_X_AUTH_TOKEN": user_token}
        assert isinstance(verifier.verify(dict(environ)), dict)
        assert verifier.tokens is not None and len(verifier.tokens) == 1
    finally:
        own.stop()
    # A warm token needs no Keystone: the worker's own cache answers.
    assert client.get("/v2.0/networks", headers={"X-Auth-Token": user_token}).status_code == 200
    assert verifier.verify(dict(environ))["HTTP_X_PROJECT_ID"]
    fresh = "gAAAAA" + user_token[6:-6] + "BBBBBB"  # not in the token cache
    response = client.get("/v2.0/networks", headers={"X-Auth-Token": fresh})
    assert response.status_code == 503, response.text
    error = response.json()["NeutronError"]
    assert error["type"] == "HTTPServiceUnavailable" and "Keystone" in error["message"]


@pytest.mark.parametrize(("settings", "fragment"), [
    ({"auth_strategy": "keystone"}, "[keystone_authtoken] is empty"),
    ({"auth_strategy": "noauth", "bind_host": "0.0.0.0"}, "allow_noauth_on_public_address"),
    ({"auth_strategy": "none"}, "auth_strategy must be one of"),
])
def test_unsafe_identity_settings_refuse_to_start(settings: dict[str, Any],
                                                  fragment: str) -> None:
    problem = identity_problem(Settings(**settings))
    assert problem is not None and fragment in problem


def test_noauth_on_loopback_or_when_allowed_starts() -> None:
    assert identity_problem(Settings(auth_strategy="noauth")) is None
    assert identity_problem(Settings(auth_strategy="noauth", bind_host="0.0.0.0",
                                     allow_noauth_on_public_address=True)) is None


def test_keystone_is_the_default() -> None:
    assert Settings().auth_strategy == "keystone"
