"""The write sequence every resource follows, on both databases."""
from __future__ import annotations

import pytest
from sqlalchemy import select

from neutrino.core import exceptions as exc
from neutrino.core.plugin import Plugin
from neutrino.core.writes import Writes
from neutrino.db.models import Network
from neutrino.db.session import RetryRequest
from neutrino.drivers.api import NetworkContext
from tests.drivers import FAILING


def test_a_lost_race_reruns_the_whole_transaction(plugin: Plugin) -> None:
    writes = Writes(plugin.db, plugin.mech, plugin.quotas.limits)
    attempts: list[str] = []

    def body(session) -> str:
        attempts.append(f"attempt-{len(attempts) + 1}")
        session.add(Network(name=attempts[-1]))
        session.flush()
        if len(attempts) == 1:
            raise RetryRequest()  # stands for a constraint violation or a stale revision
        return attempts[-1]

    assert writes.transaction(body) == "attempt-2"
    with plugin.db.read() as session:
        assert session.scalars(select(Network.name)).all() == ["attempt-2"]


def test_postcommit_detaches_and_undoes_a_failed_create(make_plugin) -> None:
    plugin = make_plugin(mechanism_drivers=[FAILING])
    writes = Writes(plugin.db, plugin.mech, plugin.quotas.limits)
    undone: list[str] = []
    context = NetworkContext(current={"id": "n1", "name": "refuse-post"}, original=None,
                             network_segments=[], session=object())
    with pytest.raises(exc.MechanismDriverError):
        writes.postcommit("create_network", context, undo=undone.append)
    assert context.session is None and undone == ["n1"]
