"""Security groups in OVN, proven with OVN's packet tracer.

Ports are created through the real core with the OVN driver; ``ovn-trace`` then
decides, on the southbound DB that ovn-northd computed, whether a packet from
one port reaches another.  No verdict here is read back from NB rows: each is
the tracer's.
"""
from __future__ import annotations

import json
import time
import uuid
from pathlib import Path
from typing import Any

import ovs.json
import ovs.jsonrpc
import pytest

from neutrino.core.context import ADMIN, Context
from neutrino.core.plugin import Plugin
from neutrino.db.migrate import upgrade
from neutrino.db.session import Database
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from tests.db import before_security_groups
from tests.db.before_security_groups import OldPort
from tests.ovn.conftest import CoreFactory
from tests.ovn.nb import plug

DEMO = Context(user_id="u", project_id="demo", roles=frozenset({"member"}))


class Lab:
    """One network with a v4 and a v6 subnet (or *net*, as it is), and helpers to create
    ports and trace."""

    def __init__(self, core: Plugin, ovn: Sandbox, net: dict[str, Any] | None = None) -> None:
        self.core, self.ovn = core, ovn
        if net is not None:
            self.net = net
            return
        self.net = core.create_network(DEMO, {"name": "lab"})
        core.create_subnet(DEMO, {"network_id": self.net["id"], "cidr": "10.0.0.0/24",
                                  "ip_version": 4})
        core.create_subnet(DEMO, {"network_id": self.net["id"], "cidr": "2001:db8::/64",
                                  "ip_version": 6, "ipv6_address_mode": "dhcpv6-stateful",
                                  "ipv6_ra_mode": "dhcpv6-stateful"})

    def group(self, name: str, stateful: bool = True) -> dict[str, Any]:
        return self.core.create_security_group(DEMO, {"name": name, "stateful": stateful})

    def rule(self, group: dict[str, Any], **attrs: Any) -> dict[str, Any]:
        return self.core.create_security_group_rule(
            DEMO, {"security_group_id": group["id"], **attrs})

    def port(self, **attrs: Any) -> dict[str, Any]:
        return self.core.create_port(DEMO, {"network_id": self.net["id"], **attrs})

    def trace(self, src: dict[str, Any], dst: dict[str, Any], l4: str, *options: str,
              version: int = 4, src_ip: str | None = None, src_mac: str | None = None) -> str:
        """The tracer's minimal output for a packet from *src* to *dst* (their first address
        of *version*; *src_ip*/*src_mac* forge the source), a new connection unless
        *options* say otherwise."""
        def first(port: dict[str, Any]) -> str:
            return next(a["ip_address"] for a in port["fixed_ips"]
                        if (":" in a["ip_address"]) == (version == 6))
        ip = f"ip{version}"
        flow = (f'inport == "{src["id"]}" && eth.src == {src_mac or src["mac_address"]} && '
                f'eth.dst == {dst["mac_address"]} && {ip}.src == {src_ip or first(src)} && '
                f'{ip}.dst == {first(dst)} && ip.ttl == 64 && {l4}')
        ct = options or ("--ct=new,trk", "--ct=new,trk")
        return self.ovn.trace(f"neutrino-{self.net['id']}", flow, "--no-friendly-names", *ct)

    def reaches(self, src: dict[str, Any], dst: dict[str, Any], l4: str, *options: str,
                **kw: Any) -> bool:
        """Whether the tracer delivers the packet to *dst*."""
        return f'output("{dst["id"]}")' in self.trace(src, dst, l4, *options, **kw)


def ip(address: str) -> list[dict[str, str]]:
    return [{"ip_address": address}]


SSH, HTTP = "tcp && tcp.src == 40000 && tcp.dst == 22", "tcp && tcp.src == 40000 && tcp.dst == 80"
REPLY = "tcp && tcp.src == 22 && tcp.dst == 40000"
ESTABLISHED_REPLY = ("--ct=est,rpl,trk", "--ct=est,rpl,trk")


@pytest.fixture
def lab(make_core: CoreFactory, sandbox: Sandbox) -> Lab:
    return Lab(make_core(workers=False), sandbox)


def test_rules_by_remote_group_cidr_protocol_and_icmp_type(lab: Lab) -> None:
    a, b = lab.group("a"), lab.group("b")
    lab.rule(a, direction="ingress", protocol="tcp", port_range_min=22, port_range_max=22,
             remote_group_id=a["id"])
    lab.rule(a, direction="ingress", protocol="icmp", port_range_min=8, port_range_max=0,
             remote_ip_prefix="10.0.0.16/28")
    p1 = lab.port(security_groups=[a["id"]], fixed_ips=ip("10.0.0.10"))
    p2 = lab.port(security_groups=[a["id"]], fixed_ips=ip("10.0.0.20"))
    p3 = lab.port(security_groups=[b["id"]], fixed_ips=ip("10.0.0.30"))
    assert lab.reaches(p1, p2, SSH)                            # from a member of a
    assert not lab.reaches(p3, p2, SSH)                        # not a member
    assert not lab.reaches(p1, p2, "tcp && tcp.src == 40000 && tcp.dst == 23")  # no rule
    assert not lab.reaches(p1, p2, "udp && udp.src == 40000 && udp.dst == 22")
    assert lab.reaches(p3, p2, "icmp4 && icmp4.type == 8 && icmp4.code == 0")  # in the CIDR
    assert not lab.reaches(p1, p2, "icmp4 && icmp4.type == 8 && icmp4.code == 0")  # outside
    assert not lab.reaches(p3, p2, "icmp4 && icmp4.type == 0 && icmp4.code == 0")  # other type
    assert not lab.reaches(p2, p3, SSH)                        # b lets nothing in
    # Membership moves with the port: p3 joins a, then leaves it.
    p3 = lab.core.update_port(DEMO, p3["id"], {"security_groups": [a["id"], b["id"]]})
    assert lab.reaches(p3, p2, SSH)
    p3 = lab.core.update_port(DEMO, p3["id"], {"security_groups": [b["id"]]})
    assert not lab.reaches(p3, p2, SSH)
    # A deleted rule no longer lets anything in.
    ssh = next(r for r in lab.core.get_security_group(DEMO, a["id"])["security_group_rules"]
               if r["protocol"] == "tcp")
    lab.core.delete_security_group_rule(DEMO, ssh["id"])
    assert not lab.reaches(p1, p2, SSH)


def test_stateful_replies_pass_stateless_groups_need_both_directions(lab: Lab) -> None:
    a, s = lab.group("a"), lab.group("s", stateful=False)
    for group in (a, s):
        lab.rule(group, direction="ingress", protocol="tcp", port_range_min=22,
                 port_range_max=22)
    client, server = lab.port(security_groups=[a["id"]]), lab.port(security_groups=[a["id"]])
    assert lab.reaches(client, server, SSH)
    assert lab.reaches(server, client, REPLY, *ESTABLISHED_REPLY)  # the connection's reply
    assert not lab.reaches(server, client, REPLY)                   # not as a new connection
    # allow-stateless skips connection tracking: the request was never tracked, so its
    # reply is a new packet to the client, which needs a rule of its own.
    client, server = lab.port(security_groups=[s["id"]]), lab.port(security_groups=[s["id"]])
    assert lab.reaches(client, server, SSH)
    assert not lab.reaches(server, client, REPLY)
    lab.rule(s, direction="ingress", protocol="tcp", port_range_min=1024, port_range_max=65535)
    assert lab.reaches(server, client, REPLY)


def test_port_security_and_allowed_address_pairs(lab: Lab) -> None:
    web = lab.group("web")
    lab.rule(web, direction="ingress", protocol="tcp", port_range_min=80, port_range_max=80,
             remote_ip_prefix="0.0.0.0/0")
    server = lab.port(security_groups=[web["id"]], fixed_ips=ip("10.0.0.50"))
    client = lab.port(security_groups=[web["id"]], fixed_ips=ip("10.0.0.51"))
    paired = lab.port(security_groups=[web["id"]], fixed_ips=ip("10.0.0.52"),
                      allowed_address_pairs=[{"ip_address": "10.0.0.200"},
                                             {"ip_address": "10.0.0.210",
                                              "mac_address": "fa:16:3e:aa:bb:cc"}])
    assert lab.reaches(client, server, HTTP)
    assert not lab.reaches(client, server, HTTP, src_ip="10.0.0.99")           # spoofed IP
    assert not lab.reaches(client, server, HTTP, src_mac="fa:16:3e:12:34:56")  # spoofed MAC
    assert lab.reaches(paired, server, HTTP, src_ip="10.0.0.200")              # its pair
    assert not lab.reaches(paired, server, HTTP, src_ip="10.0.0.201")
    assert lab.reaches(paired, server, HTTP, src_ip="10.0.0.210", src_mac="fa:16:3e:aa:bb:cc")
    assert not lab.reaches(paired, server, HTTP, src_mac="fa:16:3e:aa:bb:cc")  # MAC, not IP
    # Without port security everything passes, forged sources included.
    open_a = lab.port(port_security_enabled=False)
    open_b = lab.port(port_security_enabled=False)
    assert open_a["security_groups"] == []
    assert lab.reaches(open_a, open_b, "udp && udp.src == 1 && udp.dst == 9",
                       src_ip="10.0.0.250", src_mac="fa:16:3e:99:99:99")
    # A port with port security and no groups receives no IP traffic at all.
    closed = lab.port(security_groups=[])
    assert not lab.reaches(client, closed, HTTP)


def test_the_default_group_over_ipv6(lab: Lab) -> None:
    members = [lab.port(), lab.port()]
    other = lab.port(security_groups=[lab.group("x")["id"]])
    assert members[0]["security_groups"] == members[1]["security_groups"]
    tcp = "tcp && tcp.src == 40000 && tcp.dst == 5000"
    assert lab.reaches(members[0], members[1], tcp, version=6)
    assert lab.reaches(members[0], members[1], tcp, version=4)
    assert not lab.reaches(other, members[1], tcp, version=6)
    assert lab.reaches(members[0], other, tcp, version=6) is False


def test_joining_a_group_of_1000_ports_is_one_small_nb_transaction(
        make_core: CoreFactory, sandbox: Sandbox, monkeypatch: pytest.MonkeyPatch) -> None:
    """Membership is the group's ``ports`` set, changed by one-element mutations: neither
    its other 1,000 members nor its ACLs are read, sent or touched."""
    core = make_core(workers=False, quota_port=-1)
    net = core.create_network(DEMO, {"name": "big"})
    core.create_subnet(DEMO, {"network_id": net["id"], "cidr": "10.8.0.0/20", "ip_version": 4})
    group = core.create_security_group(DEMO, {"name": "big"})
    core.create_security_group_rule(DEMO, {"security_group_id": group["id"],
                                           "direction": "ingress", "protocol": "tcp",
                                           "port_range_min": 22, "port_range_max": 22})
    for _ in range(1000):
        core.create_port(DEMO, {"network_id": net["id"], "security_groups": [group["id"]]})
    newcomer = core.create_port(DEMO, {"network_id": net["id"], "security_groups": []})
    pg = "pg_" + group["id"].replace("-", "_")
    acls = len(json.loads(sandbox.nbctl("--format=json", "list", "ACL"))["data"])

    sent: list[int] = []
    send = ovs.jsonrpc.Connection.send

    def counting(connection: Any, message: Any) -> Any:
        if message.method == "transact":
            sent.append(len(ovs.json.to_string(message.to_json())))
        return send(connection, message)

    monkeypatch.setattr(ovs.jsonrpc.Connection, "send", counting)
    start = time.perf_counter()
    core.update_port(DEMO, newcomer["id"], {"security_groups": [group["id"]]})
    elapsed = time.perf_counter() - start
    monkeypatch.undo()
    print(f"\njoin a group of 1000: {len(sent)} NB transaction(s) of {sent} bytes, "
          f"{elapsed * 1000:.1f} ms from API call to NB commit")
    assert len(sent) == 1 and sent[0] < 2000  # 1,000 member UUIDs alone would be ~40 KB
    assert len(json.loads(sandbox.nbctl("--format=json", "list", "ACL"))["data"]) == acls
    members = sandbox.nbctl("--bare", "--columns=ports", "list", "Port_Group", pg).split()
    assert len(members) == 1001


def test_ports_from_before_security_groups_are_filtered_after_the_upgrade(
        sandbox: Sandbox, make_core: CoreFactory, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A deployment from before migration 0006: its ports in SQL, their LSPs in NB as the
    driver wrote them then (no port security, no port groups).  After the upgrade, the
    server's first full sync programs the default group and puts the ports in it: their
    egress passes, unsolicited ingress from outside the group is dropped."""
    net_id, subnet_id = str(uuid.uuid4()), str(uuid.uuid4())
    member_a, member_b, outsider, unfiltered = (str(uuid.uuid4()) for _ in range(4))
    url = f"sqlite:///{tmp_path / 'upgraded.db'}"
    before_security_groups.build(url, net_id, subnet_id, "10.6.0.0/24", [
        OldPort(member_a, "demo", "10.6.0.10"), OldPort(member_b, "demo", "10.6.0.11"),
        OldPort(outsider, "alt", "10.6.0.12"), OldPort(unfiltered, "", "10.6.0.13")])
    switch = f"neutrino-{net_id}"
    old_nb = ["ls-add", switch, "--", "set", "Logical_Switch", switch,
              f"external_ids:neutrino\\:network_id={net_id}"]
    for i, port_id in enumerate((member_a, member_b, outsider, unfiltered)):
        old_nb += ["--", "lsp-add", switch, port_id,
                   "--", "lsp-set-addresses", port_id, f"fa:16:3e:00:00:{i + 1:02x} 10.6.0.1{i}",
                   "--", "set", "Logical_Switch_Port", port_id,
                   f"external_ids:neutrino\\:port_id={port_id}",
                   f"external_ids:neutrino\\:network_id={net_id}",
                   f"external_ids:neutrino\\:revision_number={before_security_groups.PORT_REVISION}"]
    sandbox.nbctl(*old_nb)
    db = Database(url)
    upgrade(db)
    db.dispose()
    monkeypatch.setenv("NEUTRINO_DATABASE_URL", url)

    core = make_core(workers=True)  # its status worker's first full sync repairs NB
    ports = {p["id"]: p for p in core.list_ports(ADMIN)[0]}
    [group] = ports[member_a]["security_groups"]
    pg = "pg_" + group.replace("-", "_")

    def programmed() -> bool:
        members = {lsp_uuid: name for name in ports
                   if (lsp_uuid := sandbox.nbctl("--if-exists", "get", "Logical_Switch_Port",
                                                 name, "_uuid").strip())}
        found = sandbox.nbctl("--if-exists", "get", "Port_Group", pg, "ports").strip()
        return bool(found) and {members.get(u) for u in found.strip("[]").split(", ")} == {
            member_a, member_b} and "10.6.0.10" in sandbox.nbctl(
            "get", "Logical_Switch_Port", member_a, "port_security")

    wait_for(programmed, 30, "the default group and its members in NB")
    lab = Lab(core, sandbox, core.get_network(DEMO, net_id))
    a, b, alt, open_ = (ports[p] for p in (member_a, member_b, outsider, unfiltered))
    tcp = "tcp && tcp.src == 40000 && tcp.dst == 5000"
    assert lab.reaches(a, b, tcp)                 # a's egress, and b's ingress from its group
    assert lab.reaches(a, open_, tcp)             # a's egress to an unfiltered port
    assert lab.reaches(open_, a, tcp, *ESTABLISHED_REPLY)  # the reply to a's connection
    assert not lab.reaches(open_, a, tcp)         # unsolicited, from outside the group
    assert not lab.reaches(alt, a, tcp)           # from another project's default group
    assert not lab.reaches(a, b, tcp, src_ip="10.6.0.99")  # port security: spoofing dropped


def test_rules_decide_between_ports_bound_on_two_chassis(make_core: CoreFactory,
                                                         sandbox: Sandbox) -> None:
    """Ports bound and plugged on two chassis (each with its ovn-controller): the tracer
    follows a packet from one to the other through the group's ACLs."""
    chassis = {name: sandbox.add_chassis(name) for name in ("hv1", "hv2")}
    lab = Lab(make_core(), sandbox)
    ssh_group, other = lab.group("ssh"), lab.group("other")
    lab.rule(ssh_group, direction="ingress", protocol="tcp", port_range_min=22,
             port_range_max=22, remote_group_id=ssh_group["id"])
    server = lab.port(security_groups=[ssh_group["id"]], **{"binding:host_id": "hv1"})
    client = lab.port(security_groups=[ssh_group["id"]], **{"binding:host_id": "hv2"})
    stranger = lab.port(security_groups=[other["id"]], **{"binding:host_id": "hv2"})
    for i, (port, host) in enumerate(((server, "hv1"), (client, "hv2"), (stranger, "hv2"))):
        plug(chassis[host], f"tap{i}", port["id"])
        sandbox.wait_port_up(port["id"])
        bound = sandbox.sbctl("--bare", "--columns=chassis", "find", "Port_Binding",
                              f"logical_port={port['id']}")
        assert bound == sandbox.sbctl("--bare", "--columns=_uuid", "find", "Chassis",
                                      f"name={host}")
    assert lab.reaches(client, server, SSH)                         # hv2 -> hv1, a rule allows
    assert lab.reaches(server, client, REPLY, *ESTABLISHED_REPLY)   # and its reply
    assert not lab.reaches(client, server, HTTP)                    # no rule for port 80
    assert not lab.reaches(stranger, server, SSH)                   # not a member of the group
    assert lab.reaches(server, client, SSH)                         # hv1 -> hv2, the same rule
    assert not lab.reaches(server, stranger, SSH)                   # other lets nothing in
    lab.rule(other, direction="ingress", protocol="tcp", port_range_min=22, port_range_max=22,
             remote_ip_prefix="10.0.0.0/24")
    assert lab.reaches(server, stranger, SSH)                       # hv1 -> hv2 once allowed
