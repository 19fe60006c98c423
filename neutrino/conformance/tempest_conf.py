"""The ``tempest.conf`` that points tempest and neutron-tempest-plugin at a ``neutrino up``.

Dynamic credentials: tempest creates a project and user per test class through Keystone's
admin API, as the admin of the local Keystone (project-scoped: Keystone 30's defaults let a
project admin manage identity), so tests run in parallel without an accounts file.
Only the network service exists: compute, image, volume and object storage are off, so
their tests and the network tests that need a server skip themselves. Tests of extensions
Neutrino does not announce skip themselves too: ``api_extensions`` is exactly what its
``/v2.0/extensions`` lists.
"""
from __future__ import annotations

import configparser
import io
import json
from dataclasses import dataclass
from pathlib import Path

#: The physical network and VLAN range ``neutrino conformance`` gives ``neutrino up``, as
#: neutron-tempest-plugin's own jobs configure Neutron (``network_vlan_ranges = foo:1:10``):
#: VLAN tests create provider networks on it, some without a segmentation id.
PROVIDER_PHYSNET = "foo"
VLAN_RANGES = f"{PROVIDER_PHYSNET}:1:10"
#: The quotas neutron-tempest-plugin's jobs give Neutron (its ``[QUOTAS]``): some test
#: classes make more routers in one project than Neutron's default of 10.
QUOTAS = {"router": 100, "floatingip": 500, "security_group": 150, "security_group_rule": 1000}
#: The external network ``neutrino conformance`` makes, as a cloud's operator would.
PUBLIC_NETWORK, PUBLIC_CIDR = "public", "172.24.4.0/24"
#: The shared default subnet pools devstack gives a cloud (name, prefix, default prefix
#: length), which auto-allocated topologies take their subnets from.
DEFAULT_POOLS = (("shared-default-subnetpool-v4", "10.0.0.0/22", 26),
                 ("shared-default-subnetpool-v6", "2001:db8:8000::/48", 64))
#: Network types Neutrino has type drivers for.
TYPE_DRIVERS = ("geneve", "vlan", "flat", "local")


@dataclass(frozen=True)
class Target:
    """The cloud under test: a Keystone, its admin, and Neutrino's announced extensions."""

    auth_url: str  # Keystone v3, e.g. http://127.0.0.1:5000/v3
    admin_username: str
    admin_password: str
    admin_project: str
    region: str
    extensions: tuple[str, ...]
    #: The external network routers' gateways and floating IPs come from.
    public_network_id: str


def mtu_networks() -> str:
    """neutron-tempest-plugin's MTU tests build these networks; its default asks for vxlan,
    which Neutrino (like Neutron with OVN) does not have: geneve with the same MTUs."""
    return json.dumps([{"provider:network_type": "geneve", "mtu": mtu, "cidr": cidr}
                       for mtu, cidr in ((1200, "10.100.0.0/16"), (1300, "10.200.0.0/16"))])


def sections(target: Target, work_dir: Path) -> dict[str, dict[str, str]]:
    """Every option set, by section; the rest keep tempest's defaults."""
    return {
        "DEFAULT": {"log_dir": str(work_dir), "log_file": "tempest.log"},
        "oslo_concurrency": {"lock_path": str(work_dir / "locks")},
        "auth": {
            "use_dynamic_credentials": "true",
            # Each test class makes the networks it needs.
            "create_isolated_networks": "false",
            "admin_username": target.admin_username,
            "admin_password": target.admin_password,
            "admin_project_name": target.admin_project,
            "admin_domain_name": "Default",
            "admin_user_domain_name": "Default",
            "admin_project_domain_name": "Default",
        },
        "identity": {"uri_v3": target.auth_url, "auth_version": "v3",
                     "region": target.region, "v3_endpoint_type": "public"},
        "identity-feature-enabled": {"api_v2": "false", "api_v2_admin": "false"},
        "service_available": {"neutron": "true", "nova": "false", "glance": "false",
                              "cinder": "false", "swift": "false", "horizon": "false"},
        # Neutrino's policy is Neutron's secure-RBAC defaults with scope enforced.
        "enforce_scope": {"neutron": "true"},
        "network": {"catalog_type": "network", "endpoint_type": "public",
                    "region": target.region, "public_network_id": target.public_network_id,
                    "floating_network_name": PUBLIC_NETWORK},
        "network-feature-enabled": {
            "api_extensions": ",".join(target.extensions),
            "ipv6": "true",
            "ipv6_subnet_attributes": "true",
            "floating_ips": "true",
            "port_security": "true",
        },
        "neutron_plugin_options": {
            "available_type_drivers": ",".join(TYPE_DRIVERS),
            "provider_vlans": PROVIDER_PHYSNET,
            "test_mtu_networks": mtu_networks(),
            "max_mtu": "1500",
        },
        # No servers, so nothing to log in to.
        "validation": {"run_validation": "false"},
    }


def render(target: Target, work_dir: Path) -> str:
    """The file's text, in tempest's INI format."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    for name, options in sections(target, work_dir).items():
        if name != "DEFAULT":
            parser.add_section(name)
        for key, value in options.items():
            parser.set(name, key, value)
    out = io.StringIO()
    out.write("# Written by `neutrino conformance` on every run; edits are lost.\n")
    parser.write(out)
    return out.getvalue()
