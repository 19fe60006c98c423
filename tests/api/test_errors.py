"""Every client mistake is a 4xx with a Neutron error body, and writes nothing.

"Bad input gets a clear error and loses nothing" (docs/behaviour.md, Principles).
"""
from __future__ import annotations

import json

import pytest

from tests.api.conftest import Api, assert_error

JSON = {"content-type": "application/json"}


def raw_post(api: Api, collection: str, body: bytes, headers: dict | None = None):
    return api.client.post(f"/v2.0/{collection}", content=body, headers=headers or JSON)


# ------------------------------------------------------------------ 400: the body


@pytest.mark.parametrize("body", [b"{bad", b'{"network": {"name": "a",}}', b"", b"\xff\xfe",
                                  b'{"network": {"name": "a"}} trailing'])
def test_malformed_json(api: Api, body: bytes) -> None:
    before = api.rows()
    assert_error(raw_post(api, "networks", body), 400, "HTTPBadRequest")
    assert api.rows() == before


@pytest.mark.parametrize("body", [b"[]", b"null", b'"network"', b"42",
                                  b'[{"network": {}}]'])
def test_body_that_is_not_an_object(api: Api, body: bytes) -> None:
    assert_error(raw_post(api, "networks", body), 400, "HTTPBadRequest")
    assert api.rows()["networks"] == 0


@pytest.mark.parametrize("body", [{}, {"port": {"name": "x"}}])
def test_missing_resource_key(api: Api, body: dict) -> None:
    response = api.client.post("/v2.0/networks", json=body)
    assert_error(response, 400, "HTTPBadRequest", "Resource body required", "'network'")


def test_resource_value_that_is_not_an_object(api: Api) -> None:
    assert_error(api.client.post("/v2.0/networks", json={"network": [1]}), 400,
                 "HTTPBadRequest", "network")


def test_missing_required_attribute(api: Api) -> None:
    assert_error(api.post("subnets", {"cidr": "10.0.0.0/24"}), 400, "HTTPBadRequest",
                 "'network_id'")
    assert_error(api.post("ports", {}), 400, "HTTPBadRequest", "'network_id'")


@pytest.mark.parametrize("collection, attrs, attribute", [
    ("networks", {"name": 5}, "name"),
    ("networks", {"name": "x" * 256}, "name"),
    ("networks", {"admin_state_up": "maybe"}, "admin_state_up"),
    ("networks", {"shared": [True]}, "shared"),
    ("networks", {"mtu": "big"}, "mtu"),
    ("networks", {"mtu": -1}, "mtu"),
    ("networks", {"provider:network_type": "vxlan"}, "provider:network_type"),
    ("networks", {"provider:network_type": "vlan", "provider:segmentation_id": "x"},
     "provider:segmentation_id"),
    ("networks", {"segments": []}, "segments"),
    ("networks", {"segments": [{"provider:physical_network": "physnet1"}]},
     "provider:network_type"),
    ("subnets", {"network_id": 7, "cidr": "10.0.0.0/24"}, "network_id"),
    ("subnets", {"network_id": "n", "cidr": "10.0.0.0/24", "ip_version": 5}, "ip_version"),
    ("subnets", {"network_id": "n", "cidr": "10.0.0.0/24", "enable_dhcp": "sometimes"},
     "enable_dhcp"),
    ("subnets", {"network_id": "n", "cidr": "10.0.0.0/24", "dns_nameservers": "8.8.8.8"},
     "dns_nameservers"),
    ("subnets", {"network_id": "n", "cidr": "10.0.0.0/24",
                 "allocation_pools": [{"start": "10.0.0.2"}]},
     "allocation_pools"),
    ("ports", {"network_id": "n", "fixed_ips": {"ip_address": "10.0.0.2"}}, "fixed_ips"),
    ("ports", {"network_id": "n", "device_id": ["vm"]}, "device_id"),
    ("ports", {"network_id": "n", "binding:host_id": 3}, "binding:host_id"),
])
def test_wrong_type_or_value_names_the_attribute(api: Api, collection: str, attrs: dict,
                                                 attribute: str) -> None:
    before = api.rows()
    message = assert_error(api.post(collection, attrs), 400, "HTTPBadRequest")
    assert f"'{attribute}'" in message or f"for {attribute}." in message, message
    assert api.rows() == before


@pytest.mark.parametrize("collection, attrs", [
    ("networks", {"name": "a", "colour": "red"}),
    ("networks", {"provider:foo": 1}),
    ("subnets", {"network_id": "n", "cidr": "10.0.0.0/24", "colour": "red"}),
    ("ports", {"network_id": "n", "colour": "red"}),
    ("ports", {"network_id": "n", "fixed_ips": [{"subnet_id": "s", "colour": "red"}]}),
])
def test_unknown_attribute(api: Api, collection: str, attrs: dict) -> None:
    assert_error(api.post(collection, attrs), 400, "HTTPBadRequest", "Unrecognized attribute",
                 "colour" if "colour" in json.dumps(attrs) else "provider:foo")


def test_unknown_attribute_on_update(api: Api, net: dict) -> None:
    assert_error(api.put("networks", net["id"], {"colour": "red"}), 400, "HTTPBadRequest",
                 "Unrecognized attribute", "colour")
    assert api.show("networks", net["id"]) == net


@pytest.mark.parametrize("collection, attrs", [
    ("networks", {"status": "DOWN"}),
    ("networks", {"name": "renamed", "id": "00000000-0000-0000-0000-000000000000"}),
    ("subnets", {"cidr": "10.9.0.0/24"}),
    ("ports", {"network_id": "00000000-0000-0000-0000-000000000000"}),
    ("ports", {"project_id": "other"}),
])
def test_read_only_attribute_on_update(api: Api, net: dict, v4: dict, collection: str,
                                       attrs: dict) -> None:
    """An attribute the resource has but an update does not take: Neutron's own message,
    not "unrecognized", and nothing changed."""
    item = {"networks": net, "subnets": v4}.get(collection) or api.port(net)
    before = api.rows()
    read_only = next(a for a in attrs if a != "name")
    assert_error(api.put(collection, item["id"], attrs), 400, "HTTPBadRequest",
                 f"Cannot update read-only attribute {read_only}")
    assert api.show(collection, item["id"]) == item
    assert api.rows() == before


@pytest.mark.parametrize("cidr", ["10.0.0.0/33", "300.0.0.0/8", "not-a-cidr", "fd00::/129", ""])
def test_invalid_cidr(api: Api, net: dict, cidr: str) -> None:
    before = api.rows()
    assert_error(api.post("subnets", {"network_id": net["id"], "cidr": cidr}), 400,
                 "HTTPBadRequest", "cidr")
    assert api.rows() == before


@pytest.mark.parametrize("attrs, attribute", [
    ({"gateway_ip": "10.0.0.256"}, "gateway_ip"),
    ({"dns_nameservers": ["dns.example.com"]}, "dns_nameservers"),
    ({"allocation_pools": [{"start": "10.0.0.2", "end": "x"}]}, "allocation_pools"),
    ({"host_routes": [{"destination": "10.1.0.0/16", "nexthop": "gateway"}]}, "host_routes"),
])
def test_invalid_ip_in_subnet(api: Api, net: dict, attrs: dict, attribute: str) -> None:
    response = api.post("subnets", {"network_id": net["id"], "cidr": "10.1.0.0/24", **attrs})
    assert_error(response, 400, "HTTPBadRequest", attribute)


@pytest.mark.parametrize("ip", ["10.0.0.300", "10.0.0", "ten"])
def test_invalid_ip_in_fixed_ips(api: Api, net: dict, ip: str) -> None:
    before = api.rows()
    response = api.post("ports", {"network_id": net["id"], "fixed_ips": [{"ip_address": ip}]})
    assert_error(response, 400, "HTTPBadRequest", "fixed_ips", ip)
    assert api.rows() == before


@pytest.mark.parametrize("segment, fragment", [
    ({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
      "provider:segmentation_id": 0}, "1 through 4094"),
    ({"provider:network_type": "vlan", "provider:physical_network": "physnet1",
      "provider:segmentation_id": 4095}, "1 through 4094"),
    ({"provider:network_type": "geneve", "provider:segmentation_id": 2**24},
     "1 through 16777215"),
    ({"provider:network_type": "geneve", "provider:segmentation_id": 0}, "1 through 16777215"),
    ({"provider:network_type": "vlan"}, "physical_network required"),
    ({"provider:network_type": "vlan", "provider:physical_network": "unknown-net",
      "provider:segmentation_id": 5}, "unknown-net"),
    ({"provider:network_type": "flat"}, "physical_network required"),
    ({"provider:network_type": "flat", "provider:physical_network": "physnet1",
      "provider:segmentation_id": 5}, "segmentation_id prohibited"),
    ({"provider:network_type": "local", "provider:segmentation_id": 5}, "prohibited"),
    ({"provider:network_type": "geneve", "provider:physical_network": "physnet1"}, "prohibited"),
])
def test_invalid_provider_segment(api: Api, segment: dict, fragment: str) -> None:
    before = api.rows()
    assert_error(api.post("networks", segment), 400, "InvalidInput", fragment)
    assert_error(api.post("networks", {"segments": [segment]}), 400, "InvalidInput", fragment)
    assert api.rows() == before


def test_segmentation_id_beyond_any_integer(api: Api) -> None:
    response = api.post("networks", {"provider:network_type": "geneve",
                                     "provider:segmentation_id": 2**63})
    assert_error(response, 400, "HTTPBadRequest", "provider:segmentation_id")


def test_physical_network_name_too_long(api: Api) -> None:
    """Regression: a 65+ character flat physnet was a 500 on PostgreSQL."""
    response = api.post("networks", {"provider:network_type": "flat",
                                     "provider:physical_network": "p" * 65})
    assert_error(response, 400, "HTTPBadRequest", "provider:physical_network")
    assert api.rows()["networks"] == 0


@pytest.mark.parametrize("collection, attrs, attribute", [
    ("networks", {"name": "a\x00b"}, "name"),
    ("networks", {"description": "\x00"}, "description"),
    ("ports", {"network_id": "n", "binding:profile": {"k": "v\x00"}}, "binding:profile"),
    ("ports", {"network_id": "n", "binding:profile": {"k\x00": "v"}}, "binding:profile"),
])
def test_nul_characters_are_refused(api: Api, collection: str, attrs: dict,
                                    attribute: str) -> None:
    """Regression: PostgreSQL cannot store NUL; this was a 500."""
    assert_error(api.post(collection, attrs), 400, "HTTPBadRequest", attribute, "NUL")
    assert api.rows()["networks"] == 0


@pytest.mark.parametrize("parent_id", ["\x00", "a\ud800"])
def test_unstorable_parent_id_beside_a_restricted_attribute(api: Api, parent_id: str) -> None:
    """Regression (the fuzz test): an invalid bulk body naming an attribute with rules of
    its own is judged by policy before validation, which looked the NUL id's network up
    and was a 500 on PostgreSQL.  Validation answers instead."""
    body = {"ports": [{"network_id": parent_id},
                      {"network_id": "0", "allowed_address_pairs": []}]}
    assert_error(raw_post(api, "ports", json.dumps(body).encode()), 400, "HTTPBadRequest")
    assert api.rows()["ports"] == 0


@pytest.mark.parametrize("number", [b"NaN", b"Infinity", b"-Infinity"])
def test_non_finite_numbers_are_refused(api: Api, net: dict, number: bytes) -> None:
    """Regression: the port was written, then could not be rendered (500)."""
    before, ips = api.rows(), api.allocations()
    body = b'{"port": {"network_id": "%s", "binding:profile": {"x": %s}}}' % (
        net["id"].encode(), number)
    assert_error(raw_post(api, "ports", body), 400, "HTTPBadRequest", "binding:profile")
    assert api.rows() == before and api.allocations() == ips


@pytest.mark.parametrize("profile", [b'{"\\udc80": 1}', b'{"k": "\\ud800"}',
                                     b'{"k": ["x\\ud800y"]}'])
def test_lone_surrogates_are_refused(api: Api, net: dict, profile: bytes) -> None:
    """Regression: the port was written, then neither it nor any port list could be
    rendered (500 on every later GET /v2.0/ports)."""
    before = api.rows()
    body = b'{"port": {"network_id": "%s", "binding:profile": %s}}' % (net["id"].encode(), profile)
    assert_error(raw_post(api, "ports", body), 400, "HTTPBadRequest", "binding:profile",
                 "Unicode")
    assert api.rows() == before
    assert api.list("ports") == []


def test_deeply_nested_profile_is_refused(api: Api, net: dict) -> None:
    deep: dict = {}
    for _ in range(40):
        deep = {"k": deep}
    assert_error(api.post("ports", {"network_id": net["id"], "binding:profile": deep}), 400,
                 "HTTPBadRequest", "binding:profile", "nest")
    shallow = {"a": {"b": {"c": [1, {"d": "e"}]}}}
    assert api.port(net, **{"binding:profile": shallow})["binding:profile"] == shallow


@pytest.mark.parametrize("url", ["/v2.0/networks/a%00b", "/v2.0/ports?name=%00",
                                 "/v2.0/ports?fixed_ips=ip_address%3D%00"])
def test_nul_in_the_url(api: Api, url: str) -> None:
    assert_error(api.client.get(url), 400, "HTTPBadRequest", "NUL")


def test_non_json_content_type(api: Api) -> None:
    response = api.client.post("/v2.0/networks", content=b"name=a",
                               headers={"content-type": "application/x-www-form-urlencoded"})
    assert response.status_code in (400, 415)
    assert "NeutronError" in response.json()
    assert api.rows()["networks"] == 0


# ------------------------------------------------------------------ 404


@pytest.mark.parametrize("collection, error_type", [("networks", "NetworkNotFound"),
                                                    ("subnets", "SubnetNotFound"),
                                                    ("ports", "PortNotFound")])
def test_missing_resource(api: Api, collection: str, error_type: str) -> None:
    missing = "00000000-0000-0000-0000-000000000000"
    assert_error(api.client.get(f"/v2.0/{collection}/{missing}"), 404, error_type, missing)
    assert_error(api.put(collection, missing, {"name": "x"}), 404, error_type, missing)
    assert_error(api.delete(collection, missing), 404, error_type, missing)


def test_unknown_path_and_method(api: Api) -> None:
    assert_error(api.client.get("/v2.0/trunks"), 404, "HTTPNotFound")
    assert_error(api.client.patch("/v2.0/networks"), 405, "HTTPMethodNotAllowed")


# ------------------------------------------------------------------ 409: allocation


def test_failed_port_creates_leave_nothing_behind(api: Api, net: dict, v4: dict) -> None:
    """MacAddressInUse, IpAddressAlreadyAllocated, IpAddressGenerationFailure: all-or-nothing."""
    taken = api.port(net, mac_address="fa:16:3e:00:00:01",
                     fixed_ips=[{"ip_address": "10.0.0.2"}])
    before, ips = api.rows(), api.allocations()
    # The IP would be free, the MAC is taken: neither the IP nor the port may be kept.
    assert_error(api.post("ports", {"network_id": net["id"], "mac_address": taken["mac_address"],
                                    "fixed_ips": [{"ip_address": "10.0.0.3"}]}),
                 409, "MacAddressInUse")
    assert_error(api.post("ports", {"network_id": net["id"], "fixed_ips": [
        {"ip_address": "10.0.0.4"}, {"ip_address": "10.0.0.2"}]}), 409, "IpAddressAlreadyAllocated")
    small = api.subnet(net, "10.0.1.0/30")  # one address: .2
    api.port(net, fixed_ips=[{"subnet_id": small["id"]}])
    before, ips = api.rows(), api.allocations()
    assert_error(api.post("ports", {"network_id": net["id"], "fixed_ips": [
        {"ip_address": "10.0.0.5"}, {"subnet_id": small["id"]}]}),
        409, "IpAddressGenerationFailure")
    assert api.rows() == before and api.allocations() == ips


# ------------------------------------------------------------------ 412: If-Match


@pytest.mark.parametrize("collection, attrs", [("networks", {"name": "x"}),
                                               ("subnets", {"name": "x"}),
                                               ("ports", {"name": "x"})])
def test_if_match_revision(api: Api, net: dict, v4: dict, collection: str, attrs: dict) -> None:
    item = {"networks": net, "subnets": v4, "ports": None}[collection] or api.port(net)
    current = api.show(collection, item["id"])
    stale = {"If-Match": f"revision_number={current['revision_number'] + 1}"}
    assert_error(api.put(collection, item["id"], attrs, headers=stale), 412, "PreconditionFailed",
                 item["id"])
    assert api.show(collection, item["id"]) == current
    assert_error(api.delete(collection, item["id"], headers=stale), 412, "PreconditionFailed")
    good = {"If-Match": f"revision_number={current['revision_number']}"}
    updated = api.put(collection, item["id"], attrs, headers=good).json()[collection[:-1]]
    assert updated["revision_number"] == current["revision_number"] + 1
    # The old revision is stale now.
    assert_error(api.put(collection, item["id"], {"name": "y"}, headers=good), 412,
                 "PreconditionFailed")
    if collection == "ports":
        fresh = {"If-Match": f"revision_number={updated['revision_number']}"}
        assert api.delete(collection, item["id"], headers=fresh).status_code == 204


@pytest.mark.parametrize("header", ["garbage", "revision_number=", "revision_number=-1",
                                    "revision_number=1.5", "etag-ish"])
def test_malformed_if_match(api: Api, net: dict, header: str) -> None:
    assert_error(api.put("networks", net["id"], {"name": "x"}, headers={"If-Match": header}),
                 400, "BadRequest", "If-Match")
    assert api.show("networks", net["id"]) == net


# ------------------------------------------------------------------ 413


def test_oversize_body_with_content_length(make_api) -> None:
    api = make_api(max_request_body_size=1000)
    body = json.dumps({"network": {"name": "a", "description": "x" * 2000}}).encode()
    assert_error(raw_post(api, "networks", body), 413, "HTTPRequestEntityTooLarge", "1000")
    assert api.rows()["networks"] == 0
    assert api.network(name="small")["name"] == "small"


def test_oversize_chunked_body(make_api) -> None:
    """A body without Content-Length is counted as it arrives."""
    api = make_api(max_request_body_size=1000)

    def chunks():
        yield b'{"network": {"name": "a", "description": "'
        for _ in range(20):
            yield b"x" * 100
        yield b'"}}'

    response = api.client.post("/v2.0/networks", content=chunks(), headers=JSON)
    assert "content-length" not in {k.lower() for k in response.request.headers}
    assert_error(response, 413, "HTTPRequestEntityTooLarge")
    assert api.rows()["networks"] == 0


def test_default_body_limit_is_one_mebibyte(api: Api) -> None:
    body = b'{"network": {"name": "' + b"x" * (1 << 20) + b'"}}'
    assert_error(raw_post(api, "networks", body), 413, "HTTPRequestEntityTooLarge")
