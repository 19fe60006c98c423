"""The doorbell that wakes event-log readers on this host when status events commit."""
from __future__ import annotations

import select
import time
from pathlib import Path

from neutrino.config import sqlite_url
from neutrino.core.events import Doorbell
from neutrino.db.session import Database


def rang(sock) -> bool:
    return bool(select.select([sock], [], [], 1.0)[0]) and sock.recv(64) == b"!"


def test_a_ring_reaches_every_listener_of_the_same_database_only(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    one, other = Database(sqlite_url(tmp_path / "a")), Database(sqlite_url(tmp_path / "b"))
    try:
        first, second = Doorbell(one).listen(), Doorbell(one).listen()
        elsewhere = Doorbell(other).listen()
        Doorbell(one).ring()  # another process's doorbell object, same database
        assert rang(first) and rang(second)
        assert not select.select([elsewhere], [], [], 0.2)[0]
        # A closed listener is simply not found any more; ringing still works.
        first.close()
        Doorbell(one).ring()
        assert rang(second)
        for sock in (second, elsewhere):
            sock.close()
    finally:
        one.dispose()
        other.dispose()


def test_no_doorbell_on_postgresql() -> None:
    """Servers on other hosts could not hear it; they rely on polling."""
    remote = Database("postgresql+psycopg://neutrino@db.invalid/neutrino")  # never connected
    try:
        assert Doorbell(remote).listen() is None
        Doorbell(remote).ring()  # a no-op, not an error
    finally:
        remote.dispose()


def test_a_doorbell_rescans_for_listeners_after_its_ttl(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(Doorbell, "LISTENERS_TTL", 0.3)
    db = Database(sqlite_url(tmp_path))
    try:
        bell = Doorbell(db)
        early = Doorbell(db).listen()
        bell.ring()
        assert rang(early)
        late = Doorbell(db).listen()
        bell.ring()  # the scan is reused: the new reader polls until the next one
        assert rang(early)
        assert not select.select([late], [], [], 0.1)[0]
        time.sleep(0.3)
        bell.ring()
        assert rang(early) and rang(late)
        for sock in (early, late):
            sock.close()
    finally:
        db.dispose()
