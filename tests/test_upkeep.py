"""The upkeep loop's view of a daemon that is still starting elsewhere."""
from __future__ import annotations

from neutrino.upkeep import Upkeep


def test_an_expected_daemon_is_starting_until_kept_and_never_restarted_meanwhile() -> None:
    restarts: list[str] = []
    upkeep = Upkeep()
    upkeep.expect("keystone")
    upkeep.check()
    assert upkeep.state() == {"keystone": {"running": False, "restarts": 0, "starting": True}}
    upkeep.keep("keystone", lambda: True, lambda: restarts.append("keystone"))
    upkeep.check()
    assert upkeep.state() == {"keystone": {"running": True, "restarts": 0}}
    assert restarts == []
