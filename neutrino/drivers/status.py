"""The status vocabulary core and backends share: status values and the reasons (S3).

A resource that is not ACTIVE carries a reason saying why.  The core gives
the reasons below; backends add their own (no chassis for host, interface
not present...).  Both sides write and compare these strings, so they are
defined here, in the driver contract, and nowhere else.
"""
from __future__ import annotations

ACTIVE = "ACTIVE"
DOWN = "DOWN"
BUILD = "BUILD"
ERROR = "ERROR"
#: Every status a resource can have (API filters accept these).
STATUSES = (ACTIVE, DOWN, BUILD, ERROR)

NO_HOST = "no host: binding:host_id is not set"
BINDING = "binding pending"
#: Start of the reason a freshly bound port carries until it is ACTIVE.
BOUND_PREFIX = "bound to host"
BINDING_FAILED_PREFIX = "binding failed: "
NO_DRIVER_COULD_BIND = "no mechanism driver could bind"
#: A floating IP's reason while it has no port.
NOT_ASSOCIATED = "not associated with a port"
#: Reasons of a router's status (and its floating IPs'), decided by the backend.
NO_GATEWAY_CHASSIS = "no gateway chassis"
#: A new network's reason while a backend that reports network status asynchronously
#: has not reported it yet.
WAITING_FOR_BACKEND = "waiting for the backend"


#: The length of the status_reason columns; a longer reason would be refused by PostgreSQL.
REASON_MAX_LENGTH = 255


def fitted(reason: str) -> str:
    """*reason* cut to fit its column, the cut marked with an ellipsis.

    Reasons quote what clients give (a 255-character ``binding:host_id``) and what
    backends report, so any of them may be too long.  Core and backends compare
    stored reasons with new ones: both sides must fit a reason the same way.
    """
    if len(reason) <= REASON_MAX_LENGTH:
        return reason
    return reason[:REASON_MAX_LENGTH - 1] + "…"


def bound(host: str) -> str:
    """The reason of a port just bound to *host*."""
    return fitted(f"{BOUND_PREFIX} '{host}'; waiting for the port to come up")
