"""The write sequence every resource follows (docs/behaviour.md "Principles").

1. one SQL transaction: validate, allocate, write rows, call the drivers'
   ``*_precommit``, and at its end charge a create to its project's quota
   (:mod:`~neutrino.core.quotas`; over the limit: 409 ``OverQuota``).  Any
   failure rolls everything back; a lost race reruns the whole transaction
   (``retry_on_conflict``), so a request never leaves half-written rows;
2. the contexts forget the committed session: ``*_postcommit`` and
   ``bind_port`` must not touch it (B1, B2);
3. after commit, the drivers' ``*_postcommit``; a failing create is undone.

Resource modules supply step 1 as a function of the session and call
:meth:`Writes.write` (named ``create_<resource>`` for a create, which is
what the quota check goes by), :meth:`Writes.write_all` for several
resources of one type at once (a bulk create: one transaction, one
postcommit), or :meth:`Writes.transaction` then :meth:`Writes.postcommit`
when one transaction changes resources of several types.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.orm import Session

from neutrino.core import exceptions as exc
from neutrino.core.mech_manager import MechanismManager
from neutrino.core.quotas import Limits
from neutrino.db.session import Database, retry_on_conflict
from neutrino.drivers.api import (
    FloatingIPContext,
    NetworkContext,
    PortContext,
    RouterContext,
    SecurityGroupContext,
    SubnetContext,
)

Context = (NetworkContext | SubnetContext | PortContext | SecurityGroupContext | RouterContext
           | FloatingIPContext)
C = TypeVar("C", NetworkContext, SubnetContext, PortContext, SecurityGroupContext, RouterContext,
            FloatingIPContext)
T = TypeVar("T")
CREATE = "create_"


def detach(context: Context) -> None:
    """Forget the session *context* (and its network's context) was built in."""
    context.session = None
    if isinstance(context, SubnetContext | PortContext):
        context.network.session = None
    if isinstance(context, FloatingIPContext):
        for router in context.routers:
            router.session = None


class Writes:
    def __init__(self, db: Database, mech: MechanismManager, limits: Limits):
        self.db = db
        self.mech = mech
        self.limits = limits

    def transaction(self, body: Callable[[Session], T]) -> T:
        """*body* in one write transaction, run again from the start if it lost a race."""
        return self._transaction(body)

    @retry_on_conflict
    def _transaction(self, body: Callable[[Session], T]) -> T:
        with self.db.write() as session:
            return body(session)

    def postcommit(self, operation: str, context: C,
                   undo: Callable[[str], None] | None = None) -> C:
        """Detach *context*, then call the drivers' ``<operation>_postcommit``.

        *undo* (of a create: the delete of the resource, by id) runs if a driver failed.
        """
        return self.postcommit_all(operation, [context], undo)[0]

    def postcommit_all(self, operation: str, contexts: list[C],
                       undo: Callable[[str], None] | None = None) -> list[C]:
        """:meth:`postcommit` of the resources one transaction wrote, all at once (a
        backend may write them in one go); if a driver failed, *undo* runs for each."""
        for context in contexts:
            detach(context)
        try:
            self.mech.postcommit(f"{operation}_postcommit", contexts)
        except exc.NeutronError:
            if undo is not None:
                for context in contexts:
                    undo(context.current["id"])
            raise
        return contexts

    def write(self, operation: str, body: Callable[[Session], C],
              undo: Callable[[str], None] | None = None, *, refusable: bool = True) -> C:
        """The whole sequence for one resource: *body* in a transaction (a create charged
        to its project's quota at the transaction's end), then postcommit.

        ``refusable=False`` is for what Neutrino creates on a project's behalf (its
        ``default`` security group): it counts in the project's usage, but its quota
        never refuses it, or a project at its limit could not create a port."""
        return self.write_all(operation, [body], undo, refusable=refusable)[0]

    def write_all(self, operation: str, bodies: list[Callable[[Session], C]],
                  undo: Callable[[str], None] | None = None, *,
                  refusable: bool = True) -> list[C]:
        """:meth:`write` of several resources of one type (a bulk create), all or none:
        every body, in order, in one transaction; the quota charged once per project
        for all of them; then one postcommit of them all."""
        def charged(session: Session) -> list[C]:
            contexts = [body(session) for body in bodies]
            if operation.startswith(CREATE) and refusable:
                for project in dict.fromkeys(c.current["project_id"] for c in contexts):
                    self.limits.charge(session, operation.removeprefix(CREATE), project)
            return contexts

        return self.postcommit_all(operation, self.transaction(charged), undo)
