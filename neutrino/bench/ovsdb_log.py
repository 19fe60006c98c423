"""Who changed what in a standalone OVSDB database: its file's transaction records, attributed.

ovsdb-server keeps no transaction counter, but a standalone server appends every
committed transaction that changed something to its database file as one record
(the changed columns of each row, ``_comment`` if the client gave one); a
transaction that changes nothing leaves no record and reaches no monitor.  The
records appended during a phase are therefore exactly the changes every client
monitoring the database (ovn-northd, each ovn-controller) had to process, and
reading them tells whose they were:

* NB: ovn-northd writes only ``Logical_Switch_Port`` ``up``/``dynamic_addresses``
  and ``NB_Global``'s ``*_cfg``/``*_timestamp``/``options``; with no other NB
  client in a bench, every other change is Neutrino's (API, status worker, repair);
* SB: Neutrino writes only its plug agent's keys in ``Chassis_Private.external_ids``;
  every other change is OVN's own (ovn-northd, ovn-controller);
* a chassis's OVS database: the plug agent signs its transactions (``_comment``
  "neutrino plug-agent: ..."); the others are ovs-vswitchd's and ovn-controller's;
* ``ovn-nbctl``/``ovn-sbctl``/``ovs-vsctl`` sign theirs: the bench's own (or the
  sandbox's, configuring a chassis it starts).

A record counts once, under its writer, and by what it changed
(``Table.column,column`` of each changed row, ``Table.insert``/``Table.delete``), so a
value rewritten on every loop shows up as a large count of one kind.
"""
from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from neutrino.plugproto import AGENT_PREFIX

NEUTRINO, OVN, BENCH = "neutrino", "ovn", "bench"
#: What ovn-northd writes in NB, by table.
NORTHD_NB_COLUMNS = {
    "Logical_Switch_Port": {"up", "dynamic_addresses"},
    "NB_Global": {"sb_cfg", "hv_cfg", "hv_cfg_timestamp", "sb_cfg_timestamp",
                  "nb_cfg_timestamp", "options", "ipsec"},
}
BENCH_COMMENTS = ("ovn-nbctl", "ovn-sbctl", "ovs-vsctl")
#: How the plug agent signs its transactions in the OVS database.
AGENT_COMMENT = "neutrino plug-agent:"


def file_size(path: Path) -> int:
    return path.stat().st_size


def records(path: Path, offset: int = 0) -> Iterator[dict[str, Any]]:
    """The transaction records of *path* from byte *offset* (a record boundary, e.g. the
    file's size read earlier).  Each record is a header line ``OVSDB JSON <length> <sha1>``
    and that many bytes of JSON."""
    data = path.read_bytes()
    pos = offset
    while pos < len(data):
        end = data.index(b"\n", pos)
        header = data[pos:end].split()
        if header[:2] != [b"OVSDB", b"JSON"]:
            raise ValueError(f"{path}: no record header at byte {pos}")
        length = int(header[2])
        body = data[end + 1:end + 1 + length]
        if len(body) < length:
            return  # a record being written right now
        yield json.loads(body)
        pos = end + 1 + length
        while pos < len(data) and data[pos:pos + 1] == b"\n":
            pos += 1


def changes(record: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any] | None]]:
    """(table, changed columns or None for a deleted row) of every row in *record*."""
    for table, rows in record.items():
        if table.startswith("_"):
            continue
        yield from ((table, row) for row in rows.values())


def kinds(record: dict[str, Any]) -> set[str]:
    """What *record* changed: ``Table.col,col`` per changed row (a new row names all its
    columns, cut after four), ``Table.delete``."""
    found = set()
    for table, row in changes(record):
        if row is None:
            found.add(f"{table}.delete")
            continue
        columns = sorted(row)
        more = f",+{len(columns) - 4}" if len(columns) > 4 else ""
        found.add(f"{table}." + ",".join(columns[:4]) + more)
    return found


def writer(database: str, record: dict[str, Any]) -> str:
    """Whose transaction *record* is (see the module docstring)."""
    comment = str(record.get("_comment", ""))
    if comment.startswith(BENCH_COMMENTS):
        return BENCH
    if database == "ovs":
        return NEUTRINO if comment.startswith(AGENT_COMMENT) else OVN
    if database == "nb":
        ours = any(row is None or not set(row) <= NORTHD_NB_COLUMNS.get(table, set())
                   for table, row in changes(record))
        return NEUTRINO if ours else OVN
    for table, row in changes(record):
        if table == "Chassis_Private" and row is not None:
            pairs = row.get("external_ids", ["map", []])[1]
            if any(key.startswith(AGENT_PREFIX) for key, _ in pairs):
                return NEUTRINO
    return OVN


@dataclass
class Tally:
    """Transactions in one database over a phase: by writer, and Neutrino's by kind."""

    by_writer: Counter[str] = field(default_factory=Counter)
    neutrino_kinds: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        return {"total": sum(self.by_writer.values()),
                **{w: self.by_writer[w] for w in (NEUTRINO, OVN, BENCH)},
                "neutrino_by_kind": dict(self.neutrino_kinds.most_common())}


def tally(database: str, path: Path, offset: int) -> Tally:
    """Attribute the records appended to *path* since *offset*."""
    result = Tally()
    for record in records(path, offset):
        who = writer(database, record)
        result.by_writer[who] += 1
        if who == NEUTRINO:
            result.neutrino_kinds.update(kinds(record))
    return result
