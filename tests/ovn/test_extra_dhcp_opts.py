"""Ports' extra DHCP options in OVN: a port with options has a DHCP_Options row of its own
per IP version (its subnet's options with the port's over them), which OVN answers its
DHCP requests from; proven with ovn-trace on a DHCP discover, and with the NB rows."""
from __future__ import annotations

import re
import uuid
from typing import Any

import pytest

from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from neutrino.ovn import desired
from neutrino.sandbox.sandbox import Sandbox
from neutrino.sandbox.wait import wait_for
from tests.ovn.conftest import CoreFactory
from tests.ovn.nb import DualStackLab, lsp, nb_row, nb_rows, one

PXE = [{"opt_name": "router", "opt_value": "10.0.0.254"},
       {"opt_name": "mtu", "opt_value": "1400"},
       {"opt_name": "domain-name", "opt_value": "pxe.test"},
       {"opt_name": "server-ip-address", "opt_value": "10.0.0.9"},
       {"opt_name": "not-an-ovn-option", "opt_value": "ignored"},
       {"opt_name": "domain-search", "opt_value": "v6.test", "ip_version": 6}]


class Lab(DualStackLab):
    """The dual-stack network, with an MTU of 1440 (an option OVN derives from it)."""

    def __init__(self, core: Plugin, ovn: Sandbox) -> None:
        super().__init__(core, ovn, name="dhcp", mtu=1440)

    def port(self, **attrs: Any) -> dict[str, Any]:
        return self.core.create_port(ADMIN, {"network_id": self.net["id"],
                                             "port_security_enabled": False, **attrs})

    def discover(self, port: dict[str, Any]) -> str:
        """What OVN does with a DHCPDISCOVER from *port*: the tracer's full output, which
        names the options of its ``put_dhcp_opts`` action."""
        flow = (f'inport == "{port["id"]}" && eth.src == {port["mac_address"]} && '
                'eth.dst == ff:ff:ff:ff:ff:ff && ip4.src == 0.0.0.0 && '
                'ip4.dst == 255.255.255.255 && udp.src == 68 && udp.dst == 67 && '
                'ip.ttl == 64')
        self.ovn.nbctl("--wait=sb", "sync")
        return self.ovn.trace(f"neutrino-{self.net['id']}", flow, "--no-friendly-names",
                              "--detailed")

    def dhcp_of(self, port: dict[str, Any], version: int = 4) -> dict[str, Any] | None:
        """The DHCP_Options row the port's LSP refers to for *version*."""
        uuid = one(lsp(self.ovn, port["id"])[f"dhcpv{version}_options"])
        return next((r for r in nb_rows(self.ovn, "DHCP_Options") if r["_uuid"] == uuid), None)

    def own_rows(self) -> list[dict[str, Any]]:
        return [r for r in nb_rows(self.ovn, "DHCP_Options")
                if "neutrino:port_id" in r["external_ids"]]


def offered(trace: str) -> dict[str, str]:
    """The options of the trace's ``put_dhcp_opts``; empty if OVN does not answer."""
    found = re.search(r"put_dhcp_opts\((.*?)\);", trace)
    if found is None:
        return {}
    return dict(item.split(" = ", 1) for item in re.split(r", (?=\w+ = )", found.group(1)))


@pytest.fixture
def lab(make_core: CoreFactory, sandbox: Sandbox) -> Lab:
    return Lab(make_core(workers=False), sandbox)


def test_a_port_is_answered_with_its_own_options(lab: Lab) -> None:
    plain, pxe = lab.port(), lab.port(extra_dhcp_opts=PXE)
    answer = offered(lab.discover(plain))
    assert answer["router"] == "10.0.0.1" and answer["mtu"] == "1440"
    assert "domain_name" not in answer
    answer = offered(lab.discover(pxe))
    address = pxe["fixed_ips"][0]["ip_address"]
    assert answer["offerip"] == address
    assert answer["router"] == "10.0.0.254" and answer["mtu"] == "1400"
    assert answer["domain_name"] == '"pxe.test"'
    assert answer["tftp_server_address"] == "10.0.0.9"
    assert answer["server_id"] == "10.0.0.1" and answer["lease_time"] == "43200"

    # NB: the port's own rows, named after it, and the subnet's rows untouched.
    own4, own6 = lab.dhcp_of(pxe, 4), lab.dhcp_of(pxe, 6)
    subnet4 = nb_row(lab.ovn, "DHCP_Options", lab.v4["id"])
    assert own4["external_ids"]["neutrino:port_id"] == pxe["id"]
    assert own4["external_ids"]["neutrino:subnet_id"] == lab.v4["id"]
    assert own4["cidr"] == subnet4["cidr"] == "10.0.0.0/24"
    assert own4["options"] == {**subnet4["options"], "router": "10.0.0.254", "mtu": "1400",
                               "domain_name": '"pxe.test"',
                               "tftp_server_address": "10.0.0.9"}
    assert own6["options"] == {"server_id": desired.dhcp_server_mac(lab.v6["id"]),
                               "domain_search": "v6.test"}
    assert lab.dhcp_of(plain, 4) == subnet4
    assert len(lab.own_rows()) == 2


def test_own_rows_follow_the_subnet_and_the_port(lab: Lab) -> None:
    pxe = lab.port(extra_dhcp_opts=PXE[:2])
    # The subnet's new options reach the port's row; the port's own stay over them.
    lab.core.update_subnet(ADMIN, lab.v4["id"], {"dns_nameservers": ["192.0.2.53"]})
    answer = offered(lab.discover(pxe))
    assert answer["dns_server"] == "{192.0.2.53}" and answer["router"] == "10.0.0.254"
    # A blank router removes the option; a changed value is answered.
    lab.core.update_port(ADMIN, pxe["id"], {"extra_dhcp_opts": [
        {"opt_name": "router", "opt_value": ""}, {"opt_name": "mtu", "opt_value": "1300"}]})
    answer = offered(lab.discover(pxe))
    assert "router" not in answer and answer["mtu"] == "1300"
    # DHCP off and on again on the subnet: the port's row goes and comes back.
    lab.core.update_subnet(ADMIN, lab.v4["id"], {"enable_dhcp": False})
    assert offered(lab.discover(pxe)) == {} and lab.own_rows() == []
    lab.core.update_subnet(ADMIN, lab.v4["id"], {"enable_dhcp": True})
    assert offered(lab.discover(pxe))["mtu"] == "1300"
    assert lab.dhcp_of(pxe)["external_ids"]["neutrino:port_id"] == pxe["id"]
    # Options removed: back to the subnet's row, the port's own deleted.
    lab.core.update_port(ADMIN, pxe["id"], {"extra_dhcp_opts": [
        {"opt_name": "router", "opt_value": None}, {"opt_name": "mtu", "opt_value": None}]})
    assert offered(lab.discover(pxe))["router"] == "10.0.0.1"
    assert lab.dhcp_of(pxe) == nb_row(lab.ovn, "DHCP_Options", lab.v4["id"])
    assert lab.own_rows() == []


def test_dhcp_disabled_and_port_deletion(lab: Lab) -> None:
    off = lab.port(extra_dhcp_opts=[{"opt_name": "dhcp_disabled", "opt_value": "true"}])
    assert offered(lab.discover(off)) == {}
    assert lab.dhcp_of(off, 4) is None and lab.dhcp_of(off, 6) is not None
    pxe = lab.port(extra_dhcp_opts=PXE)
    lab.core.delete_port(ADMIN, pxe["id"])
    assert lab.own_rows() == []
    # A port that leaves its subnets loses its rows; a deleted subnet takes its ports' rows.
    other = lab.port(extra_dhcp_opts=PXE)
    lab.core.update_port(ADMIN, other["id"], {"fixed_ips": [{"subnet_id": lab.v6["id"]}]})
    assert lab.dhcp_of(other, 4) is None
    assert [r["cidr"] for r in lab.own_rows()] == ["2001:db8::/64"]
    lab.core.delete_port(ADMIN, off["id"])
    lab.core.update_port(ADMIN, other["id"], {"fixed_ips": []})
    assert lab.own_rows() == []


def test_drift_repair_restores_own_rows(make_core: CoreFactory, sandbox: Sandbox) -> None:
    lab = Lab(make_core(maintenance_interval=1), sandbox)
    pxe, lost = lab.port(extra_dhcp_opts=PXE), lab.port(extra_dhcp_opts=PXE)
    own4 = lab.dhcp_of(pxe)
    nobody = str(uuid.uuid4())
    # One transaction, so no repair pass sees half of the damage.
    sandbox.nbctl("set", "DHCP_Options", own4["_uuid"], "options:router=10.9.9.9",
                  "--", "lsp-del", lost["id"],
                  "--", "create", "DHCP_Options", "cidr=10.0.0.0/24",
                  f"external_ids:neutrino\\:port_id={nobody}",
                  f"external_ids:neutrino\\:subnet_id={lab.v4['id']}")

    def repaired() -> bool:
        own = lab.dhcp_of(pxe)
        return (own is not None and own["options"].get("router") == "10.0.0.254"
                and lsp(sandbox, lost["id"]) is not None
                and lab.dhcp_of(lost, 6) is not None
                and lab.dhcp_of(lost, 6)["external_ids"].get("neutrino:port_id") == lost["id"]
                and {r["external_ids"]["neutrino:port_id"] for r in lab.own_rows()}
                == {pxe["id"], lost["id"]})
    wait_for(repaired, 20, "own rows repaired")
    assert len(lab.own_rows()) == 4
    sandbox.nbctl("destroy", "DHCP_Options", lab.dhcp_of(pxe)["_uuid"])
    wait_for(lambda: lab.dhcp_of(pxe) is not None
             and lab.dhcp_of(pxe)["external_ids"].get("neutrino:port_id") == pxe["id"],
             20, "own row created again")
    assert offered(lab.discover(pxe))["router"] == "10.0.0.254"
