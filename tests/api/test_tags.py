"""The ``standard-attr-tag`` API (and ``tag-creation``) on networks, subnets and ports.

Every endpoint, its errors, the four list filters, revisions and ``If-Match``,
tags going with their resource, on both databases.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, update

from neutrino.api import listing
from neutrino.db.models import Base, Tag
from tests.api.conftest import Api, assert_error

COLLECTIONS = ("networks", "subnets", "ports")
NOT_FOUND = {"networks": "NetworkNotFound", "subnets": "SubnetNotFound", "ports": "PortNotFound"}
MISSING = "00000000-0000-0000-0000-000000000000"


@pytest.fixture
def make(api: Api, net: dict) -> Callable[..., dict]:
    """A new resource of a collection (subnets and ports on *net*), with *attrs*."""
    cidrs = iter(f"10.{i}.0.0/24" for i in range(1, 200))

    def new(collection: str, **attrs: Any) -> dict:
        if collection == "networks":
            return api.network(**attrs)
        if collection == "subnets":
            return api.subnet(net, next(cidrs), **attrs)
        return api.port(net, **attrs)
    return new


def tag_rows(api: Api) -> set[tuple[str, str, str]]:
    with api.plugin.db.read() as session:
        return set(session.execute(select(Tag.resource_type, Tag.resource_id, Tag.tag)))


def url(collection: str, item_id: str, tag: str | None = None) -> str:
    return f"/v2.0/{collection}/{item_id}/tags" + (f"/{tag}" if tag is not None else "")


# ------------------------------------------------------------------ the endpoints


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_every_endpoint(api: Api, make: Callable[..., dict], collection: str) -> None:
    item = make(collection)
    assert item["tags"] == []
    c = api.client
    assert c.get(url(collection, item["id"])).json() == {"tags": []}

    added = c.put(url(collection, item["id"], "red"))
    assert added.status_code == 201 and added.content == b""
    assert c.put(url(collection, item["id"], "blue")).status_code == 201
    assert c.put(url(collection, item["id"], "red")).status_code == 201  # idempotent
    assert c.get(url(collection, item["id"])).json() == {"tags": ["blue", "red"]}
    assert api.show(collection, item["id"])["tags"] == ["blue", "red"]
    assert api.show(collection, item["id"], fields="tags") == {"tags": ["blue", "red"]}
    (listed,) = [i for i in api.list(collection) if i["id"] == item["id"]]
    assert listed["tags"] == ["blue", "red"]

    present = c.get(url(collection, item["id"], "red"))
    assert present.status_code == 204 and present.content == b""
    assert_error(c.get(url(collection, item["id"], "green")), 404, "TagNotFound", "green")

    replaced = c.put(url(collection, item["id"]), json={"tags": ["x", "a b", "ü,/?"]})
    assert replaced.status_code == 200 and replaced.json() == {"tags": ["a b", "x", "ü,/?"]}
    assert api.show(collection, item["id"])["tags"] == ["a b", "x", "ü,/?"]

    assert c.delete(url(collection, item["id"], "x")).status_code == 204
    assert_error(c.delete(url(collection, item["id"], "x")), 404, "TagNotFound", "x")
    assert c.get(url(collection, item["id"])).json() == {"tags": ["a b", "ü,/?"]}

    assert c.delete(url(collection, item["id"])).status_code == 204
    assert c.get(url(collection, item["id"])).json() == {"tags": []}
    assert c.delete(url(collection, item["id"])).status_code == 204  # nothing to remove
    assert tag_rows(api) == set()


@pytest.mark.parametrize("collection", COLLECTIONS)
@pytest.mark.parametrize("method, tag, body", [
    ("GET", None, None), ("PUT", None, {"tags": ["a"]}), ("DELETE", None, None),
    ("GET", "a", None), ("PUT", "a", None), ("DELETE", "a", None)])
def test_a_missing_resource_is_its_own_not_found(api: Api, collection: str, method: str,
                                                 tag: str | None, body: dict | None) -> None:
    response = api.client.request(method, url(collection, MISSING, tag), json=body)
    assert_error(response, 404, NOT_FOUND[collection], MISSING)
    assert tag_rows(api) == set()


def test_tags_are_per_resource_and_per_type(api: Api, net: dict, v4: dict) -> None:
    port = api.port(net)
    api.client.put(url("networks", net["id"], "n"))
    api.client.put(url("ports", port["id"], "p"))
    assert api.show("networks", net["id"])["tags"] == ["n"]
    assert api.show("subnets", v4["id"])["tags"] == []
    assert api.show("ports", port["id"])["tags"] == ["p"]
    assert tag_rows(api) == {("networks", net["id"], "n"), ("ports", port["id"], "p")}


# ------------------------------------------------------------------ what a tag may be


@pytest.mark.parametrize("tags, reason", [
    (["x" * 256], "at most 255 characters"), ([""], "at least 1 character"),
    (["a", "b", "a"], "Duplicate items in the list: 'a'"), ([1], "valid string"),
    ("a", "valid list"), (None, "valid list"), (["a\x00"], "NUL")])
def test_bad_tag_lists_are_refused(api: Api, net: dict, tags: Any, reason: str) -> None:
    api.client.put(url("networks", net["id"], "kept"))
    response = api.client.put(url("networks", net["id"]), json={"tags": tags})
    assert_error(response, 400, "HTTPBadRequest", "tags", reason)
    assert api.show("networks", net["id"])["tags"] == ["kept"]


@pytest.mark.parametrize("body", [{}, {"tag": ["a"]}, {"tags": ["a"], "more": 1}, ["a"]])
def test_bad_tag_bodies_are_refused(api: Api, net: dict, body: Any) -> None:
    response = api.client.put(url("networks", net["id"]), json=body)
    assert response.status_code == 400 and response.json()["NeutronError"]["type"] == \
        "HTTPBadRequest"
    assert api.show("networks", net["id"])["tags"] == []


def test_a_tag_of_256_characters_is_refused_in_the_url(api: Api, net: dict) -> None:
    assert api.client.put(url("networks", net["id"], "x" * 255)).status_code == 201
    assert_error(api.client.put(url("networks", net["id"], "y" * 256)), 400, "InvalidInput",
                 "1 to 255 characters")
    assert api.show("networks", net["id"])["tags"] == ["x" * 255]


# ------------------------------------------------------------------ tags at creation


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_tags_given_at_creation(api: Api, make: Callable[..., dict], collection: str) -> None:
    item = make(collection, tags=["b", "a"])
    assert item["tags"] == ["a", "b"] and item["revision_number"] == 1
    assert api.show(collection, item["id"])["tags"] == ["a", "b"]
    assert {(t, i) for t, i, _ in tag_rows(api)} == {(collection, item["id"])}


def test_a_port_bound_at_creation_shows_its_tags(api: Api, net: dict) -> None:
    port = api.port(net, tags=["vm"], **{"binding:host_id": "hv1"})
    assert port["binding:vif_type"] == "binding_failed" and port["tags"] == ["vm"]


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_bad_tags_at_creation_write_nothing(api: Api, net: dict, collection: str) -> None:
    attrs: dict[str, Any] = {"networks": {}, "subnets": {"network_id": net["id"],
                                                         "cidr": "10.9.0.0/24"},
                             "ports": {"network_id": net["id"]}}[collection]
    before = api.rows()
    for tags in (["x" * 256], ["a", "a"], "a"):
        response = api.post(collection, dict(attrs, tags=tags))
        assert_error(response, 400, "HTTPBadRequest", "tags")
    assert api.rows() == before and tag_rows(api) == set()


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_tags_are_not_an_attribute_of_an_update(api: Api, make: Callable[..., dict],
                                                collection: str) -> None:
    item = make(collection)
    assert_error(api.put(collection, item["id"], {"tags": ["a"]}), 400, "HTTPBadRequest",
                 "Cannot update read-only attribute tags")


# ------------------------------------------------------------------ revisions, If-Match


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_changing_tags_moves_revision_and_updated_at(api: Api, make: Callable[..., dict],
                                                     collection: str) -> None:
    item = make(collection)
    table = Base.metadata.tables[collection]  # each collection's table has its name
    with api.plugin.db.write() as session:
        session.execute(update(table).where(table.c.id == item["id"]).values(
            updated_at=dt.datetime(2020, 1, 1)))
    revision = api.show(collection, item["id"])["revision_number"]
    c = api.client

    def now() -> dict:
        return api.show(collection, item["id"])

    c.put(url(collection, item["id"], "a"))
    assert now()["revision_number"] == revision + 1
    assert now()["updated_at"] > "2020-01-01T00:00:00Z"
    for unchanged in (lambda: c.put(url(collection, item["id"], "a")),
                      lambda: c.put(url(collection, item["id"]), json={"tags": ["a"]}),
                      lambda: c.get(url(collection, item["id"], "a"))):
        unchanged()
        assert now()["revision_number"] == revision + 1
    c.put(url(collection, item["id"]), json={"tags": ["a", "b"]})
    assert now()["revision_number"] == revision + 2
    c.delete(url(collection, item["id"], "a"))
    assert now()["revision_number"] == revision + 3
    c.delete(url(collection, item["id"]))
    assert now()["revision_number"] == revision + 4
    c.delete(url(collection, item["id"]))
    assert now()["revision_number"] == revision + 4


@pytest.mark.parametrize("method, tag, body", [
    ("PUT", "new", None), ("PUT", None, {"tags": ["new"]}), ("DELETE", "old", None),
    ("DELETE", None, None)])
def test_if_match_guards_every_tag_change(api: Api, net: dict, method: str, tag: str | None,
                                          body: dict | None) -> None:
    api.client.put(url("networks", net["id"], "old"))
    revision = api.show("networks", net["id"])["revision_number"]
    stale = api.client.request(method, url("networks", net["id"], tag), json=body,
                               headers={"If-Match": f"revision_number={revision - 1}"})
    assert_error(stale, 412, "PreconditionFailed", str(revision - 1), str(revision))
    assert api.show("networks", net["id"])["tags"] == ["old"]
    assert_error(api.client.request(method, url("networks", net["id"], tag), json=body,
                                    headers={"If-Match": "7"}), 400, "BadRequest", "If-Match")
    current = api.client.request(method, url("networks", net["id"], tag), json=body,
                                 headers={"If-Match": f"revision_number={revision}"})
    assert current.status_code < 300, current.text
    assert api.show("networks", net["id"])["tags"] != ["old"]


# ------------------------------------------------------------------ tags go with their resource


def test_deleting_resources_deletes_their_tags(api: Api, net: dict, v4: dict) -> None:
    port = api.port(net, tags=["p"])
    other = api.subnet(api.show("networks", net["id"]), "10.1.0.0/24", tags=["s2"])
    api.client.put(url("subnets", v4["id"], "s"))
    api.client.put(url("networks", net["id"], "n"))
    keeper = api.network(tags=["n"])
    assert len(tag_rows(api)) == 5
    assert api.delete("ports", port["id"]).status_code == 204
    assert ("ports", port["id"], "p") not in tag_rows(api)
    assert api.delete("subnets", other["id"]).status_code == 204
    # The network's delete takes its remaining subnet with it, and that subnet's tags.
    assert api.delete("networks", net["id"]).status_code == 204
    assert tag_rows(api) == {("networks", keeper["id"], "n")}


def test_a_failed_delete_keeps_the_tags(api: Api, net: dict) -> None:
    api.port(net)
    api.client.put(url("networks", net["id"], "n"))
    assert_error(api.delete("networks", net["id"]), 409, "NetworkInUse")
    assert api.show("networks", net["id"])["tags"] == ["n"]


# ------------------------------------------------------------------ filters

#: Resources a..e and their tags; each filter row: the query and who matches.
TAGGED = {"a": [], "b": ["red"], "c": ["red", "blue"], "d": ["blue", "green"],
          "e": ["red", "blue", "green"]}
FILTERS = [
    ([("tags", "red")], "bce"),
    ([("tags", "red,blue")], "ce"),
    ([("tags", "red"), ("tags", "blue")], "ce"),
    ([("tags", "red,blue,green")], "e"),
    ([("tags", "nope")], ""),
    ([("tags", "red,nope")], ""),
    ([("tags-any", "red")], "bce"),
    ([("tags-any", "red,green")], "bcde"),
    ([("tags-any", "red"), ("tags-any", "green")], "bcde"),
    ([("tags-any", "nope")], ""),
    ([("not-tags", "red")], "ad"),
    ([("not-tags", "red,blue")], "abd"),
    ([("not-tags", "red"), ("not-tags", "blue")], "abd"),
    ([("not-tags", "nope")], "abcde"),
    ([("not-tags-any", "red")], "ad"),
    ([("not-tags-any", "red,green")], "a"),
    ([("not-tags-any", "red"), ("not-tags-any", "green")], "a"),
    ([("not-tags-any", "nope")], "abcde"),
    ([("tags", "blue"), ("not-tags", "green")], "c"),
    ([("tags", "red"), ("tags-any", "green,blue"), ("not-tags-any", "green")], "c"),
    ([("tags-any", "green"), ("not-tags", "red,green")], "d"),
    ([("tags", "red"), ("name", "b"), ("name", "e")], "be"),
    ([("tags", "red,red")], "bce"),
    ([("tags", "")], ""),
]


@pytest.fixture(params=COLLECTIONS)
def tagged(request: pytest.FixtureRequest, make: Callable[..., dict]) -> str:
    """Resources a..e of one collection with the tags of TAGGED, one untagged resource
    more for subnets and ports (the fixture network and its subnet)."""
    for name, tags in TAGGED.items():
        make(request.param, name=name, tags=tags)
    return request.param


@pytest.mark.parametrize("query, expected", FILTERS)
def test_tag_filters(api: Api, tagged: str, query: list, expected: str) -> None:
    names = sorted(i["name"] for i in api.list(tagged, query) if i["name"] in TAGGED)
    assert "".join(names) == expected


def test_filters_with_fields_sorting_and_pages(api: Api, make: Callable[..., dict]) -> None:
    for name, tags in TAGGED.items():
        make("networks", name=name, tags=tags)
    query = [("tags-any", "red,green"), ("fields", "name"), ("fields", "tags"),
             ("sort_key", "name"), ("sort_dir", "desc"), ("limit", "2")]
    body = api.client.get("/v2.0/networks", params=query).json()
    assert body["networks"] == [{"name": "e", "tags": ["blue", "green", "red"]},
                                {"name": "d", "tags": ["blue", "green"]}]
    following = api.client.get(body["networks_links"][0]["href"]).json()
    assert [n["name"] for n in following["networks"]] == ["c", "b"]


def test_tags_are_not_a_sort_key(api: Api, net: dict) -> None:
    assert_error(api.client.get("/v2.0/networks", params={"sort_key": "tags"}), 400,
                 "BadRequest", "sort_key")


@pytest.mark.parametrize("collection", COLLECTIONS)
def test_a_long_streamed_list_filters_by_tags(api: Api, make: Callable[..., dict],
                                              monkeypatch: pytest.MonkeyPatch,
                                              collection: str) -> None:
    monkeypatch.setattr(listing, "BATCH", 3)
    wanted = {make(collection, tags=["even"] if i % 2 == 0 else ["odd"])["id"]
              for i in range(14)}
    response = api.client.get(f"/v2.0/{collection}", params={"tags": "even"})
    assert "content-length" not in response.headers  # 7 items, batches of 3
    items = response.json()[collection]
    assert len(items) == 7 and {i["id"] for i in items} <= wanted
    assert all(i["tags"] == ["even"] for i in items)
    everything = api.client.get(f"/v2.0/{collection}", params={"not-tags": "even"})
    assert all(i["tags"] != ["even"] for i in everything.json()[collection])


# ------------------------------------------------------------------ discovery


def test_extensions_are_announced(api: Api) -> None:
    aliases = {e["alias"] for e in api.client.get("/v2.0/extensions").json()["extensions"]}
    assert {"standard-attr-tag", "tag-creation"} <= aliases


def test_one_row_per_tag(api: Api, net: dict) -> None:
    for _ in range(3):
        api.client.put(url("networks", net["id"], "t"))
    with api.plugin.db.read() as session:
        assert session.scalar(select(func.count()).select_from(Tag)) == 1
