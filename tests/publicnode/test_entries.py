"""Naming the spot of a difference: properties of the byte-offset and value-level locators."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.encoding import encode
from publicnode.entries import first_difference, path_at
from tests.ledger.core.strategies import safe_ints, unicode_text
from tests.publicnode.test_mutations import innermost, leaves, member_spans, set_leaf

# Keys without ".", "[" or "]", so a path such as "a.b[2]" names one member only.
keys = st.from_regex(r"[a-z_][a-z0-9_]{0,7}", fullmatch=True)
values = st.recursive(st.none() | safe_ints | unicode_text,
                      lambda inner: st.lists(inner, max_size=4) | st.dictionaries(keys, inner, max_size=4),
                      max_leaves=20)
json_objects = st.dictionaries(keys, values, max_size=6)


@settings(max_examples=100, deadline=None)
@given(value=json_objects, data=st.data())
def test_every_byte_offset_maps_to_the_member_that_holds_it(value: dict[str, Any], data: st.DataObject) -> None:
    raw, spans = member_spans(value)
    assert raw == encode(value)
    offset = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    expected = innermost(spans, offset)
    found = path_at(value, offset)
    assert found == expected


@settings(max_examples=100, deadline=None)
@given(value=json_objects, data=st.data())
def test_a_changed_value_is_named_by_its_path(value: dict[str, Any], data: st.DataObject) -> None:
    assert first_difference(value, value) is None
    candidates = [(path, old) for path, old in leaves(value) if path]
    if not candidates:
        return
    path, old = data.draw(st.sampled_from(candidates))
    new = "changed" if old != "changed" else "other"
    copy = json.loads(encode(value))  # a deep copy through the canonical form
    set_leaf(copy, path, new)
    assert first_difference(value, copy) == path


def test_a_missing_or_extra_member_is_named_by_the_expected_key() -> None:
    ours = {"header": {"round": 0, "time": 5}, "txs": [{"a": 1}, {"a": 2}]}
    assert first_difference(ours, {"header": {"ro3nd": 0, "time": 5}, "txs": ours["txs"]}) == "header.round"
    assert first_difference(ours, {"header": ours["header"], "txs": [{"a": 1}]}) == "txs[1]"
    assert first_difference(ours, {"header": ours["header"], "txs": [{"a": 1}, {"a": 2}, {"a": 3}]}) == "txs[2]"
    assert first_difference(ours, {"header": ours["header"], "txs": [{"a": 1}, {"a": 2}], "x": 1}) == "x"
