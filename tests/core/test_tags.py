"""The pure parts of tags: what a tag may be, how filter values read, the list rule."""
from __future__ import annotations

import pytest
from pydantic import ValidationError

from neutrino.api.schemas import TagsBody
from neutrino.core import exceptions as exc
from neutrino.core.tags import split, validate


@pytest.mark.parametrize("tag", ["a", "x" * 255, "with space", "a,b", "ü", "/", "%"])
def test_valid_tags(tag: str) -> None:
    assert validate(tag) == tag


@pytest.mark.parametrize("tag", ["", "x" * 256, "a\x00b", "\ud800"])
def test_invalid_tags(tag: str) -> None:
    with pytest.raises(exc.InvalidInput):
        validate(tag)


@pytest.mark.parametrize("values, tags", [
    (["a"], {"a"}), (["a,b"], {"a", "b"}), (["a", "b,c"], {"a", "b", "c"}),
    (["a,a", "a"], {"a"}), ([""], {""}), (["a,"], {"a", ""})])
def test_filter_values_are_comma_lists_added_up(values: list[str], tags: set[str]) -> None:
    assert split(values) == tags


def test_a_tag_list_names_each_tag_once() -> None:
    assert TagsBody(tags=["b", "a"]).tags == ["b", "a"]
    with pytest.raises(ValidationError, match="Duplicate items in the list: 'a, b'"):
        TagsBody(tags=["a", "b", "a", "b", "c"])
