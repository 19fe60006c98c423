"""Deleting agents on real OVN, as Neutron's OVN driver does: what the agent registered
in SB goes; a running ovn-controller registers its chassis again, an agent that is gone
stays gone (the listing itself: tests/ovn/test_status.py)."""
from __future__ import annotations

import json
import time

import pytest

from neutrino.core import exceptions as exc
from neutrino.core.plugin import Plugin
from neutrino.ovn.agents import plug_agent_id
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for


def listed(core: Plugin) -> dict[str, dict]:
    return {a["id"]: a for a in core.list_agents()}


def uuid_of(sandbox: Sandbox, table: str, name: str) -> str:
    return sandbox.sbctl("--if-exists", "get", table, name, "_uuid").strip()


def test_a_deleted_controller_of_a_live_chassis_comes_back(sandbox: Sandbox,
                                                           core: Plugin) -> None:
    sandbox.add_chassis("hv1")
    wait_for(lambda: "hv1" in listed(core), 10, "hv1 listed")
    core.update_agent("hv1", {"description": "rack 4", "admin_state_up": False})
    before = uuid_of(sandbox, "Chassis", "hv1"), uuid_of(sandbox, "Chassis_Private", "hv1")
    core.delete_agent("hv1")
    # ovn-controller registers its chassis again: new rows, the agent listed again, without
    # what was set on the one deleted.
    wait_for(lambda: uuid_of(sandbox, "Chassis", "hv1") not in ("", before[0]), 10,
             "hv1's chassis registered again")
    assert uuid_of(sandbox, "Chassis_Private", "hv1") != before[1]
    wait_for(lambda: "hv1" in listed(core), 10, "hv1 listed again")
    assert listed(core)["hv1"]["description"] == ""
    assert listed(core)["hv1"]["admin_state_up"] is True


def test_a_deleted_agent_that_is_gone_stays_gone(sandbox: Sandbox, core: Plugin) -> None:
    hv1 = sandbox.add_chassis("hv1")
    info = json.dumps({"version": "0.1.0", "pid": 42, "interval": 5,
                       "started_at": int(time.time()), "providers": {}})
    sandbox.sbctl("set", "Chassis_Private", "hv1",
                  f"external_ids:neutrino-plug-agent-heartbeat={int(time.time())}",
                  f"external_ids:neutrino-plug-agent-info={json.dumps(info)}",
                  "external_ids:other=kept")
    plug = plug_agent_id("hv1")
    wait_for(lambda: plug in listed(core), 10, "plug agent listed")
    core.delete_agent(plug)  # no plug agent runs to report again
    wait_for(lambda: plug not in listed(core), 10, "plug agent forgotten")
    assert sandbox.sbctl("get", "Chassis_Private", "hv1", "external_ids").strip() == \
        "{other=kept}"
    assert "hv1" in listed(core), "its chassis stays"

    hv1.kill("controller")
    core.delete_agent("hv1")
    wait_for(lambda: "hv1" not in listed(core), 10, "hv1 forgotten")
    assert uuid_of(sandbox, "Chassis", "hv1") == ""
    for call in (core.get_agent, core.delete_agent):
        with pytest.raises(exc.AgentNotFound):
            call("hv1")
