"""A server's NB copy is as fresh as its socket before it writes (issue 18 item 4).

A port created through one server and deleted at once through another was left in
NB until the drift repair found it ("not in SQL"), when the deleting server's copy
of NB had not yet read the create: under load its socket held more updates than
python-ovs reads per round (50), and the delete of a row it did not know was a
no-op.  Reproduced here by holding the second server's connection while the first
creates ports, then deleting the last of them as soon as it is let go.
"""
from __future__ import annotations

import threading
from collections.abc import Callable

from ovsdbapp.backend.ovs_idl import idlutils

from neutrino.bench import ovsdb_log
from neutrino.core.context import ADMIN
from neutrino.ovn.connection import Northbound
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from tests.ovn.conftest import CoreFactory, ovn_driver
from tests.ovn.nb import lsp


def test_a_delete_sees_every_create_its_socket_already_holds(
        sandbox: Sandbox, make_core: CoreFactory) -> None:
    creator, deleter = make_core(workers=False), make_core(workers=False)
    net = creator.create_network(ADMIN, {"name": "n"})
    nb = ovn_driver(deleter).nb
    assert nb is not None
    with nb.read_lock():  # the deleter's connection thread reads nothing meanwhile
        ports = [creator.create_port(ADMIN, {"network_id": net["id"]}) for _ in range(120)]
        last = ports[-1]["id"]
        deleting = threading.Thread(target=deleter.delete_port, args=(ADMIN, last))
        deleting.start()
        # The delete is queued to the connection thread before it resumes.
        wait_for(lambda: not nb.ovsdb_connection.txns.empty(), 10, "delete queued")
    deleting.join(30)
    assert lsp(sandbox, last) is None, "the delete reached NB"


def _nb_transactions(sandbox: Sandbox, offset: int, table: str) -> int:
    """Transactions NB recorded since byte *offset* of its file that changed *table*."""
    path = sandbox.nb.members[0].db_file
    return sum(1 for record in ovsdb_log.records(path, offset) if table in record)


def _queued_while_held(nb: Northbound,
                       writes: dict[str, Callable[[], object]]) -> dict[str, object]:
    """Run *writes* at once from threads of their own while the connection thread is held,
    so that all of them are queued when it resumes; what each returned or raised."""
    outcomes: dict[str, object] = {}

    def write(name: str) -> None:
        try:
            outcomes[name] = writes[name]()
        except Exception as e:  # noqa: BLE001 - the outcome under test
            outcomes[name] = e

    threads = [threading.Thread(target=write, args=(name,)) for name in writes]
    with nb.read_lock():
        for thread in threads:
            thread.start()
        wait_for(lambda: nb.ovsdb_connection.txns.qsize() == len(writes), 10, "all queued")
    for thread in threads:
        thread.join(30)
    return outcomes


def test_transactions_queued_together_are_one_nb_transaction(sandbox: Sandbox) -> None:
    """What a process's requests queue while its connection thread waits for NB is
    committed in one transaction (issue 18: one round trip, one update for every NB
    client and one northd recompute for all of them), each request's result its own."""
    nb = Northbound(sandbox.nb_remote, 10)
    try:
        wait_for(lambda: nb.ready, 10, "NB")
        offset = sandbox.nb.members[0].db_file.stat().st_size
        names = [f"batch-{i}" for i in range(6)]
        outcomes = _queued_while_held(nb, {name: nb.ls_add(name).execute
                                           for name in names})
        assert all(not isinstance(outcomes[name], Exception) for name in names), outcomes
        assert set(names) <= {row.name for row in nb.tables["Logical_Switch"].rows.values()}
        assert _nb_transactions(sandbox, offset, "Logical_Switch") == 1
    finally:
        nb.close()


def test_a_failing_transaction_of_a_batch_fails_alone(sandbox: Sandbox) -> None:
    """One request's write that cannot be applied (its switch is gone) fails as it would
    alone; the others queued with it are written."""
    nb = Northbound(sandbox.nb_remote, 10)
    try:
        wait_for(lambda: nb.ready, 10, "NB")
        nb.ls_add("alone").execute(check_error=True)
        writes: dict[str, Callable[[], object]] = {
            f"p{i}": nb.lsp_add("alone", f"alone-p{i}").execute for i in range(4)}
        writes["lost"] = lambda: nb.lsp_add("no-such-switch", "lost").execute(
            check_error=True)
        outcomes = _queued_while_held(nb, writes)
        assert isinstance(outcomes.pop("lost"), idlutils.RowNotFound)
        assert all(not isinstance(v, Exception) for v in outcomes.values()), outcomes
        ports = {row.name for row in nb.tables["Logical_Switch_Port"].rows.values()}
        assert {f"alone-p{i}" for i in range(4)} <= ports and "lost" not in ports
    finally:
        nb.close()
