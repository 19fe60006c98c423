"""DNS integration over REST (``dns-integration``, ``dns-domain-ports``), on SQLite and
PostgreSQL: ``dns_name`` and ``dns_domain`` as neutron-lib validates and converts them,
``dns_assignment`` as Neutron derives it, updates and filters."""
from __future__ import annotations

from typing import Any

import pytest
from fastapi.testclient import TestClient

from neutrino.api.app import create_app
from neutrino.sandbox.keystone import ADMIN, ALT, DEMO, DEMO_READER, Keystone
from tests.api.conftest import Api, assert_error
from tests.api.test_auth import authtoken
from tests.api.test_policy import As


def assignment(port: dict[str, Any]) -> list[tuple[str, str, str]]:
    return [(a["hostname"], a["ip_address"], a["fqdn"]) for a in port["dns_assignment"]]


def test_announced(api: Api) -> None:
    aliases = {e["alias"] for e in api.list("extensions")}
    assert {"dns-integration", "dns-domain-ports"} <= aliases
    assert api.client.get("/v2.0/extensions/dns-integration").status_code == 200


def test_a_port_without_a_name_has_host_names_under_the_configured_domain(
        api: Api, net: dict, v4: dict) -> None:
    port = api.port(net, fixed_ips=[{"subnet_id": v4["id"], "ip_address": "10.0.0.7"}])
    assert (port["dns_name"], port["dns_domain"]) == ("", "")
    assert assignment(port) == [("host-10-0-0-7", "10.0.0.7", "host-10-0-0-7.openstacklocal.")]
    assert api.show("ports", port["id"])["dns_assignment"] == port["dns_assignment"]
    assert api.show("networks", net["id"])["dns_domain"] == ""
    # A port without addresses has no names.
    assert api.port(net, fixed_ips=[])["dns_assignment"] == []


def test_names_follow_the_port_its_network_and_the_setting(make_api: Any) -> None:
    api = make_api(dns_domain="cloud.test")  # the final dot is implied
    net = api.network(dns_domain="Net.Example.")  # lower-cased, as neutron-lib converts
    assert net["dns_domain"] == "net.example."
    sub = api.subnet(net, "10.1.0.0/24")
    v6 = api.subnet(net, "2001:db8::/64", ip_version=6)
    port = api.port(net, dns_name="VM1", fixed_ips=[
        {"subnet_id": sub["id"], "ip_address": "10.1.0.5"},
        {"subnet_id": v6["id"], "ip_address": "2001:db8::5"}])
    assert port["dns_name"] == "vm1"
    assert assignment(port) == [("vm1", "10.1.0.5", "vm1.net.example."),
                                ("vm1", "2001:db8::5", "vm1.net.example.")]
    # The port's own domain (dns-domain-ports) comes first ...
    port = api.update("ports", port["id"], dns_domain="port.example.")
    assert {a["fqdn"] for a in port["dns_assignment"]} == {"vm1.port.example."}
    # ... the configured one last, and a name given as an FQDN is its own.
    api.update("networks", net["id"], dns_domain="")
    port = api.update("ports", port["id"], dns_domain="")
    assert {a["fqdn"] for a in port["dns_assignment"]} == {"vm1.cloud.test."}
    port = api.update("ports", port["id"], dns_name="vm1.cloud.test.")
    assert {(a["hostname"], a["fqdn"]) for a in port["dns_assignment"]} == \
        {("vm1.cloud.test.", "vm1.cloud.test.")}
    # Listing shows what a show does.
    listed = {p["id"]: p for p in api.list("ports")}
    assert listed[port["id"]]["dns_assignment"] == api.show("ports", port["id"])["dns_assignment"]


def test_updates_and_a_new_address_rename(api: Api, net: dict, v4: dict) -> None:
    port = api.port(net, dns_name="a", fixed_ips=[{"subnet_id": v4["id"],
                                                   "ip_address": "10.0.0.9"}])
    port = api.update("ports", port["id"], dns_name="b")
    assert (port["dns_name"], port["revision_number"]) == ("b", 2)
    assert assignment(port) == [("b", "10.0.0.9", "b.openstacklocal.")]
    port = api.update("ports", port["id"], fixed_ips=[{"subnet_id": v4["id"],
                                                       "ip_address": "10.0.0.10"}])
    assert assignment(port) == [("b", "10.0.0.10", "b.openstacklocal.")]
    port = api.update("ports", port["id"], dns_name="")
    assert assignment(port) == [("host-10-0-0-10", "10.0.0.10",
                                 "host-10-0-0-10.openstacklocal.")]
    network = api.update("networks", net["id"], dns_domain="example.org.")
    assert network["dns_domain"] == "example.org."
    assert api.show("ports", port["id"])["dns_assignment"][0]["fqdn"] == \
        "host-10-0-0-10.example.org."


def test_filters_and_fields(api: Api, net: dict, v4: dict) -> None:
    named = api.port(net, dns_name="web", dns_domain="a.example.")
    api.port(net, dns_name="db")
    assert api.ids("ports", {"dns_name": "web"}) == [named["id"]]
    assert api.ids("ports", {"dns_domain": "a.example."}) == [named["id"]]
    other = api.network(dns_domain="b.example.")
    assert api.ids("networks", {"dns_domain": "b.example."}) == [other["id"]]
    shown = api.show("ports", named["id"], fields=["dns_name", "dns_assignment"])
    assert set(shown) == {"dns_name", "dns_assignment"}
    assert shown["dns_assignment"][0]["hostname"] == "web"


@pytest.mark.parametrize(("collection", "attrs", "fragment"), [
    ("ports", {"dns_name": "-web"}, "must not start or end with a hyphen"),
    ("ports", {"dns_name": "a..b"}, "Encountered an empty component"),
    ("ports", {"dns_name": "under_score"}, "must be 1-63 characters long"),
    ("ports", {"dns_name": "x" * 64}, "must be 1-63 characters long"),
    ("ports", {"dns_name": "host.123"}, "TLD '123' must not be all numeric"),
    ("ports", {"dns_name": ".".join(["a" * 63] * 4) + "x"}, "character FQDN limit"),
    ("ports", {"dns_name": 5}, "dns_name"),
    ("ports", {"dns_name": None}, "dns_name"),
    ("ports", {"dns_domain": "example.org"}, "'example.org' is not a FQDN"),
    ("ports", {"dns_domain": ".".join(["a" * 63] * 4) + "."}, "Adding a sub-domain"),
    ("networks", {"dns_domain": "example"}, "'example' is not a FQDN"),
    ("networks", {"dns_domain": "a-.example."}, "must not start or end with a hyphen"),
    ("networks", {"dns_domain": ["x."]}, "dns_domain"),
])
def test_invalid_names_are_400_on_create_and_update(api: Api, net: dict, v4: dict,
                                                    collection: str, attrs: dict,
                                                    fragment: str) -> None:
    before = api.rows()
    body = {"network_id": net["id"], **attrs} if collection == "ports" else attrs
    assert_error(api.post(collection, body), 400, "HTTPBadRequest", fragment)
    assert api.rows() == before
    target = api.port(net) if collection == "ports" else net
    assert_error(api.put(collection, target["id"], attrs), 400, "HTTPBadRequest", fragment)
    assert api.show(collection, target["id"])["revision_number"] == target["revision_number"]


def test_names_must_fit_the_configured_domain(make_api: Any) -> None:
    """neutron-lib's check once a domain other than the default is set: a PQDN leaves room
    for it, an FQDN is under it."""
    api = make_api(dns_domain="example.org.")
    net = api.network()
    assert api.port(net, dns_name="vm.example.org.")["dns_name"] == "vm.example.org."
    for name, fragment in (("vm.other.org.", "must be equal to the dns_domain option"),
                           ("example.org.", "one or more valid DNS labels"),
                           (".".join(["a" * 60] * 4), "PQDN and its size is '243'")):
        before = api.rows()
        assert_error(api.post("ports", {"network_id": net["id"], "dns_name": name}), 400,
                     "InvalidInput", fragment)
        assert api.rows() == before
        port = api.port(net)
        assert_error(api.put("ports", port["id"], {"dns_name": name}), 400, "InvalidInput",
                     fragment)


@pytest.fixture
def people(make_plugin: Any, keystone: Keystone) -> dict[str, As]:
    client = TestClient(create_app(make_plugin(auth_strategy="keystone",
                                               keystone_authtoken=authtoken(keystone))))
    return {user.name: As(client, keystone, user) for user in (ADMIN, DEMO, DEMO_READER, ALT)}


def test_policy_the_owner_names_others_neither_see_nor_find(people: dict[str, As]) -> None:
    """Neutron marks no DNS attribute ``enforce_policy``: whoever may create or update the
    port or network may set them; another project's names answer 404 and never show in
    its lists, filters or ``fields=``."""
    demo, reader, alt = people["demo"], people["demo-reader"], people["alt"]
    net = demo.post("/v2.0/networks", json={"network": {"dns_domain": "demo.example."}})
    assert net.status_code == 201, net.text
    net_id = net.json()["network"]["id"]
    demo.post("/v2.0/subnets", json={"subnet": {"network_id": net_id, "cidr": "10.5.0.0/24"}})
    port = demo.post("/v2.0/ports", json={"port": {
        "network_id": net_id, "dns_name": "secret", "dns_domain": "p.example."}})
    assert port.status_code == 201, port.text
    port_id = port.json()["port"]["id"]
    assert port.json()["port"]["dns_assignment"][0]["fqdn"] == "secret.p.example."
    renamed = demo.put(f"/v2.0/ports/{port_id}", json={"port": {"dns_name": "other"}})
    assert renamed.status_code == 200, renamed.text
    assert_error(reader.put(f"/v2.0/ports/{port_id}", json={"port": {"dns_name": "x"}}),
                 403, "PolicyNotAuthorized", "update_port")
    assert_error(reader.put(f"/v2.0/networks/{net_id}", json={"network": {"dns_domain": "x."}}),
                 403, "PolicyNotAuthorized", "update_network")
    assert reader.get(f"/v2.0/ports/{port_id}").json()["port"]["dns_name"] == "other"
    assert_error(alt.get(f"/v2.0/ports/{port_id}"), 404, "PortNotFound")
    assert_error(alt.put(f"/v2.0/ports/{port_id}", json={"port": {"dns_name": "x"}}),
                 404, "PortNotFound")
    assert_error(alt.put(f"/v2.0/networks/{net_id}", json={"network": {"dns_domain": "x."}}),
                 404, "NetworkNotFound")
    for params in ({"dns_name": "other"}, {"dns_domain": "p.example."},
                   {"fields": ["dns_name", "dns_assignment"]}):
        assert alt.get("/v2.0/ports", params=params).json()["ports"] == []
    assert alt.get("/v2.0/networks", params={"dns_domain": "demo.example."}).json()[
        "networks"] == []
    assert [p["id"] for p in demo.get("/v2.0/ports", params={"dns_name": "other"}).json()[
        "ports"]] == [port_id]
