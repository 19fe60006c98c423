"""``/v2.0/agents/{id}``: show, update (``admin_state_up``, ``description``) and delete of
the agents a backend lists, what an admin set kept in SQL (who may: test_policy_matrix)."""
from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import Api, assert_error
from tests.drivers import AGENT, AgentDriver

AGENT_ID = AgentDriver.AGENT["id"]


@pytest.fixture
def agents(make_api) -> tuple[Api, AgentDriver]:
    api = make_api(mechanism_drivers=[AGENT])
    driver = api.plugin.mech.drivers[0]
    assert isinstance(driver, AgentDriver)
    return api, driver


def agent(api: Api, **params: Any) -> dict[str, Any]:
    response = api.client.get(f"/v2.0/agents/{AGENT_ID}", params=params)
    assert response.status_code == 200, response.text
    return response.json()["agent"]


def test_show_is_the_listed_agent(agents: tuple[Api, AgentDriver]) -> None:
    api, _ = agents
    listed = api.client.get("/v2.0/agents").json()["agents"]
    assert listed == [agent(api)] == [AgentDriver.AGENT]
    assert agent(api, fields=["id", "host"]) == {"id": AGENT_ID, "host": "hv1"}
    assert_error(api.client.get("/v2.0/agents/nope"), 404, "AgentNotFound", "nope")


def test_updates_are_kept_and_shown_everywhere(agents: tuple[Api, AgentDriver]) -> None:
    api, _ = agents
    response = api.client.put(f"/v2.0/agents/{AGENT_ID}", json={"agent": {
        "admin_state_up": False, "description": "rack 4"}})
    assert response.status_code == 200, response.text
    assert response.json()["agent"] == {**AgentDriver.AGENT, "admin_state_up": False,
                                        "description": "rack 4"}
    assert agent(api) == response.json()["agent"]
    again = api.client.put(f"/v2.0/agents/{AGENT_ID}", json={"agent": {"description": ""}})
    assert again.json()["agent"]["admin_state_up"] is False, "an update keeps the rest"
    assert [a["id"] for a in api.list("agents", {"admin_state_up": "false"})] == [AGENT_ID]
    assert api.list("agents", {"admin_state_up": "true"}) == []
    # Kept in SQL: another server process (a new plugin on the same database) sees it.
    assert api.plugin.__class__(api.plugin.settings, api.plugin.db).get_agent(
        AGENT_ID)["admin_state_up"] is False


@pytest.mark.parametrize(("body", "message"), [
    ({"agent": {"host": "hv9"}}, "Unrecognized attribute(s) 'host'"),
    ({"agent": {"admin_state_up": "sideways"}}, "Invalid input for admin_state_up"),
    ({"agent": {"description": "x" * 256}}, "Invalid input for description"),
    ({"agent": {"description": None}}, "Invalid input for description"),
])
def test_bad_updates_are_400_and_change_nothing(agents: tuple[Api, AgentDriver],
                                                body: dict[str, Any], message: str) -> None:
    api, _ = agents
    assert_error(api.client.put(f"/v2.0/agents/{AGENT_ID}", json=body), 400, "HTTPBadRequest",
                 message)
    assert agent(api) == AgentDriver.AGENT


def test_delete_forgets_the_agent_until_it_registers_again(
        agents: tuple[Api, AgentDriver]) -> None:
    api, driver = agents
    api.client.put(f"/v2.0/agents/{AGENT_ID}", json={"agent": {"description": "old"}})
    assert api.client.delete(f"/v2.0/agents/{AGENT_ID}").status_code == 204
    assert driver.deleted == [AGENT_ID]
    assert api.list("agents") == []
    for method in ("GET", "DELETE"):
        assert_error(api.client.request(method, f"/v2.0/agents/{AGENT_ID}"), 404,
                     "AgentNotFound")
    assert_error(api.client.put(f"/v2.0/agents/{AGENT_ID}", json={"agent": {
        "description": "x"}}), 404, "AgentNotFound")
    driver.come_back()
    assert agent(api) == AgentDriver.AGENT, "what was set on it went with it"
