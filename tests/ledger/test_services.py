"""Genesis init, persisting blocks, replaying the stored chain, serving block entries."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.db import connection

from ledger import models, selectors, services
from ledger.core.consensus.interface import SignerState
from ledger.core.consensus.messages import CommitMessage
from ledger.core.consensus.sim_app import make_sim_network
from ledger.core.contracts import contract_source
from ledger.core.encoding import decode
from ledger.core.errors import GenesisInvalid
from ledger.core.genesis import Genesis
from ledger.errors import (
    BlockNotFound,
    GenesisMismatch,
    NodeNotInitialised,
    StoredChainCorrupt,
)
from tests.ledger.node.support import build_chain, election_setup, vote, voter_keys

pytestmark = pytest.mark.django_db


@pytest.fixture
def network():  # type: ignore[no-untyped-def]
    return make_sim_network(4)


@pytest.fixture
def stored(network):  # type: ignore[no-untyped-def]
    """Genesis stored plus three committed blocks: setup, two votes, one vote."""
    chain_id = network.genesis.chain
    voters = voter_keys(3)
    ledger, chain = build_chain(network, [
        election_setup(network.authority, chain_id, voters),
        [vote(voters[0], chain_id, "alice"), vote(voters[1], chain_id, "bob")],
        [vote(voters[2], chain_id, "alice")],
    ])
    services.ledger_init(network.genesis)
    for block, cert in chain:
        services.persist_block(block, cert)
    return ledger, chain


def test_ledger_init_stores_genesis_and_contract_sources(network) -> None:  # type: ignore[no-untyped-def]
    result = services.ledger_init(network.genesis)
    assert result.created and result.contracts == ("system", "vote")
    assert services.get_stored_genesis().hash == network.genesis.hash
    source = models.ContractSource.objects.get(contract_id="vote")
    assert source.source.encode() == contract_source("vote")
    assert source.sha256 == {p.id: p.source_sha256 for p in network.genesis.contracts}["vote"]


def test_ledger_init_is_idempotent_and_refuses_another_genesis(network) -> None:  # type: ignore[no-untyped-def]
    services.ledger_init(network.genesis)
    assert services.ledger_init(network.genesis).created is False
    assert models.ContractSource.objects.count() == 2
    with pytest.raises(GenesisMismatch):
        services.ledger_init(make_sim_network(2).genesis)


def test_stored_genesis_is_required() -> None:
    with pytest.raises(NodeNotInitialised):
        services.get_stored_genesis()


def test_replay_rebuilds_the_same_ledger(network, stored) -> None:  # type: ignore[no-untyped-def]
    original, _ = stored
    seen = []
    replayed = services.load_ledger(network.genesis, on_block=lambda s: seen.append(s.block.height))
    assert seen == [1, 2, 3]
    assert (replayed.height, replayed.head_hash, replayed.state.root) == (3, original.head_hash, original.state.root)
    assert replayed.query("vote", "tally", {"election": "e1"})["candidates"] == {"alice": 2, "bob": 1, "carol": 0}


def test_replay_refuses_a_tampered_header(network, stored) -> None:  # type: ignore[no-untyped-def]
    row = models.Block.objects.get(height=2)
    tampered = row.header.replace('"round":0', '"round":1')
    with connection.cursor() as cursor:  # bypass the ORM, as an attacker with database access would
        cursor.execute("UPDATE ledger_block SET header = %s WHERE height = 2", [tampered])
    with pytest.raises(StoredChainCorrupt) as info:
        services.load_ledger(network.genesis)
    assert info.value.detail["height"] == 2


def test_replay_refuses_a_changed_vote(network, stored) -> None:  # type: ignore[no-untyped-def]
    row = models.Transaction.objects.get(block__height=3)
    other = vote(voter_keys(3)[2], network.genesis.chain, "bob")  # validly signed, but not what was committed
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_transaction SET body = %s WHERE id = %s", [other.to_bytes().decode(), row.pk])
    with pytest.raises(StoredChainCorrupt) as info:
        services.load_ledger(network.genesis)
    assert info.value.detail == {"height": 3, "reason": "block_invalid", "field": "tx_root"} | {
        k: v for k, v in info.value.detail.items() if k not in {"height", "reason", "field"}}


def test_block_entries_are_canonical_and_verify(network, stored) -> None:  # type: ignore[no-untyped-def]
    _, chain = stored
    entries = selectors.get_block_entries(2, 10)
    assert len(entries) == 2
    for entry, (block, cert) in zip(entries, chain[1:]):
        data = decode(entry)  # strict: the concatenated entry is canonical JSON
        message = CommitMessage.from_dict({"block": data["block"], "cert": data["cert"]})
        assert message.block == block and message.cert == cert
        message.cert.verify(network.genesis, message.block.header)
        assert data["hash"] == block.hash.hex() and data["height"] == block.height
    assert decode(selectors.get_block_entry(1))["height"] == 1
    with pytest.raises(BlockNotFound):
        selectors.get_block_entry(4)


def test_block_entries_respect_the_byte_budget(stored) -> None:  # type: ignore[no-untyped-def]
    first = selectors.get_block_entries(1, 1)[0]
    assert len(selectors.get_block_entries(1, 10, max_bytes=len(first))) == 1


def test_stored_tx_and_head(stored) -> None:  # type: ignore[no-untyped-def]
    _, chain = stored
    tx = chain[1][0].txs[1]
    found = selectors.get_stored_tx(tx.id_hex)
    assert found is not None and (found.height, found.index, found.block_hash) == (2, 1, chain[1][0].hash.hex())
    head = selectors.get_stored_head()
    assert (head.height, head.hash) == (3, chain[2][0].hash.hex())


def test_signer_state_round_trip() -> None:
    assert services.load_signer_state() is None
    services.save_signer_state(SignerState(5, 1, 2, "ab" * 32))
    services.save_signer_state(SignerState(6, 0, 3, None, 0, "cd" * 32))
    assert services.load_signer_state() == SignerState(6, 0, 3, None, 0, "cd" * 32)


def test_genesis_file_must_be_canonical(tmp_path: Path, network) -> None:  # type: ignore[no-untyped-def]
    path = tmp_path / "genesis.json"
    services.write_genesis_file(path, network.genesis)
    assert services.read_genesis_file(path).hash == network.genesis.hash
    path.write_text(path.read_text().replace(",", ", "))
    with pytest.raises(GenesisInvalid):
        services.read_genesis_file(path)
    assert isinstance(network.genesis, Genesis)
