"""The status worker's heartbeat is written only while a chassis can answer it."""
from __future__ import annotations

import os
import signal
import time

from neutrino.bench import ovsdb_log
from neutrino.core.plugin import Plugin
from neutrino.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from tests.ovn.conftest import ovn_driver

#: fast_heartbeat's interval is 0.3 s: this many seconds see several heartbeats.
WINDOW = 2.0


def heartbeats_written(sandbox: Sandbox, seconds: float) -> int:
    """``NB_Global.nb_cfg`` bumps committed to NB over the next *seconds*, read from the
    database file (every committed change is a record there)."""
    nb_file = sandbox.nb.members[0].db_file
    offset = ovsdb_log.file_size(nb_file)
    time.sleep(seconds)
    return ovsdb_log.tally("nb", nb_file, offset).neutrino_kinds["NB_Global.nb_cfg"]


def test_no_heartbeat_is_written_while_no_chassis_can_answer(
        sandbox: Sandbox, fast_heartbeat: None, core: Plugin) -> None:
    hv1 = sandbox.add_chassis("hv1")
    directory = ovn_driver(core).directory
    assert directory is not None
    wait_for(lambda: directory.alive("hv1"), 10, "hv1 alive")
    assert heartbeats_written(sandbox, WINDOW) >= 3

    # ovn-controller frozen, as one busy catching up after a restart: no chassis
    # answers, so a new heartbeat would only make ovn-northd recompute everything.
    controller = hv1.daemons["controller"].pid()
    assert controller is not None
    os.kill(controller, signal.SIGSTOP)
    try:
        time.sleep(1.0)  # the last heartbeat before the freeze goes unanswered
        assert heartbeats_written(sandbox, WINDOW) == 0
        # Its silence is still judged by time: down once down_time (1.5 s) has passed
        # since the heartbeat it did not answer.
        wait_for(lambda: not directory.alive("hv1"), 5, "hv1 judged down")
    finally:
        os.kill(controller, signal.SIGCONT)
    wait_for(lambda: directory.alive("hv1"), 10, "hv1 answers again")
    assert heartbeats_written(sandbox, WINDOW) >= 3
