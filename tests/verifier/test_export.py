"""Exporting bundles from node databases and running nodes, and tampering with stored rows.

A one-node localnet made by ``make_localnet``: its chain is built in-process with the
node's and the authority's real keys, stored with ``persist_block`` in the test database
(the node's tables), exported with ``export_bundle --home`` and checked by the standalone
verifier in a subprocess, the way an observer runs it. Rows are then changed behind the
append-only guard (raw SQL, as an attacker with database access would): ``ledger_verify``
and the verifier must both refuse. A real node process serves ``GET /v1/bundle``.
"""

from __future__ import annotations

import json
import subprocess
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection

from ledger.core.crypto import PrivateKey
from ledger.core.genesis import Genesis
from ledger.core.tx import make_tx
from ledger.services import ledger_init, persist_block, read_genesis_file
from tests.ledger.core.factory import ChainBuilder, Election, Network, checkin_id, token_keys
from tests.voting.ledger_node import LedgerNode, free_port, start_ledger_node

pytestmark = pytest.mark.django_db(transaction=True)


@dataclass
class NodeChain:
    home: Path
    network: Network
    election: Election
    builder: ChainBuilder


def run_verifier(path: Path, *extra: str) -> tuple[int, dict[str, Any]]:
    """``python -m verifier`` in its own process, as an observer runs it."""
    result = subprocess.run([sys.executable, "-m", "verifier", str(path), "--json", "--quiet", *extra],
                            capture_output=True, text=True, timeout=300, cwd=settings.BASE_DIR)
    assert result.returncode in (0, 1), result.stderr
    return result.returncode, json.loads(result.stdout)


@pytest.fixture
def node_chain(tmp_path: Path) -> Iterator[NodeChain]:
    call_command("make_localnet", "--nodes", "1", "--dir", str(tmp_path / "net"), "--base-port", str(free_port()))
    meta = json.loads((tmp_path / "net" / "localnet.json").read_text())
    node = meta["nodes"][0]
    home = Path(node["home"]) if Path(node["home"]).is_absolute() else tmp_path / "net" / node["home"]
    genesis = read_genesis_file(home / "genesis.json")
    node_key = PrivateKey.from_pem((home / "node.pem").read_bytes())
    authority = PrivateKey.from_pem(Path(meta["authority_key"]).read_bytes())
    network = Network(genesis, {genesis.validators[0].id: node_key}, authority)
    builder = ChainBuilder(network)
    election = Election(network, opens_at=genesis.time + 5_000, closes_at=genesis.time + 10**9)
    keys = token_keys(6, prefix="export")
    builder.seal([election.create(), election.register("st-1", 6)])
    builder.seal([election.mint("st-1", keys)])
    builder.seal([election.open()], time=election.opens_at)
    builder.seal([election.checkin("st-1", checkin_id(f"e-{i}")) for i in range(3)]
                 + [election.transfer(k, "alice") for k in keys[:3]])
    builder.seal([election.checkin("st-1", checkin_id(f"e-{i}")) for i in range(3, 6)]
                 + [election.transfer(k, "bob") for k in keys[3:]])
    builder.seal([election.close()])
    ledger_init(genesis)
    for block, cert in builder.blocks:
        persist_block(block, cert)
    yield NodeChain(home, network, election, builder)


def export(chain: NodeChain, target: Path) -> Path:
    call_command("export_bundle", "--home", str(chain.home), "-o", str(target), "--no-offchain")
    return target


def test_export_of_an_untouched_node_database_verifies_with_both_crypto_paths(node_chain: NodeChain,
                                                                              tmp_path: Path) -> None:
    path = export(node_chain, tmp_path / "node.jsonl.gz")
    code, report = run_verifier(path)
    assert code == 0 and report["ok"], report
    assert report["tallies"][node_chain.election.id]["candidates"] == {"alice": 3, "bob": 3, "carol": 0}
    code, pure = run_verifier(path, "--crypto", "ecdsa", "--workers", "2")
    assert code == 0 and pure["tallies"] == report["tallies"]
    call_command("ledger_verify", "--no-progress")


def _sql(statement: str, *params: Any) -> None:
    with connection.cursor() as cursor:
        cursor.execute(statement, params)


def _block_pk(height: int) -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id FROM ledger_block WHERE height = %s", [height])
        return int(cursor.fetchone()[0])


def _assert_both_refuse(chain: NodeChain, tmp_path: Path, height: int) -> dict[str, Any]:
    code, report = run_verifier(export(chain, tmp_path / "tampered.jsonl.gz"))
    assert code == 1 and not report["ok"]
    assert report["failure"]["height"] == height, report["failure"]
    with pytest.raises(CommandError):
        call_command("ledger_verify", "--no-progress", stdout=open("/dev/null", "w"))  # noqa: SIM115
    return report["failure"]


def test_a_deleted_vote_is_detected_at_its_block_and_place(node_chain: NodeChain, tmp_path: Path) -> None:
    _sql("DELETE FROM ledger_transaction WHERE block_id = %s AND \"index\" = 4", _block_pk(4))
    failure = _assert_both_refuse(node_chain, tmp_path, 4)
    assert failure["tx_index"] == 4


def test_a_forged_transaction_inserted_into_a_block_is_detected(node_chain: NodeChain, tmp_path: Path) -> None:
    forger = token_keys(1, prefix="forger")[0]
    tx = make_tx(forger, chain=node_chain.network.chain, contract="vote", type="transfer",
                 payload={"election": node_chain.election.id, "to": node_chain.election.address("carol")})
    _sql("INSERT INTO ledger_transaction (tx_id, block_id, \"index\", contract, type, election, sender, body) "
         "VALUES (%s, %s, 6, 'vote', 'transfer', %s, %s, %s)",
         tx.id_hex, _block_pk(5), node_chain.election.id, tx.sender, tx.to_bytes().decode())
    failure = _assert_both_refuse(node_chain, tmp_path, 5)
    assert failure["field"] == "txs"


def test_two_reordered_blocks_are_detected_at_the_first(node_chain: NodeChain, tmp_path: Path) -> None:
    first, second = _block_pk(3), _block_pk(4)
    _sql("UPDATE ledger_block SET height = 1000000 WHERE id = %s", first)
    _sql("UPDATE ledger_block SET height = 3 WHERE id = %s", second)
    _sql("UPDATE ledger_block SET height = 4 WHERE id = %s", first)
    failure = _assert_both_refuse(node_chain, tmp_path, 3)
    assert failure["field"] == "height"


def test_a_changed_byte_in_a_stored_transaction_body_is_detected(node_chain: NodeChain, tmp_path: Path) -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT id, body FROM ledger_transaction WHERE block_id = %s AND \"index\" = 3",
                       [_block_pk(4)])
        pk, body = cursor.fetchone()
    _sql("UPDATE ledger_transaction SET body = %s WHERE id = %s", body.replace('"nonce":0', '"nonce":1'), pk)
    failure = _assert_both_refuse(node_chain, tmp_path, 4)
    assert failure["tx_index"] == 3


@pytest.fixture(scope="module")
def running_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerNode]:
    node = start_ledger_node(tmp_path_factory.mktemp("bundle-node"))
    yield node
    node.stop()


def test_a_running_node_serves_a_bundle_that_verifies(running_node: LedgerNode, tmp_path: Path) -> None:
    from ledger.client import NodeClient  # noqa: PLC0415

    client = NodeClient([running_node.url])
    genesis = Genesis.from_bytes(client.genesis())
    authority = PrivateKey.from_pem(running_node.authority_key_file.read_bytes())
    network = Network(genesis, {}, authority)
    election = Election(network, id="bundle-e", opens_at=0, closes_at=2**52)
    keys = token_keys(3, prefix="served")
    for batch in ([election.create(), election.register("st-1", 3)], [election.mint("st-1", keys)],
                  [election.open()], [election.checkin("st-1", checkin_id("s-1")),
                                      *(election.transfer(k, "carol") for k in keys)]):
        statuses = client.commit_many(batch, timeout_s=60)
        assert all(s.is_final for s in statuses), statuses
    path = tmp_path / "served.jsonl.gz"
    with urllib.request.urlopen(running_node.url + "/v1/bundle", timeout=60) as response:  # noqa: S310
        assert response.headers["Content-Type"] == "application/gzip"
        path.write_bytes(response.read())
    code, report = run_verifier(path)
    assert code == 0, report
    tally = report["tallies"]["bundle-e"]
    assert tally["candidates"]["carol"] == 3
    assert [f["code"] for f in report["findings"]] == ["votes_exceed_checkins"]  # 3 votes, 1 check-in
    with urllib.request.urlopen(running_node.url + "/v1/bundle?upto=2", timeout=60) as response:  # noqa: S310
        (tmp_path / "upto.jsonl.gz").write_bytes(response.read())
    code, partial = run_verifier(tmp_path / "upto.jsonl.gz")
    assert code == 0 and partial["height"] == 2
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(running_node.url + "/v1/bundle?upto=two", timeout=60)  # noqa: S310
    assert refused.value.code == 400 and json.loads(refused.value.read())["code"] == "bad_request"
    via_cli = tmp_path / "cli.jsonl.gz"
    call_command("export_bundle", "--node-url", running_node.url, "-o", str(via_cli), "--no-offchain")
    assert via_cli.read_bytes()[:2] == b"\x1f\x8b"
    assert run_verifier(via_cli)[1]["head"] == report["head"]


def _publish(chain: NodeChain, candidates: dict[str, int]) -> None:
    """The officials' side: an election mirrored on the ledger and its stored tally (the web app's tables)."""
    from datetime import datetime, timedelta, timezone  # noqa: PLC0415

    from django.contrib.auth import get_user_model  # noqa: PLC0415

    from voting.models import Election as VotingElection  # noqa: PLC0415
    from voting.models import ElectionTally, PollingStation, Region  # noqa: PLC0415

    official = get_user_model().objects.create_user("official", password="x")  # noqa: S106
    region = Region.objects.create(code="verifier-test", name_ko="검증시", name_en="Verifier City", kind="city")
    PollingStation.objects.get_or_create(code="st-1", defaults={"name": "Station 1", "region": region})
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    election = VotingElection.objects.create(title="Mayor", opens_at=now, closes_at=now + timedelta(hours=12),
                                             region=region,
                                             created_by=official, ledger_id=chain.election.id)
    tally = chain.builder.ledger.query("vote", "tally", {"election": chain.election.id})
    ElectionTally.objects.create(election=election, taken_at=now, ledger_height=chain.builder.ledger.height,
                                 ledger_tally={**tally, "candidates": candidates})


def test_the_published_result_is_exported_and_checked(node_chain: NodeChain, tmp_path: Path) -> None:
    _publish(node_chain, {"alice": 3, "bob": 3, "carol": 0})
    path = tmp_path / "with-results.jsonl.gz"
    call_command("export_bundle", "--home", str(node_chain.home), "-o", str(path))
    code, report = run_verifier(path)
    assert code == 0 and report["results_checked"] == [node_chain.election.id]


def test_a_published_result_that_differs_from_the_ledger_fails(node_chain: NodeChain, tmp_path: Path) -> None:
    _publish(node_chain, {"alice": 4, "bob": 2, "carol": 0})
    path = tmp_path / "wrong-result.jsonl.gz"
    call_command("export_bundle", "--home", str(node_chain.home), "-o", str(path))
    code, report = run_verifier(path)
    assert code == 1 and report["failure"]["code"] == "result_mismatch"
    assert report["failure"]["detail"] == {"election": node_chain.election.id}


def test_export_refuses_a_database_without_a_chain_or_of_another_genesis(tmp_path: Path) -> None:
    call_command("make_localnet", "--nodes", "1", "--dir", str(tmp_path / "a"), "--base-port", str(free_port()))
    call_command("make_localnet", "--nodes", "1", "--dir", str(tmp_path / "b"), "--base-port", str(free_port()))
    home_a = _home(tmp_path / "a")
    with pytest.raises(CommandError, match="ledger_init"):
        call_command("export_bundle", "--home", str(home_a), "-o", str(tmp_path / "x.gz"), "--no-offchain")
    ledger_init(read_genesis_file(_home(tmp_path / "b") / "genesis.json"))
    with pytest.raises(CommandError, match="DATABASE_URL"):
        call_command("export_bundle", "--home", str(home_a), "-o", str(tmp_path / "x.gz"), "--no-offchain")
    assert not (tmp_path / "x.gz").exists()
    assert not list(tmp_path.glob("x.gz*"))  # no partial file left behind


def _home(directory: Path) -> Path:
    node = json.loads((directory / "localnet.json").read_text())["nodes"][0]
    return Path(node["home"]) if Path(node["home"]).is_absolute() else directory / node["home"]
