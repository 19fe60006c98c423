"""The status worker's two periodic jobs besides syncing: the chassis heartbeat and liveness.

* :class:`Heartbeat` writes NB_Global: it bumps ``nb_cfg`` (ovn-northd copies it
  to SB, every live ovn-controller answers in its ``Chassis_Private``, which is
  how the chassis directory judges liveness) unless no chassis has answered the
  last bump yet (each bump costs ovn-northd a full recompute, and a chassis that
  is behind, say after a restart, answers only once it caught up), and publishes the worker's
  identity and cumulative repair counts for every server's ``/healthz``.  All
  its writes go through the lock session, so python-ovs refuses them once the
  lock is lost.
* :class:`ChassisLiveness` remembers which chassis and plug agents were alive at
  the last look, so the worker can react when that changes.
"""
from __future__ import annotations

import logging
from collections.abc import Callable, Mapping

from neutrino.ovn import commands, keys
from neutrino.ovn.chassis import ChassisDirectory
from neutrino.ovn.connection import Northbound
from neutrino.ovn.status_changes import LivenessChange, liveness_changed

LOG = logging.getLogger(__name__)


class Heartbeat:
    """NB_Global writes of the lock holder."""

    def __init__(self, lock_session: Northbound, identity: str,
                 answered: Callable[[int], bool]) -> None:
        self.session = lock_session
        self.identity = identity
        #: Whether the bump to this ``nb_cfg`` was answered (``ChassisDirectory``).
        self.answered = answered

    def beat(self) -> bool:
        """Bump nb_cfg so that live chassis answer, once the last bump was answered;
        whether it did."""
        with self.session.read_lock():
            row = next(iter(self.session.tables["NB_Global"].rows.values()), None)
            nb_cfg = row.nb_cfg if row is not None else 0
        if not self.answered(nb_cfg):
            LOG.debug("heartbeat %d not answered yet: no new one", nb_cfg)
            return False
        with self.session.transaction(check_error=True) as txn:
            txn.add(commands.BumpNbCfg(self.session))
        self.publish()
        return True

    def publish(self, repairs: Mapping[str, int] | None = None) -> None:
        """Share the worker's identity and add ``repairs`` to the published counts.

        Written only when something changed: every NB_Global write wakes ovn-northd.
        """
        with self.session.read_lock():
            row = next(iter(self.session.tables["NB_Global"].rows.values()), None)
            published = row is not None and \
                row.external_ids.get(keys.GLOBAL_WORKER) == self.identity
        if published and not repairs:
            return
        increments = {keys.GLOBAL_REPAIRS_PREFIX + name: n for name, n in (repairs or {}).items()}
        with self.session.transaction(check_error=True) as txn:
            txn.add(commands.SetGlobalInfo(self.session, {keys.GLOBAL_WORKER: self.identity},
                                           increments))


class ChassisLiveness:
    """Live chassis and plug agents (``ChassisDirectory.alive_names``) as last seen."""

    def __init__(self, directory: ChassisDirectory) -> None:
        self.directory = directory
        self._alive: set[str] = set()

    def reset(self) -> None:
        """Take the current liveness as seen (a full sync has just judged every port)."""
        self._alive = self.directory.alive_names()

    def check(self) -> LivenessChange | None:
        """What changed since the last look, if anything."""
        alive = self.directory.alive_names()
        change = liveness_changed(self._alive, alive)
        if change is not None:
            LOG.info("agents now down: %s; now alive: %s",
                     sorted(change.went_down) or "none", sorted(change.came_back) or "none")
        self._alive = alive
        return change
