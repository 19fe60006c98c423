"""The logical switch ports the benchmarks write directly to NB, as Neutrino's OVN driver
writes them for the ports the Neutrino run creates: ``bench e2e``'s baseline, and the
stack floor (``floor.py``).  A module of their own, so that the floor's processes need
not import the whole bench."""
from __future__ import annotations

import ipaddress
from typing import Any

from neutrino.config import Settings
from neutrino.core.type_drivers import GENEVE_OVERHEAD
from neutrino.ovn import desired
from neutrino.sandbox import Sandbox

#: The subnet both runs allocate from.
CIDR = "10.128.0.0/12"


def _network(name: str) -> dict[str, Any]:
    """A geneve network of the Neutrino run, with the MTU the core gives it, as the
    baseline's switch *name*."""
    mtu = Settings().global_physnet_mtu - GENEVE_OVERHEAD
    return {"id": name, "name": name, "revision_number": 1, "mtu": mtu}


def _subnet(network: dict[str, Any]) -> dict[str, Any]:
    return {"id": f"{network['id']}-subnet", "network_id": network["id"], "cidr": CIDR,
            "ip_version": 4, "enable_dhcp": True,
            "gateway_ip": str(ipaddress.ip_network(CIDR)[1]), "revision_number": 1}


def _lsp(network: dict[str, Any], dhcp: str, name: str, i: int,
         chassis: str | None) -> dict[str, Any]:
    port = {"id": name, "network_id": network["id"], "revision_number": 1,
            "mac_address": f"fa:16:3e:{i >> 16 & 255:02x}:{i >> 8 & 255:02x}:{i & 255:02x}",
            "fixed_ips": [{"subnet_id": _subnet(network)["id"],
                           "ip_address": str(ipaddress.ip_network(CIDR)[i + 2])}]}
    if chassis is not None:
        port.update({"binding:host_id": chassis, "binding:vif_type": "ovs",
                     "binding:profile": {"vif_plug_type": "dummy"}})
    return {**desired.port_spec(port, network).columns, "dhcpv4_options": dhcp}


def unbound_lsp(switch: str, dhcp: str, name: str, i: int) -> dict[str, Any]:
    """The LSP the baseline writes for unbound port *i* of *switch* (the stack floor's
    too): what Neutrino's driver writes for such a port."""
    return _lsp(_network(switch), dhcp, name, i, None)


class BaselinePorts:
    """The LSPs of the baseline, as Neutrino's OVN driver would write them for the ports
    the Neutrino run creates: on switch ``bench-<i % networks>``, an address each from
    ``CIDR``, the DHCP options of that network's subnet."""

    def __init__(self, nb: Any, networks: int, prefix: str = "bench") -> None:
        self.networks = [_network(f"{prefix}-{k}") for k in range(networks)]
        self.dhcp_uuids = []
        with nb.transaction(check_error=True) as txn:
            for network in self.networks:
                txn.add(nb.ls_add(network["id"]))
        for network in self.networks:
            spec = desired.dhcp_spec(_subnet(network), network)
            assert spec is not None
            with nb.transaction(check_error=True) as txn:
                dhcp = txn.add(nb.dhcp_options_add(
                    spec.columns["cidr"], options=spec.columns["options"],
                    external_ids=spec.columns["external_ids"]))
            self.dhcp_uuids.append(dhcp.result.uuid)

    def switch(self, i: int) -> str:
        return self.networks[i % len(self.networks)]["id"]

    def columns(self, name: str, i: int, chassis: str | None) -> dict[str, Any]:
        """Port *i*'s LSP, bound to *chassis* and plugged by the dummy plug, or unbound
        (*chassis* None)."""
        k = i % len(self.networks)
        return _lsp(self.networks[k], self.dhcp_uuids[k], name, i, chassis)

    def delete(self, sandbox: Sandbox) -> None:
        for network, dhcp in zip(self.networks, self.dhcp_uuids, strict=True):
            sandbox.nbctl("ls-del", network["id"])
            sandbox.nbctl("dhcp-options-del", str(dhcp))
