"""Transactions read back from real database files are attributed to whoever wrote them."""
from __future__ import annotations

import json
from typing import Any

from neutrino.bench import ovsdb_log
from neutrino.sandbox import Sandbox
from neutrino.sandbox.daemon import run_tool

AGENT_KEY = "neutrino-plug-agent-heartbeat"


def transact(sandbox: Sandbox, remote: str, database: str, *ops: dict[str, Any]) -> None:
    """One transaction with no client's signature, as Neutrino's processes send them."""
    run_tool(["ovsdb-client", "transact", remote, json.dumps([database, *ops])],
             sandbox.base_dir)


def insert_key(table: str, where: list[Any], key: str) -> dict[str, Any]:
    return {"op": "mutate", "table": table, "where": where,
            "mutations": [["external_ids", "insert", ["map", [[key, "1"]]]]]}


def test_transactions_are_attributed_to_their_writers(sandbox: Sandbox) -> None:
    chassis = sandbox.add_chassis("hv1")
    files = {"nb": sandbox.nb.members[0].db_file, "sb": sandbox.sb.members[0].db_file,
             "ovs": chassis.ovs.db_file}
    offsets = {db: ovsdb_log.file_size(path) for db, path in files.items()}

    # NB: a heartbeat as the status worker writes it, then the bench's own sync (which
    # ovn-northd answers with writes of its own).
    transact(sandbox, sandbox.nb_remote, "OVN_Northbound",
             {"op": "mutate", "table": "NB_Global", "where": [],
              "mutations": [["nb_cfg", "+=", 1]]})
    sandbox.nbctl("--wait=sb", "sync")
    nb = ovsdb_log.tally("nb", files["nb"], offsets["nb"])
    assert nb.by_writer[ovsdb_log.NEUTRINO] == 1 and nb.by_writer[ovsdb_log.BENCH] == 1
    assert nb.by_writer[ovsdb_log.OVN] >= 1  # northd's sb_cfg
    assert nb.neutrino_kinds == {"NB_Global.nb_cfg": 1}

    # SB: the plug agent's key is Neutrino's; any other key of the row is not.
    by_name = [["name", "==", "hv1"]]
    transact(sandbox, sandbox.sb_remote, "OVN_Southbound",
             insert_key("Chassis_Private", by_name, AGENT_KEY))
    transact(sandbox, sandbox.sb_remote, "OVN_Southbound",
             insert_key("Chassis_Private", by_name, "someone-else"))
    sb = ovsdb_log.tally("sb", files["sb"], offsets["sb"])
    assert sb.by_writer[ovsdb_log.NEUTRINO] == 1
    assert sb.neutrino_kinds == {"Chassis_Private.external_ids": 1}
    assert sb.by_writer[ovsdb_log.OVN] >= 1

    # OVS: the plug agent signs its transactions; ovs-vsctl signs its own.
    transact(sandbox, chassis.ovs_remote, "Open_vSwitch",
             {"op": "comment", "comment": "neutrino plug-agent: plug p1"},
             insert_key("Open_vSwitch", [], "plugged"))
    chassis.vsctl("set", "Open_vSwitch", ".", "external_ids:by-hand=1")
    ovs = ovsdb_log.tally("ovs", files["ovs"], offsets["ovs"])
    assert ovs.by_writer[ovsdb_log.NEUTRINO] == 1 and ovs.by_writer[ovsdb_log.BENCH] == 1
    assert ovs.neutrino_kinds == {"Open_vSwitch.external_ids": 1}

    # A write that changes nothing leaves no record: nothing to count, nothing to monitor.
    before = ovsdb_log.file_size(files["sb"])
    transact(sandbox, sandbox.sb_remote, "OVN_Southbound",
             insert_key("Chassis_Private", by_name, AGENT_KEY))
    assert ovsdb_log.file_size(files["sb"]) == before
    assert ovsdb_log.tally("sb", files["sb"], offsets["sb"]).as_dict() == {
        "total": sum(sb.by_writer.values()), "neutrino": 1, "ovn": sb.by_writer[ovsdb_log.OVN],
        "bench": 0, "neutrino_by_kind": {"Chassis_Private.external_ids": 1}}
