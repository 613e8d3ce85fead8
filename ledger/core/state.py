"""The ledger state: a flat key-value map with copy-on-write overlays.

Contracts read and write JSON values under their own key prefix. Execution
happens in layers: a block overlay over the committed state, and a
transaction overlay over the block overlay, so a rejected transaction or an
abandoned proposal leaves nothing behind.

State root: a hash chain over the canonical write-set of every block,
``root_h = SHA256(TAG || root_{h-1} || SHA256(canonical(sorted writes_h)))``.
Equal roots mean equal write histories from the same genesis, hence equal
state; and it costs O(writes) per block instead of O(state). It cannot prove a
single key to a light client; observers re-execute instead (docs/protocol.md).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

from .encoding import MAX_SAFE_INT, encode, encode_unchecked, validate_canonical

STATE_TAG = b"EVOTE-STATE-V1:"
_MISSING = object()


def compute_state_root(prev_root: bytes, writes: Mapping[str, Any]) -> bytes:
    """Next state root from the previous one and a block's final write-set."""
    items = [[key, writes[key]] for key in sorted(writes)]
    digest = hashlib.sha256(_encode_write_set(items)).digest()
    return hashlib.sha256(STATE_TAG + prev_root + digest).digest()


def _encode_write_set(items: list[list[Any]]) -> bytes:
    """``encode(items)``, checking only what can be wrong: most values are small integers.

    Any doubt (a non-string key, a lone surrogate) goes through ``encode``, which raises
    the same EncodingError as before.
    """
    for key, value in items:
        if type(key) is not str:
            return encode(items)
        if type(value) is not int or not -MAX_SAFE_INT <= value <= MAX_SAFE_INT:
            validate_canonical(value, 2)
    try:
        return encode_unchecked(items)
    except UnicodeEncodeError:
        return encode(items)


class ReadView:
    """Read-only access to a state, for queries."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        self._data = data

    def get(self, key: str, default: Any = None) -> Any:
        return self._data.get(key, default)

    def scan(self, prefix: str) -> Iterator[tuple[str, Any]]:
        for key, value in self._data.items():
            if key.startswith(prefix):
                yield key, value


class Overlay(ReadView):
    """Writes buffered over a parent; ``commit`` pushes them down, or drop it."""

    def __init__(self, parent: "ReadView | Overlay", data: dict[str, Any] | None = None) -> None:
        super().__init__(data if data is not None else {})
        self.parent = parent
        self.writes: dict[str, Any] = self._data  # type: ignore[assignment]
        # Over a State or a chain of Overlays, reads look through the dicts directly
        # (nearest first) instead of recursing through each parent's get(); any other
        # parent (a custom ReadView) keeps its own get().
        parent_layers: tuple[dict[str, Any], ...] | None = getattr(parent, "_layers", None)
        self._layers = None if parent_layers is None else (self.writes, *parent_layers)

    def get(self, key: str, default: Any = None) -> Any:
        layers = self._layers
        if layers is None:
            value = self.writes.get(key, _MISSING)
            if value is _MISSING:
                return self.parent.get(key, default)
            return value
        for layer in layers:
            value = layer.get(key, _MISSING)
            if value is not _MISSING:
                return value
        return default

    def put(self, key: str, value: Any) -> None:
        self.writes[key] = value

    def scan(self, prefix: str) -> Iterator[tuple[str, Any]]:
        seen: dict[str, Any] = dict(self.parent.scan(prefix))
        for key, value in self.writes.items():
            if key.startswith(prefix):
                seen[key] = value
        yield from seen.items()

    def commit_into_parent(self) -> None:
        parent = self.parent
        if isinstance(parent, Overlay):
            parent.writes.update(self.writes)
        else:
            raise TypeError("the base state is committed through State.commit")


class State(ReadView):
    """The committed state of one chain at one height."""

    def __init__(self, root: bytes, height: int = 0) -> None:
        self.data: dict[str, Any] = {}
        super().__init__(self.data)
        self._layers = (self.data,)  # read by overlays; self.data is updated in place, never replaced
        self.root = root
        self.height = height

    def begin(self) -> Overlay:
        return Overlay(self)

    def commit(self, overlay: Overlay, root: bytes, height: int) -> None:
        if overlay.parent is not self:
            raise ValueError("overlay does not belong to this state")
        self.data.update(overlay.writes)
        self.root = root
        self.height = height
