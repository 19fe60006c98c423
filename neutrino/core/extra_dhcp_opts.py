"""Ports' extra DHCP options (``extra_dhcp_opt``): Neutron's create and update rules, and
reading them with their ports.

A create stores every option given with a value.  An update changes only the options it
names (by name and IP version), as Neutron's: a new value replaces the old one, ``null``
removes the option, options not named are kept.  Which names a backend understands is the
backend's business: the API stores any name, as Neutron does with ML2/OVN.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import bindparam, delete, insert, select
from sqlalchemy.orm import Session
from sqlalchemy.orm.attributes import set_committed_value

from neutrino.core.rows import chunks
from neutrino.db.models import ExtraDhcpOpt, Port

#: neutron-lib's VALID_BLANK_EXTRA_DHCP_OPTS: options whose empty value means something
#: (no router, no static routes), so an empty string is stored for them.
BLANKABLE = frozenset({"router", "classless-static-route"})

_T = ExtraDhcpOpt.__table__
OPTS_OF_PORT = select(_T).where(_T.c.port_id == bindparam("id")).order_by(
    _T.c.ip_version, _T.c.opt_name)


def opt_dict(row: Any) -> dict[str, Any]:
    return {"opt_name": row.opt_name, "opt_value": row.opt_value, "ip_version": row.ip_version}


def opts_of(session: Session, port_ids: list[str]) -> dict[str, list[dict[str, Any]]]:
    """The options of each of *port_ids*, by IP version and name."""
    found: dict[str, list[dict[str, Any]]] = {i: [] for i in port_ids}
    for chunk in chunks(port_ids):
        for row in session.execute(select(_T).where(_T.c.port_id.in_(chunk)).order_by(
                _T.c.ip_version, _T.c.opt_name)):
            found[row.port_id].append(opt_dict(row))
    return found


def requested(opts: Sequence[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """A request's options, each with its IP version (4 unless given)."""
    return [{"opt_name": o["opt_name"], "opt_value": o["opt_value"],
             "ip_version": o.get("ip_version") or 4} for o in opts or []]


def create(session: Session, port: Port, opts: Sequence[dict[str, Any]] | None) -> None:
    """Store the options of a new port (those given with a value)."""
    rows = [{"port_id": port.id, **o} for o in requested(opts) if o["opt_value"] is not None]
    if rows:
        session.execute(insert(ExtraDhcpOpt), rows)
    _loaded(port, rows)


def update(session: Session, port: Port, opts: Sequence[dict[str, Any]]) -> bool:
    """Apply an update's options to *port* (loaded with its ``dhcp_opts``); whether any
    stored option changed."""
    have = {(o.opt_name, o.ip_version): o.opt_value for o in port.dhcp_opts}
    changed = False
    for opt in requested(opts):
        key, value = (opt["opt_name"], opt["ip_version"]), opt["opt_value"]
        where = (_T.c.port_id == port.id, _T.c.opt_name == key[0], _T.c.ip_version == key[1])
        if key not in have:
            if value is None:
                continue
            session.execute(insert(ExtraDhcpOpt), [{"port_id": port.id, **opt}])
        elif value is None:
            session.execute(delete(ExtraDhcpOpt).where(*where))
        elif value != have[key]:
            session.execute(sa.update(ExtraDhcpOpt).where(*where).values(opt_value=value))
        else:
            continue
        if value is None:
            del have[key]
        else:
            have[key] = value
        changed = True
    if changed:
        _loaded(port, [{"port_id": port.id, "opt_name": name, "ip_version": version,
                        "opt_value": value} for (name, version), value in have.items()])
    return changed


def _loaded(port: Port, rows: list[dict[str, Any]]) -> None:
    """Show *rows* as the port's ``dhcp_opts`` without reading them back."""
    set_committed_value(port, "dhcp_opts", [ExtraDhcpOpt(**r) for r in sorted(
        rows, key=lambda r: (r["ip_version"], r["opt_name"]))])
