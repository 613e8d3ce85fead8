"""The verifier against the reference implementation (ledger.core) on random chains.

Two implementations written apart must agree: on random sequences of valid and invalid
transactions each one is accepted or refused with the same code by both; on the chains
built from them both verify with equal tallies and state roots; and on randomly changed
blocks both refuse at the same height.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings, strategies as st

from ledger.core.encoding import encode
from ledger.core.verify import verify_chain
from tests.ledger.core.factory import ChainBuilder, Election, checkin_id, make_network, token_keys
from verifier import canonical
from verifier.engine import ChainState
from verifier.errors import Invalid
from verifier.objects import decode_genesis, decode_tx

from .helpers import compress, election_content, plain_lines, verify_bytes

NETWORK = make_network()
KEYS = token_keys(8, prefix="diff")
STATIONS = ("st-1", "st-2")

action = st.one_of(
    st.tuples(st.just("vote"), st.integers(0, 7), st.integers(0, 3), st.integers(0, 2)),  # token, candidate, nonce
    st.tuples(st.just("checkin"), st.integers(0, 1), st.integers(0, 9), st.just(0)),
    st.tuples(st.just("mint"), st.integers(0, 1), st.integers(0, 7), st.just(0)),
    st.tuples(st.just("register"), st.integers(0, 1), st.integers(0, 6), st.just(0)),
    st.tuples(st.just("open"), st.just(0), st.just(0), st.integers(0, 1)),
    st.tuples(st.just("close"), st.just(0), st.just(0), st.integers(0, 1)),
)


def make(election: Election, step: tuple[str, int, int, int]) -> Any:
    kind, a, b, c = step
    if kind == "vote":
        candidate = ("alice", "bob", "carol", "mallory")[b]
        to = election.address(candidate) if b < 3 else "00" * 20
        return election.transfer(KEYS[a], candidate, to=to, nonce=c)
    if kind == "checkin":
        return election.checkin(STATIONS[a], checkin_id(f"d-{b}"))
    if kind == "mint":
        return election.mint(STATIONS[a], [KEYS[b]])
    if kind == "register":
        return election.register(STATIONS[a], b)
    return election.open(nonce=c) if kind == "open" else election.close(nonce=c)


def code(call: Any) -> str | None:
    try:
        call()
    except Invalid as exc:
        return exc.code
    return None


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(blocks=st.lists(st.lists(action, min_size=1, max_size=6), min_size=1, max_size=6))
def test_each_transaction_gets_the_same_verdict_and_the_chains_the_same_roots(blocks: list[list[Any]]) -> None:
    builder = ChainBuilder(NETWORK)
    election = Election(NETWORK, opens_at=NETWORK.genesis.time + 3_000)
    builder.seal([election.create(), election.register("st-1", 3), election.register("st-2", 3)])
    mine = ChainState(decode_genesis(NETWORK.genesis.to_bytes()), {}, "cryptography")
    raw = encode(builder.blocks[0][0].header.to_dict())
    from verifier.objects import decode_header  # noqa: PLC0415

    first = builder.blocks[0]
    mine.verify_block(decode_header(canonical.decode(raw), raw), [decode_tx(t.to_dict()) for t in first[0].txs],
                      first[1].to_dict())
    for steps in blocks:
        txs = [make(election, step) for step in steps]
        time = builder.next_time
        height = builder.ledger.height + 1
        result = builder.ledger.build_block(txs, proposer=NETWORK.genesis.proposer_for(height, 0).id, round=0,
                                            time=time)
        theirs = {id(tx): error.code for tx, error in result.rejected}  # by object: a tx may repeat
        for tx in txs:
            ours = code(lambda tx=tx: mine.machine.apply(decode_tx(json.loads(tx.to_bytes())), height, time))
            assert ours == theirs.get(id(tx)), (tx.type, tx.payload, ours, theirs.get(id(tx)))
        mine.machine.writes = {}  # the roots are compared below, through the whole bundle
        builder.ledger.commit(result.pending)
        block = result.pending.block
        from tests.ledger.core.factory import certify  # noqa: PLC0415

        builder.blocks.append((block, certify(NETWORK, block.header)))
    reference = verify_chain(NETWORK.genesis, builder.blocks)
    assert reference.ok
    tally = reference.tallies[election.id]
    report = verify_bytes(compress(plain_lines(election_content(NETWORK.genesis, builder.blocks, tally))), workers=1)
    assert report.ok, report.failure
    assert report.tallies == reference.tallies
    assert report.head == reference.head


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_changed_blocks_are_refused_by_both_at_the_same_height(data: st.DataObject) -> None:
    builder = ChainBuilder(NETWORK)
    election = Election(NETWORK, opens_at=NETWORK.genesis.time + 3_000)
    builder.seal([election.create(), election.register("st-1", 4)])
    builder.seal([election.mint("st-1", KEYS[:4])])
    builder.seal([election.open()], time=election.opens_at)
    builder.seal([election.checkin("st-1", checkin_id(f"x-{i}")) for i in range(3)]
                 + [election.transfer(KEYS[i], "alice") for i in range(3)])
    height = data.draw(st.integers(1, len(builder.blocks)))
    block, cert = builder.blocks[height - 1]
    value = {"header": block.header.to_dict(), "txs": [tx.to_dict() for tx in block.txs]}
    paths = _leaves(value)
    path = data.draw(st.sampled_from(paths))
    target = value
    for step in path[:-1]:
        target = target[step]
    old = target[path[-1]]
    target[path[-1]] = old + data.draw(st.sampled_from([1, -1, 7])) if isinstance(old, int) else \
        old[:-1] + ("0" if old[-1:] != "0" else "1")
    from ledger.core.block import Block  # noqa: PLC0415
    from ledger.core.errors import LedgerError  # noqa: PLC0415

    try:
        changed = Block.from_dict(value)
    except LedgerError:
        return  # the reference refuses to even decode it; the bundle tests cover undecodable lines
    chain = [*builder.blocks[:height - 1], (changed, cert), *builder.blocks[height:]]
    reference = verify_chain(NETWORK.genesis, chain)
    content = election_content(NETWORK.genesis, chain, {"election": election.id})
    content.results = []
    content.head_hash = builder.blocks[-1][0].header.hash.hex()
    report = verify_bytes(compress(plain_lines(content)), workers=1)
    assert not reference.ok and not report.ok
    assert reference.failure is not None and report.failure is not None
    assert report.failure.height == reference.failure.height == height


def _leaves(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for k, v in value.items() for p in _leaves(v, (*prefix, k))]
    if isinstance(value, list):
        return [p for i, v in enumerate(value) for p in _leaves(v, (*prefix, i))]
    return [prefix] if isinstance(value, (int, str)) and value != "" else []
