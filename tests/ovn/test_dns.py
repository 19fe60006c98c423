"""Ports' names in OVN's native DNS: each network's DNS row, referenced from its switch,
holds its named ports' records, written in the transaction of the port's LSP, taken back
with the port, renamed with the network's domain, and restored by the drift repair.
OVN answers a query from one instance for another's name: shown with ``ovn-trace``
(what it can show of ``dns_lookup``) and with the southbound rows that answer."""
from __future__ import annotations

import uuid
from typing import Any

import pytest

from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from tests.ovn.conftest import CoreFactory
from tests.ovn.nb import DualStackLab, nb_rows, rows, switch


class Lab(DualStackLab):
    """The dual-stack network, in domain ``lab.example.``."""

    def __init__(self, core: Plugin, ovn: Sandbox) -> None:
        super().__init__(core, ovn, name="dns", dns_domain="lab.example.")

    def instance(self, name: str, v4: str, **attrs: Any) -> dict[str, Any]:
        """A port of an instance (a ``device_id``) named *name*, at 10.0.0.<v4>."""
        return self.core.create_port(ADMIN, {
            "network_id": self.net["id"], "dns_name": name, "device_id": str(uuid.uuid4()),
            "device_owner": "compute:nova", "port_security_enabled": False,
            "fixed_ips": [{"subnet_id": self.v4["id"], "ip_address": f"10.0.0.{v4}"},
                          {"subnet_id": self.v6["id"], "ip_address": f"2001:db8::{v4}"}],
            **attrs})

    def dns_rows(self) -> list[dict[str, Any]]:
        return [r for r in nb_rows(self.ovn, "DNS")
                if r["external_ids"].get("neutrino:network_id") == self.net["id"]]

    def records(self) -> dict[str, str] | None:
        """The network's DNS records, None without a row; the row must be the switch's."""
        found = self.dns_rows()
        if not found:
            return None
        assert len(found) == 1, found
        ls = switch(self.ovn, self.net["id"])
        assert ls is not None
        assert found[0]["_uuid"] in (ls["dns_records"] if isinstance(ls["dns_records"], list)
                                     else [ls["dns_records"]])
        return found[0]["records"]


def named(name: str, v4: str, domain: str = "lab.example") -> dict[str, str]:
    """The records of an instance named *name* at 10.0.0.<v4> and 2001:db8::<v4>."""
    addresses = f"10.0.0.{v4} 2001:db8::{v4}"
    v6_ptr = ".".join(reversed(f"{int(v4, 16):024x}")) + ".8.b.d.0.1.0.0.2.ip6.arpa"
    return {name: addresses, f"{name}.{domain}": addresses,
            f"{v4}.0.0.10.in-addr.arpa": f"{name}.{domain}", v6_ptr: f"{name}.{domain}"}


@pytest.fixture
def lab(make_core: CoreFactory, sandbox: Sandbox) -> Lab:
    return Lab(make_core(workers=False), sandbox)


def test_names_are_written_with_their_ports(lab: Lab) -> None:
    assert lab.records() is None  # no named port, no row
    web = lab.instance("web", "5")
    db = lab.instance("db", "6")
    # Not in use (no device_id), or not named: no records, as Neutron's OVN driver.
    # (Their addresses are given: one drawn at random could be one an instance asks for.)
    for extra, host in (({"dns_name": "spare"}, "200"), ({"device_id": "x"}, "201")):
        lab.core.create_port(ADMIN, {
            "network_id": lab.net["id"], **extra,
            "fixed_ips": [{"subnet_id": lab.v4["id"], "ip_address": f"10.0.0.{host}"},
                          {"subnet_id": lab.v6["id"], "ip_address": f"2001:db8::{host}"}]})
    assert lab.records() == {**named("web", "5"), **named("db", "6")}
    share = lab.dns_rows()[0]["external_ids"]
    assert set(share) == {"neutrino:network_id", f"neutrino:dns:{web['id']}",
                          f"neutrino:dns:{db['id']}"}

    # A new name replaces the old one; a name two instances share answers both.
    lab.core.update_port(ADMIN, web["id"], {"dns_name": "www"})
    twin = lab.instance("db", "7")
    records = lab.records()
    assert records is not None
    assert "web" not in records and records["www"] == "10.0.0.5 2001:db8::5"
    assert set(records["db"].split()) == {"10.0.0.6", "2001:db8::6", "10.0.0.7", "2001:db8::7"}
    assert records["7.0.0.10.in-addr.arpa"] == "db.lab.example"
    lab.core.delete_port(ADMIN, twin["id"])
    assert lab.records() == {**named("www", "5"), **named("db", "6")}

    # The network's domain renames every port; without one, the configured domain.
    lab.core.update_network(ADMIN, lab.net["id"], {"dns_domain": "other.example."})
    assert lab.records() == {**named("www", "5", "other.example"),
                             **named("db", "6", "other.example")}
    lab.core.update_network(ADMIN, lab.net["id"], {"dns_domain": ""})
    assert lab.records() == {**named("www", "5", "openstacklocal"),
                             **named("db", "6", "openstacklocal")}

    # Names taken away and ports deleted: the last one takes the row with it.
    lab.core.update_port(ADMIN, web["id"], {"dns_name": ""})
    assert lab.records() == named("db", "6", "openstacklocal")
    lab.core.delete_port(ADMIN, db["id"])
    assert lab.records() is None and lab.dns_rows() == []


def test_a_bulk_create_names_its_ports_in_one_row(lab: Lab) -> None:
    """Several named ports of one network in one NB transaction: the first creates the row,
    the next ones add to it (a row inserted in the same transaction)."""
    ports = lab.core.create_port_bulk(ADMIN, [
        {"network_id": lab.net["id"], "dns_name": name, "device_id": str(uuid.uuid4()),
         "port_security_enabled": False,
         "fixed_ips": [{"subnet_id": lab.v4["id"], "ip_address": f"10.0.0.{v4}"},
                       {"subnet_id": lab.v6["id"], "ip_address": f"2001:db8::{v4}"}]}
        for name, v4 in (("a", "5"), ("b", "6"), ("c", "7"))])
    assert lab.records() == {**named("a", "5"), **named("b", "6"), **named("c", "7")}
    assert [p["dns_assignment"][0]["fqdn"] for p in ports] == \
        ["a.lab.example.", "b.lab.example.", "c.lab.example."]


def test_drift_repair_restores_the_names(make_core: CoreFactory, sandbox: Sandbox) -> None:
    lab = Lab(make_core(maintenance_interval=1), sandbox)
    web, db = lab.instance("web", "5"), lab.instance("db", "6")
    want = {**named("web", "5"), **named("db", "6")}
    row = lab.dns_rows()[0]["_uuid"]
    nobody = str(uuid.uuid4())
    # One transaction, so no repair pass sees half of the damage: a record edited, one
    # removed, the share of a port that does not exist.
    sandbox.nbctl("set", "DNS", row, "records:web=192.0.2.1",
                  "--", "remove", "DNS", row, "records", "db",
                  "--", "set", "DNS", row, f'external_ids:"neutrino:dns:{nobody}"="{{}}"')
    wait_for(lambda: lab.records() == want and len(lab.dns_rows()[0]["external_ids"]) == 3,
             20, "records repaired")
    # The row destroyed: written again, and referenced from the switch; the row of a
    # network SQL does not have (deleted while NB was away) is deleted.
    gone = str(uuid.uuid4())
    sandbox.nbctl("destroy", "DNS", row, "--", "create", "DNS", "records:x=192.0.2.9",
                  f"external_ids:neutrino\\:network_id={gone}")
    wait_for(lambda: lab.dns_rows() != [] and lab.records() == want
             and len(nb_rows(sandbox, "DNS")) == 1, 20, "row created again, orphan deleted")
    # A port's share lost: put back from SQL.
    row = lab.dns_rows()[0]["_uuid"]
    sandbox.nbctl("remove", "DNS", row, "external_ids", f'"neutrino:dns:{db["id"]}"',
                  "--", "remove", "DNS", row, "records", "db")
    wait_for(lambda: lab.records() == want and
             f"neutrino:dns:{db['id']}" in lab.dns_rows()[0]["external_ids"],
             20, "share restored")
    assert web["dns_assignment"][0]["fqdn"] == "web.lab.example."


def dns_flows(lab: Lab) -> list[str]:
    """The switch's logical flows of the DNS stages (lookup and response), from SB."""
    flows = lab.ovn.sbctl("lflow-list", f"neutrino-{lab.net['id']}")
    return [" ".join(line.split()) for line in flows.splitlines() if "_dns_" in line]


def test_ovn_answers_one_instance_for_another(lab: Lab) -> None:
    """A DNS query from *client* for the server's name.  ovn-trace of OVN 23.03 follows the
    query into the switch's ``ls_in_dns_lookup`` stage but does not run ``dns_lookup``
    (it prints "dns_lookup action not implemented"), so what answers is shown in SB: the
    switch's DNS row, which ovn-controller answers from, and the flows that send a query
    there and the answer back out of the port it came from."""
    client = lab.instance("client", "6")
    lab.core.update_port(ADMIN, client["id"], {"dns_name": ""})
    query = (f'inport == "{client["id"]}" && eth.src == {client["mac_address"]} && '
             f'eth.dst == fa:16:3e:00:00:01 && ip4.src == 10.0.0.6 && ip4.dst == 10.0.0.1 && '
             'ip.ttl == 64 && udp.src == 53000 && udp.dst == 53')
    datapath = f"neutrino-{lab.net['id']}"
    # No names on the switch: OVN does not look at DNS queries.
    assert "ls_in_dns_lookup" not in lab.ovn.trace(datapath, query, "--detailed")
    assert not any("dns_lookup()" in f for f in dns_flows(lab))
    assert rows(lab.ovn.sbctl, "DNS") == []

    lab.instance("server", "5")
    trace = lab.ovn.trace(datapath, query, "--detailed")
    assert "ls_in_dns_lookup" in trace and "udp.dst == 53" in trace
    flows = dns_flows(lab)
    assert any("ls_in_dns_lookup" in f and "match=(udp.dst == 53)" in f
               and "reg0[4] = dns_lookup(); next;" in f for f in flows), flows
    answer = next(f for f in flows if "ls_in_dns_response" in f and "ip4" in f)
    assert "reg0[4]" in answer and "outport = inport;" in answer and "output;" in answer
    assert "ip4.src <-> ip4.dst;" in answer and "udp.src = 53;" in answer
    # SB's DNS row, on the switch's datapath, with the server's names.
    [sb_dns] = rows(lab.ovn.sbctl, "DNS")
    [binding] = rows(lab.ovn.sbctl, "Datapath_Binding")
    assert sb_dns["datapaths"] in (binding["_uuid"], [binding["_uuid"]])
    assert sb_dns["records"] == named("server", "5")
