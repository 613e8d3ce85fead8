"""verify_chain re-checks everything and points at the first failure precisely."""

from __future__ import annotations

import dataclasses
import json
from functools import cache

import pytest

from ledger.core import crypto
from ledger.core.block import Block, CommitCertificate
from ledger.core.merkle import compute_merkle_root
from ledger.core.tx import Transaction
from ledger.core import verify as verify_module
from ledger.core.verify import verify_chain

from .factory import ChainBuilder, Election, certify, checkin_id, key_for, make_network, open_election_chain

ChainItems = list[tuple[Block, CommitCertificate]]


@cache
def sample() -> tuple[ChainBuilder, Election]:
    """Blocks 1-3 set up an open election; blocks 4-6 hold votes and check-ins."""
    builder, election, tokens = open_election_chain(tokens=9)
    builder.seal([election.transfer(tokens[0], "alice"), election.checkin("st-1", checkin_id("a")),
                  election.transfer(tokens[1], "bob"), election.transfer(tokens[2], "alice")])
    builder.seal([election.transfer(tokens[3], "carol"), election.transfer(tokens[4], "alice")])
    builder.seal([election.close()])
    return builder, election


def chain() -> ChainItems:
    return list(sample()[0].blocks)


def genesis():  # type: ignore[no-untyped-def]
    return sample()[0].network.genesis


def recertified(block: Block) -> tuple[Block, CommitCertificate]:
    """What colluding validators would publish: a changed block with a valid certificate."""
    return block, certify(sample()[0].network, block.header)


def replace_tx(items: ChainItems, height: int, index: int, tx: Transaction) -> ChainItems:
    block, cert = items[height - 1]
    txs = list(block.txs)
    txs[index] = tx
    items[height - 1] = (Block(block.header, tuple(txs)), cert)
    return items


def test_valid_chain_verifies_and_reports_the_tally() -> None:
    report = verify_chain(genesis(), chain())
    assert report.ok and report.failure is None
    assert report.height == 6 and report.txs == 3 + 2 + 1 + 4 + 2 + 1
    assert report.head == chain()[-1][0].hash.hex()
    tally = report.tallies["e2026"]
    assert tally["status"] == "closed"
    assert tally["candidates"] == {"alice": 3, "bob": 1, "carol": 1}
    assert tally["totals"] == {"registered": 9, "minted": 9, "checkins": 1, "spent": 5}
    json.dumps(report.to_dict())


def test_progress_is_reported_for_every_height() -> None:
    seen: list[int] = []
    verify_chain(genesis(), chain(), progress=seen.append)
    assert seen == [1, 2, 3, 4, 5, 6]


def test_chain_verifies_with_the_pure_python_implementation() -> None:
    assert verify_chain(genesis(), chain()[:4], impl="ecdsa").ok


def test_empty_chain_is_genesis_only() -> None:
    report = verify_chain(genesis(), [])
    assert report.ok and report.height == 0 and report.head == genesis().hash.hex()


def test_corrupted_tx_signature_is_reported_with_height_tx_index_and_field() -> None:
    block, _ = chain()[3]
    tx = block.txs[2]
    forged = dataclasses.replace(tx, sig=key_for("mallory").sign(tx.signing_message()))
    report = verify_chain(genesis(), replace_tx(chain(), 4, 2, forged))
    failure = report.failure
    assert failure is not None and not report.ok
    assert (failure.height, failure.tx_index, failure.field, failure.code, failure.tx) == (4, 2, "sig", "signature_invalid",
                                                                                         tx.id.hex())
    assert report.height == 3, "the report says how far the chain did verify"
    assert "height 4, transaction 2" in failure.describe()


def test_high_s_tx_signature_is_reported_as_such() -> None:
    block, _ = chain()[4]
    tx = block.txs[1]
    r, s = crypto.split_signature(tx.sig)
    high = dataclasses.replace(tx, sig=r.to_bytes(32, "big") + (crypto.CURVE_ORDER - s).to_bytes(32, "big"))
    failure = verify_chain(genesis(), replace_tx(chain(), 5, 1, high)).failure
    assert failure is not None
    assert (failure.height, failure.tx_index, failure.field, failure.code) == (5, 1, "sig", "signature_high_s")


def test_corrupted_state_root_is_reported_even_with_a_valid_certificate() -> None:
    items = chain()
    block, _ = items[4]
    items[4] = recertified(Block(dataclasses.replace(block.header, state_root=bytes(32)), block.txs))
    failure = verify_chain(genesis(), items).failure
    assert failure is not None
    assert (failure.height, failure.field, failure.code, failure.tx_index) == (5, "state_root", "block_invalid", None)


def test_certified_block_with_a_double_spend_names_the_transaction() -> None:
    builder, election = sample()
    items = chain()
    block, _ = items[4]
    double = election.transfer(key_for("token-0"), "bob", nonce=1)  # token-0 voted in block 4
    txs = (*block.txs, double)
    header = dataclasses.replace(block.header, txs=3, tx_root=compute_merkle_root([t.id for t in txs]))
    items[4] = recertified(Block(header, txs))
    failure = verify_chain(genesis(), items).failure
    assert failure is not None
    assert (failure.height, failure.tx_index, failure.field, failure.code, failure.tx) == (
        5, 2, "txs", "token_already_spent", double.id.hex())


@pytest.mark.parametrize("signers", [["node-0", "node-1"], []], ids=["below-quorum", "no-signatures"])
def test_bad_certificate_is_reported_at_its_height(signers: list[str]) -> None:
    items = chain()
    block, _ = items[2]
    cert = certify(sample()[0].network, block.header, signers=signers) if signers else CommitCertificate(
        block.height, block.header.round, block.hash, ())
    items[2] = (block, cert)
    failure = verify_chain(genesis(), items).failure
    assert failure is not None
    assert (failure.height, failure.field, failure.code) == (3, "certificate", "certificate_invalid")


def test_certificate_of_another_block_is_reported() -> None:
    items = chain()
    items[3] = (items[3][0], items[4][1])
    failure = verify_chain(genesis(), items).failure
    assert failure is not None
    assert (failure.height, failure.field, failure.code) == (4, "certificate", "certificate_invalid")


def test_missing_block_is_reported_at_the_gap() -> None:
    items = chain()
    del items[1]
    report = verify_chain(genesis(), items)
    assert report.failure is not None
    assert (report.failure.height, report.failure.field, report.failure.code) == (2, "height", "block_invalid")
    assert report.height == 1


def test_reordered_blocks_are_reported_at_the_first_misplaced_height() -> None:
    items = chain()
    items[3], items[4] = items[4], items[3]
    failure = verify_chain(genesis(), items).failure
    assert failure is not None
    assert (failure.height, failure.field) == (4, "height")


def test_repeated_block_is_reported() -> None:
    items = chain()
    items.insert(2, items[1])
    failure = verify_chain(genesis(), items).failure
    assert failure is not None
    assert (failure.height, failure.field) == (3, "height")


def test_block_of_a_fork_is_reported_as_a_broken_hash_link() -> None:
    builder, election = sample()
    fork = ChainBuilder(builder.network)
    for block, _ in builder.blocks[:2]:
        fork.ledger.apply_block(block)
    fork.seal([election.open()], time=election.opens_at + 5)  # a different block 3
    items = chain()
    fork_block_3 = fork.blocks[0]
    items[2] = fork_block_3
    failure = verify_chain(genesis(), items).failure
    assert failure is not None
    assert (failure.height, failure.field) == (4, "prev")


def test_chain_of_another_genesis_fails_at_block_one() -> None:
    other = open_election_chain(network=make_network(time=genesis().time + 1))[0]
    failure = verify_chain(genesis(), other.blocks).failure
    assert failure is not None
    assert (failure.height, failure.field) == (1, "prev")


# --- signature checks in worker processes ------------------------------------------------

@cache
def big_chain() -> tuple[ChainBuilder, Election]:
    """One block of 300 votes (more than one 256-signature batch) and a few tiny blocks."""
    builder, election, tokens = open_election_chain(tokens=306)
    builder.seal([election.transfer(t, "alice") for t in tokens[:300]])
    for token in tokens[300:]:
        builder.seal([election.transfer(token, "bob")])
    return builder, election


def _comparable(report):  # type: ignore[no-untyped-def]
    failure = report.failure and (report.failure.height, report.failure.code, report.failure.field,
                                  report.failure.tx_index, report.failure.tx)
    return report.ok, report.height, report.head, report.txs, failure, report.tallies


@pytest.fixture(params=[256, 4], ids=["batch-256", "batch-4"])
def batch_size(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> int:
    """Batch 4 makes batches span blocks and the read-ahead window fill up and drain."""
    monkeypatch.setattr(verify_module._SignaturePool, "BATCH", request.param)
    return int(request.param)


def test_workers_give_the_same_report_for_a_valid_chain(batch_size: int) -> None:
    builder, _ = big_chain()
    genesis_ = builder.network.genesis
    assert _comparable(verify_chain(genesis_, builder.blocks, workers=2)) == _comparable(verify_chain(genesis_, builder.blocks))
    assert verify_chain(genesis_, builder.blocks, workers=2).ok


@pytest.mark.parametrize(("height", "index"), [(4, 0), (4, 255), (4, 256), (4, 299), (7, 0)])
def test_workers_report_the_same_first_bad_signature(height: int, index: int, batch_size: int) -> None:
    builder, _ = big_chain()
    items = list(builder.blocks)
    block, cert = items[height - 1]
    tx = block.txs[index]
    forged = dataclasses.replace(tx, sig=key_for("mallory").sign(tx.signing_message()))
    items = replace_tx(items, height, index, forged)
    if height == 4:  # a second bad signature later in the same block must not win
        later = block.txs[-1] if index != len(block.txs) - 1 else block.txs[0]
        items = replace_tx(items, 4, block.txs.index(later), dataclasses.replace(later, sig=bytes(64)))
        if block.txs.index(later) < index:
            index = block.txs.index(later)
    parallel = verify_chain(builder.network.genesis, items, workers=2)
    assert _comparable(parallel) == _comparable(verify_chain(builder.network.genesis, items))
    assert parallel.failure is not None
    assert (parallel.failure.height, parallel.failure.tx_index, parallel.failure.field) == (height, index, "sig")


def test_workers_must_be_positive() -> None:
    with pytest.raises(ValueError):
        verify_chain(genesis(), chain(), workers=0)
