"""Fixtures for the OVN backend tests: real OVN (sandbox) plus the real core on SQLite.

The driver reads its settings from the environment (as in a ``neutrino server``
process), so the fixtures configure it through ``NEUTRINO_*`` variables.
"""
from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from neutrino.config import Settings
from neutrino.core.plugin import Plugin, all_healthy
from neutrino.db.migrate import upgrade
from neutrino.db.session import Database
from neutrino.ovn.mech_driver import OVNMechanismDriver
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for

CoreFactory = Callable[..., Plugin]


def ovn_driver(plugin: Plugin) -> OVNMechanismDriver:
    return next(d for d in plugin.mech.drivers if isinstance(d, OVNMechanismDriver))


def local_repairs(core: Plugin) -> dict[str, int]:
    """The drift repairs *core*'s status worker made, by kind and outcome.  They are
    counted once a pass's transaction returns, which may be after NB shows its rows."""
    return ovn_driver(core).health()["local_status_worker"]["repairs"]


@pytest.fixture
def ovn_env(sandbox: Sandbox, tmp_path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Environment of a Neutrino server using this sandbox and a fresh SQLite database."""
    url = f"sqlite:///{tmp_path / 'neutrino.db'}"
    db = Database(url)
    upgrade(db)
    db.dispose()
    env = {
        "NEUTRINO_DATABASE_URL": url,
        "NEUTRINO_MECHANISM_DRIVERS": "ovn",
        "NEUTRINO_NETWORK_VLAN_RANGES": "physnet1:100:199",
        "NEUTRINO_OVN_NB_CONNECTION": sandbox.nb_remote,
        "NEUTRINO_OVN_SB_CONNECTION": sandbox.sb_remote,
        "NEUTRINO_OVSDB_TIMEOUT": "2",
        "NEUTRINO_MAINTENANCE_INTERVAL": "60",
        "NEUTRINO_AUTH_STRATEGY": "noauth",
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def make_core(ovn_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[CoreFactory]:
    """Build cores (Plugin + OVN driver), connected; ``workers=True`` also runs the status
    worker.

    ``settings`` overrides are exported to the environment first, so the
    driver sees the same values as the core.
    """
    made: list[Plugin] = []

    def make(workers: bool = True, **settings: Any) -> Plugin:
        for key, value in settings.items():
            monkeypatch.setenv(f"NEUTRINO_{key.upper()}", str(value))
        plugin = Plugin(Settings.load(), Database(Settings.load().database_url))
        made.append(plugin)
        if workers:
            plugin.start_workers()
        # As a server's worker before it reports itself up: with its NB and SB copies
        # loaded, so that tests' first writes reach NB rather than the drift repair.
        wait_for(lambda: all_healthy(plugin.health()), 30, "core connected to NB and SB")
        return plugin

    yield make
    for plugin in reversed(made):
        plugin.stop()
        plugin.db.dispose()


@pytest.fixture
def core(make_core: CoreFactory) -> Plugin:
    """A core with the OVN driver and its status worker running."""
    return make_core()


@pytest.fixture
def fast_heartbeat(monkeypatch: pytest.MonkeyPatch) -> None:
    """Chassis heartbeats every 0.3 s; a chassis is down after 1.5 s of silence."""
    monkeypatch.setenv("NEUTRINO_HEARTBEAT_INTERVAL", "0.3")
    monkeypatch.setenv("NEUTRINO_AGENT_DOWN_TIME", "1.5")
