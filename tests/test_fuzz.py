"""Property-based fuzzing of the REST API: no request may get a 5xx.

Schemathesis generates requests from the app's own OpenAPI document (valid
and invalid bodies, path parameters, headers); about half the ids it
generates are swapped for ids of real networks, subnets and ports so that
updates and deletes reach the core.  A second test fuzzes list query strings,
which the OpenAPI document does not describe.  Every 4xx must carry a
Neutron error body ("nothing ever answers 500 to a client's mistake").
Bounded: a fixed number of examples per operation, no deadline.
"""
from __future__ import annotations

import ipaddress
import json
from typing import Any

import hypothesis.strategies as st
import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from sqlalchemy import select

from neutrino.api.app import create_app
from neutrino.core import exceptions as exc
from neutrino.core.context import ADMIN
from neutrino.core.plugin import Plugin
from neutrino.core.query import ListQuery
from neutrino.db import models

EXAMPLES = 100
FUZZ_SETTINGS = settings(max_examples=EXAMPLES, deadline=None, database=None,
                         suppress_health_check=list(HealthCheck))

macs = st.one_of(
    st.builds(lambda b: ":".join(f"{x:02x}" for x in b), st.binary(min_size=6, max_size=6)),
    st.sampled_from(["fa:16:3e:00:00:01", "FA-16-3E-00-00-02", "01:00:5e:00:00:01"]))
cidrs = st.one_of(
    st.builds(lambda a, p: str(ipaddress.ip_network((a, p), strict=False)),
              st.integers(0, 2**32 - 1), st.integers(0, 32)),
    st.builds(lambda a, p: str(ipaddress.ip_network((a, p), strict=False)),
              st.integers(0, 2**128 - 1), st.integers(0, 128)),
    st.sampled_from(["10.0.0.0/24", "10.0.0.0/30", "10.0.0.5/24", "fd00::/64", "::/120"]))
schemathesis.openapi.format("mac", macs)
schemathesis.openapi.format("cidr", cidrs)


def assert_sound(response: Any) -> None:
    """No 5xx; a 4xx is a Neutron error body."""
    assert response.status_code < 500, f"{response.status_code}: {response.text}"
    if 400 <= response.status_code < 500:
        error = response.json()["NeutronError"]
        assert set(error) == {"type", "message", "detail"} and error["type"] and error["message"]


class Seeds:
    """Real resources to aim generated requests at, re-created when the fuzzer deletes them.

    The ids read are kept until ``forget()``: a case that aims several attributes reads
    each collection once, and the seeds are checked once per case, not once per id.
    """

    def __init__(self, plugin: Plugin):
        self.plugin = plugin
        self.known: dict[str, list[str]] | None = None

    def forget(self) -> None:
        """Before each case whose requests may have deleted what was read."""
        self.known = None

    def ids(self, collection: str) -> list[str]:
        if self.known is None:
            self.ensure()
            self.known = {}
        if collection not in self.known:
            items, _ = getattr(self.plugin, f"list_{collection.replace('-', '_')}")(ADMIN)
            self.known[collection] = sorted(i["id"] for i in items)
        return self.known[collection]

    def empty(self) -> set[type]:
        """The seeded tables without a row: one look at each, in one read (the admin's
        lists would render what they find, and this runs for most cases)."""
        seeded = (models.Network, models.Subnet, models.RbacPolicy, models.Port,
                  models.SubnetPool, models.AddressScope, models.SecurityGroupRule,
                  models.Router, models.FloatingIP)
        with self.plugin.db.read() as session:
            return {m for m in seeded if session.scalar(select(m.id).limit(1)) is None}

    def ensure(self) -> None:
        empty = self.empty()
        if not empty:
            return
        if models.Network in empty:
            self.plugin.create_network(ADMIN, {"name": "seed"})
            self.plugin.create_network(ADMIN, {"name": "seed-local", "admin_state_up": False,
                                               "segments": [{"network_type": "local"}]})
        net = self.plugin.list_networks(ADMIN, ListQuery(limit=1))[0][0]["id"]
        if models.Subnet in empty:
            # On a network of their own: earlier cases may have set the seed network's
            # MTU below what an IPv6 subnet needs (a 409 then).
            on = self.plugin.create_network(ADMIN, {"name": "seed-subnets"})["id"]
            self.plugin.create_subnet(ADMIN, {"network_id": on, "cidr": "10.0.0.0/24"})
            self.plugin.create_subnet(ADMIN, {"network_id": on, "cidr": "fd00::/64",
                                              "gateway_ip": None})
        if models.RbacPolicy in empty:
            self.plugin.create_rbac_policy(ADMIN, {
                "object_type": "network", "object_id": net, "action": "access_as_shared",
                "target_project": "seed-project"})
        if models.Port in empty:
            try:
                self.plugin.create_port(ADMIN, {"network_id": net, "binding:host_id": "hv1"})
            except exc.IpAddressGenerationFailure:
                # Earlier cases may have used up the seed network's addresses
                # (fixed IPs, tiny subnets): seed the port on a network of its own.
                spare = self.plugin.create_network(ADMIN, {"name": "seed-ports"})["id"]
                self.plugin.create_subnet(ADMIN, {"network_id": spare, "cidr": "10.9.0.0/24"})
                self.plugin.create_port(ADMIN, {"network_id": spare, "binding:host_id": "hv1"})
        if models.SubnetPool in empty:
            self.plugin.create_subnetpool(ADMIN, {"name": "seed", "prefixes": ["10.200.0.0/16"],
                                                  "default_prefixlen": 24})
        if models.AddressScope in empty:
            self.plugin.create_address_scope(ADMIN, {"name": "seed", "ip_version": 4})
        if models.SecurityGroupRule in empty:
            # A group and its rules (every new group has two egress rules).
            self.plugin.create_security_group(ADMIN, {"name": "seed"})
        if models.Router in empty:
            self.plugin.create_router(ADMIN, {"name": "seed"})
        if models.FloatingIP in empty:
            external = self.plugin.create_network(ADMIN, {"name": "seed-external",
                                                          "external": True})["id"]
            self.plugin.create_subnet(ADMIN, {"network_id": external, "cidr": "172.24.0.0/24"})
            self.plugin.create_floatingip(ADMIN, {"floating_network_id": external,
                                                  "project_id": "seed-project"})

    def aim(self, generated: Any, collection: str) -> Any:
        """A real id for two generated strings in three, chosen by the generated value."""
        if not isinstance(generated, str) or len(generated) % 3 == 0:
            return generated
        ids = self.ids(collection)
        return ids[len(generated) % len(ids)] if ids else generated  # agents: none here


@pytest.fixture
def fuzz_app(plugin: Plugin) -> Any:
    return create_app(plugin)


def operations(app: Any) -> list[Any]:
    """Every operation of the app's OpenAPI document a client may call."""
    # The SSE stream never ends by design; /healthz is not a client's API.
    schema = schemathesis.openapi.from_asgi("/openapi.json", app).exclude(
        path_regex="^/(v2.0/events|healthz)$")
    return [result.ok() for result in schema.get_all_operations()]


def aim_at_seeds(case: Any, seeds: Seeds) -> None:
    # A collection's path may differ from its name: rbac-policies are rbac_policies.
    collection = case.path.split("/")[2].replace("-", "_") if case.path.startswith("/v2.0/") \
        else None
    if case.path_parameters and "item_id" in case.path_parameters and collection:
        case.path_parameters["item_id"] = seeds.aim(case.path_parameters["item_id"], collection)
    if isinstance(case.body, dict):
        for attrs in case.body.values():
            if isinstance(attrs, dict):
                if "network_id" in attrs:
                    attrs["network_id"] = seeds.aim(attrs["network_id"], "networks")
                if "object_id" in attrs:  # an RBAC policy's object: a network
                    attrs["object_id"] = seeds.aim(attrs["object_id"], "networks")
                fixed_ips = attrs.get("fixed_ips")
                for fixed_ip in fixed_ips if isinstance(fixed_ips, list) else []:
                    if isinstance(fixed_ip, dict) and "subnet_id" in fixed_ip:
                        fixed_ip["subnet_id"] = seeds.aim(fixed_ip["subnet_id"], "subnets")


def test_openapi_operations_never_fail_the_server(fuzz_app: Any, plugin: Plugin) -> None:
    """Valid and invalid requests (schemathesis' positive and negative modes) per operation."""
    seeds = Seeds(plugin)
    found = operations(fuzz_app)
    assert {op.label for op in found} >= {"POST /v2.0/ports", "PUT /v2.0/subnets/{item_id}",
                                          "DELETE /v2.0/networks/{item_id}",
                                          "PUT /v2.0/ports/{item_id}/tags/{tag}",
                                          "PUT /v2.0/networks/{item_id}/tags"}
    for operation in found:
        cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                          operation.as_strategy(GenerationMode.NEGATIVE))

        @given(case=cases)
        @FUZZ_SETTINGS
        def check(case: Any) -> None:
            seeds.forget()
            aim_at_seeds(case, seeds)
            response = case.call()
            assert_sound(response)

        try:
            check()
        except Exception as e:
            raise AssertionError(f"{operation.label}: {e}") from e


# ------------------------------------------------------------------ list query strings

KEYS = {
    "networks": ["id", "name", "status", "admin_state_up", "shared", "mtu", "tenant_id",
                 "project_id", "revision_number", "created_at", "provider:network_type",
                 "provider:physical_network", "provider:segmentation_id", "router:external",
                 "is_default", "subnets"],
    "subnets": ["id", "name", "network_id", "cidr", "ip_version", "gateway_ip", "enable_dhcp",
                "ipv6_ra_mode", "revision_number", "updated_at"],
    "ports": ["id", "name", "network_id", "mac_address", "device_id", "device_owner", "status",
              "admin_state_up", "binding:host_id", "binding:vnic_type", "fixed_ips",
              "revision_number"],
    "security-groups": ["id", "name", "stateful", "shared", "project_id", "revision_number"],
    "security-group-rules": ["id", "security_group_id", "direction", "ethertype", "protocol",
                             "port_range_min", "port_range_max", "remote_ip_prefix",
                             "remote_group_id"],
}
TAG_FILTERS = ["tags", "tags-any", "not-tags", "not-tags-any"]
KEYS = {collection: keys + TAG_FILTERS for collection, keys in KEYS.items()}
RESERVED = ["fields", "limit", "marker", "page_reverse", "sort_key", "sort_dir"]
values = st.one_of(
    st.text(max_size=40),
    st.integers(-(2**70), 2**70).map(str),
    st.sampled_from(["true", "False", "0", "1", "asc", "desc", "ip_address=10.0.0.2",
                     "subnet_id=x", "ip_address=", "2026-01-01T00:00:00", "2026-01-01T00:00:00Z",
                     "10.0.0.0/24", "", "id", "name", "%", "_", "'", "\\", "admin_state_up",
                     "router:external", "gateway_ip", "provider:network_type", "vlan",
                     "red", "red,blue", ",", "tags"]))


@st.composite
def list_queries(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    collection = draw(st.sampled_from(sorted(KEYS)))
    keys = st.one_of(st.sampled_from(KEYS[collection] + RESERVED), st.text(max_size=12))
    return collection, draw(st.lists(st.tuples(keys, values), max_size=6))


@pytest.fixture
def fuzz_client(fuzz_app: Any, plugin: Plugin) -> TestClient:
    Seeds(plugin).ensure()
    return TestClient(fuzz_app)


def test_list_queries_never_fail_the_server(fuzz_client: TestClient, plugin: Plugin) -> None:
    """Filters, fields, sorting and pagination; markers are mostly ids of real resources."""
    seeds = Seeds(plugin)

    @given(list_queries())
    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 2)
    def check(query: tuple[str, list[tuple[str, str]]]) -> None:
        collection, params = query
        params = [(k, seeds.aim(v, collection) if k == "marker" else v) for k, v in params]
        response = fuzz_client.get(f"/v2.0/{collection}", params=params)
        assert_sound(response)
        if response.status_code == 200:
            assert isinstance(response.json()[collection.replace("-", "_")], list)

    check()


# ------------------------------------------------------------------ any JSON in any attribute

# Everything JSON can carry, including what the OpenAPI-driven generator never sends:
# lone surrogates (escaped as \udXXX), NUL, NaN/Infinity, huge integers, deep nesting.
strings = st.one_of(st.text(st.characters(exclude_categories=[]), max_size=20),
                    st.sampled_from(["\ud800", "a\udc80b", "\x00", "\u00e9", "", " "]))
scalars = st.one_of(st.none(), st.booleans(), st.integers(-(2**80), 2**80), st.floats(), strings)
json_values = st.recursive(scalars, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=5), inner, max_size=3)),
    max_leaves=40)
ATTRIBUTES = {
    "networks": ["name", "description", "mtu", "shared", "provider:network_type",
                 "provider:physical_network", "provider:segmentation_id", "segments"],
    "subnets": ["network_id", "cidr", "ip_version", "gateway_ip", "allocation_pools",
                "dns_nameservers", "host_routes", "enable_dhcp"],
    "ports": ["network_id", "name", "mac_address", "fixed_ips", "device_id",
              "binding:host_id", "binding:vnic_type", "binding:profile"],
}


@st.composite
def raw_creates(draw: st.DrawFn) -> tuple[str, dict[str, Any], bool]:
    """A create body with arbitrary JSON in a few attributes (objects favoured, so that
    ``binding:profile``-like values are common), and whether to aim it at a real network."""
    collection = draw(st.sampled_from(sorted(ATTRIBUTES)))
    names = draw(st.lists(st.sampled_from(ATTRIBUTES[collection]), max_size=2, unique=True))
    if collection == "ports" and draw(st.booleans()):
        names = ["binding:profile"]  # the one free-form attribute: often alone, so it is stored
    objects = st.dictionaries(strings, json_values, max_size=3)
    attrs = {name: draw(st.one_of(objects, json_values)) for name in names}
    return collection, attrs, draw(st.booleans())


def test_any_json_value_in_any_attribute(fuzz_client: TestClient, plugin: Plugin) -> None:
    seeds = Seeds(plugin)

    @given(raw_creates())
    @settings(FUZZ_SETTINGS, max_examples=EXAMPLES * 2)
    def check(request: tuple[str, dict[str, Any], bool]) -> None:
        collection, attrs, aim = request
        seeds.forget()  # the network aimed at is any of those created so far
        if collection != "networks" and aim:
            attrs["network_id"] = seeds.ids("networks")[0]
        body = json.dumps({collection[:-1]: attrs}, allow_nan=True).encode()
        response = fuzz_client.post(f"/v2.0/{collection}", content=body,
                                    headers={"content-type": "application/json"})
        assert_sound(response)
        assert_sound(fuzz_client.get(f"/v2.0/{collection}"))  # what was stored renders

    check()
