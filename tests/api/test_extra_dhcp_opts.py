"""Ports' extra DHCP options over REST (``extra_dhcp_opt``), on SQLite and PostgreSQL:
Neutron's create and update rules and neutron-lib's validation."""
from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import func, select

from neutrino.db.models import ExtraDhcpOpt
from tests.api.conftest import Api, assert_error


def opt(name: str, value: Any, version: Any = None) -> dict[str, Any]:
    return {"opt_name": name, "opt_value": value,
            **({"ip_version": version} if version is not None else {})}


def stored(api: Api) -> int:
    with api.plugin.db.read() as session:
        return session.scalar(select(func.count()).select_from(ExtraDhcpOpt))


def test_announced(api: Api) -> None:
    assert "extra_dhcp_opt" in {e["alias"] for e in api.list("extensions")}


def test_create_shows_lists_and_deletes_with_the_port(api: Api, net: dict, v4: dict) -> None:
    port = api.port(net, extra_dhcp_opts=[
        opt("tftp-server", "192.0.2.9"), opt("bootfile-name", "pxelinux.0", 4),
        opt("dns-server", "2001:db8::53", 6), opt("not-for-ovn", "x"),
        opt("ntp-server", None)])  # no value on create: nothing stored
    want = [opt("bootfile-name", "pxelinux.0", 4), opt("not-for-ovn", "x", 4),
            opt("tftp-server", "192.0.2.9", 4), opt("dns-server", "2001:db8::53", 6)]
    assert port["extra_dhcp_opts"] == want
    assert api.show("ports", port["id"])["extra_dhcp_opts"] == want
    listed = {p["id"]: p for p in api.list("ports")}
    assert listed[port["id"]]["extra_dhcp_opts"] == want
    assert api.port(net)["extra_dhcp_opts"] == []
    assert stored(api) == 4
    assert api.delete("ports", port["id"]).status_code == 204
    assert stored(api) == 0


def test_update_changes_only_the_options_it_names(api: Api, net: dict, v4: dict) -> None:
    port = api.port(net, extra_dhcp_opts=[opt("mtu", "1400"), opt("domain-name", "a.test"),
                                          opt("dns-server", "2001:db8::53", 6)])
    port = api.update("ports", port["id"], extra_dhcp_opts=[
        opt("mtu", "1300"),                  # a new value
        opt("domain-name", None),            # null: removed
        opt("router", "", 4),                # blank is a value for router: no router
        opt("ntp-server", None)])            # null for an option it does not have: nothing
    assert port["extra_dhcp_opts"] == [opt("mtu", "1300", 4), opt("router", "", 4),
                                       opt("dns-server", "2001:db8::53", 6)]
    assert port["revision_number"] == 2
    assert api.show("ports", port["id"])["extra_dhcp_opts"] == port["extra_dhcp_opts"]
    # The same values again, an empty list or null change nothing, and keep the revision.
    for same in ([opt("mtu", "1300")], [], None):
        again = api.update("ports", port["id"], extra_dhcp_opts=same)
        assert again["extra_dhcp_opts"] == port["extra_dhcp_opts"]
        assert again["revision_number"] == 2
    # Other attributes leave the options alone.
    assert api.update("ports", port["id"], name="x")["extra_dhcp_opts"] == \
        port["extra_dhcp_opts"]


@pytest.mark.parametrize(("opts", "fragment"), [
    ([{"opt_name": "mtu"}], "opt_value"),                             # value required
    ([{"opt_value": "1"}], "opt_name"),                               # name required
    ([opt("", "1")], "opt_name"),
    ([opt("  ", "1")], "Blank strings are not permitted"),
    ([opt("mtu", "")], "Blank strings are not permitted"),             # only router/routes
    ([opt("mtu", " ")], "Blank strings are not permitted"),
    ([opt("mtu", "1", 5)], "ip_version"),
    ([opt("mtu", "1", "x")], "ip_version"),
    ([opt("n" * 65, "1")], "opt_name"),
    ([opt("mtu", "v" * 256)], "opt_value"),
    ([{**opt("mtu", "1"), "other": 1}], "other"),
    ([opt("mtu", "1"), opt("mtu", "2", 4)], "Duplicate extra DHCP option mtu for IPv4"),
    ([opt("mtu", 1400)], "opt_value"),
    ({"opt_name": "mtu", "opt_value": "1"}, "extra_dhcp_opts"),       # not a list
])
def test_invalid_options_are_400_and_store_nothing(api: Api, net: dict, v4: dict,
                                                   opts: Any, fragment: str) -> None:
    port = api.port(net)
    for response in (api.post("ports", {"network_id": net["id"], "extra_dhcp_opts": opts}),
                     api.put("ports", port["id"], {"extra_dhcp_opts": opts})):
        assert_error(response, 400, "HTTPBadRequest", fragment)
    assert stored(api) == 0
    assert api.show("ports", port["id"])["revision_number"] == 1


def test_ip_version_is_converted_and_the_same_name_may_serve_both(api: Api, net: dict,
                                                                  v4: dict) -> None:
    port = api.port(net, extra_dhcp_opts=[opt("dns-server", "192.0.2.53", "4"),
                                          opt("dns-server", "2001:db8::53", "6")])
    assert port["extra_dhcp_opts"] == [opt("dns-server", "192.0.2.53", 4),
                                       opt("dns-server", "2001:db8::53", 6)]
    port = api.update("ports", port["id"], extra_dhcp_opts=[opt("dns-server", None, 6)])
    assert port["extra_dhcp_opts"] == [opt("dns-server", "192.0.2.53", 4)]


def test_bulk_create_stores_each_ports_options(api: Api, net: dict, v4: dict) -> None:
    response = api.client.post("/v2.0/ports", json={"ports": [
        {"network_id": net["id"], "extra_dhcp_opts": [opt("mtu", "1400")]},
        {"network_id": net["id"], "extra_dhcp_opts": [opt("mtu", "1300", 6)]}]})
    assert response.status_code == 201, response.text
    assert [p["extra_dhcp_opts"] for p in response.json()["ports"]] == [
        [opt("mtu", "1400", 4)], [opt("mtu", "1300", 6)]]
    assert stored(api) == 2
