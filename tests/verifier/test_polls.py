"""Polls and log anchors in the standalone verifier, against the reference (ledger/core) case by case."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ledger.core import polls as reference_polls
from ledger.core.errors import LedgerError
from ledger.core.state import Overlay
from ledger.core.tx import Transaction, make_tx
from tests.ledger.core.factory import ChainBuilder, token_keys
from tests.ledger.pollfactory import Poll, issue_poll_credential, poll_network
from tests.ledger.test_poll_contract import BALLOTS, rsa_key
from tests.ledger.test_polls_tally import polls_with_ballots
from verifier import canonical, pollcount
from verifier.engine import ChainState
from verifier.errors import Invalid
from verifier.objects import decode_genesis, decode_tx

from .helpers import bundle_bytes, compress, core_content_of, load, plain_lines, vector_block, vector_content, verify_bytes

VOTERS = token_keys(6, prefix="verifier-poll")
UNITS = ["suwon-jangan", "suwon-paldal", "seongnam", "suwon", "gg", "suwon-jangan"]


def anchor_tx(builder: ChainBuilder, label: str, seq: Any, digest: str, **kwargs: Any) -> Transaction:
    return make_tx(kwargs.pop("key", builder.network.authority_key), chain=builder.network.chain, contract="system",
                   type="anchor", payload={"label": label, "seq": seq, "hash": digest}, **kwargs)


def finished_polls() -> tuple[ChainBuilder, dict[str, Poll]]:
    """One closed poll per method (weighted where possible), one anonymous poll, and two anchors."""
    builder = ChainBuilder(poll_network())
    made = {m: Poll(builder.network, id=f"p-{m}", method=m, weights="equal" if m == "yna" else "registered")
            for m in BALLOTS}
    anonymous = Poll(builder.network, id="p-anon", method="ranked")
    builder.seal([p.create() for p in made.values()] + [anonymous.create_anonymous(rsa_key().public_key())])
    builder.seal([p.register([(VOTERS[i], UNITS[i], 1 if p.weights == "equal" else i + 1) for i in range(6)])
                  for p in made.values()]
                 + [anonymous.enrol(v, issue_poll_credential(rsa_key(), builder.network.chain, anonymous.id, v.address))
                    for v in VOTERS[:3]]
                 + [anchor_tx(builder, "officials-log", 0, hashlib.sha256(b"a").hexdigest())])
    builder.seal([p.open() for p in [*made.values(), anonymous]], time=anonymous.opens_at)
    builder.seal([p.cast(VOTERS[i], BALLOTS[m][i]) for m, p in made.items() for i in range(6)]
                 + [anonymous.cast(VOTERS[i], BALLOTS["ranked"][i]) for i in range(3)])
    builder.seal([p.close() for p in [*made.values(), anonymous]]
                 + [anchor_tx(builder, "officials-log", 1, hashlib.sha256(b"b").hexdigest())])
    return builder, {**made, "anon": anonymous}


def test_a_chain_of_polls_verifies_and_the_report_recounts_every_poll() -> None:
    builder, made = finished_polls()
    data = compress(plain_lines(core_content_of(builder)))
    report = verify_bytes(data, workers=1)
    assert report.ok, report.failure
    assert sorted(report.polls) == sorted(p.id for p in made.values())
    for poll in made.values():
        reference = builder.ledger.query("poll", "tally", {"poll": poll.id})
        assert report.polls[poll.id]["result"] == reference["result"]
        assert report.polls[poll.id]["counts"] == reference["counts"]
        assert report.polls[poll.id]["status"] == "closed"
    assert report.polls["p-anon"]["result"]["ballots"] == 3


def test_the_report_gives_turnout_against_the_published_eligible_members() -> None:
    """10 eligible members (3 in suwon-jangan, 7 in seongnam) and 3 ballots: 30.0% overall."""
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, id="p-counted", method="yna",
                units=[dict(u, eligible=e) for u, e in zip(Poll(builder.network).units, [0, 0, 3, 0, 7], strict=True)])
    plain = Poll(builder.network, id="p-plain", method="yna")
    builder.seal([poll.create(), plain.create()])
    builder.seal([poll.register([(VOTERS[0], "suwon-jangan", 1), (VOTERS[1], "suwon-jangan", 1),
                                 (VOTERS[2], "seongnam", 1)]), plain.register([(VOTERS[0], "gg", 1)])])
    builder.seal([poll.open(), plain.open()], time=poll.opens_at)
    builder.seal([poll.cast(VOTERS[i], "yes") for i in range(3)] + [plain.cast(VOTERS[0], "no")])
    report = verify_bytes(compress(plain_lines(core_content_of(builder))), workers=1)
    assert report.ok, report.failure
    counted = report.polls["p-counted"]
    assert (counted["eligible"], counted["turnout"]) == (10, "30.0")
    assert counted["units"]["suwon-jangan"] == {"eligible": 3, "cast": 2, "turnout": "66.7"}
    assert counted["units"]["seongnam"] == {"eligible": 7, "cast": 1, "turnout": "14.3"}
    assert counted["units"]["gg"] == {"eligible": 0, "cast": 0, "turnout": None}
    assert "eligible" not in report.polls["p-plain"] and "turnout" not in report.polls["p-plain"]


def test_the_ecdsa_path_agrees() -> None:
    builder, _ = finished_polls()
    report = verify_bytes(compress(plain_lines(core_content_of(builder))), workers=1, impl="ecdsa")
    assert report.ok, report.failure


def test_a_changed_ballot_breaks_the_state_root() -> None:
    builder, made = finished_polls()
    lines = plain_lines(core_content_of(builder))
    # The verifier recomputes every write: a ballot re-signed with another choice is a valid transaction
    # whose effect differs from what the certified state root committed to.
    target = made["single"].cast(VOTERS[0], BALLOTS["single"][0])
    other = made["single"].cast(VOTERS[0], "opt-c")
    index = next(i for i, line in enumerate(lines) if target.id_hex.encode() in line)
    line = lines[index].replace(canonical.encode_unchecked(target.to_dict()), canonical.encode_unchecked(other.to_dict()))
    lines[index] = line.replace(target.id_hex.encode(), other.id_hex.encode())
    report = verify_bytes(compress(lines), workers=1)
    assert not report.ok
    assert report.failure is not None and report.failure.height == 4


# --- verdicts, one transaction at a time ---------------------------------------------------------


def _reference_code(builder: ChainBuilder, overlay: Overlay, tx: Transaction, height: int, time: int) -> str | None:
    try:
        builder.ledger.execute_tx(overlay, tx, height=height, time=time)
    except LedgerError as exc:
        return exc.code
    return None


def _verifier_code(state: ChainState, tx: Transaction, height: int, time: int) -> str | None:
    try:
        state.machine.apply(decode_tx(canonical.decode(tx.to_bytes())), height, time)
    except Invalid as exc:
        return exc.code
    return None


def _poll_steps() -> st.SearchStrategy[list[tuple[str, int, Any]]]:
    """Steps (kind, voter index, argument) of a random poll history, many of them refused."""
    ballot = st.sampled_from([b for values in BALLOTS.values() for b in values] + ["nope", [], None, {"opt-a": 1}])
    step = st.one_of(
        st.tuples(st.just("register"), st.integers(0, 5), st.sampled_from(["gg", "suwon", "seongnam", "nowhere"])),
        st.tuples(st.just("batch"), st.integers(0, 5), st.sampled_from(["gg", "suwon", "seongnam"])),
        st.tuples(st.just("weight"), st.integers(0, 5), st.integers(0, 1001)),
        st.tuples(st.just("enrol"), st.integers(0, 5), st.sampled_from(["own", "other-poll", "reuse"])),
        st.tuples(st.just("open"), st.just(0), st.sampled_from([0, 1])),
        st.tuples(st.just("close"), st.just(0), st.just(0)),
        st.tuples(st.just("cast"), st.integers(0, 5), ballot),
        st.tuples(st.just("late-cast"), st.integers(0, 5), ballot),
        st.tuples(st.just("anchor"), st.just(0), st.integers(0, 3)),
        st.tuples(st.just("add_units"), st.integers(0, 5), st.sampled_from(["gg", "suwon", "missing", None])),
    )
    return st.lists(step, min_size=1, max_size=14)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(BALLOTS)), st.sampled_from(["equal", "registered", "anonymous"]), _poll_steps(),
       st.none() | st.lists(st.integers(0, 2), min_size=5, max_size=5))
def test_every_poll_transaction_gets_the_same_verdict_and_writes(method: str, mode: str,
                                                                  steps: list[tuple[str, int, Any]],
                                                                  eligible: list[int] | None) -> None:
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, method=method, weights="registered" if mode == "registered" else "equal")
    if eligible is not None:  # small counts, so eligible_exceeded is common
        poll.units = [dict(unit, eligible=count) for unit, count in zip(poll.units, eligible, strict=True)]
    mine = ChainState(decode_genesis(builder.network.genesis.to_bytes()), {}, "cryptography")
    overlay = Overlay(builder.ledger.state)
    first = poll.create_anonymous(rsa_key().public_key()) if mode == "anonymous" else poll.create()
    credentials: list[str] = []
    txs = [first]
    late: set[int] = set()
    for nonce, (kind, who, arg) in enumerate(steps, start=1):
        voter = VOTERS[who]
        if kind == "register":
            txs.append(poll.register([(voter, arg, 1)], nonce=nonce))
        elif kind == "weight":
            txs.append(poll.register([(voter, "gg", arg)], nonce=nonce))
        elif kind == "enrol":
            if arg == "reuse" and credentials:
                credential = credentials[-1]
            else:
                credential = issue_poll_credential(rsa_key(), builder.network.chain,
                                                   "other" if arg == "other-poll" else poll.id, voter.address)
                credentials.append(credential)
            txs.append(poll.enrol(voter, credential, nonce=nonce))
        elif kind == "open":
            txs.append(poll.open(nonce=nonce))
        elif kind == "close":
            txs.append(poll.close(nonce=nonce))
        elif kind in ("cast", "late-cast"):
            if kind == "late-cast":
                late.add(len(txs))
            txs.append(poll.cast(voter, arg, nonce=nonce))
        elif kind == "batch":
            txs.append(poll.register([(voter, arg, 1), (VOTERS[(who + 1) % 6], arg, 1)], nonce=nonce))
        elif kind == "add_units":
            units = [{"id": f"extra-{who}", "parent": arg, "name": "Extra"}]
            if eligible is not None and who % 3:  # who % 3 == 0: a bare unit, refused as units_invalid
                units[0]["eligible"] = who % 2
            txs.append(poll.tx("add_units", {"poll": poll.id, "units": units}, nonce=nonce))
        else:
            txs.append(anchor_tx(builder, "log", arg, "ab" * 32, nonce=nonce))
    verdicts = []
    for index, tx in enumerate(txs):
        time = poll.closes_at if index in late else poll.opens_at
        verdicts.append((_reference_code(builder, overlay, tx, 1, time), _verifier_code(mine, tx, 1, time)))
    assert all(ours == theirs for ours, theirs in verdicts), verdicts
    assert mine.machine.writes == overlay.writes


# --- counting: two implementations of the rules ---------------------------------------------------


@settings(max_examples=300, deadline=None)
@given(polls_with_ballots())
def test_the_verifier_counts_like_the_reference(case: Any) -> None:
    record, ballots = case
    assert pollcount.count(record, ballots) == reference_polls.tally(record, ballots)


# --- system.anchor ------------------------------------------------------------------------------


@pytest.mark.parametrize(("label", "seq", "digest", "signer"), [
    ("officials-log", 0, "ab" * 32, "authority"), ("officials-log", 1, "ab" * 32, "authority"),
    ("officials/log", 0, "ab" * 32, "authority"), ("officials-log", 0, "AB" * 32, "authority"),
    ("officials-log", 0, "ab" * 32, "validator"), ("officials-log", -1, "ab" * 32, "authority"),
])
def test_anchor_verdicts_match(label: str, seq: int, digest: str, signer: str) -> None:
    builder = ChainBuilder(poll_network())
    key = builder.network.authority_key if signer == "authority" else builder.network.validator_keys["node-0"]
    tx = anchor_tx(builder, label, seq, digest, key=key)
    mine = ChainState(decode_genesis(builder.network.genesis.to_bytes()), {}, "cryptography")
    overlay = Overlay(builder.ledger.state)
    assert _reference_code(builder, overlay, tx, 1, builder.next_time) == _verifier_code(mine, tx, 1, builder.next_time)
    assert mine.machine.writes == overlay.writes


# --- vectors: tests/ledger/vectors/polls.json ----------------------------------------------------


def test_poll_vectors_verify_and_recount_to_the_published_results() -> None:
    data = load("polls")
    blocks = [vector_block(item["block"], item["certificate"]) for item in data["blocks"]]
    report = verify_bytes(bundle_bytes(vector_content(data["genesis"], blocks)), workers=1)
    assert report.ok, report.failure
    assert {poll: entry["result"] for poll, entry in report.polls.items()} == {
        poll: entry["result"] for poll, entry in data["polls"].items()}
    for poll, entry in data["polls"].items():
        assert report.polls[poll]["counts"] == entry["counts"]


def test_poll_vector_rejections_get_the_same_codes() -> None:
    data = load("polls")
    state = ChainState(decode_genesis(canonical.encode_unchecked(data["genesis"])), {}, "cryptography")
    for height, item in enumerate(data["blocks"], start=1):
        for tx in item["block"]["txs"]:
            state.machine.apply(decode_tx(tx), height, item["block"]["header"]["time"])
    for case in data["rejections"]:
        with pytest.raises(Invalid) as raised:
            state.machine.apply(decode_tx(case["tx"]), len(data["blocks"]) + 1, data["time"])
        assert raised.value.code == case["error"], case["name"]
