"""State overlays and the state-root hash chain."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.encoding import encode
from ledger.core.errors import EncodingError
from ledger.core.state import STATE_TAG, Overlay, ReadView, State, compute_state_root

from .strategies import json_values


def _nested(depth: int) -> Any:
    value: Any = 1
    for _ in range(depth):
        value = [value]
    return value


def reference_root(prev: bytes, writes: dict[str, Any]) -> bytes:
    items = [[key, writes[key]] for key in sorted(writes)]
    return hashlib.sha256(STATE_TAG + prev + hashlib.sha256(encode(items)).digest()).digest()


@given(st.dictionaries(st.text(min_size=1, max_size=20), json_values, max_size=8))
@settings(max_examples=200)
def test_state_root_is_the_tagged_hash_of_the_sorted_write_set(writes: dict[str, Any]) -> None:
    prev = b"\x07" * 32
    assert compute_state_root(prev, writes) == reference_root(prev, writes)


@pytest.mark.parametrize(
    "value", [1.5, True, 2**53, {"k\n": 1}, _nested(31), "\ud800"],
    ids=["float", "bool", "big-int", "bad-key", "too-deep", "lone-surrogate"],
)
def test_state_root_refuses_values_outside_the_canonical_model(value: Any) -> None:
    with pytest.raises(EncodingError):
        compute_state_root(bytes(32), {"a": 1, "b": value})


def test_empty_write_set_still_advances_the_root() -> None:
    assert compute_state_root(bytes(32), {}) == hashlib.sha256(STATE_TAG + bytes(32) + hashlib.sha256(b"[]").digest()).digest()


def test_overlays_read_through_and_commit_down() -> None:
    state = State(bytes(32))
    state.data.update({"a": 1, "b": 2})
    block = state.begin()
    tx = Overlay(block)
    tx.put("a", 10)
    tx.put("c", None)
    assert (tx.get("a"), tx.get("b"), tx.get("c", "default"), tx.get("zz", 5)) == (10, 2, None, 5)
    assert block.get("a") == 1
    tx.commit_into_parent()
    assert block.get("a") == 10 and state.get("a") == 1
    assert dict(block.scan("")) == {"a": 10, "b": 2, "c": None}
    state.commit(block, b"\x01" * 32, 1)
    assert state.get("a") == 10 and state.root == b"\x01" * 32 and state.height == 1


def test_dropped_overlay_leaves_nothing_behind() -> None:
    state = State(bytes(32))
    block = state.begin()
    Overlay(block).put("x", 1)
    assert block.writes == {} and state.data == {}


class CountingView(ReadView):
    """A custom parent (e.g. a database-backed view): overlays must call its get()."""

    def __init__(self) -> None:
        super().__init__({"k": "stored"})
        self.reads: list[str] = []

    def get(self, key: str, default: Any = None) -> Any:
        self.reads.append(key)
        return super().get(key, default)


def test_overlay_over_a_custom_view_uses_its_get() -> None:
    view = CountingView()
    overlay = Overlay(Overlay(view))
    assert overlay.get("k") == "stored" and overlay.get("missing", 0) == 0
    assert view.reads == ["k", "missing"]
