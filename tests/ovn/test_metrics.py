"""/metrics of an OVN-backed server (issue 5): OVSDB reconnects, drift repairs and the
plug agents' outcomes, each caused for real in a sandbox and read back over HTTP."""
from __future__ import annotations

import json
import time

from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from neutrino.api.app import create_app
from neutrino.core.context import ADMIN
from neutrino.metrics import exposition
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from tests.api.test_metrics import sample
from tests.ovn.conftest import CoreFactory, ovn_driver
from tests.ovn.nb import lsp

RECONNECTS = "neutrino_ovsdb_reconnects_total"


def test_nb_restart_counts_one_reconnect_per_nb_session(
        sandbox: Sandbox, make_core: CoreFactory) -> None:
    before = exposition(lambda: [])[0].decode()
    core = make_core()
    client = TestClient(create_app(core))
    driver = ovn_driver(core)
    assert driver.worker is not None
    wait_for(lambda: driver.worker.holds_lock and driver.sb.ready, 10, "worker leads, SB read")

    def delta(database: str) -> float:
        text = client.get("/metrics").text
        return sample(text, RECONNECTS, database=database) - sample(before, RECONNECTS,
                                                                     database=database)
    assert delta("nb") == 0 and delta("sb") == 0, "first connects are not reconnects"

    sandbox.kill("nb")
    wait_for(lambda: not driver.nb.ready and not driver.worker.holds_lock, 5, "NB lost")
    sandbox.restart("nb")
    # The process's data connection and the status worker's lock session.
    wait_for(lambda: delta("nb") == 2, 15, "both NB sessions counted a reconnect")
    wait_for(lambda: driver.worker.holds_lock, 10, "worker leads again")
    assert delta("nb") == 2
    assert delta("sb") == 0


def test_hand_deleted_lsp_is_counted_as_repaired(
        sandbox: Sandbox, make_core: CoreFactory) -> None:
    core = make_core(maintenance_interval=1)
    client = TestClient(create_app(core))
    net = core.create_network(ADMIN, {"name": "n"})
    port = core.create_port(ADMIN, {"network_id": net["id"]})
    wait_for(lambda: lsp(sandbox, port["id"]) is not None, 5, "LSP written")
    before = client.get("/metrics").text

    def repaired(kind: str) -> float:
        return sample(client.get("/metrics").text, "neutrino_drift_repairs_total", kind=kind) \
            - sample(before, "neutrino_drift_repairs_total", kind=kind)

    sandbox.nbctl("lsp-del", port["id"])
    wait_for(lambda: repaired("logical_switch_port.created") == 1, 10, "repair counted")
    assert lsp(sandbox, port["id"]) is not None
    assert repaired("logical_switch_port.deleted") == 0


def test_plug_outcomes_reported_in_sb_are_exported(
        sandbox: Sandbox, make_core: CoreFactory) -> None:
    sandbox.add_chassis("hv1")
    core = make_core(workers=False)
    client = TestClient(create_app(core))
    info = json.dumps({
        "version": "0.1.0", "pid": 42, "interval": 5, "started_at": int(time.time()),
        "providers": {"representor": "ok", "dummy": "ok"},
        "plug_outcomes": {"representor": {"plugged": 7, "failed": 1, "unplugged": 3},
                          "dummy": {"plugged": 2, "failed": 0, "unplugged": "?"},
                          "broken": "not a mapping"}})
    sandbox.sbctl("set", "Chassis_Private", "hv1",
                  f"external_ids:neutrino-plug-agent-info={json.dumps(info)}")

    def exported() -> dict[tuple[str, str, str], float]:
        return {(s.labels["chassis"], s.labels["provider"], s.labels["outcome"]): s.value
                for family in text_string_to_metric_families(client.get("/metrics").text)
                for s in family.samples if s.name == "neutrino_plug_outcomes_total"}

    wait_for(exported, 10, "outcomes exported")
    # Malformed entries (a count that is no number, a provider that is no mapping) are left out.
    assert exported() == {("hv1", "representor", "plugged"): 7, ("hv1", "representor", "failed"): 1,
                          ("hv1", "representor", "unplugged"): 3, ("hv1", "dummy", "plugged"): 2,
                          ("hv1", "dummy", "failed"): 0}
