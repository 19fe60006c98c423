"""A project's ``default`` group under concurrent first use, on both databases, and the
fingerprint that makes two rules duplicates (pure)."""
from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from sqlalchemy import func, select

from neutrino.core.context import Context
from neutrino.core.plugin import Plugin
from neutrino.core.sg_rules import rule_values
from neutrino.db.models import DefaultSecurityGroup, SecurityGroup

DEMO = Context(user_id="u", project_id="demo", roles=frozenset({"member"}))


def test_concurrent_first_use_creates_one_default_group(plugin: Plugin) -> None:
    net = plugin.create_network(DEMO, {"name": "n"})
    plugin.create_subnet(DEMO, {"network_id": net["id"], "cidr": "10.0.0.0/24",
                                "ip_version": 4})
    start = threading.Barrier(8)

    def first_use(i: int) -> list[str]:
        start.wait()
        if i % 2:
            return plugin.create_port(DEMO, {"network_id": net["id"]})["security_groups"]
        return [g["id"] for g in plugin.list_security_groups(DEMO)[0]]

    with ThreadPoolExecutor(8) as pool:
        seen = {tuple(ids) for ids in pool.map(first_use, range(8))}
    with plugin.db.read() as session:
        groups = session.scalar(select(func.count()).select_from(SecurityGroup))
        defaults = list(session.scalars(select(DefaultSecurityGroup.security_group_id)))
    assert groups == 1 and seen == {(defaults[0],)}


@pytest.mark.parametrize(("a", "b", "same"), [
    ({"protocol": "tcp"}, {"protocol": "6"}, True),
    ({"protocol": "icmp", "ethertype": "IPv6"}, {"protocol": "ipv6-icmp", "ethertype": "IPv6"},
     True),
    ({"remote_ip_prefix": "10.0.0.1/8"}, {"remote_ip_prefix": "10.0.0.0/8"}, True),
    ({"remote_ip_prefix": "10.0.0.0/8"}, {}, False),
    ({"protocol": "tcp"}, {"protocol": "udp"}, False),
    ({"protocol": "tcp", "port_range_min": 1, "port_range_max": 2},
     {"protocol": "tcp", "port_range_min": 1, "port_range_max": 3}, False),
])
def test_fingerprint(a: dict, b: dict, same: bool) -> None:
    def fp(attrs: dict) -> str:
        return rule_values({"direction": "ingress", **attrs})["fingerprint"]
    assert (fp(a) == fp(b)) is same
