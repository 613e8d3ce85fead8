"""RFC 6962 Merkle tree hash over transaction ids (docs/protocol.md section 7)."""

from __future__ import annotations

import hashlib


def merkle_root(leaves: list[bytes]) -> bytes:
    """Hash every leaf with 0x00, pair neighbours with 0x01, carry an odd last node up unchanged."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    sha = hashlib.sha256
    level = [sha(b"\x00" + leaf).digest() for leaf in leaves]
    while len(level) > 1:
        paired = [sha(b"\x01" + level[i] + level[i + 1]).digest() for i in range(0, len(level) - 1, 2)]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


def proof_root(leaf: bytes, proof: list[tuple[str, bytes]]) -> bytes:
    """The root an inclusion proof leads to: each step names on which side the sibling is."""
    node = hashlib.sha256(b"\x00" + leaf).digest()
    for side, sibling in proof:
        pair = sibling + node if side == "L" else node + sibling
        node = hashlib.sha256(b"\x01" + pair).digest()
    return node
