"""Why a port is not ACTIVE (S3): the reasons the core itself gives.

Backends add their own (no chassis for host, interface not present...).
"""

NO_HOST = "no host: binding:host_id is not set"
BINDING = "binding pending"
#: Start of the reason a freshly bound port carries until it is ACTIVE.
BOUND_PREFIX = "bound to host"
BINDING_FAILED_PREFIX = "binding failed: "
NO_DRIVER_COULD_BIND = "no mechanism driver could bind"


def bound(host: str) -> str:
    return f"{BOUND_PREFIX} '{host}'; waiting for the port to come up"
