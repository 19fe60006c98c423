"""Plug outcomes per provider type in ``neutrino-plug-agent-info`` (``plug_outcomes``)."""
from __future__ import annotations

import json
import time
from typing import Any

from neutrino.agent.providers.dummy import DummyProvider
from neutrino.agent.registry import ProviderRegistry
from neutrino.sandbox import Chassis, Sandbox
from neutrino.sandbox.wait import wait_for

from .test_containment import Racer, request, sb_report
from .test_report import Named

ZERO = {"plugged": 0, "failed": 0, "unplugged": 0, "replugged": 0}


def outcomes(sandbox: Sandbox) -> dict[str, Any]:
    info = sb_report(sandbox).get("neutrino-plug-agent-info")
    return json.loads(info)["plug_outcomes"] if info else {}


def test_plugs_failures_and_unplugs_are_counted_per_provider(sandbox: Sandbox, hv1: Chassis,
                                                              agents) -> None:
    registry = ProviderRegistry()
    for provider in (DummyProvider(), Racer(hv1), Named()):
        registry.register(provider)
    runner = agents(hv1, registry, report_interval=0.3)
    wait_for(lambda: outcomes(sandbox) == {"dummy": ZERO, "named": ZERO, "racer": ZERO}, 5,
             "zero counts for every provider")
    runner.wait_unplug_enabled()
    request(sandbox, ["lp1"])
    request(sandbox, ["shy"], plug_type="racer", shy={"vif-plug:racer:decline": "1"})
    request(sandbox, ["broken"], plug_type="named", broken={"vif-plug:named:raise": "1"})
    request(sandbox, ["lost"], plug_type="mystery")
    sandbox.wait_port_up("lp1")
    sandbox.nbctl("lsp-del", "lp1")

    def counted() -> bool:
        counts = outcomes(sandbox)
        # each failed attempt counts (retries may add more); "mystery" is not a provider
        return (set(counts) == {"dummy", "named", "racer"}
                and counts["dummy"] == {**ZERO, "plugged": 1, "unplugged": 1}
                and all(counts[t]["failed"] >= 1 and counts[t]["plugged"] == 0
                        and counts[t]["unplugged"] == 0 for t in ("named", "racer")))

    wait_for(counted, 5, "plug, unplug and failures counted")


def test_counts_wait_for_the_heartbeat(sandbox: Sandbox, hv1: Chassis, agents) -> None:
    """Plugging writes no counts to SB until the next heartbeat folds them in."""
    runner = agents(hv1, report_interval=3600)
    wait_for(lambda: outcomes(sandbox) == {"dummy": ZERO}, 5, "first report")
    request(sandbox, ["lp1", "lp2"])
    for name in ("lp1", "lp2"):
        sandbox.wait_port_up(name)
    time.sleep(0.5)
    assert runner.agent.outcomes.snapshot() == {"dummy": {**ZERO, "plugged": 2}}
    assert outcomes(sandbox) == {"dummy": ZERO}
