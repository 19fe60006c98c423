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

from neutrino.core.context import ADMIN
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
