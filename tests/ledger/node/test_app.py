"""The engine's Application over the ledger and mempool, driven in-process (no sockets, no database)."""

from __future__ import annotations

from pathlib import Path

from ledger.core.block import sign_vote
from ledger.core.consensus.engine import Engine
from ledger.core.consensus.interface import (
    Broadcast,
    Committed,
    ConsensusConfig,
    Evidence,
    PersistSignerState,
)
from ledger.core.consensus.sim_app import make_sim_network
from ledger.core.machine import Ledger
from ledger.node.app import NodeApplication
from ledger.node.config import NodeConfig, NodeHome
from ledger.node.mempool import Mempool
from ledger.node.runtime import Node, StepResult
from tests.ledger.node.support import election_setup, vote, voter_keys

NOW = 1_767_225_700_000


def test_single_validator_commits_mempool_and_then_idles() -> None:
    network = make_sim_network(1)
    ledger = Ledger(network.genesis)
    app = NodeApplication(ledger, Mempool(ledger, max_txs=100), validator_id="v0", clock=lambda: NOW)
    engine = Engine(network.genesis, app, validator_id="v0", key=network.keys["v0"], signer_state=None,
                    config=ConsensusConfig(), now=NOW)
    assert engine.start(NOW) == [] and engine.next_deadline() is None  # nothing to do: no empty blocks
    voters = voter_keys(3, "app")
    chain = network.genesis.chain
    for tx in [*election_setup(network.authority, chain, voters), vote(voters[0], chain, "bob")]:
        assert app.mempool.admit(tx, now=NOW).new
    outputs = engine.txs_available(NOW)
    committed = [o for o in outputs if isinstance(o, Committed)]
    assert len(committed) == 1 and len(committed[0].block.txs) == 5
    first_persist = next(i for i, o in enumerate(outputs) if isinstance(o, PersistSignerState))
    first_send = next(i for i, o in enumerate(outputs) if isinstance(o, Broadcast))
    assert first_persist < first_send  # the runtime relies on this order to persist before sending
    assert app.height == 1 and len(app.mempool) == 0 and app.block_hash_at(1) == committed[0].block.hash
    assert ledger.query("vote", "tally", {"election": "e1"})["candidates"]["bob"] == 1
    assert engine.next_deadline() is None or not engine.is_active


def test_equivocation_becomes_an_evidence_transaction(tmp_path: Path) -> None:
    network = make_sim_network(4)
    config = NodeConfig(home=tmp_path, node_id="v0", listen_host="127.0.0.1", listen_port=1, public_url="http://x",
                        peers={})
    node = Node(NodeHome(config, network.genesis, network.keys["v0"]), clock=lambda: NOW)
    ledger = Ledger(network.genesis)
    node.app = NodeApplication(ledger, Mempool(ledger, max_txs=10), validator_id="v0")
    votes = [sign_vote(network.keys["v2"], chain=network.genesis.chain, kind="prevote", height=1, round=0,
                       block=bytes([b]) * 32, validator="v2") for b in (1, 2)]
    result = StepResult()
    node._convert([Evidence(*votes)], result, NOW)
    kinds = [action[0] for action in result.actions]
    assert kinds == ["gossip", "txs_available"]
    (tx,) = node.app.mempool.snapshot()
    assert (tx.contract, tx.type, tx.signer) == ("system", "evidence", network.keys["v0"].public_key)
    assert [v["block"] for v in tx.payload["votes"]] == ["01" * 32, "02" * 32]


def _follower_node(tmp_path: Path, network, clock_ms: int) -> Node:  # type: ignore[no-untyped-def]
    config = NodeConfig(home=tmp_path, node_id="v3", listen_host="127.0.0.1", listen_port=1, public_url="http://x",
                        peers={"v0": "http://127.0.0.1:9"})
    node = Node(NodeHome(config, network.genesis, network.keys["v3"]), clock=lambda: clock_ms)
    ledger = Ledger(network.genesis)
    node.app = NodeApplication(ledger, Mempool(ledger, max_txs=10), validator_id="v3", clock=lambda: clock_ms)
    node.engine = Engine(network.genesis, node.app, validator_id="v3", key=network.keys["v3"], signer_state=None,
                         config=ConsensusConfig(), now=clock_ms)
    return node


def test_fetched_blocks_go_through_the_engine_and_are_verified(tmp_path: Path) -> None:
    """The RequestSync path: each fetched block is a CommitMessage the engine checks before committing."""
    import asyncio

    from ledger.core.block import CommitCertificate
    from ledger.core.consensus.messages import CommitMessage
    from ledger.node.sync import SyncPage
    from tests.ledger.node.support import build_chain

    network = make_sim_network(4)
    chain_id = network.genesis.chain
    voters = voter_keys(3, "sync")
    _, chain = build_chain(network, [election_setup(network.authority, chain_id, voters),
                                     *[[vote(k, chain_id, "alice")] for k in voters]])
    node = _follower_node(tmp_path, network, chain[-1][0].header.time + 1000)
    block, cert = chain[2]
    forged = CommitCertificate(cert.height, cert.round, cert.block, cert.signatures[:2])  # 2 of 4: no quorum
    pages = [SyncPage(tuple(CommitMessage(b, c) for b, c in chain[:2])),
             SyncPage((CommitMessage(block, forged), CommitMessage(*chain[3])))]

    async def feed() -> list[tuple[int, str | None]]:
        loop = asyncio.get_running_loop()
        answers = []
        for page in pages:
            future = loop.create_future()
            result = StepResult()
            node._apply_sync_page("v0", page, future, result, NOW)
            node._convert([], result, NOW)
            (action,) = [a for a in result.actions if a[0] == "resolve"]
            answers.append(action[2])
        return answers

    assert asyncio.run(feed()) == [(2, None), (0, "block 3 from v0 was not accepted (certificate or execution)")]
    assert node.app is not None and node.app.height == 2


def test_a_node_proposes_at_most_its_configured_share_of_the_mempool() -> None:
    """5000-vote proposals missed timeout_propose_ms on a loaded 4-node loopback network, so
    nearly every height needed round 1 (bench/network.py); node.json "proposal.max_txs" caps them."""
    network = make_sim_network(1)
    ledger = Ledger(network.genesis)
    app = NodeApplication(ledger, Mempool(ledger, max_txs=100), validator_id="v0", clock=lambda: NOW,
                          max_proposal_txs=3)
    voters = voter_keys(3, "cap")
    chain = network.genesis.chain
    for tx in [*election_setup(network.authority, chain, voters), *[vote(v, chain, "bob") for v in voters]]:
        assert app.mempool.admit(tx, now=NOW).new
    block = app.propose_block(1, 0, NOW)
    assert block is not None and len(block.txs) == 3
    assert NodeConfig(home=Path("."), node_id="v0", listen_host="127.0.0.1", listen_port=1, public_url="http://x",
                      peers={}).to_dict()["proposal"] == {"max_txs": 1000}
