"""Every reason Neutrino generates fits its VARCHAR(255) column on both databases: a
255-character host or a backend's long report is cut, never refused by PostgreSQL,
and writing the same long report again is no change."""
from __future__ import annotations

from neutrino.core.context import ADMIN
from neutrino.drivers.status import BOUND_PREFIX, DOWN, REASON_MAX_LENGTH, fitted
from tests.conftest import PluginFactory
from tests.drivers import RECORDER

HOST = "h" * 255


def test_fitted_cuts_with_an_ellipsis_and_keeps_short_reasons() -> None:
    assert fitted("short") == "short"
    assert fitted("x" * REASON_MAX_LENGTH) == "x" * REASON_MAX_LENGTH
    cut = fitted("y" * 300)
    assert len(cut) == REASON_MAX_LENGTH and cut.endswith("…") and cut.startswith("yyy")


def test_a_port_bound_to_a_255_character_host_is_stored(make_plugin: PluginFactory) -> None:
    plugin = make_plugin(mechanism_drivers=[RECORDER])
    net = plugin.create_network(ADMIN, {"name": "n"})
    port = plugin.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": HOST})
    assert port["binding:vif_type"] == "ovs"
    reason = plugin.get_port(ADMIN, port["id"])["status_reason"]
    assert reason.startswith(BOUND_PREFIX) and len(reason) == REASON_MAX_LENGTH


def test_a_long_backend_report_is_cut_and_repeating_it_is_no_change(
        make_plugin: PluginFactory) -> None:
    plugin = make_plugin()
    net = plugin.create_network(ADMIN, {"name": "n"})
    port = plugin.create_port(ADMIN, {"network_id": net["id"]})
    long_reason = f"no chassis with hostname or name '{HOST}'"
    assert plugin.set_port_statuses([(port["id"], DOWN, long_reason)]).changed == [port["id"]]
    assert plugin.get_port(ADMIN, port["id"])["status_reason"] == fitted(long_reason)
    # No transition: no row update and no status event (both are written only for changes).
    assert plugin.set_port_statuses([(port["id"], DOWN, long_reason)]).changed == []
