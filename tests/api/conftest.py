"""Helpers of the REST API tests: an ``api`` client that knows Neutron's wrapper keys.

Every test talks HTTP to the real app over the real database (``client``);
``api.rows()`` counts what is in SQL, so a failed request can be shown to
have written nothing.
"""
from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from neutrino.api.app import create_app
from neutrino.core.plugin import Plugin
from neutrino.db.models import (
    FloatingIP,
    IPAllocation,
    Network,
    NetworkSegment,
    Port,
    Router,
    Subnet,
)

SINGULAR = {"networks": "network", "subnets": "subnet", "ports": "port",
            "security-groups": "security_group", "security-group-rules": "security_group_rule",
            "routers": "router", "floatingips": "floatingip"}
TABLES = {"networks": Network, "subnets": Subnet, "ports": Port,
          "ip_allocations": IPAllocation, "segments": NetworkSegment, "routers": Router,
          "floatingips": FloatingIP}


def assert_error(response: httpx.Response, status: int, error_type: str,
                 *fragments: str) -> str:
    """*response* is a Neutron error of *status* and *error_type* whose message has *fragments*."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"NeutronError"}, body
    error = body["NeutronError"]
    assert set(error) == {"type", "message", "detail"}, error
    assert error["type"] == error_type, error
    for fragment in fragments:
        assert fragment in error["message"], error["message"]
    return error["message"]


class Api:
    def __init__(self, client: TestClient, plugin: Plugin):
        self.client = client
        self.plugin = plugin

    def post(self, collection: str, attrs: dict[str, Any], **kw: Any) -> httpx.Response:
        return self.client.post(f"/v2.0/{collection}", json={SINGULAR[collection]: attrs}, **kw)

    def create(self, collection: str, **attrs: Any) -> dict[str, Any]:
        response = self.post(collection, attrs)
        assert response.status_code == 201, response.text
        return response.json()[SINGULAR[collection]]

    def show(self, collection: str, item_id: str, **params: Any) -> dict[str, Any]:
        response = self.client.get(f"/v2.0/{collection}/{item_id}", params=params)
        assert response.status_code == 200, response.text
        return response.json()[SINGULAR[collection]]

    def put(self, collection: str, item_id: str, attrs: dict[str, Any],
            **kw: Any) -> httpx.Response:
        return self.client.put(f"/v2.0/{collection}/{item_id}",
                               json={SINGULAR[collection]: attrs}, **kw)

    def update(self, collection: str, item_id: str, **attrs: Any) -> dict[str, Any]:
        response = self.put(collection, item_id, attrs)
        assert response.status_code == 200, response.text
        return response.json()[SINGULAR[collection]]

    def delete(self, collection: str, item_id: str, **kw: Any) -> httpx.Response:
        return self.client.delete(f"/v2.0/{collection}/{item_id}", **kw)

    def list(self, collection: str, params: Any = None) -> list[dict[str, Any]]:
        response = self.client.get(f"/v2.0/{collection}", params=params)
        assert response.status_code == 200, response.text
        return response.json()[collection.replace("-", "_")]

    def ids(self, collection: str, params: Any = None) -> list[str]:
        return [item["id"] for item in self.list(collection, params)]

    def network(self, **attrs: Any) -> dict[str, Any]:
        return self.create("networks", **attrs)

    def subnet(self, network: dict[str, Any], cidr: str, **attrs: Any) -> dict[str, Any]:
        return self.create("subnets", network_id=network["id"], cidr=cidr, **attrs)

    def port(self, network: dict[str, Any], **attrs: Any) -> dict[str, Any]:
        return self.create("ports", network_id=network["id"], **attrs)

    def rows(self) -> dict[str, int]:
        """How many rows each table holds."""
        with self.plugin.db.read() as session:
            return {name: session.scalar(select(func.count()).select_from(model))
                    for name, model in TABLES.items()}

    def allocations(self) -> set[tuple[str, str]]:
        with self.plugin.db.read() as session:
            return set(session.execute(select(IPAllocation.subnet_id, IPAllocation.ip_address)))


@pytest.fixture
def api(client: TestClient, plugin: Plugin) -> Api:
    return Api(client, plugin)


@pytest.fixture
def make_api(make_plugin):
    """An :class:`Api` over a plugin built with *settings* (e.g. other mechanism drivers)."""
    def make(**settings: Any) -> Api:
        plugin = make_plugin(**settings)
        return Api(TestClient(create_app(plugin)), plugin)
    return make


@pytest.fixture
def net(api: Api) -> dict[str, Any]:
    """A tenant network with one IPv4 /24 subnet."""
    network = api.network(name="net")
    api.subnet(network, "10.0.0.0/24", name="v4")
    return api.show("networks", network["id"])


@pytest.fixture
def v4(api: Api, net: dict[str, Any]) -> dict[str, Any]:
    return api.show("subnets", net["subnets"][0])
