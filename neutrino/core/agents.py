"""Agents: the backends' (OVN: one per chassis, and its plug agent), with what an admin
set on them.

The backends list their agents (``MechanismDriver.list_agents``) from what they
observe; the ``agents`` table holds only what ``PUT /v2.0/agents/{id}`` changed:
``admin_state_up`` and ``description``, shown over the backend's entry.  Neutron's
L2 agents keep ``admin_state_up`` for schedulers; Neutrino schedules nothing on
agents, so it is recorded and shown, and binding does not read it.  A delete asks the
backend to forget the agent (OVN deletes the chassis from SB, as Neutron does: a
chassis that is alive registers again, so its agents come back) and drops its row.
"""
from __future__ import annotations

from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from neutrino.core import exceptions as exc
from neutrino.core.mech_manager import MechanismManager
from neutrino.core.writes import Writes
from neutrino.db.models import Agent
from neutrino.db.session import Database

#: The attributes an admin may change, and their value on an agent nobody changed.
SETTABLE = {"admin_state_up": True, "description": ""}


class Agents:
    def __init__(self, db: Database, writes: Writes, mech: MechanismManager):
        self.db = db
        self.writes = writes
        self.mech = mech

    def list(self) -> list[dict[str, Any]]:
        agents = self.mech.list_agents()
        with self.db.read() as session:
            changed = {a.id: _settings(a) for a in session.scalars(select(Agent).where(
                Agent.id.in_([agent["id"] for agent in agents])))}
        return [{**agent, **changed.get(agent["id"], SETTABLE)} for agent in agents]

    def get(self, agent_id: str) -> dict[str, Any]:
        agent = self._listed(agent_id)
        with self.db.read() as session:
            row = session.get(Agent, agent_id)
            return {**agent, **(_settings(row) if row is not None else SETTABLE)}

    def update(self, agent_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
        agent = self._listed(agent_id)
        return {**agent, **self.writes.transaction(lambda s: self._update(s, agent_id, attrs))}

    @staticmethod
    def _update(session: Session, agent_id: str, attrs: dict[str, Any]) -> dict[str, Any]:
        row = session.get(Agent, agent_id)
        if row is None:
            row = Agent(id=agent_id, **SETTABLE)
            session.add(row)
        for name, value in attrs.items():
            setattr(row, name, value)
        session.flush()
        return _settings(row)

    def delete(self, agent_id: str) -> None:
        self._listed(agent_id)
        self.mech.delete_agent(agent_id)
        self.writes.transaction(lambda s: s.execute(delete(Agent).where(Agent.id == agent_id)))

    def _listed(self, agent_id: str) -> dict[str, Any]:
        """The backend's entry of the agent; 404 if no backend lists it."""
        agent = next((a for a in self.mech.list_agents() if a["id"] == agent_id), None)
        if agent is None:
            raise exc.AgentNotFound(id=agent_id)
        return agent


def _settings(row: Agent) -> dict[str, Any]:
    """What an admin set on an agent, as the API shows it."""
    return {name: getattr(row, name) for name in SETTABLE}
