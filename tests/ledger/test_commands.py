"""ledger_init and ledger_verify on the test database (the network tests run them as processes)."""

from __future__ import annotations

import json
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from ledger import models, services
from ledger.core.consensus.sim_app import make_sim_network
from tests.ledger.node.support import build_chain, election_setup, vote, voter_keys

pytestmark = pytest.mark.django_db


@pytest.fixture
def stored_chain():  # type: ignore[no-untyped-def]
    network = make_sim_network(4)
    chain_id = network.genesis.chain
    voters = voter_keys(4, "commands")
    _, chain = build_chain(network, [election_setup(network.authority, chain_id, voters),
                                     [vote(k, chain_id, "carol") for k in voters]])
    services.ledger_init(network.genesis)
    for block, cert in chain:
        services.persist_block(block, cert)
    return network, chain


def test_ledger_init_command_is_idempotent(tmp_path: Path) -> None:
    network = make_sim_network(1)
    path = tmp_path / "genesis.json"
    services.write_genesis_file(path, network.genesis)
    out = StringIO()
    call_command("ledger_init", "--genesis", str(path), stdout=out)
    call_command("ledger_init", "--genesis", str(path), stdout=out)
    assert "initialised: chain evote-sim" in out.getvalue() and "already initialised" in out.getvalue()
    assert models.ContractSource.objects.count() == 2


def test_ledger_init_command_refuses_a_broken_genesis(tmp_path: Path) -> None:
    path = tmp_path / "genesis.json"
    path.write_text('{"v": 1}')
    with pytest.raises(CommandError, match="genesis_invalid"):
        call_command("ledger_init", "--genesis", str(path))


@pytest.mark.parametrize("impl", ["openssl", "ecdsa"])
def test_ledger_verify_passes_with_either_implementation(stored_chain, impl: str) -> None:  # type: ignore[no-untyped-def]
    out = StringIO()
    call_command("ledger_verify", "--impl", impl, "--json", "--no-progress", stdout=out)
    report = json.loads(out.getvalue())
    assert report["ok"] and report["height"] == 2 and report["txs"] == 8
    assert report["tallies"]["e1"]["candidates"]["carol"] == 4


def test_ledger_verify_pinpoints_a_forged_certificate(stored_chain) -> None:  # type: ignore[no-untyped-def]
    row = models.Block.objects.get(height=2)
    cert = dict(row.certificate)
    cert["sigs"] = cert["sigs"][:2]  # 2 of 4 is not more than 2/3 of the power
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_block SET certificate = %s WHERE height = 2", [json.dumps(cert)])
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_verify", "--no-progress", stdout=out)
    assert "FAILED at height 2, field certificate: certificate_invalid" in out.getvalue()
    assert "last verified height: 1 of 2 stored" in out.getvalue()


def test_ledger_verify_reports_a_stored_hash_mismatch(stored_chain) -> None:  # type: ignore[no-untyped-def]
    with connection.cursor() as cursor:
        cursor.execute("UPDATE ledger_block SET hash = %s WHERE height = 1", ["0" * 64])
    out = StringIO()
    with pytest.raises(CommandError):
        call_command("ledger_verify", "--no-progress", stdout=out)
    assert "height 1, field hash" in out.getvalue()
