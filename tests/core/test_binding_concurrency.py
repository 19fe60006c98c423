"""Binding under concurrency (docs/behaviour.md B3 4a/4b/4c, B4, B6), on both databases.

Two plugins on one database stand for two API workers.  Their drivers hold
``bind_port`` at a gate (``GatedDriver``), so a test can stage exactly which
binder commits first, and what changes while a binder is outside any
transaction (B2).
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import pytest
from sqlalchemy import update

from neutrino.core.binding import Outcome
from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from neutrino.db.models import Port
from neutrino.drivers.api import PortContext
from neutrino.drivers.status import (
    BINDING,
    BINDING_FAILED_PREFIX,
    NO_DRIVER_COULD_BIND,
    NO_HOST,
    bound,
)
from tests.drivers import RECORDER, GatedDriver, RecordingDriver

STAGED = f"{__name__}:StagedDriver"
CRASHING = f"{__name__}:CrashingDriver"
WAIT = 30  # seconds a staged step may take before the test fails instead of hanging


class StagedDriver(GatedDriver):
    """A GatedDriver whose bindings carry its ``tag`` (which worker bound the port),
    and which can run ``on_bind`` before binding, to change the port meanwhile."""

    tag = ""
    on_bind: Callable[[PortContext], None] | None = None

    def bind_port(self, context: PortContext) -> None:
        if self.on_bind is not None:
            self.on_bind(context)
        super().bind_port(context)
        if context.binding is not None:
            context.set_binding(context.binding.segment_id, context.binding.vif_type,
                                dict(context.binding.vif_details, tag=self.tag))


class Crash(BaseException):
    """Stands for the process dying: no ``except Exception`` catches it."""


class CrashingDriver(RecordingDriver):
    def bind_port(self, context: PortContext) -> None:
        raise Crash()


@pytest.fixture
def pool() -> Iterator[ThreadPoolExecutor]:
    with ThreadPoolExecutor(4) as executor:
        yield executor


def staged(make_plugin: Callable[..., Plugin], tag: str, **settings: Any,
           ) -> tuple[Plugin, StagedDriver]:
    plugin = make_plugin(mechanism_drivers=[STAGED], **settings)
    driver = plugin.mech.drivers[0]
    driver.tag = tag
    driver.gate.clear()
    return plugin, driver


def network(plugin: Plugin) -> dict[str, Any]:
    net = plugin.create_network(ADMIN, {"name": "n"})
    plugin.create_subnet(ADMIN, {"network_id": net["id"], "cidr": "10.9.0.0/24"})
    return plugin.get_network(ADMIN, net["id"])


def entered(driver: GatedDriver) -> None:
    assert driver.entered.acquire(timeout=WAIT), "bind_port was never called"


def only_port(plugin: Plugin) -> dict[str, Any]:
    """The one port in the database, read without triggering a binding."""
    (port,) = plugin.list_all_ports()
    return port


def binding_hooks(driver: RecordingDriver) -> list:
    """update_port_* calls that committed a binding (current bound, original not)."""
    return [s for s in driver.seen if s.method.startswith("update_port_")
            and s.current["binding:vif_type"] == "ovs"
            and s.original["binding:vif_type"] != "ovs"]


def test_4a_binding_is_committed_then_update_hooks_see_it(make_plugin) -> None:
    plugin = make_plugin(mechanism_drivers=[RECORDER])
    driver: RecordingDriver = plugin.mech.drivers[0]
    net = network(plugin)
    port = plugin.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})

    assert port["binding:vif_type"] == "ovs"
    assert port["binding:vif_details"] == {"port_filter": True, "host": "hv1"}
    assert port["status_reason"] == bound("hv1")
    assert plugin.get_port(ADMIN, port["id"]) == port  # committed, and reading it changes nothing
    assert plugin.binder.outcomes[Outcome.COMMITTED] == 1

    methods = [s.method for s in driver.seen]
    assert methods == ["create_port_precommit", "create_port_postcommit", "bind_port",
                       "update_port_precommit", "update_port_postcommit"]
    bind, pre, post = driver.seen[2:]
    assert not bind.in_transaction  # B2
    assert pre.in_transaction and not post.in_transaction
    for seen in (pre, post):
        assert seen.current == port
        assert seen.original["binding:vif_type"] == "unbound"
        assert seen.bound_driver == "RecordingDriver"
        assert (seen.bound_segment["network_type"], seen.bound_segment["segmentation_id"]) == \
            (net["provider:network_type"], net["provider:segmentation_id"])
        assert seen.original_bound_segment is None and seen.original_bound_driver is None


def test_4b_second_binder_returns_the_first_binding_and_calls_no_hook(
        make_plugin, pool: ThreadPoolExecutor) -> None:
    worker1, driver1 = staged(make_plugin, "worker1")
    worker2, driver2 = staged(make_plugin, "worker2")
    net = network(worker1)

    creating: Future = pool.submit(worker1.create_port, ADMIN,
                                   {"network_id": net["id"], "binding:host_id": "hv1"})
    entered(driver1)  # the port is committed, worker1 is binding it
    port_id = only_port(worker2)["id"]
    reading: Future = pool.submit(worker2.get_port, ADMIN, port_id)  # B4: worker2 binds it too
    entered(driver2)

    driver1.gate.set()
    first = creating.result(WAIT)
    driver2.gate.set()
    second = reading.result(WAIT)

    assert first["binding:vif_details"]["tag"] == "worker1"
    assert second == first  # worker2 answers with worker1's binding, untouched
    assert worker1.get_port(ADMIN, port_id) == first
    assert driver2.bind_calls == 1
    assert not [s for s in driver2.seen if s.method.startswith("update_port_")]
    assert len(binding_hooks(driver1)) == 2  # worker1's pre- and postcommit
    assert worker1.binder.outcomes[Outcome.COMMITTED] == 1
    assert worker2.binder.outcomes[Outcome.TAKEN] == 1
    assert worker2.binder.outcomes[Outcome.COMMITTED] == 0


def test_4c_host_changed_while_binding_binds_again_with_the_new_host(
        make_plugin, pool: ThreadPoolExecutor) -> None:
    worker1, driver1 = staged(make_plugin, "worker1")
    worker2, driver2 = staged(make_plugin, "worker2")
    net = network(worker1)

    creating: Future = pool.submit(worker1.create_port, ADMIN,
                                   {"network_id": net["id"], "binding:host_id": "hv1"})
    entered(driver1)  # worker1 is binding for hv1 ...
    port_id = only_port(worker2)["id"]
    moving: Future = pool.submit(worker2.update_port, ADMIN, port_id, {"binding:host_id": "hv2"})
    entered(driver2)  # ... while worker2 committed hv2 and is binding it too

    driver1.gate.set()
    result = creating.result(WAIT)
    driver2.gate.set()
    moved = moving.result(WAIT)

    # worker1's hv1 binding was stale: it was not committed; worker1 bound again for hv2.
    assert [s.current["binding:host_id"] for s in driver1.seen if s.method == "bind_port"] == \
        ["hv1", "hv2"]
    assert worker1.binder.outcomes[Outcome.RETRY] == 1
    assert worker1.binder.outcomes[Outcome.COMMITTED] == 1
    assert result["binding:host_id"] == "hv2"
    assert result["binding:vif_details"] == {"port_filter": True, "host": "hv2", "tag": "worker1"}
    hooks = binding_hooks(driver1)
    assert len(hooks) == 2 and all(s.current["binding:host_id"] == "hv2" for s in hooks)
    # worker2 found the port bound for the host it asked for: 4b, no binding hook.
    assert moved == result
    assert worker2.binder.outcomes[Outcome.TAKEN] == 1
    assert not binding_hooks(driver2)
    assert worker1.get_port(ADMIN, port_id) == result


def test_4c_bounded_retries_end_in_binding_failed_with_a_reason(make_plugin) -> None:
    retries = 3
    worker1, driver1 = staged(make_plugin, "worker1", max_bind_retries=retries)
    driver1.gate.set()
    other = make_plugin()  # another worker, without drivers, moving the port around
    moves = iter(f"hv{n}" for n in range(2, 100))
    driver1.on_bind = lambda ctx: other.update_port(ADMIN, ctx.current["id"],
                                                    {"binding:host_id": next(moves)})
    net = network(worker1)

    port = worker1.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})

    assert driver1.bind_calls == retries
    assert worker1.binder.outcomes[Outcome.RETRY] == retries
    assert port["binding:vif_type"] == "binding_failed"
    assert port["binding:host_id"] == f"hv{retries + 1}"
    assert port["status"] == "DOWN"
    assert port["status_reason"] == (f"{BINDING_FAILED_PREFIX}port kept changing "
                                     f"during {retries} binding attempts")
    assert not binding_hooks(driver1)


def test_b4_reading_a_port_left_unbound_by_a_crash_binds_it(make_plugin) -> None:
    crashing = make_plugin(mechanism_drivers=[CRASHING])
    net = network(crashing)
    with pytest.raises(Crash):
        crashing.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    left = only_port(crashing)
    assert (left["binding:host_id"], left["binding:vif_type"]) == ("hv1", "unbound")

    restarted = make_plugin(mechanism_drivers=[RECORDER])
    driver: RecordingDriver = restarted.mech.drivers[0]
    port = restarted.get_port(ADMIN, left["id"])
    assert port["binding:vif_type"] == "ovs"
    assert port["revision_number"] == left["revision_number"] + 1
    assert driver.bind_calls == 1 and len(binding_hooks(driver)) == 2
    assert restarted.get_port(ADMIN, left["id"]) == port  # bound once, for good
    assert driver.bind_calls == 1


def test_b4_listing_binds_ports_with_a_host_but_no_binding(make_plugin) -> None:
    plugin = make_plugin(mechanism_drivers=[RECORDER])
    net = network(plugin)
    ports = [plugin.create_port(ADMIN, {"network_id": net["id"]}) for _ in range(2)]
    with plugin.db.write() as session:  # a host committed, its binding never attempted
        session.execute(update(Port).where(Port.id == ports[0]["id"]).values(host="hv1"))
    listed = {p["id"]: p for p in plugin.list_ports(ADMIN)[0]}
    assert listed[ports[0]["id"]]["binding:vif_type"] == "ovs"
    assert listed[ports[1]["id"]]["binding:vif_type"] == "unbound"  # no host: nothing to do
    assert plugin.mech.drivers[0].bind_calls == 1


def test_b6_unbound_until_bound(make_plugin, pool: ThreadPoolExecutor) -> None:
    plugin, driver = staged(make_plugin, "w")
    net = network(plugin)
    no_host = plugin.create_port(ADMIN, {"network_id": net["id"]})
    assert no_host["binding:vif_type"] == "unbound"
    assert (no_host["status"], no_host["status_reason"]) == ("DOWN", NO_HOST)

    creating: Future = pool.submit(plugin.create_port, ADMIN,
                                   {"network_id": net["id"], "binding:host_id": "hv1"})
    entered(driver)  # committed, being bound: what every other reader sees meanwhile
    (pending,) = [p for p in plugin.list_all_ports() if p["id"] != no_host["id"]]
    assert pending["binding:vif_type"] == "unbound"
    assert (pending["status"], pending["status_reason"]) == ("DOWN", BINDING)
    driver.gate.set()
    committed = creating.result(WAIT)
    assert committed["id"] == pending["id"] and committed["binding:vif_type"] == "ovs"


def test_b2_a_status_report_while_binding_is_deferred(make_plugin,
                                                     pool: ThreadPoolExecutor) -> None:
    """A backend may see a port's LSP (even up) before its binding commits: the core
    keeps "binding pending" and hands the report back, so the binding commits over an
    untouched row and the backend's next report is the one written."""
    plugin, driver = staged(make_plugin, "w")
    net = network(plugin)
    creating: Future = pool.submit(plugin.create_port, ADMIN,
                                   {"network_id": net["id"], "binding:host_id": "hv1"})
    entered(driver)
    pending = only_port(plugin)
    written = plugin.set_port_statuses([(pending["id"], "ACTIVE", None)])
    assert (written.changed, written.deferred) == ([], [pending["id"]])
    assert only_port(plugin) == pending  # no status, no revision, no event

    driver.gate.set()
    committed = creating.result(WAIT)
    assert (committed["status"], committed["status_reason"]) == ("DOWN", bound("hv1"))
    assert committed["revision_number"] == pending["revision_number"] + 1
    written = plugin.set_port_statuses([(pending["id"], "ACTIVE", None)])
    assert (written.changed, written.deferred) == ([pending["id"]], [])
    assert plugin.get_port(ADMIN, pending["id"])["status"] == "ACTIVE"


def test_b6_binding_failed_says_why(make_plugin) -> None:
    bare = make_plugin()
    net = network(bare)
    port = bare.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "hv1"})
    assert port["binding:vif_type"] == "binding_failed"
    assert port["binding:vif_details"] == {}
    assert port["status"] == "DOWN"
    assert port["status_reason"] == BINDING_FAILED_PREFIX + NO_DRIVER_COULD_BIND

    recording = make_plugin(mechanism_drivers=[RECORDER])
    port = recording.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "nowhere"})
    assert port["binding:vif_type"] == "binding_failed"
    assert port["status_reason"] == (BINDING_FAILED_PREFIX
                                     + "host 'nowhere' is not served by recording driver")


def test_b6_reading_a_failed_port_tries_again_but_rewrites_nothing(make_plugin) -> None:
    plugin = make_plugin(mechanism_drivers=[RECORDER])
    driver: RecordingDriver = plugin.mech.drivers[0]
    net = network(plugin)
    port = plugin.create_port(ADMIN, {"network_id": net["id"], "binding:host_id": "nowhere"})
    hooks = len(driver.calls("update_port_precommit"))

    again = plugin.get_port(ADMIN, port["id"])
    assert driver.bind_calls == 2  # B4: a failed binding is tried again on read ...
    assert again == port  # ... and failing the same way changes nothing
    assert len(driver.calls("update_port_precommit")) == hooks
