"""Neutron's secure-RBAC defaults through the API: resource × action × caller.

Every expectation below was read by hand off Neutron 2026.1's default rules
(``neutron/conf/policies/{network,subnet,subnetpool,port,agent}.py`` and ``base.py`` on
``stable/2026.1``, commit c7d0dc15bf58) together with what Neutron's database
queries let a project see (its own resources, those of shared networks, and
ports on its own networks); none is computed by Neutrino's policy code.

Callers, each a real Keystone user (``neutrino.sandbox.keystone``), are the
columns of every table, in this order:

    admin   ADMIN, role admin (implies member and reader) in project ``admin``
    demo    DEMO, member of project ``demo``
    reader  DEMO_READER, reader of project ``demo``
    alt     ALT, member of project ``alt``
    nova    NOVA, only the ``service`` role, in project ``service``

A cell is ``ok`` (the action's success: 201 create, 200 show and update, 204
delete, the tags API's own codes) or the status Neutron answers.  Neutron checks
whether a caller may set an attribute before it looks at the value: a forbidden
attribute is 403 whatever its value, a permitted one with a bad value 400 (the rows
with ``BAD`` values), as is a bad value on a resource the caller does not see.

Objects are written ``<owner>@<network>``: a resource of project *owner* on the
world network *network*.  The world (three networks with a subnet each, ports,
tags) is made once per module by the service user ``neutrino`` (admin and
service); every write acts on a fresh victim made for it, so the world stays as
it is and the read tables hold throughout.  Each refused write is shown to have
changed nothing.

Resources that land later add their rows: a ``WORLD`` entry, rows in ``SHOW``,
``CREATE``, ``UPDATE``, ``DELETE``, ``TAG_WRITES`` and their hidden attributes
in ``HIDDEN``.
"""
from __future__ import annotations

import itertools
import shutil
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient
from keystoneauth1 import session
from keystoneauth1.identity import v3

from neutrino.api.app import create_app
from neutrino.config import Settings
from neutrino.core.plugin import Plugin
from neutrino.db.session import Database
from neutrino.sandbox.keystone import ADMIN, ALT, DEMO, DEMO_READER, NOVA, SERVICE, Keystone
from tests.api.conftest import SINGULAR, Api
from tests.api.test_auth import authtoken
from tests.drivers import AGENT, AgentDriver

CALLERS = ("admin", "demo", "reader", "alt", "nova")
USERS = {"admin": ADMIN, "demo": DEMO, "reader": DEMO_READER, "alt": ALT, "nova": NOVA,
         "root": SERVICE}
SUCCESS = {"create": 201, "show": 200, "update": 200, "delete": 204}
TAGS_SUCCESS = {("PUT", "tags/x"): 201, ("PUT", "tags"): 200, ("DELETE", "tags/t"): 204,
                ("DELETE", "tags"): 204}
COLLECTIONS = {"network": "networks", "subnet": "subnets", "port": "ports"}
PROVIDER = ("provider:network_type", "provider:physical_network", "provider:segmentation_id")
BINDING = ("binding:host_id", "binding:profile", "binding:vif_type", "binding:vif_details")


def codes(row: str) -> dict[str, str]:
    """``"ok ok 403 404 403"`` → each caller's expected answer."""
    cells = row.split()
    assert len(cells) == len(CALLERS), row
    return dict(zip(CALLERS, cells, strict=True))


# -- the world ------------------------------------------------------------------------

#: name → (collection, owner project, network, extra attributes).  Networks: ``net_alt``
#: has two segments (``segments``), the others one (``provider:*``).
WORLD: dict[str, tuple[str, str, str | None, dict[str, Any]]] = {
    "net_demo": ("networks", "demo", None, {}),
    "net_alt": ("networks", "alt", None, {"segments": [
        {"provider:network_type": "vlan", "provider:physical_network": "physnet1"},
        {"provider:network_type": "vlan", "provider:physical_network": "physnet1"}]}),
    "net_shared": ("networks", "admin", None, {"shared": True}),
    "subnet_demo": ("subnets", "demo", "net_demo", {"cidr": "10.1.0.0/24"}),
    "subnet_alt": ("subnets", "alt", "net_alt", {"cidr": "10.2.0.0/24"}),
    "subnet_shared": ("subnets", "admin", "net_shared", {"cidr": "10.3.0.0/24"}),
    "subnet_demo@shared": ("subnets", "demo", "net_shared", {"cidr": "10.4.0.0/24"}),
    "port_demo": ("ports", "demo", "net_demo", {"binding:host_id": "hv1",
                                                "binding:profile": {"k": "v"}}),
    "port_alt": ("ports", "alt", "net_alt", {}),
    "port_alt@demo": ("ports", "alt", "net_demo", {}),
    "port_demo@shared": ("ports", "demo", "net_shared", {}),
    "pool_demo": ("subnetpools", "demo", None, {"prefixes": ["10.100.0.0/16"]}),
    "pool_alt": ("subnetpools", "alt", None, {"prefixes": ["10.101.0.0/16"]}),
    "pool_shared": ("subnetpools", "admin", None, {"prefixes": ["10.102.0.0/16"],
                                                   "shared": True}),
}

#: Showing each world object (``get_<resource>`` and the project's view of the
#: database), and reading its tags (``get_<resource>:tags``, which names no service
#: role; ``GET /{id}/tags`` and the ``tags`` attribute).
#                        show                      tags
SHOW = {
    "net_demo":           ("ok  ok  ok  404 ok",   "ok  ok  ok  404 403"),
    "net_alt":            ("ok  404 404 ok  ok",   "ok  404 404 ok  403"),
    "net_shared":         ("ok  ok  ok  ok  ok",   "ok  ok  ok  ok  ok"),   # rule:shared
    "subnet_demo":        ("ok  ok  ok  404 ok",   "ok  ok  ok  404 403"),
    "subnet_alt":         ("ok  404 404 ok  ok",   "ok  404 404 ok  403"),
    "subnet_shared":      ("ok  ok  ok  ok  ok",   "ok  ok  ok  ok  ok"),
    "subnet_demo@shared": ("ok  ok  ok  ok  ok",   "ok  ok  ok  ok  ok"),
    "port_demo":          ("ok  ok  ok  404 ok",   "ok  ok  ok  404 403"),
    "port_alt":           ("ok  404 404 ok  ok",   "ok  404 404 ok  403"),
    "port_alt@demo":      ("ok  ok  ok  ok  ok",   "ok  ok  ok  ok  403"),  # network owner
    "port_demo@shared":   ("ok  ok  ok  404 ok",   "ok  ok  ok  404 403"),
    # get_subnetpool names no service role: nova sees shared pools only.
    "pool_demo":          ("ok  ok  ok  404 404",  "ok  ok  ok  404 404"),
    "pool_alt":           ("ok  404 404 ok  404",  "ok  404 404 ok  404"),
    "pool_shared":        ("ok  ok  ok  ok  ok",   "ok  ok  ok  ok  ok"),   # shared_subnetpools
}

#: Attributes ``get_<resource>:<attr>`` hides from each caller (``tags`` by object: SHOW).
HIDDEN: dict[str, dict[str, tuple[str, ...]]] = {
    "network": {"admin": (), "demo": (*PROVIDER, "segments"), "reader": (*PROVIDER, "segments"),
                "alt": (*PROVIDER, "segments"), "nova": (*PROVIDER, "segments")},
    "subnet": {caller: () for caller in CALLERS},
    "subnetpool": {caller: () for caller in CALLERS},
    "port": {"admin": (), "demo": BINDING, "reader": BINDING, "alt": BINDING, "nova": ()},
}


class World:
    """The app, the callers' tokens and projects, and the world's objects."""

    def __init__(self, client: TestClient, plugin: Plugin, keystone: Keystone):
        self.client, self.api = client, Api(client, plugin)
        self.tokens: dict[str, str] = {}
        self.projects: dict[str, str] = {}
        for caller, user in USERS.items():
            sess = session.Session(auth=v3.Password(**keystone.auth(user)))
            self.tokens[caller] = sess.get_token()
            self.projects[user.project] = sess.get_project_id()
        self.projects["elsewhere"] = uuid.uuid4().hex
        self.ids: dict[str, str] = {}
        self._cidrs = itertools.count(10)
        self._hosts = itertools.count(200)  # above what the pools hand out first
        self._macs = itertools.count(1)
        for name, (collection, owner, network, extra) in WORLD.items():
            self.ids[name] = self.make(collection, owner, network, {**extra, "name": name,
                                                                     "tags": ["t"]})["id"]

    def call(self, caller: str, method: str, path: str, **kw: Any) -> httpx.Response:
        return self.client.request(method, f"/v2.0/{path}",
                                   headers={"X-Auth-Token": self.tokens[caller]}, **kw)

    def make(self, collection: str, owner: str, network: str | None,
             attrs: dict[str, Any]) -> dict[str, Any]:
        """A resource of project *owner* (on the world's *network*), made by root."""
        body = {**attrs, "project_id": self.projects[owner]}
        if network:
            body["network_id"] = self.ids[network]
        if collection == "subnets" and "cidr" not in body:
            body["cidr"] = f"10.{next(self._cidrs)}.0.0/24"
        response = self.call("root", "POST", collection, json={SINGULAR[collection]: body})
        assert response.status_code == 201, response.text
        return response.json()[SINGULAR[collection]]

    def seen_by_root(self, collection: str, item_id: str) -> dict[str, Any]:
        response = self.call("root", "GET", f"{collection}/{item_id}")
        assert response.status_code == 200, response.text
        return response.json()[SINGULAR[collection]]

    def remove(self, collection: str, item_id: str) -> None:
        assert self.call("root", "DELETE", f"{collection}/{item_id}").status_code in (204, 404)

    def fill(self, value: Any) -> Any:
        """A body value with its placeholders replaced: ``{net_demo}`` (a world object's id),
        ``{project:alt}``, ``{ip:subnet_demo}`` (a free address), ``{mac}``."""
        if isinstance(value, dict):
            return {k: self.fill(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.fill(v) for v in value]
        if not (isinstance(value, str) and value.startswith("{")):
            return value
        key, _, arg = value.strip("{}").partition(":")
        if key == "project":
            return self.projects[arg]
        if key == "ip":
            prefix = WORLD[arg][3]["cidr"].rsplit(".", 1)[0]
            return f"{prefix}.{next(self._hosts)}"
        if key == "mac":
            n = next(self._macs)
            return f"fa:16:3e:77:{n // 256:02x}:{n % 256:02x}"
        return self.ids[key]


@pytest.fixture(scope="module")
def world(keystone: Keystone, sqlite_template: Path,
          tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One app on SQLite for the whole table (keystone auth, a driver that binds ports and
    lists an agent)."""
    path = tmp_path_factory.mktemp("matrix") / "neutrino.db"
    shutil.copy(sqlite_template, path)
    url = f"sqlite:///{path}"
    plugin = Plugin(Settings.load(database_url=url, mechanism_drivers=[AGENT],
                                  auth_strategy="keystone",
                                  keystone_authtoken=authtoken(keystone),
                                  network_vlan_ranges=["physnet1:100:139"]), Database(url))
    yield World(TestClient(create_app(plugin)), plugin, keystone)
    plugin.stop()
    plugin.db.dispose()


def answer(response: httpx.Response, success: int) -> str:
    """``ok``, or the status of a Neutron error (any other body is a failure)."""
    if response.status_code == success:
        return "ok"
    if response.status_code >= 400 and response.status_code != 401:
        body = response.json()
        assert set(body) == {"NeutronError"}, body
    return str(response.status_code)


# -- reads ----------------------------------------------------------------------------

@pytest.mark.parametrize("name", SHOW)
def test_show_and_tags_read(world: World, name: str) -> None:
    collection = WORLD[name][0]
    resource = collection[:-1]
    expected_show, expected_tags = (codes(row) for row in SHOW[name])
    got_show, got_tags = {}, {}
    for caller in CALLERS:
        response = world.call(caller, "GET", f"{collection}/{world.ids[name]}")
        got_show[caller] = answer(response, 200)
        got_tags[caller] = answer(world.call(caller, "GET",
                                             f"{collection}/{world.ids[name]}/tags"), 200)
        tag_answer = answer(world.call(caller, "GET",
                                       f"{collection}/{world.ids[name]}/tags/t"), 204)
        assert tag_answer == got_tags[caller], (caller, "GET tags/t")
        if response.status_code == 200:
            item = response.json()[resource]
            assert ("tags" in item) == (expected_tags[caller] == "ok"), (caller, item)
            assert not set(HIDDEN[resource][caller]) & set(item), (caller, item)
            for attr in HIDDEN[resource][caller]:
                narrowed = world.call(caller, "GET", f"{collection}/{world.ids[name]}",
                                      params={"fields": ["id", attr]}).json()[resource]
                assert narrowed == {"id": world.ids[name]}, (caller, attr)
    assert (got_show, got_tags) == (expected_show, expected_tags)


def test_restricted_attributes_are_shown_to_those_allowed(world: World) -> None:
    """The other side of HIDDEN: what admin and nova are given is there, with its value."""
    for caller in ("admin", "nova"):
        port = world.call(caller, "GET", f"ports/{world.ids['port_demo']}").json()["port"]
        assert port["binding:host_id"] == "hv1" and port["binding:profile"] == {"k": "v"}
        assert port["binding:vif_type"] == "ovs" and port["binding:vif_details"]
    net = world.call("admin", "GET", f"networks/{world.ids['net_demo']}").json()["network"]
    assert net["provider:network_type"] == "geneve"
    multi = world.call("admin", "GET", f"networks/{world.ids['net_alt']}").json()["network"]
    assert len(multi["segments"]) == 2


def visible(caller: str, collection: str) -> set[str]:
    """The world objects of *collection* that SHOW says *caller* sees."""
    return {name for name, rows in SHOW.items()
            if WORLD[name][0] == collection and codes(rows[0])[caller] == "ok"}


@pytest.mark.parametrize("collection", ["networks", "subnets", "ports", "subnetpools"])
@pytest.mark.parametrize("caller", CALLERS)
def test_lists_filters_and_fields_show_only_what_may_be_seen(
        world: World, caller: str, collection: str) -> None:
    resource = collection[:-1]
    names = {world.ids[n]: n for n, spec in WORLD.items() if spec[0] == collection}
    shown = visible(caller, collection)

    def listed(**params: Any) -> list[dict[str, Any]]:
        response = world.call(caller, "GET", collection, params=params)
        assert response.status_code == 200, response.text
        return response.json()[collection]

    items = listed()
    assert {names[i["id"]] for i in items} == shown
    for item in items:
        assert not set(HIDDEN[resource][caller]) & set(item), item
        tags_readable = codes(SHOW[names[item["id"]]][1])[caller] == "ok"
        assert ("tags" in item) == tags_readable, (caller, item)
    for name in names.values():
        by_id = {names[i["id"]] for i in listed(id=world.ids[name])}
        assert by_id == ({name} & shown)
        assert {names[i["id"]] for i in listed(name=name, fields="id")} == ({name} & shown)
    assert {names[i["id"]] for i in listed(fields=["id", *HIDDEN[resource][caller]])} == shown
    assert all(set(i) == {"id"} for i in listed(fields=["id", *HIDDEN[resource][caller]]))
    for attr in HIDDEN[resource][caller]:  # ignored: no value tells anything
        assert {names[i["id"]] for i in listed(**{attr: "x"})} == shown, (caller, attr)
        refused = world.call(caller, "GET", collection, params={"sort_key": attr})
        assert answer(refused, 200) == "400", (caller, attr)
    # Every item is tagged "t": the filter keeps them all; get_<resource>:tags refuses
    # nova its own project's tags, so for nova it is ignored, with the same answer.
    assert {names[i["id"]] for i in listed(tags="t")} == shown


def test_agents_are_listed_to_admins_only(world: World) -> None:
    """get_agent is admin only; the others get an empty list (Neutron filters the items
    a caller may not get out of its lists), with a filter too, and 404 for one agent,
    whatever they do with it (update_agent and delete_agent are admin only too)."""
    agent = AgentDriver.AGENT["id"]
    for caller in CALLERS:
        expected = [agent] if caller == "admin" else []
        for params in ({}, {"host": "hv1"}, {"fields": "id"}):
            agents = world.call(caller, "GET", "agents", params=params).json()["agents"]
            assert [a["id"] for a in agents] == expected, (caller, params)
        show = world.call(caller, "GET", f"agents/{agent}")
        update = world.call(caller, "PUT", f"agents/{agent}",
                            json={"agent": {"description": caller}})
        if caller == "admin":
            assert answer(show, 200) == answer(update, 200) == "ok"
            assert update.json()["agent"]["description"] == "admin"
        else:
            remove = world.call(caller, "DELETE", f"agents/{agent}")
            assert [answer(r, 200) for r in (show, update, remove)] == ["404"] * 3, caller
            assert show.json()["NeutronError"]["type"] == "AgentNotFound"
    assert world.call("admin", "GET", f"agents/{agent}").json()["agent"]["description"] == \
        "admin"


# -- writes ---------------------------------------------------------------------------

@dataclass(frozen=True)
class Create:
    collection: str
    body: dict[str, Any]
    expected: str

    def __str__(self) -> str:
        return f"{self.collection}-{'-'.join(f'{k}={v}' for k, v in self.body.items())}"


ON_DEMO, ON_ALT, ON_SHARED = ({"network_id": f"{{{n}}}"} for n in ("net_demo", "net_alt",
                                                                   "net_shared"))
VLAN = {"provider:network_type": "vlan", "provider:physical_network": "physnet1"}
#: Naming another project: 400 before any rule unless admin or service (neutron-lib's
#: ``_validate_privileges``).
OTHER = {"project_id": "{project:elsewhere}"}
POOL = {"prefixes": ["10.110.0.0/16"]}
#: A value no attribute takes (not a boolean, not a dict, not a network type …).
BAD = "maybe"
SNAT = {"external_gateway_info": {"network_id": "{net_shared}", "enable_snat": BAD}}

#                                                                 admin demo reader alt nova
CREATE = [
    Create("networks", {},                                         "ok  ok  403 ok  403"),
    Create("networks", {"shared": True},                           "ok  403 403 403 403"),
    Create("networks", {"shared": False},                          "ok  ok  403 ok  403"),
    Create("networks", {"router:external": False},                 "ok  ok  403 ok  403"),
    Create("networks", {"port_security_enabled": True},            "ok  ok  403 ok  403"),
    Create("networks", VLAN,                                       "ok  403 403 403 403"),
    Create("networks", {"segments": [VLAN, VLAN]},                 "ok  403 403 403 403"),
    Create("networks", OTHER,                                      "ok  400 400 400 403"),
    Create("networks", {"status": "DOWN"},                         "400 400 400 400 400"),
    Create("networks", {"shared": BAD},                            "400 403 403 403 403"),
    Create("networks", {"shared": "false"},                        "ok  ok  403 ok  403"),
    Create("networks", {"router:external": BAD},                   "400 403 403 403 403"),
    Create("networks", {"provider:network_type": BAD},             "400 403 403 403 403"),
    Create("networks", {**VLAN, "provider:segmentation_id": BAD},  "400 403 403 403 403"),
    Create("networks", {"segments": BAD},                          "400 403 403 403 403"),
    Create("networks", {"port_security_enabled": BAD},             "400 400 403 400 403"),
    Create("networks", {"name": 5, "shared": True},                "400 403 403 403 403"),
    Create("subnets", ON_DEMO,                                     "ok  ok  403 404 403"),
    Create("subnets", ON_ALT,                                      "ok  404 404 ok  403"),
    Create("subnets", ON_SHARED,                                   "ok  403 403 403 403"),
    # Neutron never checks create/update_subnet:service_types (no enforce_policy).
    Create("subnets", {**ON_DEMO, "service_types": ["compute:nova"]}, "ok  ok  403 404 403"),
    Create("subnets", {**ON_DEMO, **OTHER},                        "ok  400 400 400 403"),
    Create("ports", ON_DEMO,                                       "ok  ok  403 404 ok"),
    Create("ports", ON_ALT,                                        "ok  404 404 ok  ok"),
    Create("ports", ON_SHARED,                                     "ok  ok  403 ok  ok"),
    Create("ports", {**ON_SHARED, **OTHER},                        "ok  400 400 400 ok"),
    Create("ports", {**ON_DEMO, **OTHER},                          "ok  400 400 400 ok"),
    Create("ports", {**ON_SHARED, "fixed_ips": [{"subnet_id": "{subnet_shared}"}]},
                                                                   "ok  ok  403 ok  ok"),
    Create("ports", {**ON_SHARED, "fixed_ips": [{"ip_address": "{ip:subnet_shared}"}]},
                                                                   "ok  403 403 403 ok"),
    Create("ports", {**ON_DEMO, "fixed_ips": [{"ip_address": "{ip:subnet_demo}"}]},
                                                                   "ok  ok  403 404 ok"),
    Create("ports", {**ON_SHARED, "mac_address": "{mac}"},         "ok  403 403 403 ok"),
    Create("ports", {**ON_DEMO, "mac_address": "{mac}"},           "ok  ok  403 404 ok"),
    Create("ports", {**ON_SHARED, "device_owner": "network:dhcp"}, "ok  403 403 403 ok"),
    Create("ports", {**ON_DEMO, "device_owner": "network:dhcp"},   "ok  ok  403 404 ok"),
    Create("ports", {**ON_SHARED, "device_owner": "compute:nova"}, "ok  ok  403 ok  ok"),
    Create("ports", {**ON_SHARED, "device_id": "vm-1"},            "ok  ok  403 ok  ok"),
    Create("ports", {**ON_SHARED, "binding:host_id": "hv1"},       "ok  403 403 403 ok"),
    Create("ports", {**ON_SHARED, "binding:profile": {"k": "v"}},  "403 403 403 403 ok"),
    Create("ports", {**ON_SHARED, "binding:vnic_type": "direct"},  "ok  ok  403 ok  ok"),
    Create("ports", {**ON_SHARED, "binding:vnic_type": "normal"},  "ok  ok  403 ok  ok"),
    Create("ports", {**ON_SHARED, "port_security_enabled": True},  "ok  ok  403 ok  ok"),
    Create("ports", {**ON_SHARED, "status": "DOWN"},               "400 400 400 400 400"),
    Create("ports", {**ON_SHARED, "binding:profile": BAD},         "403 403 403 403 400"),
    Create("ports", {**ON_SHARED, "binding:host_id": 5},           "400 403 403 403 400"),
    Create("ports", {**ON_SHARED, "binding:vnic_type": BAD},       "400 400 403 400 400"),
    Create("ports", {**ON_SHARED, "mac_address": BAD},             "400 403 403 403 400"),
    Create("ports", {**ON_DEMO, "mac_address": BAD},               "400 400 403 400 400"),
    Create("ports", {**ON_SHARED, "port_security_enabled": BAD},   "400 403 403 403 400"),
    Create("ports", {**ON_SHARED, "fixed_ips": [{"ip_address": BAD}]},
                                                                   "400 403 403 403 400"),
    Create("ports", {**ON_SHARED, "device_owner": "network:" + "x" * 300},
                                                                   "400 403 403 403 400"),
    Create("ports", {**ON_SHARED, "allowed_address_pairs": BAD},   "400 403 403 403 400"),
    Create("subnetpools", POOL,                                    "ok  ok  403 ok  403"),
    Create("subnetpools", {**POOL, "shared": True},                "ok  403 403 403 403"),
    Create("subnetpools", {**POOL, "shared": False},               "ok  ok  403 ok  403"),
    Create("subnetpools", {**POOL, "is_default": True},            "ok  403 403 403 403"),
    Create("subnetpools", {**POOL, **OTHER},                       "ok  400 400 400 403"),
    Create("subnetpools", {**POOL, "shared": BAD},                 "400 403 403 403 403"),
    Create("subnetpools", {**POOL, "is_default": BAD},             "400 403 403 403 403"),
    Create("address-scopes", {"ip_version": 4, "shared": BAD},     "400 403 403 403 403"),
    Create("routers", SNAT,                                        "400 403 403 403 403"),
    Create("floatingips", {"floating_network_id": "{net_shared}", "floating_ip_address": BAD},
                                                                   "400 403 403 403 403"),
]


@pytest.mark.parametrize("row", CREATE, ids=str)
def test_create(world: World, row: Create) -> None:
    resource = SINGULAR[row.collection]
    got = {}
    for caller in CALLERS:
        body = world.fill(row.body)
        if row.collection == "subnets":
            body["cidr"] = f"10.{next(world._cidrs)}.0.0/24"
        before = world.api.rows()
        response = world.call(caller, "POST", row.collection, json={resource: body})
        got[caller] = answer(response, 201)
        if response.status_code == 201:
            item = response.json()[resource]
            world.remove(row.collection, item["id"])
            assert not set(HIDDEN[resource][caller]) & set(item), (caller, item)
        else:
            assert world.api.rows() == before, (caller, "a refused create wrote")
    assert got == codes(row.expected)


@dataclass(frozen=True)
class Write:
    """A write on a fresh victim: ``<owner>@<network>`` (a network: ``<owner>``)."""
    collection: str
    victim: str
    body: dict[str, Any]
    expected: str

    def __str__(self) -> str:
        return (f"{self.collection}-{self.victim}-"
                f"{'-'.join(f'{k}={v}' for k, v in self.body.items())}")


def victim(world: World, collection: str, spec: str) -> dict[str, Any]:
    owner, _, network = spec.partition("@")
    attrs: dict[str, Any] = {"name": "victim", "tags": ["t"]}
    if collection in ("networks", "subnetpools") and owner == "admin":
        attrs["shared"] = True
    if collection == "subnetpools":
        attrs["prefixes"] = ["10.111.0.0/16"]
    return world.make(collection, owner, network or None, attrs)


UPDATE = [
    Write("networks", "demo", {"name": "x"},                           "ok  ok  403 404 403"),
    Write("networks", "alt", {"name": "x"},                            "ok  404 404 ok  403"),
    Write("networks", "admin", {"name": "x"},                          "ok  403 403 403 403"),
    Write("networks", "demo", {"mtu": 1400},                           "ok  ok  403 404 403"),
    Write("networks", "demo", {"shared": True},                        "ok  403 403 404 403"),
    Write("networks", "demo", {"shared": False},                       "ok  403 403 404 403"),
    Write("networks", "demo", {"status": "DOWN"},                      "400 400 400 400 400"),
    Write("networks", "demo", {"shared": BAD},                         "400 403 403 400 403"),
    Write("networks", "demo", {"router:external": BAD},                "400 403 403 400 403"),
    Write("networks", "demo", {"port_security_enabled": BAD},          "400 400 403 400 403"),
    Write("subnets", "demo@net_demo", {"name": "x"},                   "ok  ok  403 404 403"),
    Write("subnets", "demo@net_demo", {"service_types": []},           "ok  ok  403 404 403"),
    Write("subnets", "alt@net_alt", {"name": "x"},                     "ok  404 404 ok  403"),
    Write("subnets", "admin@net_shared", {"name": "x"},                "ok  403 403 403 403"),
    Write("subnets", "demo@net_shared", {"name": "x"},                 "ok  ok  403 403 403"),
    Write("ports", "demo@net_demo", {"name": "x"},                     "ok  ok  403 404 ok"),
    Write("ports", "alt@net_demo", {"name": "x"},                      "ok  403 403 ok  ok"),
    Write("ports", "demo@net_shared", {"name": "x"},                   "ok  ok  403 404 ok"),
    Write("ports", "demo@net_shared", {"fixed_ips": [{"subnet_id": "{subnet_shared}"}]},
                                                                       "ok  403 403 404 ok"),
    Write("ports", "demo@net_demo", {"fixed_ips": [{"ip_address": "{ip:subnet_demo}"}]},
                                                                       "ok  ok  403 404 ok"),
    Write("ports", "demo@net_shared", {"mac_address": "{mac}"},        "ok  403 403 404 ok"),
    Write("ports", "demo@net_demo", {"mac_address": "{mac}"},          "ok  403 403 404 ok"),
    Write("ports", "demo@net_shared", {"device_owner": "network:dhcp"}, "ok  403 403 404 ok"),
    Write("ports", "demo@net_demo", {"device_owner": "network:dhcp"},  "ok  ok  403 404 ok"),
    Write("ports", "demo@net_shared", {"device_owner": "compute:nova"}, "ok  ok  403 404 ok"),
    Write("ports", "demo@net_shared", {"device_id": "vm-1"},           "ok  ok  403 404 ok"),
    Write("ports", "demo@net_demo", {"binding:host_id": "hv1"},        "ok  403 403 404 ok"),
    Write("ports", "demo@net_demo", {"binding:profile": {"k": "v"}},   "403 403 403 404 ok"),
    Write("ports", "demo@net_demo", {"binding:vnic_type": "direct"},   "ok  ok  403 404 ok"),
    Write("ports", "demo@net_demo", {"status": "DOWN"},                "400 400 400 400 400"),
    Write("ports", "demo@net_demo", {"binding:profile": BAD},          "403 403 403 400 400"),
    Write("ports", "demo@net_demo", {"binding:host_id": 5},            "400 403 403 400 400"),
    Write("ports", "demo@net_demo", {"mac_address": BAD},              "400 403 403 400 400"),
    Write("ports", "demo@net_shared", {"port_security_enabled": BAD},  "400 403 403 400 400"),
    Write("subnetpools", "demo", {"name": "x"},                        "ok  ok  403 404 404"),
    Write("subnetpools", "alt", {"name": "x"},                         "ok  404 404 ok  404"),
    Write("subnetpools", "admin", {"name": "x"},                       "ok  403 403 403 403"),
    Write("subnetpools", "demo", {"is_default": True},                 "ok  403 403 404 404"),
    Write("subnetpools", "demo", {"is_default": BAD},                  "400 403 403 400 400"),
]

DELETE = [
    Write("networks", "demo", {},                                      "ok  ok  403 404 403"),
    Write("networks", "alt", {},                                       "ok  404 404 ok  403"),
    Write("networks", "admin", {},                                     "ok  403 403 403 403"),
    Write("subnets", "demo@net_demo", {},                              "ok  ok  403 404 403"),
    Write("subnets", "demo@net_shared", {},                            "ok  ok  403 403 403"),
    Write("subnets", "admin@net_shared", {},                           "ok  403 403 403 403"),
    Write("ports", "demo@net_demo", {},                                "ok  ok  403 404 ok"),
    Write("ports", "alt@net_demo", {},                                 "ok  ok  403 ok  ok"),
    Write("ports", "demo@net_shared", {},                              "ok  ok  403 404 ok"),
    Write("ports", "alt@net_alt", {},                                  "ok  404 404 ok  ok"),
    Write("subnetpools", "demo", {},                                   "ok  ok  403 404 404"),
    Write("subnetpools", "admin", {},                                  "ok  403 403 403 403"),
]


def assert_writes(world: World, row: Write, method: str, suffix: str, success: int,
                  body: Any = None) -> None:
    """*row*'s write by every caller on a victim of its own: the answers are the row's,
    and a refused write leaves the victim (and its tags) as they were."""
    got = {}
    for caller in CALLERS:
        item = victim(world, row.collection, row.victim)
        path = f"{row.collection}/{item['id']}{suffix}"
        before = (world.seen_by_root(row.collection, item["id"]),
                  world.call("root", "GET", f"{row.collection}/{item['id']}/tags").json())
        try:
            got[caller] = answer(world.call(caller, method, path, json=body), success)
            if got[caller] != "ok":
                after = (world.seen_by_root(row.collection, item["id"]),
                         world.call("root", "GET", f"{row.collection}/{item['id']}/tags").json())
                assert after == before, (caller, "a refused write changed the resource")
        finally:
            world.remove(row.collection, item["id"])
    assert got == codes(row.expected)


@pytest.mark.parametrize("row", UPDATE, ids=str)
def test_update(world: World, row: Write) -> None:
    assert_writes(world, row, "PUT", "", 200, {row.collection[:-1]: world.fill(row.body)})


@pytest.mark.parametrize("row", DELETE, ids=str)
def test_delete(world: World, row: Write) -> None:
    assert_writes(world, row, "DELETE", "", 204)


#: The tags API's writes: ``update_<resource>:tags`` (PUT) and ``delete_<resource>:tags``
#: (DELETE), neither naming the service role.
#                                                     PUT                  DELETE
TAG_WRITES = {
    ("networks", "demo"):             ("ok  ok  403 404 403", "ok  ok  403 404 403"),
    ("networks", "admin"):            ("ok  403 403 403 403", "ok  403 403 403 403"),
    ("subnets", "demo@net_shared"):   ("ok  ok  403 403 403", "ok  ok  403 403 403"),
    ("subnets", "admin@net_shared"):  ("ok  403 403 403 403", "ok  403 403 403 403"),
    ("ports", "demo@net_demo"):       ("ok  ok  403 404 403", "ok  ok  403 404 403"),
    ("ports", "alt@net_demo"):        ("ok  403 403 ok  403", "ok  ok  403 ok  403"),
    ("subnetpools", "demo"):          ("ok  ok  403 404 404", "ok  ok  403 404 404"),
    ("subnetpools", "admin"):         ("ok  403 403 403 403", "ok  403 403 403 403"),
}


@pytest.mark.parametrize(("method", "suffix"), list(TAGS_SUCCESS))
@pytest.mark.parametrize("target", TAG_WRITES, ids="-".join)
def test_tag_writes(world: World, target: tuple[str, str], method: str, suffix: str) -> None:
    expected = TAG_WRITES[target][0 if method == "PUT" else 1]
    body = {"tags": ["x", "y"]} if suffix == "tags" and method == "PUT" else None
    assert_writes(world, Write(*target, {}, expected), method, "/" + suffix,
                  TAGS_SUCCESS[(method, suffix)], body)


def test_a_bulk_create_is_judged_on_every_item_before_any_value(world: World) -> None:
    """One item with a forbidden attribute and a bad value makes the bulk create 403 for
    a caller the rule refuses, and 400 for one it permits; neither writes anything."""
    body = {"ports": [world.fill(ON_SHARED), {**world.fill(ON_SHARED), "binding:profile": BAD}]}
    before = world.api.rows()
    assert answer(world.call("demo", "POST", "ports", json=body), 201) == "403"
    assert answer(world.call("nova", "POST", "ports", json=body), 201) == "400"
    assert world.api.rows() == before
