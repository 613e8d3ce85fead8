"""Merkle root of a block's transaction ids (RFC 6962 tree hashing).

Leaves and inner nodes are hashed with different prefixes (0x00 / 0x01) so an
inner node can never pass for a leaf, and an odd list is split at the largest
power of two, so there is no duplicated-last-leaf ambiguity (CVE-2012-2459).
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

EMPTY_ROOT = hashlib.sha256(b"").digest()


def _largest_power_of_two_below(n: int) -> int:
    k = 1
    while k << 1 < n:
        k <<= 1
    return k


def _root(hashed_leaves: Sequence[bytes]) -> bytes:
    n = len(hashed_leaves)
    if n == 1:
        return hashed_leaves[0]
    k = _largest_power_of_two_below(n)
    return hashlib.sha256(b"\x01" + _root(hashed_leaves[:k]) + _root(hashed_leaves[k:])).digest()


def compute_merkle_root(leaves: Sequence[bytes]) -> bytes:
    """Root over the given leaf values (transaction ids).

    Level by level, carrying an odd last node up unchanged: the same tree as the
    recursive RFC 6962 definition (split at the largest power of two below n), without
    recursion or list slicing. ``_root`` below is the recursive form, used for proofs.
    """
    if not leaves:
        return EMPTY_ROOT
    sha = hashlib.sha256
    level = [sha(b"\x00" + leaf).digest() for leaf in leaves]
    while len(level) > 1:
        paired = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def compute_merkle_proof(leaves: Sequence[bytes], index: int) -> list[tuple[str, bytes]]:
    """Audit path for leaf ``index``: list of (side, sibling hash), leaf upwards."""
    sha = hashlib.sha256
    hashed = [sha(b"\x00" + leaf).digest() for leaf in leaves]
    path: list[tuple[str, bytes]] = []

    def walk(nodes: Sequence[bytes], i: int) -> None:
        if len(nodes) == 1:
            return
        k = _largest_power_of_two_below(len(nodes))
        if i < k:
            walk(nodes[:k], i)
            path.append(("R", _root(nodes[k:])))
        else:
            walk(nodes[k:], i - k)
            path.append(("L", _root(nodes[:k])))

    if not 0 <= index < len(leaves):
        raise IndexError("leaf index out of range")
    walk(hashed, index)
    return path


def verify_merkle_proof(leaf: bytes, proof: Sequence[tuple[str, bytes]], root: bytes) -> bool:
    node = hashlib.sha256(b"\x00" + leaf).digest()
    for side, sibling in proof:
        if side == "R":
            node = hashlib.sha256(b"\x01" + node + sibling).digest()
        elif side == "L":
            node = hashlib.sha256(b"\x01" + sibling + node).digest()
        else:
            return False
    return node == root
