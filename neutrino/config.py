"""Settings, read from environment variables (``NEUTRINO_*``) and an optional TOML file.

One flat dataclass: every option has one name, documented in
``docs/configuration.md``; the environment overrides the file, so a test or an
operator can change one value without writing a file.
"""
from __future__ import annotations

import dataclasses
import ipaddress
import json
import os
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


def _list(value: str) -> list[str]:
    return [v.strip() for v in value.split(",") if v.strip()]


@dataclass
class Settings:
    #: SQLAlchemy URL; SQLite file by default, ``postgresql+psycopg://...`` to scale out.
    database_url: str = "sqlite:///neutrino.db"
    #: Mechanism drivers in call order: entry-point names or ``module:Class`` paths.
    mechanism_drivers: list[str] = field(default_factory=lambda: ["ovn"])
    #: Network types a tenant network (no ``provider:*`` given) gets, in order of preference.
    tenant_network_types: list[str] = field(default_factory=lambda: ["geneve"])
    #: ``physnet`` or ``physnet:first:last`` entries; VLAN ids a tenant VLAN may take.
    network_vlan_ranges: list[str] = field(default_factory=list)
    #: ``first:last`` VNI ranges for geneve tenant networks.
    geneve_vni_ranges: list[str] = field(default_factory=lambda: ["1:65535"])
    #: Physical networks flat networks may use; ``*`` for any.
    flat_networks: list[str] = field(default_factory=lambda: ["*"])
    #: MTU of the underlying physical network; geneve networks get this minus overhead.
    global_physnet_mtu: int = 1500
    #: How many times a binding is retried when the port changes meanwhile (B3 4c).
    max_bind_retries: int = 10
    #: API server
    bind_host: str = "127.0.0.1"
    bind_port: int = 9696
    api_workers: int = 2
    max_request_body_size: int = 1_048_576
    #: Seconds a client has to send a request's headers (else 408 and the connection closes).
    client_header_timeout: float = 10.0
    #: Open connections (and running requests) one API worker takes; past it, 503.
    max_connections_per_worker: int = 1000
    #: ``/healthz`` also shows its components (OVSDB remotes, errors): for trusted networks.
    healthz_details: bool = False
    #: The DNS domain of ports' names (``dns_assignment``, OVN's DNS records) when neither a
    #: port nor its network has a ``dns_domain`` (Neutron's option and default).
    dns_domain: str = "openstacklocal."
    #: Page size cap for list requests without ``limit``.
    pagination_max_limit: int = -1
    #: OVN: comma-separated OVSDB remotes (several for a clustered DB).
    ovn_nb_connection: str = "unix:/var/run/ovn/ovnnb_db.sock"
    ovn_sb_connection: str = "unix:/var/run/ovn/ovnsb_db.sock"
    #: Seconds an OVSDB transaction may take before the write is left to repair.
    ovsdb_timeout: float = 5.0
    #: Seconds, counted from when the NB connection was lost, that a write waits for it to
    #: come back (a RAFT leader change: the election, then the reconnection) before it is
    #: left to repair; writes in an older outage are left to repair at once.
    nb_reconnect_wait: float = 3.0
    #: Seconds between full reconciliations (status sync and drift repair).
    maintenance_interval: float = 60.0
    #: Seconds between the chassis heartbeats (``NB_Global.nb_cfg`` bumps) of the status worker.
    heartbeat_interval: float = 10.0
    #: Seconds a chassis may leave the heartbeat unanswered before it is reported down
    #: (Neutron's ``agent_down_time``, and its default).
    agent_down_time: float = 75.0
    #: Identity: ``keystone`` (every ``/v2.0`` request carries a Keystone token, checked by
    #: keystonemiddleware) or ``noauth`` (no identity; for a loopback-only development API).
    auth_strategy: str = "keystone"
    #: keystonemiddleware's own options, as in Neutron's ``[keystone_authtoken]`` section.
    keystone_authtoken: dict[str, Any] = field(default_factory=dict)
    #: ``noauth`` is refused on an address other than loopback unless this is true.
    allow_noauth_on_public_address: bool = False
    #: ``/metrics`` needs a token (any valid one) like ``/v2.0``; off: open like ``/healthz``.
    metrics_require_auth: bool = False
    #: An operator's ``policy.yaml`` overriding Neutron's default rules; empty: the defaults.
    policy_file: str = ""
    #: Webhook for port status events (``network-vif-plugged``/``-unplugged``); empty = off.
    notify_url: str = ""
    #: Quotas: how many of each resource a project may have unless its own limit says
    #: otherwise (``PUT /v2.0/quotas/{project_id}``); negative: unlimited.  Neutron's option
    #: names and defaults; a limit takes effect once its resource exists in Neutrino
    #: (``neutrino.core.quotas.COUNTED``).
    quota_network: int = 100
    quota_subnet: int = 100
    quota_port: int = 500
    quota_security_group: int = 10
    quota_security_group_rule: int = 100
    quota_router: int = 10
    quota_floatingip: int = 50
    quota_rbac_policy: int = 10
    quota_subnetpool: int = -1

    @classmethod
    def load(cls, path: str | os.PathLike | None = None, **overrides: Any) -> Settings:
        """File (``NEUTRINO_CONFIG`` or *path*), then ``NEUTRINO_<NAME>`` env, then *overrides*."""
        values: dict[str, Any] = {}
        path = path or os.environ.get("NEUTRINO_CONFIG")
        if path:
            with open(path, "rb") as f:
                values.update(tomllib.load(f))
        types = {f.name: f for f in dataclasses.fields(cls)}
        for name in types:
            env = os.environ.get(f"NEUTRINO_{name.upper()}")
            if env is not None:
                values[name] = env
        values.update({k: v for k, v in overrides.items() if v is not None})
        unknown = set(values) - set(types)
        if unknown:
            raise ValueError(f"unknown settings: {', '.join(sorted(unknown))}")
        settings = cls()
        for name, value in values.items():
            default = getattr(settings, name)
            if isinstance(default, dict) and isinstance(value, str):
                value = json.loads(value)  # a TOML table, handed to workers as JSON
            elif isinstance(default, list) and isinstance(value, str):
                value = _list(value)
            elif isinstance(default, bool):
                value = str(value).lower() in ("1", "true", "yes", "on")
            elif isinstance(default, (int, float)) and not isinstance(value, (int, float)):
                value = type(default)(value)
            setattr(settings, name, value)
        return settings

    def to_env(self) -> dict[str, str]:
        """The environment that reproduces these settings in a child process."""
        env = {}
        for f in dataclasses.fields(self):
            value = getattr(self, f.name)
            if isinstance(value, dict):
                text = json.dumps(value)
            elif isinstance(value, list):
                text = ",".join(value)
            else:
                text = str(value)
            env[f"NEUTRINO_{f.name.upper()}"] = text
        return env


AUTH_STRATEGIES = ("keystone", "noauth")


def identity_problem(settings: Settings) -> str | None:
    """Why a server with *settings* must not start, as to identity; None if it may."""
    if settings.auth_strategy not in AUTH_STRATEGIES:
        return (f"auth_strategy must be one of {', '.join(AUTH_STRATEGIES)}, "
                f"not {settings.auth_strategy!r}")
    if settings.auth_strategy == "keystone" and not settings.keystone_authtoken:
        return ("auth_strategy is keystone but [keystone_authtoken] is empty: give "
                "www_authenticate_uri, auth_url, auth_type and the service user's credentials "
                "(docs/identity.md), or set auth_strategy = \"noauth\" for an "
                "unauthenticated development API")
    if settings.auth_strategy == "noauth" and not settings.allow_noauth_on_public_address \
            and not _loopback(settings.bind_host):
        return (f"auth_strategy noauth lets anyone who reaches {settings.bind_host} do "
                "anything: bind to a loopback address, use keystone, or set "
                "allow_noauth_on_public_address = true")
    return None


def _loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def sqlite_url(state_dir: str | os.PathLike) -> str:
    return f"sqlite:///{Path(state_dir).resolve() / 'neutrino.db'}"
