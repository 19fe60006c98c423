"""neutron-lib's converters, as clients rely on them: what a body may spell
differently from JSON's own types (``"true"``, ``"yes"``, ``"4"``), and what is refused.

One table per kind of value; each row is sent through the REST API and read back.
"""
from __future__ import annotations

from typing import Any

from tests.api.conftest import Api, assert_error

#: oslo's ``bool_from_string(strict=True)``, which ``convert_to_boolean`` calls.
BOOLEANS: list[tuple[Any, bool]] = [
    (True, True), (False, False), (1, True), (0, False),
    ("true", True), ("True", True), ("t", True), ("yes", True), ("y", True), ("on", True),
    ("1", True), ("false", False), ("FALSE", False), ("f", False), ("no", False),
    ("n", False), ("off", False), ("0", False)]
NOT_BOOLEANS: list[Any] = ["maybe", "2", 2, "", None, [], {}]
#: ``convert_to_int``: numbers and numeric strings; then the attribute's own check.
INTEGERS: list[tuple[Any, int]] = [(1400, 1400), ("1400", 1400), ("  1400", 1400)]
NOT_INTEGERS: list[Any] = ["fourteen hundred", "", None, [1400], {"mtu": 1400}]


def test_booleans_convert_as_neutron_lib(api: Api) -> None:
    for sent, meant in BOOLEANS:
        net = api.create("networks", admin_state_up=sent)
        assert net["admin_state_up"] is meant, sent
        assert api.update("networks", net["id"], admin_state_up=not meant)[
            "admin_state_up"] is (not meant), sent
    before = api.rows()
    for sent in NOT_BOOLEANS:
        assert_error(api.post("networks", {"admin_state_up": sent}), 400, "HTTPBadRequest",
                     "admin_state_up")
    assert api.rows() == before


def test_integers_convert_as_neutron_lib(api: Api) -> None:
    for sent, meant in INTEGERS:
        assert api.create("networks", mtu=sent)["mtu"] == meant, sent
    before = api.rows()
    for sent in NOT_INTEGERS:
        assert_error(api.post("networks", {"mtu": sent}), 400, "HTTPBadRequest", "mtu")
    assert api.rows() == before


def test_ip_version_converts_to_an_integer_then_must_be_4_or_6(api: Api) -> None:
    net = api.create("networks")
    for sent, cidr in ((4, "10.0.1.0/24"), ("4", "10.0.2.0/24"), ("6", "fd00:1::/64")):
        sub = api.create("subnets", network_id=net["id"], cidr=cidr, ip_version=sent)
        assert sub["ip_version"] == int(sent), sent
    before = api.rows()
    for sent in ("5", 5, "four", None, "4.5"):
        assert_error(api.post("subnets", {"network_id": net["id"], "cidr": "10.0.9.0/24",
                                          "ip_version": sent}), 400, "HTTPBadRequest",
                     "ip_version")
    assert api.rows() == before


#: ``convert_none_to_empty_list``: ``null`` is the empty list.  Rows: (collection,
#: attribute, whether a create takes it; an update always does).
NONE_IS_EMPTY_LIST: list[tuple[str, str, bool]] = [
    ("ports", "security_groups", True), ("routers", "routes", False)]


def test_null_lists_convert_as_neutron_lib(api: Api) -> None:
    net = api.create("networks")
    parents = {"ports": {"network_id": net["id"]}, "routers": {}}
    for collection, attribute, on_create in NONE_IS_EMPTY_LIST:
        item = api.create(collection, **parents[collection])
        # Something to clear: a port starts in its project's default group.
        if collection == "ports":
            assert item[attribute], attribute
        assert api.update(collection, item["id"], **{attribute: None})[attribute] == []
        assert api.show(collection, item["id"])[attribute] == []
        if on_create:
            created = api.create(collection, **parents[collection], **{attribute: None})
            assert created[attribute] == [], attribute
