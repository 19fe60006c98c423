"""The driver contexts (B1) of rows as a transaction sees them."""
from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from neutrino.core.resources import orm_network_dict, orm_port_dict, segment_dict
from neutrino.db.models import Network, Port
from neutrino.drivers.api import NetworkContext, PortContext


def network_context(net: Any, original: dict[str, Any] | None = None,
                    session: Session | None = None) -> NetworkContext:
    """*net*: a :class:`Network` or a RowView of one with its segments and subnets."""
    return NetworkContext(current=orm_network_dict(net), original=original,
                          network_segments=[segment_dict(s) for s in net.segments],
                          session=session)


def port_context(session: Session, port: Port | Any, original: dict[str, Any] | None = None,
                 original_segment: dict[str, Any] | None = None,
                 original_driver: str | None = None, net: Any = None) -> PortContext:
    """The PortContext of *port* as it is now in *session*; *net* (its network, if the
    caller read it already) saves loading it again."""
    net = net or session.get(Network, port.network_id)
    segment = next((segment_dict(s) for s in net.segments if s.id == port.bound_segment_id), None)
    return PortContext(current=orm_port_dict(port), original=original,
                       network=network_context(net, session=session),
                       bound_segment=segment, bound_driver=port.bound_driver,
                       original_bound_segment=original_segment,
                       original_bound_driver=original_driver, session=session)
