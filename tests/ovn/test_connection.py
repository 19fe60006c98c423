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
from collections.abc import Callable, Iterator

import pytest

from neutrino.bench import ovsdb_log
from neutrino.core.context import ADMIN
from neutrino.ovn import commands, desired
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


def _network(name: str) -> dict[str, object]:
    return {"id": name, "name": name, "revision_number": 1, "mtu": 1442}


def _ensure_switch(nb: Northbound, network: str) -> Callable[[], object]:
    return commands.EnsureSwitch(nb, desired.switch_spec(_network(network), [])).execute


def _ensure_port(nb: Northbound, network: str, port_id: str) -> Callable[[], object]:
    port = {"id": port_id, "network_id": network, "revision_number": 1,
            "mac_address": "fa:16:3e:00:00:01", "fixed_ips": []}
    spec = desired.port_spec(port, _network(network))
    return lambda: commands.EnsurePort(nb, spec).execute(check_error=True)


def _switches(nb: Northbound, network: str) -> int:
    with nb.read_lock():
        return sum(1 for row in nb.tables["Logical_Switch"].rows.values()
                   if row.name == desired.switch_name(network))


@pytest.fixture
def nb(sandbox: Sandbox) -> Iterator[Northbound]:
    client = Northbound(sandbox.nb_remote, 10)
    wait_for(lambda: client.ready, 10, "NB")
    yield client
    client.close()


def test_transactions_queued_together_are_one_nb_transaction(
        sandbox: Sandbox, nb: Northbound) -> None:
    """What a process's requests queue while its connection thread waits for NB is
    committed in one transaction (issue 18: one round trip, one update for every NB
    client and one northd recompute for all of them), each request's result its own."""
    offset = sandbox.nb.members[0].db_file.stat().st_size
    networks = [f"batch-{i}" for i in range(6)]
    outcomes = _queued_while_held(nb, {n: _ensure_switch(nb, n) for n in networks})
    assert outcomes == {n: commands.CREATED for n in networks}
    assert all(_switches(nb, n) == 1 for n in networks)
    assert _nb_transactions(sandbox, offset, "Logical_Switch") == 1


def test_a_failing_transaction_of_a_batch_fails_alone(nb: Northbound) -> None:
    """One request's write that cannot be applied (a filtered port before the drop group
    exists) fails as it would alone; the others queued with it are written."""
    _ensure_switch(nb, "alone")()
    writes = {f"p{i}": _ensure_switch(nb, f"alone-{i}") for i in range(4)}
    writes["refused"] = _ensure_port(nb, "alone", "refused")
    outcomes = _queued_while_held(nb, writes)
    assert isinstance(outcomes.pop("refused"), commands.DropGroupMissing)
    assert outcomes == {name: commands.CREATED for name in outcomes}
    assert commands.find_port(nb, "refused") is None


def test_writes_that_would_see_each_other_are_not_batched(
        sandbox: Sandbox, nb: Northbound) -> None:
    """Two requests ensuring the same missing switch: in one transaction the second would
    not find the row the first inserts and insert another; committed one after the
    other, the second finds it."""
    offset = sandbox.nb.members[0].db_file.stat().st_size
    outcomes = _queued_while_held(nb, {"first": _ensure_switch(nb, "twice"),
                                       "second": _ensure_switch(nb, "twice")})
    assert sorted(outcomes.values()) == [commands.CREATED, commands.UNCHANGED]
    assert _switches(nb, "twice") == 1
    assert _nb_transactions(sandbox, offset, "Logical_Switch") == 1
