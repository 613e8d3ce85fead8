"""A one-validator network in a real process: commits votes, idles, answers bad input with 4xx."""

from __future__ import annotations

import sqlite3
import time
import urllib.request
from typing import Any

import pytest
from django.test import Client

from ledger.client import NodeClient
from ledger.config import get_ledger_settings
from ledger.core.encoding import encode
from tests.ledger.node.conftest import Network
from tests.ledger.node.support import (
    election_setup,
    http_json,
    manage,
    vote,
    voter_keys,
    wait_until,
)

pytestmark = [pytest.mark.network, pytest.mark.e2e]


@pytest.fixture(scope="module")
def voted(single_node: Network) -> dict[str, Any]:
    """Election e1 set up and 30 votes committed through the client."""
    client = NodeClient([single_node.nodes[0].url])
    voters = voter_keys(30, "single")
    setup = client.commit_many(election_setup(single_node.authority, single_node.chain, voters), timeout_s=20)
    assert [s.status for s in setup] == ["committed"] * 4
    votes = [vote(k, single_node.chain, ("alice", "bob", "carol")[i % 3]) for i, k in enumerate(voters)]
    results = client.commit_many(votes, timeout_s=20)
    return {"client": client, "voters": voters, "votes": votes, "results": results}


def test_votes_commit_and_are_counted(voted: dict[str, Any]) -> None:
    assert {r.status for r in voted["results"]} == {"committed"}
    assert all(r.height and r.block_hash for r in voted["results"])
    tally = voted["client"].query("vote", "tally", {"election": "e1"})
    assert tally["candidates"] == {"alice": 10, "bob": 10, "carol": 10}
    assert tally["totals"]["spent"] == 30


def test_node_idles_without_empty_blocks(single_node: Network, voted: dict[str, Any]) -> None:
    client = voted["client"]
    before = client.status()
    time.sleep(1.5)
    after = client.status()
    assert after["height"] == before["height"] and after["mempool_size"] == 0
    assert all(block["block"]["txs"] for block in client.iter_blocks())


def test_second_spend_is_rejected_with_its_code(single_node: Network, voted: dict[str, Any]) -> None:
    again = vote(voted["voters"][0], single_node.chain, "bob", nonce=7)
    status, body = http_json(single_node.nodes[0].url + "/v1/txs", data=again.to_bytes())
    assert status == 422 and body["code"] == "token_already_spent" and body["detail"]["id"] == again.id_hex
    final = voted["client"].get_tx(again.id_hex)
    assert (final.status, final.code) == ("rejected", "token_already_spent")


def test_resubmitting_a_committed_vote_reports_committed(single_node: Network, voted: dict[str, Any]) -> None:
    status, body = http_json(single_node.nodes[0].url + "/v1/txs", data=voted["votes"][0].to_bytes())
    assert status == 200 and body["status"] == "committed"


def test_long_poll_returns_the_commit(single_node: Network, voted: dict[str, Any]) -> None:
    voter = voter_keys(1, "late-voter")[0]
    client = voted["client"]
    setup = election_setup(single_node.authority, single_node.chain, [voter], election="e2")
    client.commit_many(setup, timeout_s=20)
    tx = vote(voter, single_node.chain, "carol", election="e2")
    assert client.submit(tx).status == "pending"
    started = time.monotonic()
    status = client.get_tx(tx.id_hex, wait_ms=30_000)
    # Functional, not a speed limit: the long-poll answered on the commit, not at its 30 s deadline.
    assert status.status == "committed" and time.monotonic() - started < 29


def _get(url: str) -> tuple[int, Any]:
    return http_json(url)


BAD_REQUESTS = [
    ("POST", "/v1/txs", b"", 400, "bad_request"),
    ("POST", "/v1/txs", b"not json", 400, "encoding_invalid"),
    ("POST", "/v1/txs", b'{"txs": []}', 400, "encoding_not_canonical"),
    ("POST", "/v1/txs", b'{"txs":[]}', 400, "bad_request"),
    ("POST", "/v1/txs", b'{"txs":"x"}', 400, "bad_request"),
    ("POST", "/v1/txs", b'{"a":1.5}', 400, "encoding_invalid"),
    ("POST", "/v1/txs", b'{"v":1}', 400, "malformed"),
    ("POST", "/v1/txs", b"[1,2]", 400, "malformed"),
    ("GET", "/v1/txs/xyz", None, 400, "bad_request"),
    ("GET", "/v1/txs/" + "0" * 64 + "?wait_ms=-1", None, 400, "bad_request"),
    ("GET", "/v1/txs/" + "0" * 64 + "?wait_ms=99999999", None, 400, "bad_request"),
    ("GET", "/v1/blocks?from=0", None, 400, "bad_request"),
    ("GET", "/v1/blocks?limit=abc", None, 400, "bad_request"),
    ("GET", "/v1/blocks/0", None, 400, "bad_request"),
    ("GET", "/v1/blocks/99999", None, 404, "block_not_found"),
    ("GET", "/v1/query/vote/tally", None, 400, "malformed"),
    ("GET", "/v1/query/vote/tally?args=%7B", None, 400, "bad_request"),
    ("GET", "/v1/query/vote/tally?args=%5B%5D", None, 400, "bad_request"),
    ("GET", "/v1/query/vote/tally?args=%7B%22election%22%3Atrue%7D", None, 400, "bad_request"),
    ("GET", "/v1/query/vote/tally?args=%7B%22election%22%3A%22nope%22%7D", None, 404, "unknown_election"),
    ("GET", "/v1/query/nope/tally", None, 404, "unknown_contract"),
    ("GET", "/v1/query/vote/nope", None, 400, "malformed"),
    ("GET", "/v1/nowhere", None, 404, "not_found"),
    ("DELETE", "/v1/status", None, 405, "method_not_allowed"),
]


@pytest.mark.parametrize(("method", "path", "body", "status", "code"), BAD_REQUESTS)
def test_bad_input_gets_4xx_with_code(single_node: Network, method: str, path: str, body: bytes | None,
                                      status: int, code: str) -> None:
    got_status, got = http_json(single_node.nodes[0].url + path, data=body, method=method)
    assert (got_status, got["code"]) == (status, code), got
    assert set(got) == {"code", "message", "detail"}


def test_oversized_batch_is_refused(single_node: Network) -> None:
    body = encode({"txs": [{"x": i} for i in range(1001)]})
    status, got = http_json(single_node.nodes[0].url + "/v1/txs", data=body)
    assert (status, got["code"]) == (400, "bad_request")


def test_batch_reports_each_transaction(single_node: Network) -> None:
    chain = single_node.chain
    stranger = voter_keys(1, "stranger")[0]
    good_voter = voter_keys(1, "batch-good")[0]
    NodeClient([single_node.nodes[0].url]).commit_many(
        election_setup(single_node.authority, chain, [good_voter], election="e3"), timeout_s=20)
    body = encode({"txs": [vote(good_voter, chain, "alice", election="e3").to_dict(), {"v": 1},
                           vote(stranger, chain, "alice", election="e3").to_dict()]})
    status, got = http_json(single_node.nodes[0].url + "/v1/txs", data=body)
    assert status == 200 and (got["accepted"], got["rejected"]) == (1, 2)
    assert [r["status"] for r in got["results"]] == ["pending", "rejected", "rejected"]
    assert [r.get("code") for r in got["results"]] == [None, "malformed", "token_not_minted"]


def test_status_genesis_and_metrics(single_node: Network, voted: dict[str, Any]) -> None:
    url = single_node.nodes[0].url
    _, status = _get(url + "/v1/status")
    assert status["node_id"] == "suwon" and status["validators"][0]["name"] == "수원시"
    assert status["height"] >= status["persisted_height"] >= 2 and status["last_commit_wall"]
    with urllib.request.urlopen(url + "/v1/genesis") as response:
        assert response.read() == single_node.localnet.genesis.to_bytes()
    with urllib.request.urlopen(url + "/metrics") as response:
        metrics = response.read().decode()
    height = next(int(line.split()[-1]) for line in metrics.splitlines() if line.startswith("ledger_height{"))
    assert height >= status["height"]  # a block may have committed in between
    assert "ledger_txs_committed_total" in metrics and "ledger_commit_latency_seconds_count" in metrics


def test_ledger_verify_passes_then_pinpoints_tampering(single_node: Network, voted: dict[str, Any],
                                                     tmp_path: Any) -> None:
    node = single_node.nodes[0]
    wait_until(lambda: NodeClient([node.url]).status()["persisted_height"] >= 2, timeout=10, what="persisted")
    result = manage("ledger_verify", "--no-progress", database_url=node.database_url)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "OK:" in result.stdout and '"alice": 10' in result.stdout
    copy = tmp_path / "tampered.sqlite3"
    source = sqlite3.connect(node.database_url.removeprefix("sqlite:///"))
    target = sqlite3.connect(copy)
    source.backup(target)
    source.close()
    other = vote(voter_keys(1, "forger")[0], single_node.chain, "bob").to_bytes().decode()
    target.execute("UPDATE ledger_transaction SET body = ? WHERE id = (SELECT MAX(id) FROM ledger_transaction "
                   "WHERE type = 'transfer')", [other])
    target.commit()
    target.close()
    result = manage("ledger_verify", "--no-progress", database_url=f"sqlite:///{copy}")
    assert result.returncode == 1
    assert "FAILED at height" in result.stdout and "tx_root" in result.stdout


def test_status_page_shows_the_node(single_node: Network, voted: dict[str, Any], client: Client,
                                    settings: Any) -> None:
    settings.LEDGER = {**settings.LEDGER, "NODE_URLS": [single_node.nodes[0].url, "http://127.0.0.1:9"]}
    get_ledger_settings.cache_clear()
    try:
        page = client.get("/ledger/status/", HTTP_ACCEPT_LANGUAGE="en")
        data = client.get("/ledger/status/?format=json").json()
    finally:
        get_ledger_settings.cache_clear()
    assert page.status_code == 200 and "suwon" in page.content.decode()
    assert [n["state"] for n in data["nodes"]] == ["ok", "down"]
    assert data["common_height"] == data["nodes"][0]["height"]


def test_client_fails_over_and_raises_typed_errors(single_node: Network, voted: dict[str, Any]) -> None:
    from ledger.errors import NodeRequestFailed, NodeUnavailable

    client = NodeClient(["http://127.0.0.1:9", single_node.nodes[0].url], timeout_s=2)
    assert client.status()["node_id"] == "suwon"  # the dead first node is skipped
    with pytest.raises(NodeRequestFailed) as info:
        client.query("vote", "tally", {"election": "missing"})
    assert (info.value.code, info.value.status) == ("unknown_election", 404)
    with pytest.raises(NodeUnavailable) as down:
        NodeClient(["http://127.0.0.1:9"], timeout_s=1).status()
    assert "http://127.0.0.1:9" in down.value.detail["nodes"]
    assert client.genesis() == single_node.localnet.genesis.to_bytes()
