"""NB and SB connections over ovsdbapp that never block the process using them.

ovsdbapp's stock ``Connection.start()`` waits until the first database dump
arrives and fails when the server is down, and its ``Backend`` keeps a single
connection per class.  Neutrino needs an API worker to start (and accept
writes) while NB is unreachable, and a process running the status worker to
hold two NB sessions: the data connection it shares with its API writes, and a lock
session that monitors only ``NB_Global``.  So:

* the IDL is built from the locally installed schema when present (no round
  trip at start), registering only the columns Neutrino reads or writes;
* the connection thread starts immediately; the ``ovs`` IDL reconnects by
  itself, across every remote of a comma-separated (RAFT cluster) list,
  following the leader;
* the IDL tells a listener when it becomes ready (connected *and* holding a
  complete copy of the database) after every (re)connect, when it gains or
  loses its OVSDB lock, and about every row change.  Readiness and lock are
  judged on the live session: ``ovs.db.idl`` leaves ``has_lock`` set while
  disconnected, which would let a cut-off worker believe it still leads.

Every return to readiness after the first counts as a reconnect
(``neutrino_ovsdb_reconnects_total``, lock sessions included): each reloads the
session's copy of the database, so a rising rate means a flapping server or link.
"""
from __future__ import annotations

import logging
import os
import queue
import threading
import time
import traceback
from typing import Any, Protocol

from ovs import poller
from ovs.db import idl as ovs_idl
from ovsdbapp.backend.ovs_idl import connection as ovsdbapp_connection
from ovsdbapp.backend.ovs_idl import idlutils
from ovsdbapp.backend.ovs_idl import transaction as ovsdbapp_transaction
from ovsdbapp.schema.ovn_northbound import impl_idl as nb_impl
from ovsdbapp.schema.ovn_southbound import impl_idl as sb_impl

from neutrino.metrics import OVSDB_RECONNECTS
from neutrino.ovn import keys

LOG = logging.getLogger(__name__)

#: Columns Neutrino uses; monitoring only these keeps every worker's copy small.
NB_TABLES: dict[str, list[str]] = {
    "Logical_Switch": ["name", "ports", "dns_records", "external_ids"],
    "Logical_Switch_Port": ["name", "type", "addresses", "port_security", "enabled", "up",
                            "options", "tag", "external_ids", "dhcpv4_options",
                            "dhcpv6_options"],
    "DHCP_Options": ["cidr", "options", "external_ids"],
    "DNS": ["records", "external_ids"],
    "Logical_Router": ["name", "enabled", "ports", "nat", "static_routes", "options",
                       "external_ids"],
    "Logical_Router_Port": ["name", "mac", "networks", "ha_chassis_group", "external_ids"],
    "Logical_Router_Static_Route": ["ip_prefix", "nexthop", "external_ids"],
    "HA_Chassis_Group": ["name", "ha_chassis", "external_ids"],
    "HA_Chassis": ["chassis_name", "priority", "external_ids"],
    "NAT": ["type", "external_ip", "logical_ip", "logical_port", "external_mac",
            "gateway_port", "options", "external_ids"],
    "Port_Group": ["name", "ports", "acls", "external_ids"],
    "ACL": ["direction", "priority", "match", "action", "log", "external_ids"],
    "NB_Global": ["nb_cfg", "external_ids"],
}
SB_TABLES: dict[str, list[str]] = {
    "Chassis": ["name", "hostname", "other_config", "external_ids"],
    "Chassis_Private": ["name", "chassis", "nb_cfg", "external_ids"],
    "SB_Global": ["nb_cfg"],
    "Port_Binding": ["logical_port", "type", "chassis", "up"],
}
#: Monitor conditions: of Port_Binding only routers' gateways (``chassisredirect``: who
#: holds them) and instance ports (``""``: their claims and ``up`` are a chassis's signs
#: of life, see chassis.py), never patch, localnet or localport rows.
SB_CONDITIONS: dict[str, list[Any]] = {
    "Port_Binding": [["type", "==", keys.TYPE_CHASSIS_REDIRECT], ["type", "==", keys.TYPE_VIF]],
}
SCHEMA_FILES = {
    "OVN_Northbound": "/usr/share/ovn/ovn-nb.ovsschema",
    "OVN_Southbound": "/usr/share/ovn/ovn-sb.ovsschema",
}
#: Milliseconds between reconnection attempts, each to the next remote.  A dead RAFT
#: leader's members are tried in turn, the dead one and followers included: with
#: python-ovs's back-off (1 s doubling to 8 s; its setter will not go below 1 s) Neutrino
#: found the new leader 0.5–2 s after the election, at 250 ms within ~0.7 s of it.  A
#: handful of clients retrying four times a second costs a server nothing.
RECONNECT_BACKOFF_MS = 250


class IdlListener(Protocol):
    """Receives IDL news on the connection thread; must only record and return.

    A listener may also define ``attach(idl)``, called once with the IDL, and
    ``changes_done()``, called after every IDL pass (one or more messages from
    the server), so it can act once per batch of ``row_changed`` calls rather
    than once per row.
    """

    def ready_changed(self, ready: bool) -> None: ...
    def lock_changed(self, held: bool) -> None: ...
    def row_changed(self, event: str, row: Any, old: Any) -> None: ...


class NullListener:
    def ready_changed(self, ready: bool) -> None:
        pass

    def lock_changed(self, held: bool) -> None:
        pass

    def row_changed(self, event: str, row: Any, old: Any) -> None:
        pass


class ListenerSlot(NullListener):
    """A listener that can be plugged in after the connection started.

    The status worker shares the NB connection its process already has for API
    writes (one copy of NB per process: loading 10,000 LSPs costs seconds of CPU
    at start).  :meth:`connect` hands the listener the rows loaded so far, under
    the connection lock, so nothing is missed or seen twice.
    """

    def __init__(self) -> None:
        self._idl: Any = None
        self._target: Any = None

    def attach(self, idl: Any) -> None:
        self._idl = idl

    def connect(self, target: Any, lock: threading.RLock) -> None:
        with lock:
            attach = getattr(target, "attach", None)
            if attach is not None:
                attach(self._idl)
            for table in self._idl.tables.values():
                for row in list(table.rows.values()):
                    target.row_changed("create", row, None)
            self._target = target
            if self._idl.ready:
                target.ready_changed(True)

    def ready_changed(self, ready: bool) -> None:
        if self._target is not None:
            self._target.ready_changed(ready)

    def row_changed(self, event: str, row: Any, old: Any) -> None:
        if self._target is not None:
            self._target.row_changed(event, row, old)

    def changes_done(self) -> None:
        if self._target is not None:
            done = getattr(self._target, "changes_done", None)
            if done is not None:
                done()


def schema_helper(remote: str, schema_name: str,
                  tables: dict[str, list[str]]) -> ovs_idl.SchemaHelper:
    """A schema helper for ``tables``: local schema file if installed, else the server's."""
    path = SCHEMA_FILES.get(schema_name)
    if path and os.path.exists(path):
        helper = ovs_idl.SchemaHelper(location=path)
    else:
        helper = idlutils.get_schema_helper(remote, schema_name)
    for table, columns in tables.items():
        helper.register_columns(table, columns)
    return helper


#: Rounds of python-ovs reads (50 messages each) before a queued transaction runs.
MAX_READ_ROUNDS = 200


class NeutrinoIdl(ovsdbapp_connection.OvsdbIdl):
    """An ``ovs`` IDL reporting readiness, lock ownership and row changes.

    ``database`` (``nb`` or ``sb``) labels its reconnects in the metrics.
    """

    def __init__(self, remote: str, helper: ovs_idl.SchemaHelper, database: str,
                 listener: IdlListener | None = None, lock_name: str | None = None) -> None:
        super().__init__(remote, helper, leader_only=True)
        self.listener: IdlListener = listener or NullListener()
        # Set as attributes: ``Reconnect.set_backoff`` raises both to at least 1 s.
        reconnect = self._session.reconnect
        reconnect.min_backoff = reconnect.max_backoff = RECONNECT_BACKOFF_MS
        self._ready = False
        #: Tells waiters (:meth:`wait_ready`) that ``_ready`` changed.
        self._readiness = threading.Condition()
        #: When the connection was lost (or the IDL started); None while ready.
        self._lost_at: float | None = time.monotonic()
        #: Session seqno when readiness last changed; None until first ready.
        self._ready_seqno: int | None = None
        #: Labelled now, so the counter shows 0 until the first reconnect.
        self._reconnects = OVSDB_RECONNECTS.labels(database)
        self._held = False
        # Let the listener read rows of this IDL; done before the connection
        # thread exists, so no notification can precede it.
        attach = getattr(self.listener, "attach", None)
        if attach is not None:
            attach(self)
        self._changes_done = getattr(self.listener, "changes_done", None)
        if lock_name:
            self.set_lock(lock_name)

    @property
    def ready(self) -> bool:
        """Connected and holding a complete, current copy of the database."""
        return self._session.is_connected() and self.state == self.IDL_S_MONITORING

    @property
    def holds_lock(self) -> bool:
        return bool(self.lock_name) and self.has_lock and self.ready

    def run(self) -> bool:
        # python-ovs reads at most 50 messages per run(), and ovsdbapp commits a
        # queued transaction after each run(): behind a backlog (under load), a write
        # judged rows older than its socket held, and deleting a port another server
        # had just created found no row and did nothing.  Read what has arrived first.
        changed = False
        for _ in range(MAX_READ_ROUNDS):
            if not super().run():
                break
            changed = True
        if self._changes_done is not None:
            self._changes_done()
        ready = self.ready
        seqno = self._session.get_seqno()
        if ready != self._ready or (ready and seqno != self._ready_seqno):
            if ready and self._ready_seqno is not None:
                self._reconnects.inc()
            with self._readiness:
                self._ready, self._ready_seqno = ready, seqno
                self._lost_at = None if ready else time.monotonic()
                self._readiness.notify_all()
            self.listener.ready_changed(ready)
        held = self.holds_lock
        if held != self._held:
            self._held = held
            self.listener.lock_changed(held)
        return changed

    def notify(self, event: str, row: Any, updates: Any = None) -> None:
        self.listener.row_changed(event, row, updates)

    def wait_ready(self, grace: float) -> bool:
        """Whether the IDL is ready, waiting for it while the connection has been lost for
        less than *grace* seconds (a RAFT leader change: the election, then the
        reconnection); once an outage is older, False at once."""
        with self._readiness:
            while not self._ready:
                assert self._lost_at is not None  # set whenever _ready is False
                remaining = self._lost_at + grace - time.monotonic()
                if remaining <= 0:
                    return False
                self._readiness.wait(remaining)
        # A drop the connection thread has not read yet: the transaction waits for the
        # reconnection by itself (ovsdbapp retries it within its timeout).
        return True

    def cooperative_yield(self) -> None:
        """No-op: ovsdbapp's ``time.sleep(0)`` per row (for eventlet) costs ~0.15 ms,
        1.5 s of a 10,000-port initial dump; plain threads are preempted anyway."""


#: Transactions that may wait for the connection thread: more callers wait in ``put``.
MAX_QUEUED_TRANSACTIONS = 256


class Batch:
    """Transactions queued while the connection thread was busy, committed as one.

    The connection thread commits one OVSDB transaction at a time and waits for
    its answer, so concurrent API requests of a process queue behind each other's
    round trips: under load each request's NB write waited for every write queued
    before it.  Committed together, N requests cost one round trip, one ``update``
    for every NB client to parse, and one recompute of ``ovn-northd``.  Each
    request's commands still run in its own order, and run whole in one
    transaction: what it wrote lands together, or not at all.  If the combined
    transaction fails, each transaction is committed again on its own, so that
    one request's error (a command refusing to run, a constraint) is its own.

    Only transactions that cannot see each other are batched: a command looks
    rows up in the IDL, where a row inserted earlier in the same transaction is
    not yet, so a second insert of one row, or a delete that misses it, would
    follow.  Every command of a batched transaction says which rows it may insert
    or delete (``claims()``, a set of keys), and no two transactions of a batch
    claim the same; a transaction with a command that does not say is committed
    alone, as ovsdbapp would.

    The connection's run loop sees a Batch as one transaction: it calls
    :meth:`do_commit` and puts the outcome in :attr:`results` (the batch itself),
    where an exception is handed to every transaction of the batch.
    """

    def __init__(self, txns: list[Any]) -> None:
        self.txns = txns
        self.results = self

    def do_commit(self) -> None:
        first = self.txns[0]
        combined = ovsdbapp_transaction.Transaction(
            first.api, first.ovsdb_connection, timeout=first.timeout, check_error=True,
            log_errors=False)
        combined.commands = [cmd for txn in self.txns for cmd in txn.commands]
        try:
            combined.do_commit()
        except Exception:  # whose error it is shows when each is committed alone
            LOG.debug("a batch of %d NB transactions failed; committing each alone",
                      len(self.txns), exc_info=True)
            for txn in self.txns:
                txn.results.put(_outcome(txn))
            return
        for txn in self.txns:
            txn.results.put([cmd.result for cmd in txn.commands])

    def put(self, result: Any) -> None:
        """The run loop's put of :meth:`do_commit`'s outcome: only an exception (the
        transactions' own results are delivered already) is news to them."""
        if isinstance(result, idlutils.ExceptionResult):
            for txn in self.txns:
                txn.results.put(result)


def _outcome(txn: Any) -> Any:
    """What ovsdbapp's run loop would hand a transaction committed on its own."""
    try:
        return txn.do_commit()
    except Exception as ex:  # noqa: BLE001 - handed to the caller, as ovsdbapp does
        return idlutils.ExceptionResult(ex=ex, tb=traceback.format_exc())


def _claims(txn: Any) -> set[Any] | None:
    """The rows *txn*'s commands may insert or delete; None if a command does not say."""
    claimed: set[Any] = set()
    for cmd in txn.commands:
        claims = getattr(cmd, "claims", None)
        if claims is None:
            return None
        claimed |= claims()
    return claimed


class BatchingQueue(ovsdbapp_connection.TransactionQueue):
    """ovsdbapp's transaction queue, handing the connection thread what is queued as one
    :class:`Batch` of the transactions that may go together, in their order.

    Read by the connection thread only, the one writer of its IDL, so the claims it
    reads are those of the moment the batch is committed.
    """

    def __init__(self, maxsize: int) -> None:
        super().__init__(maxsize)
        #: Taken from the queue, but it could not join the batch before it: the next.
        self._next: Any = None

    def get_nowait(self, *args: Any, **kwargs: Any) -> Any:
        first = self._take()
        claimed = _claims(first) if first is not None else None
        if claimed is None:
            return first
        batch = [first]
        while self._next is None:
            try:
                txn: Any = queue.Queue.get_nowait(self)
            except queue.Empty:
                break
            claims = _claims(txn)
            if claims is None or claims & claimed:
                self._next = txn  # its wake-up stays in the pipe: the loop comes back for it
                break
            self._wait_queue.alert_notification_consume()  # its wake-up, as the first's
            claimed |= claims
            batch.append(txn)
        return Batch(batch) if len(batch) > 1 else first

    def _take(self) -> Any:
        if self._next is None:
            return super().get_nowait()
        txn, self._next = self._next, None
        self._wait_queue.alert_notification_consume()
        return txn

    def empty(self) -> bool:
        return self._next is None and super().empty()

    def qsize(self) -> int:
        return super().qsize() + (self._next is not None)


class Connection(ovsdbapp_connection.Connection):
    """ovsdbapp connection whose ``start`` returns at once, connected or not, and which
    commits the transactions queued meanwhile together (:class:`Batch`)."""

    thread: threading.Thread | None

    def __init__(self, idl: Any, timeout: float) -> None:
        super().__init__(idl, timeout)
        self.txns = BatchingQueue(MAX_QUEUED_TRANSACTIONS)

    def start(self) -> bool:
        with self.lock:
            if self.thread is not None:
                return False
            self.poller = poller.Poller()
            self.is_running = True
            self.thread = threading.Thread(target=self.run, name=f"ovsdb-{self.idl.session_name()}",
                                           daemon=True)
            self.thread.start()
            return True


class _Client:
    """Mixin: an ovsdbapp API bound to its own connection, with readiness helpers."""

    # ovsdbapp's Backend stores the connection on the class; shadow it with a
    # plain attribute so each instance keeps its own.
    ovsdb_connection: Any = None
    schema: str
    #: The metrics' label for this database.
    database: str

    def _setup(self, remote: str, timeout: float, tables: dict[str, list[str]],
               listener: IdlListener | None, lock_name: str | None,
               conditions: dict[str, list[Any]] | None = None) -> None:
        idl = NeutrinoIdl(remote, schema_helper(remote, self.schema, tables), self.database,
                          listener, lock_name)
        for table, condition in (conditions or {}).items():
            idl.cond_change(table, condition)  # before the first monitor request
        # mypy sees object.__init__; the ovsdbapp API class after this mixin takes these.
        super().__init__(Connection(idl, timeout), start=True)  # type: ignore[call-arg]

    @property
    def ready(self) -> bool:
        return self.ovsdb_connection.idl.ready

    def wait_ready(self, grace: float) -> bool:
        return self.ovsdb_connection.idl.wait_ready(grace)

    @property
    def holds_lock(self) -> bool:
        return self.ovsdb_connection.idl.holds_lock

    @property
    def remote(self) -> str:
        return self.ovsdb_connection.idl.session_name()

    def read_lock(self) -> threading.RLock:
        """Hold while reading rows from another thread than the connection's."""
        return self.ovsdb_connection.lock

    def close(self) -> None:
        self.ovsdb_connection.stop(timeout=5)


class Northbound(_Client, nb_impl.OvnNbApiIdlImpl):
    """NB; ``tables`` narrows what is monitored (default: everything Neutrino uses).

    A lock session is a Northbound with ``lock_name`` and only ``NB_Global``: it
    costs nothing to keep while the process's data connection carries NB, and its
    transactions (heartbeats, the worker's identity) are refused by python-ovs
    once the lock is lost.
    """

    database = "nb"

    def __init__(self, remote: str, timeout: float, listener: IdlListener | None = None,
                 lock_name: str | None = None,
                 tables: dict[str, list[str]] | None = None) -> None:
        self._setup(remote, timeout, tables or NB_TABLES, listener, lock_name)


class Southbound(_Client, sb_impl.OvnSbApiIdlImpl):
    database = "sb"

    def __init__(self, remote: str, timeout: float,
                 listener: IdlListener | None = None) -> None:
        self._setup(remote, timeout, SB_TABLES, listener, None, SB_CONDITIONS)
