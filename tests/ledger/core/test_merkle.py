"""RFC 6962 Merkle roots and audit paths over transaction ids."""

from __future__ import annotations

import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core.merkle import EMPTY_ROOT, compute_merkle_proof, compute_merkle_root, verify_merkle_proof


def reference_root(leaves: list[bytes]) -> bytes:
    """RFC 6962 section 2.1 MTH, written from the RFC independently of the code under test."""
    if not leaves:
        return hashlib.sha256(b"").digest()
    if len(leaves) == 1:
        return hashlib.sha256(b"\x00" + leaves[0]).digest()
    k = 1
    while k * 2 < len(leaves):
        k *= 2
    return hashlib.sha256(b"\x01" + reference_root(leaves[:k]) + reference_root(leaves[k:])).digest()


def leaves(n: int) -> list[bytes]:
    return [hashlib.sha256(f"leaf-{i}".encode()).digest() for i in range(n)]


@pytest.mark.parametrize("n", [0, 1, 2, 3, 4, 5, 7, 8, 9, 16, 17, 100])
def test_root_matches_the_rfc_6962_definition(n: int) -> None:
    assert compute_merkle_root(leaves(n)) == reference_root(leaves(n))


def test_empty_tree_root_is_sha256_of_nothing() -> None:
    assert compute_merkle_root([]) == EMPTY_ROOT == bytes.fromhex(
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    )


def test_single_leaf_root_is_the_leaf_hash_not_the_leaf() -> None:
    (leaf,) = leaves(1)
    assert compute_merkle_root([leaf]) == hashlib.sha256(b"\x00" + leaf).digest() != leaf


def test_duplicating_the_last_leaf_changes_the_root() -> None:
    """CVE-2012-2459: Bitcoin's tree gives [a, b, c] and [a, b, c, c] the same root."""
    a, b, c = leaves(3)
    assert compute_merkle_root([a, b, c]) != compute_merkle_root([a, b, c, c])


def test_inner_node_cannot_pass_for_a_leaf() -> None:
    a, b = leaves(2)
    inner = hashlib.sha256(b"\x00" + a).digest() + hashlib.sha256(b"\x00" + b).digest()
    assert compute_merkle_root([a, b]) != compute_merkle_root([hashlib.sha256(inner).digest()])


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 13])
def test_every_leaf_has_a_proof_that_verifies(n: int) -> None:
    items = leaves(n)
    root = compute_merkle_root(items)
    for index, leaf in enumerate(items):
        proof = compute_merkle_proof(items, index)
        assert verify_merkle_proof(leaf, proof, root)
        assert len(proof) <= max(1, (n - 1).bit_length())


@pytest.mark.parametrize("n", [2, 3, 5, 8])
def test_proof_fails_for_another_leaf_root_or_sibling(n: int) -> None:
    items = leaves(n)
    root = compute_merkle_root(items)
    proof = compute_merkle_proof(items, 1)
    assert not verify_merkle_proof(items[0], proof, root)
    assert not verify_merkle_proof(items[1], proof, compute_merkle_root(items[:-1] + [b"\x00" * 32]))
    side, sibling = proof[0]
    assert not verify_merkle_proof(items[1], [(side, bytes(32))] + proof[1:], root)
    assert not verify_merkle_proof(items[1], [("L" if side == "R" else "R", sibling)] + proof[1:], root)
    assert not verify_merkle_proof(items[1], [("X", sibling)] + proof[1:], root)
    assert not verify_merkle_proof(items[1], proof[:-1], root)


@pytest.mark.parametrize("index", [-1, 3])
def test_proof_index_out_of_range_raises(index: int) -> None:
    with pytest.raises(IndexError):
        compute_merkle_proof(leaves(3), index)


@given(st.lists(st.binary(min_size=32, max_size=32), min_size=1, max_size=40), st.data())
@settings(max_examples=100)
def test_proofs_verify_for_any_tree(items: list[bytes], data: st.DataObject) -> None:
    index = data.draw(st.integers(0, len(items) - 1))
    root = compute_merkle_root(items)
    assert root == reference_root(items)
    assert verify_merkle_proof(items[index], compute_merkle_proof(items, index), root)
