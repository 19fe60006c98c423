"""List requests: fields, filters, sorting, pagination with links; version documents."""
from __future__ import annotations

import functools
from urllib.parse import parse_qs, urlsplit

import pytest

from neutrino.api import listing
from neutrino.core.context import ADMIN
from neutrino.core.query import ListQuery
from tests.api.conftest import Api, assert_error


@pytest.fixture
def three(api: Api) -> list[dict]:
    """Networks b, a, c (created in that order), a and c administratively down."""
    return [api.network(name="b", project_id="p1"),
            api.network(name="a", project_id="p2", admin_state_up=False),
            api.network(name="c", project_id="p1", admin_state_up=False, shared=True)]


def names(items: list[dict]) -> list[str]:
    return [i["name"] for i in items]


# ------------------------------------------------------------------ fields


def test_fields_on_list_and_show(api: Api, three: list[dict]) -> None:
    items = api.list("networks", [("fields", "id"), ("fields", "name")])
    assert all(set(i) == {"id", "name"} for i in items) and len(items) == 3
    shown = api.show("networks", three[0]["id"], fields="status")
    assert shown == {"status": "ACTIVE"}


def test_fields_with_colon_attributes(api: Api, net: dict) -> None:
    api.port(net, **{"binding:host_id": "hv1"})
    (port,) = api.list("ports", [("fields", "binding:host_id"), ("fields", "binding:vif_type")])
    assert port == {"binding:host_id": "hv1", "binding:vif_type": "binding_failed"}


# ------------------------------------------------------------------ filters


def test_filter_by_attribute(api: Api, three: list[dict]) -> None:
    assert names(api.list("networks", {"name": "a"})) == ["a"]
    assert api.list("networks", {"name": "nope"}) == []


def test_repeated_keys_are_ored_and_different_keys_anded(api: Api, three: list[dict]) -> None:
    assert sorted(names(api.list("networks", [("name", "a"), ("name", "b")]))) == ["a", "b"]
    both = [("name", "a"), ("name", "b"), ("project_id", "p1")]
    assert names(api.list("networks", both)) == ["b"]


@pytest.mark.parametrize("word, expected", [("false", ["a", "c"]), ("False", ["a", "c"]),
                                            ("0", ["a", "c"]), ("true", ["b"]), ("True", ["b"]),
                                            ("1", ["b"])])
def test_boolean_filters(api: Api, three: list[dict], word: str, expected: list[str]) -> None:
    assert sorted(names(api.list("networks", {"admin_state_up": word}))) == expected


def test_tenant_id_filter_is_project_id(api: Api, three: list[dict]) -> None:
    assert sorted(names(api.list("networks", {"tenant_id": "p1"}))) == ["b", "c"]


def test_integer_filter(api: Api, three: list[dict]) -> None:
    api.update("networks", three[0]["id"], name="b2")
    assert names(api.list("networks", {"revision_number": 2})) == ["b2"]


def test_port_filters(api: Api, net: dict, v4: dict) -> None:
    other = api.network()
    a = api.port(net, device_id="vm1", fixed_ips=[{"ip_address": "10.0.0.5"}])
    b = api.port(net, device_id="vm2", **{"binding:host_id": "hv1"})
    c = api.port(other, device_id="vm1")
    assert sorted(api.ids("ports", {"device_id": "vm1"})) == sorted([a["id"], c["id"]])
    assert api.ids("ports", {"network_id": other["id"]}) == [c["id"]]
    assert api.ids("ports", {"binding:host_id": "hv1"}) == [b["id"]]
    assert api.ids("ports", {"mac_address": b["mac_address"]}) == [b["id"]]
    assert api.ids("ports", {"fixed_ips": "ip_address=10.0.0.5"}) == [a["id"]]
    assert sorted(api.ids("ports", {"fixed_ips": f"subnet_id={v4['id']}"})) == \
        sorted([a["id"], b["id"]])
    b_ip = b["fixed_ips"][0]["ip_address"]
    either = [("fixed_ips", "ip_address=10.0.0.5"), ("fixed_ips", f"ip_address={b_ip}")]
    assert sorted(api.ids("ports", either)) == sorted([a["id"], b["id"]])
    assert api.ids("ports", {"fixed_ips": "ip_address=10.0.0.5", "device_id": "vm2"}) == []


def test_fixed_ips_filters_by_part_of_an_address(api: Api, net: dict, v4: dict) -> None:
    """``ip-substring-filtering``, as Neutron's: ``fixed_ips=ip_address_substr=`` matches
    part of an address's text; values of one key are ORed, keys ANDed (an address of the
    port meeting each); ``%`` and ``_`` are plain characters."""
    v6 = api.subnet(net, "fd00::/64", ipv6_address_mode="dhcpv6-stateful",
                    ipv6_ra_mode="dhcpv6-stateful")
    a = api.port(net, fixed_ips=[{"ip_address": "10.0.0.15"}, {"ip_address": "fd00::15"}])
    b = api.port(net, fixed_ips=[{"ip_address": "10.0.0.150"}])
    c = api.port(net, fixed_ips=[{"ip_address": "10.0.0.25"}])

    def found(*filters: str) -> list[str]:
        return sorted(api.ids("ports", [("fixed_ips", f) for f in filters]))

    assert found("ip_address_substr=0.0.15") == sorted([a["id"], b["id"]])
    assert found("ip_address_substr=.150") == [b["id"]]
    assert found("ip_address_substr=fd00::") == [a["id"]]
    assert found("ip_address_substr=.150", "ip_address_substr=.25") == sorted([b["id"], c["id"]])
    assert found("ip_address_substr=.1", f"subnet_id={v6['id']}") == [a["id"]]
    assert found("ip_address_substr=5", "ip_address=10.0.0.25") == [c["id"]]
    assert found("ip_address=10.0.0.15", f"subnet_id={v6['id']}") == [a["id"]]
    assert found("ip_address=10.0.0.150", f"subnet_id={v6['id']}") == []
    assert found("ip_address_substr=%") == found("ip_address_substr=_") == []
    assert found("ip_address_substr=10.0.0.") == sorted([a["id"], b["id"], c["id"]])
    extensions = {e["alias"] for e in api.client.get("/v2.0/extensions").json()["extensions"]}
    assert "ip-substring-filtering" in extensions


def test_subnet_filters(api: Api, net: dict, v4: dict) -> None:
    v6 = api.subnet(net, "fd00::/64")
    assert api.ids("subnets", {"ip_version": 6}) == [v6["id"]]
    assert api.ids("subnets", {"cidr": "10.0.0.0/24"}) == [v4["id"]]
    assert sorted(api.ids("subnets", {"network_id": net["id"]})) == sorted([v4["id"], v6["id"]])
    assert api.ids("subnets", {"enable_dhcp": "false"}) == []


@pytest.mark.parametrize("query, error_type, fragment", [
    ({"bogus": "1"}, "BadRequest", "bogus"),
    ({"admin_state_up": "maybe"}, "InvalidInput", "maybe"),
    ({"mtu": "big"}, "InvalidInput", "mtu"),
    ({"mtu": "99999999999999999999999"}, "InvalidInput", "out of range"),  # was a 500
    ({"revision_number": "-9999999999"}, "InvalidInput", "out of range"),  # was a 500
    ({"created_at": "yesterday"}, "InvalidInput", "created_at"),           # was a 500 on PG
    ({"sort_key": "bogus"}, "BadRequest", "sort_key"),
    ({"sort_key": "name", "sort_dir": "up"}, "BadRequest", "sort_dir"),
    ([("sort_key", "name"), ("sort_key", "id"), ("sort_dir", "asc")], "BadRequest", "sort_dir"),
    ({"limit": "ten"}, "BadRequest", "limit"),
    ({"limit": "-1"}, "BadRequest", "limit"),
])
def test_bad_list_parameters(api: Api, three: list[dict], query: object, error_type: str,
                             fragment: str) -> None:
    assert_error(api.client.get("/v2.0/networks", params=query), 400, error_type, fragment)


@pytest.mark.parametrize("value", ["ip_address", "mac=1", "ip_address=",
                                   "ip_address_substr="])
def test_bad_fixed_ips_filter(api: Api, value: str) -> None:
    assert_error(api.client.get("/v2.0/ports", params={"fixed_ips": value}), 400, "BadRequest",
                 "fixed_ips")


def test_timestamp_filter(api: Api, three: list[dict]) -> None:
    assert api.list("networks", {"created_at": "2001-01-01T00:00:00Z"}) == []


# ------------------------------------------------------------------ sorting


def test_sort_by_name(api: Api, three: list[dict]) -> None:
    assert names(api.list("networks", {"sort_key": "name"})) == ["a", "b", "c"]
    assert names(api.list("networks", {"sort_key": "name", "sort_dir": "desc"})) == ["c", "b", "a"]


def test_sort_by_several_keys(api: Api, three: list[dict]) -> None:
    query = [("sort_key", "admin_state_up"), ("sort_dir", "asc"),
             ("sort_key", "name"), ("sort_dir", "desc")]
    assert names(api.list("networks", query)) == ["c", "a", "b"]


def test_sort_ties_are_broken_by_id(api: Api) -> None:
    nets = [api.network(name="same") for _ in range(5)]
    assert api.ids("networks", {"sort_key": "name"}) == sorted(n["id"] for n in nets)


# ------------------------------------------------------------------ pagination


def _link(body: dict, collection: str, rel: str) -> str | None:
    return next((link["href"] for link in body.get(f"{collection}_links", [])
                 if link["rel"] == rel), None)


def _walk(api: Api, url: str, rel: str) -> list[list[str]]:
    """Pages reached from *url* by following *rel* links."""
    pages = []
    while url:
        body = api.client.get(url).json()
        pages.append(names(body["networks"]))
        url = _link(body, "networks", rel)
        assert len(pages) < 20
    return pages


@pytest.fixture
def seven(api: Api) -> list[str]:
    letters = list("gcaefdb")
    for letter in letters:
        api.network(name=letter)
    return sorted(letters)


def test_limit_and_next_links_cover_everything_once(api: Api, seven: list[str]) -> None:
    pages = _walk(api, "/v2.0/networks?limit=3&sort_key=name", "next")
    assert pages == [["a", "b", "c"], ["d", "e", "f"], ["g"]]


def test_next_links_keep_the_query(api: Api, seven: list[str]) -> None:
    body = api.client.get("/v2.0/networks", params={"limit": 2, "sort_key": "name",
                                                    "sort_dir": "desc", "fields": "name"}).json()
    query = parse_qs(urlsplit(_link(body, "networks", "next")).query)
    assert query["limit"] == ["2"] and query["sort_dir"] == ["desc"]
    assert query["fields"] == ["name"] and "marker" in query
    pages = _walk(api, "/v2.0/networks?limit=2&sort_key=name&sort_dir=desc", "next")
    assert pages == [["g", "f"], ["e", "d"], ["c", "b"], ["a"]]


def test_links_as_neutron_gives_them(api: Api, seven: list[str]) -> None:
    """A full page links onwards even when it is the last; a short one does not; a
    forward page always links back (the first one to an empty page)."""
    first = api.client.get("/v2.0/networks?limit=4&sort_key=name").json()
    assert names(api.client.get(_link(first, "networks", "previous")).json()["networks"]) == []
    last = api.client.get(_link(first, "networks", "next")).json()
    assert names(last["networks"]) == ["e", "f", "g"]
    assert _link(last, "networks", "next") is None
    back = api.client.get(_link(last, "networks", "previous")).json()
    assert names(back["networks"]) == ["a", "b", "c", "d"]

    full_last = api.client.get("/v2.0/networks?limit=7&sort_key=name").json()
    beyond = api.client.get(_link(full_last, "networks", "next")).json()
    assert beyond["networks"] == [] and _link(beyond, "networks", "next") is None
    again = api.client.get(_link(beyond, "networks", "previous")).json()
    assert names(again["networks"]) == seven


def test_page_reverse(api: Api, seven: list[str]) -> None:
    """Without a marker, page_reverse gives the last page; previous links walk backwards."""
    pages = _walk(api, "/v2.0/networks?limit=3&sort_key=name&page_reverse=True", "previous")
    assert pages == [["e", "f", "g"], ["b", "c", "d"], ["a"]]


def test_marker_of_a_page(api: Api, seven: list[str]) -> None:
    ids = api.ids("networks", {"sort_key": "name"})
    page = api.list("networks", {"sort_key": "name", "limit": 2, "marker": ids[2]})
    assert names(page) == ["d", "e"]


def test_page_reverse_must_be_a_boolean(api: Api, seven: list[str]) -> None:
    assert_error(api.client.get("/v2.0/networks?limit=2&page_reverse=sideways"), 400,
                 "BadRequest", "page_reverse")
    assert len(api.list("networks", {"limit": 2, "page_reverse": "no"})) == 2


def test_no_links_without_limit(api: Api, seven: list[str]) -> None:
    body = api.client.get("/v2.0/networks").json()
    assert "networks_links" not in body and len(body["networks"]) == 7


def test_huge_limit_means_everything(api: Api, seven: list[str]) -> None:
    """Regression: a limit beyond 64 bits was a 500 on both databases."""
    assert len(api.list("networks", {"limit": "9" * 30})) == 7


def test_pagination_max_limit_caps_pages(make_api) -> None:
    api = make_api(pagination_max_limit=2)
    for name in "abc":
        api.network(name=name)
    body = api.client.get("/v2.0/networks?sort_key=name").json()
    assert names(body["networks"]) == ["a", "b"] and _link(body, "networks", "next")


# ------------------------------------------------------------------ long lists, in batches


@pytest.fixture
def small_batches(monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(listing, "BATCH", 3)
    return 3


def test_long_list_is_sent_in_batches_and_equals_the_pages(api: Api, seven: list[str],
                                                           small_batches: int) -> None:
    response = api.client.get("/v2.0/networks", params={"fields": ["id", "name"]})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert "content-length" not in response.headers  # streamed: 7 items, batches of 3
    items = response.json()["networks"]
    ids = [i["id"] for i in items]
    assert ids == sorted(ids) and len(set(ids)) == 7 and sorted(names(items)) == seven
    assert all(set(i) == {"id", "name"} for i in items)
    assert set(response.json()) == {"networks"}


def test_short_list_is_one_body(api: Api, three: list[dict], small_batches: int) -> None:
    response = api.client.get("/v2.0/networks")
    assert int(response.headers["content-length"]) == len(response.content)
    assert len(response.json()["networks"]) == 3


@pytest.mark.parametrize("limit", [4, 6, 7])
def test_a_page_longer_than_a_batch_has_the_links_of_that_page(api: Api, seven: list[str],
                                                               small_batches: int,
                                                               limit: int) -> None:
    all_ids = api.ids("networks")
    body = api.client.get("/v2.0/networks", params={"limit": limit}).json()
    assert [n["id"] for n in body["networks"]] == all_ids[:limit]
    following = _link(body, "networks", "next")
    assert parse_qs(urlsplit(following).query)["marker"] == [all_ids[limit - 1]]
    rest = api.client.get(following).json()["networks"]
    assert [n["id"] for n in rest] == all_ids[limit:]


def test_descending_ids_in_batches(api: Api, seven: list[str], small_batches: int) -> None:
    ids = api.ids("networks", {"sort_key": "id", "sort_dir": "desc"})
    assert ids == sorted(ids, reverse=True) and len(ids) == 7


def test_ports_in_batches_carry_their_addresses(api: Api, net: dict, small_batches: int) -> None:
    made = {p["id"]: p["fixed_ips"] for p in (api.port(net) for _ in range(5))}
    listed = {p["id"]: p["fixed_ips"] for p in api.list("ports")}
    assert listed == made and all(len(ips) == 1 for ips in listed.values())


def test_item_deleted_between_batches(api: Api, seven: list[str], small_batches: int) -> None:
    """The next batch starts after the last id read, even once that item is gone
    (it used to start over from the first item, repeating the first batch)."""
    all_ids = api.ids("networks")
    batches = listing.Batches(functools.partial(api.plugin.list_networks, ADMIN), ListQuery())
    read = []
    for batch in batches:
        read += [n["id"] for n in batch]
        if len(read) == 3:
            assert api.delete("networks", read[-1]).status_code == 204
            assert api.delete("networks", all_ids[4]).status_code == 204
    assert read == all_ids[:4] + all_ids[5:]
    assert batches.more is False and batches.ends[0]["id"] == all_ids[0]


def test_marker_of_a_deleted_item_in_id_order(api: Api, seven: list[str]) -> None:
    ids = api.ids("networks")
    assert api.delete("networks", ids[2]).status_code == 204
    assert api.ids("networks", {"marker": ids[2], "limit": 2}) == ids[3:5]


# ------------------------------------------------------------------ discovery


def test_version_document_at_root(api: Api) -> None:
    body = api.client.get("/").json()
    (version,) = body["versions"]
    assert version["id"] == "v2.0" and version["status"] == "CURRENT"
    assert version["links"] == [{"href": "http://testserver/v2.0/", "rel": "self"}]


@pytest.mark.parametrize("path", ["/v2.0", "/v2.0/"])
def test_resources_document(api: Api, path: str) -> None:
    resources = {r["collection"]: r for r in api.client.get(path).json()["resources"]}
    assert {"networks", "subnets", "ports", "security-groups", "security-group-rules",
            "agents", "network-ip-availabilities"} <= set(resources)
    assert resources["ports"]["name"] == "port"
    assert resources["ports"]["links"] == [{"href": "http://testserver/v2.0/ports", "rel": "self"}]


def test_extensions_clients_look_for(api: Api) -> None:
    aliases = {e["alias"] for e in api.client.get("/v2.0/extensions").json()["extensions"]}
    assert {"binding", "provider", "multi-provider", "net-mtu", "standard-attr-revisions",
            "standard-attr-timestamp", "revision-if-match", "pagination", "sorting",
            "filter-validation", "project-id", "security-group", "stateful-security-group",
            "port-security", "allowed-address-pairs", "agent", "network-ip-availability",
            "network-ip-availability-details", "empty-string-filtering",
            "port-mac-address-regenerate"} <= aliases


def test_extension_shown_by_alias(api: Api) -> None:
    shown = api.client.get("/v2.0/extensions/net-mtu")
    assert shown.status_code == 200
    assert shown.json()["extension"]["alias"] == "net-mtu"
    missing = api.client.get("/v2.0/extensions/qos")
    assert missing.status_code == 404
    assert missing.json()["NeutronError"]["type"] == "HTTPNotFound"


def test_body_without_content_type_is_json(api: Api) -> None:
    """As Neutron reads it; tempest's clients send updates without Content-Type."""
    created = api.client.post("/v2.0/networks", content=b'{"network": {"name": "a"}}',
                              headers={"Content-Type": ""})
    assert created.status_code == 201, created.text


# ------------------------------------------------------------------ regressions and extras


def test_pages_sorted_by_a_boolean(api: Api, three: list[dict]) -> None:
    """Regression: the marker of a page sorted by a boolean was a 500."""
    api.network(name="d")
    pages = _walk(api, "/v2.0/networks?limit=1&sort_key=admin_state_up&sort_key=name"
                       "&sort_dir=desc&sort_dir=asc", "next")
    assert pages == [["b"], ["d"], ["a"], ["c"], []]  # the last page is full: one more


def test_pages_sorted_by_a_nullable_attribute(api: Api) -> None:
    """Regression: a NULL gateway_ip as marker value was a 500; NULL sorts as ''."""
    network = api.network()
    for i, gateway in enumerate([None, "10.0.1.1", None, "10.0.3.1"]):
        api.subnet(network, f"10.0.{i}.0/24", name=str(i), gateway_ip=gateway)
    seen = []
    url = "/v2.0/subnets?limit=1&sort_key=gateway_ip"
    while url:
        body = api.client.get(url).json()
        seen += [(s["gateway_ip"], s["name"]) for s in body["subnets"]]
        url = _link(body, "subnets", "next")
    assert sorted(name for _, name in seen) == ["0", "1", "2", "3"]
    assert [gw for gw, _ in seen] == [None, None, "10.0.1.1", "10.0.3.1"]


def test_provider_filters(api: Api) -> None:
    """`openstack network list --provider-*` filters; several match on one segment."""
    vlan = api.network(**{"provider:network_type": "vlan", "provider:physical_network": "physnet1",
                          "provider:segmentation_id": 101})
    multi = api.network(segments=[
        {"provider:network_type": "flat", "provider:physical_network": "physnet1"},
        {"provider:network_type": "vlan", "provider:physical_network": "physnet2",
         "provider:segmentation_id": 7}])
    tenant = api.network()
    assert sorted(api.ids("networks", {"provider:network_type": "vlan"})) == \
        sorted([vlan["id"], multi["id"]])
    assert api.ids("networks", {"provider:segmentation_id": 101}) == [vlan["id"]]
    assert api.ids("networks", {"provider:network_type": "geneve"}) == [tenant["id"]]
    # physnet1 and VLAN 7 are on different segments of `multi`.
    assert api.ids("networks", {"provider:physical_network": "physnet1",
                                "provider:segmentation_id": 7}) == []
    assert sorted(api.ids("networks", {"provider:physical_network": "physnet1"})) == \
        sorted([vlan["id"], multi["id"]])
    assert_error(api.client.get("/v2.0/networks", params={"provider:segmentation_id": "x"}),
                 400, "InvalidInput", "provider:segmentation_id")


def test_filters_on_fixed_attributes(api: Api, three: list[dict]) -> None:
    """`openstack network list --internal/--external` filter on router:external."""
    assert len(api.list("networks", {"router:external": "False"})) == 3
    assert api.list("networks", {"router:external": "True"}) == []
    assert len(api.list("networks", {"port_security_enabled": "true", "is_default": "false"})) == 3


def test_an_empty_value_filters_on_the_empty_string(api: Api, net: dict) -> None:
    """empty-string-filtering: ``?device_id=`` matches ports without a device (Neutron
    without the extension would ignore it); an empty value of a number or a boolean is
    refused as any other value that is not one."""
    vm = api.port(net, device_id="vm1")
    free = api.port(net)
    assert api.ids("ports", {"device_id": ""}) == [free["id"]]
    assert sorted(api.ids("ports", [("device_id", ""), ("device_id", "vm1")])) == \
        sorted([vm["id"], free["id"]])
    assert api.ids("networks", {"name": ""}) == []
    unnamed = api.network()
    assert api.ids("networks", {"name": ""}) == [unnamed["id"]]
    for params in ({"mtu": ""}, {"admin_state_up": ""}):
        assert_error(api.client.get("/v2.0/networks", params=params), 400, "InvalidInput")
