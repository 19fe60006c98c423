"""A database as Neutrino left it before security groups (revision 0005), with ports.

Rows are written in that revision's schema (the models describe today's), for the
upgrade tests of migration 0006 in ``tests/db`` and ``tests/ovn``.
"""
from __future__ import annotations

import datetime as dt
import ipaddress
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from alembic.script import ScriptDirectory

from neutrino.db import migrate
from neutrino.db.session import Database

#: The revision whose schema the rows are written in.
REVISION = "0005"
WHEN = dt.datetime(2026, 12, 1, 10, 0, 0)
#: Every port's revision before the upgrade.
PORT_REVISION = 3


def _table(name: str, *columns: str, **typed: Any) -> sa.TableClause:
    return sa.table(name, *(sa.column(c) for c in columns),
                    *(sa.column(c, t) for c, t in typed.items()))


STANDARD = ("id", "project_id", "name", "description", "revision_number", "created_at",
            "updated_at")
NETWORKS = _table("networks", *STANDARD, "status", "mtu", admin_state_up=sa.Boolean())
SEGMENTS = _table("network_segments", "id", "network_id", "network_type", "segmentation_id",
                  "segment_index", "allocation_key", is_dynamic=sa.Boolean())
SUBNETS = _table("subnets", *STANDARD, "network_id", "cidr", "ip_version", "gateway_ip",
                 enable_dhcp=sa.Boolean(), allocation_pools=sa.JSON(),
                 dns_nameservers=sa.JSON(), host_routes=sa.JSON())
PORTS = _table("ports", *STANDARD, "network_id", "mac_address", "status", "device_id",
               "device_owner", "host", "vnic_type", "vif_type", admin_state_up=sa.Boolean(),
               profile=sa.JSON(), vif_details=sa.JSON())
ALLOCATIONS = _table("ip_allocations", "subnet_id", "ip_address", "port_id", "network_id")


@dataclass(frozen=True)
class OldPort:
    id: str
    project_id: str
    #: Its fixed IP, None for none.
    ip: str | None
    device_owner: str = ""


def check_revision() -> None:
    """0006 follows :data:`REVISION`: the rows below are in the schema it upgrades."""
    scripts = ScriptDirectory.from_config(migrate.alembic_config("sqlite://"))
    assert scripts.get_revision("0006").down_revision == REVISION


def build(url: str, network_id: str, subnet_id: str, cidr: str, ports: list[OldPort]) -> None:
    """Migrate *url* to :data:`REVISION` and write a geneve network of project ``demo``
    with an IPv4 subnet (*cidr*) and *ports* on it."""
    check_revision()
    net = ipaddress.ip_network(cidr)
    standard = {"description": "", "revision_number": 1, "created_at": WHEN, "updated_at": WHEN}
    db = Database(url)
    try:
        migrate.upgrade(db, REVISION)
        with db.write_engine.begin() as conn:
            conn.execute(NETWORKS.insert(), [{
                **standard, "id": network_id, "project_id": "demo", "name": "old",
                "status": "ACTIVE", "mtu": 1442, "admin_state_up": True}])
            conn.execute(SEGMENTS.insert(), [{
                "id": f"segment-of-{network_id}"[:36], "network_id": network_id,
                "network_type": "geneve", "segmentation_id": 4242, "segment_index": 0,
                "allocation_key": "geneve:4242", "is_dynamic": False}])
            conn.execute(SUBNETS.insert(), [{
                **standard, "id": subnet_id, "project_id": "demo", "name": "",
                "network_id": network_id, "cidr": cidr, "ip_version": 4,
                "gateway_ip": str(net[1]), "enable_dhcp": True,
                "allocation_pools": [{"start": str(net[2]), "end": str(net[-2])}],
                "dns_nameservers": [], "host_routes": []}])
            conn.execute(PORTS.insert(), [{
                **standard, "revision_number": PORT_REVISION, "id": port.id,
                "project_id": port.project_id, "name": f"old-{i}", "network_id": network_id,
                "mac_address": f"fa:16:3e:00:00:{i + 1:02x}", "status": "DOWN",
                "device_id": "", "device_owner": port.device_owner, "host": "",
                "vnic_type": "normal", "vif_type": "unbound", "admin_state_up": True,
                "profile": {}, "vif_details": {}} for i, port in enumerate(ports)])
            with_ip = [{"subnet_id": subnet_id, "ip_address": port.ip, "port_id": port.id,
                        "network_id": network_id} for port in ports if port.ip]
            if with_ip:
                conn.execute(ALLOCATIONS.insert(), with_ip)
    finally:
        db.dispose()
