"""Ledger tables are append-only: rows are inserted once, never changed or deleted."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import IntegrityError, connection

from ledger import models, services
from ledger.core.consensus.sim_app import make_sim_network
from ledger.errors import AppendOnlyViolation
from tests.ledger.node.support import build_chain, election_setup, vote, voter_keys

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_block() -> models.Block:
    network = make_sim_network(1)
    voters = voter_keys(3)
    _, chain = build_chain(network, [election_setup(network.authority, network.genesis.chain, voters)])
    return services.persist_block(*chain[0])


def test_saving_a_stored_block_again_raises(stored_block: models.Block) -> None:
    stored_block.proposer = "mallory"
    with pytest.raises(AppendOnlyViolation):
        stored_block.save()


def test_deleting_a_stored_block_raises(stored_block: models.Block) -> None:
    with pytest.raises(AppendOnlyViolation):
        stored_block.delete()


@pytest.mark.parametrize("model", [models.Block, models.Transaction, models.ContractSource])
@pytest.mark.parametrize("operation", ["update", "delete"])
def test_queryset_rewrites_raise(stored_block: models.Block, model: Any, operation: str) -> None:
    queryset = model.objects.all()
    with pytest.raises(AppendOnlyViolation):
        if operation == "update":
            queryset.update(pk=1)
        else:
            queryset.delete()


def test_saving_a_stored_transaction_again_raises(stored_block: models.Block) -> None:
    tx = models.Transaction.objects.first()
    assert tx is not None
    tx.type = "mint"
    with pytest.raises(AppendOnlyViolation):
        tx.save()
    with pytest.raises(AppendOnlyViolation):
        tx.delete()


def test_persist_block_stores_block_and_transactions(stored_block: models.Block) -> None:
    rows = list(models.Transaction.objects.filter(block=stored_block).order_by("index"))
    assert [(r.index, r.type) for r in rows] == [(0, "create"), (1, "register"), (2, "mint"), (3, "open")]
    assert all(r.election == "e1" for r in rows)
    assert stored_block.tx_count == 4 and stored_block.height == 1
    assert stored_block.certificate["block"] == stored_block.hash


def test_persist_block_uses_one_transaction_and_bulk_insert(django_assert_max_num_queries: Any) -> None:
    network = make_sim_network(1)
    voters = voter_keys(600)
    setup = election_setup(network.authority, network.genesis.chain, voters)
    _, chain = build_chain(network, [setup, [vote(k, network.genesis.chain, "alice") for k in voters]])
    services.persist_block(*chain[0])
    fields = [f for f in models.Transaction._meta.concrete_fields if not f.primary_key]
    batch = min(services.TX_BATCH_SIZE, connection.ops.bulk_batch_size(fields, [None] * 600))
    inserts = -(-600 // batch)  # SQLite caps the variables per statement, PostgreSQL does not
    with django_assert_max_num_queries(3 + inserts):  # savepoint, block insert, bulk inserts, release
        services.persist_block(*chain[1])
    assert models.Transaction.objects.filter(block__height=2).count() == 600


def test_failed_transaction_insert_leaves_no_block() -> None:
    network = make_sim_network(1)
    voters = voter_keys(2)
    _, chain = build_chain(network, [election_setup(network.authority, network.genesis.chain, voters)])
    block, cert = chain[0]
    models.Block(height=99, hash="f" * 64, prev="0" * 64, time=1, proposer="v0", round=0, tx_count=1,
                 tx_root="0" * 64, state_root="0" * 64, header="{}", certificate={}, committed_at="2026-01-01T00:00Z",
                 ).save()
    models.Transaction(tx_id=block.txs[0].id_hex, block=models.Block.objects.get(height=99), index=0, contract="vote",
                       type="create", sender="0" * 40, body="{}").save()
    with pytest.raises(IntegrityError):
        services.persist_block(block, cert)
    assert not models.Block.objects.filter(height=1).exists()
