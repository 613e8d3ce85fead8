"""Approval (k-of-n) ballots: a token holds k units, marks at most k candidates, loses nothing."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.core.errors import LedgerError
from ledger.core.machine import Ledger

from .factory import ChainBuilder, Election, make_network, token_keys

K = 2


def approval_chain(tokens: int = 5) -> tuple[ChainBuilder, Election, list[Any]]:
    network = make_network()
    builder = ChainBuilder(network)
    election = Election(network, candidates=("alice", "bob", "carol", "dave"))
    create = election.create()
    create = election.tx("create", dict(create.payload, choices=K))
    keys = token_keys(tokens, prefix="approval")
    builder.seal([create, election.register("st-1", tokens)])
    builder.seal([election.mint("st-1", keys)])
    builder.seal([election.open()], time=election.opens_at)
    return builder, election, keys


def ballot(election: Election, token: Any, *candidates: str, to: Any = None) -> Any:
    marks = to if to is not None else sorted(election.address(c) for c in candidates)
    return election.tx("transfer", {"election": election.id, "to": marks}, key=token)


def rejection(ledger: Ledger, tx: Any) -> str:
    with pytest.raises(LedgerError) as info:
        ledger.check_tx(tx, time=ledger.head_time + 1)
    return info.value.code


def test_approval_ballots_count_each_mark_and_keep_unmarked_units():
    builder, election, keys = approval_chain()
    builder.seal([
        ballot(election, keys[0], "alice", "bob"),
        ballot(election, keys[1], "alice"),
        ballot(election, keys[2]),  # blank ballot: both units unused
    ])
    tally = builder.ledger.query("vote", "tally", {"election": election.id})
    assert tally["choices"] == K
    assert tally["candidates"] == {"alice": 2, "bob": 1, "carol": 0, "dave": 0}
    assert tally["unused"] == 1 + 2
    minted_units = tally["totals"]["minted"] * K
    unspent_units = sum(builder.ledger.query("vote", "token", {"election": election.id, "address": k.address})["balance"]
                        for k in keys)
    assert sum(tally["candidates"].values()) + tally["unused"] + unspent_units == minted_units
    assert tally["totals"]["spent"] == 3


@pytest.mark.parametrize(
    ("marks", "code"),
    [
        (lambda e: sorted(e.address(c) for c in ("alice", "bob", "carol")), "malformed"),  # more than k
        (lambda e: sorted(e.address(c) for c in ("alice", "bob")), None),  # valid control
        (lambda e: sorted((e.address(c) for c in ("alice", "bob")), reverse=True), "malformed"),  # order as a mark
        (lambda e: [e.address("alice"), e.address("alice")], "malformed"),  # duplicate
        (lambda e: e.address("alice"), "malformed"),  # a bare address in an approval election
        (lambda e: ["00" * 20], "wrong_candidate"),
        (lambda e: [7], "malformed"),
    ],
)
def test_approval_ballot_shapes(marks, code):
    builder, election, keys = approval_chain()
    tx = ballot(election, keys[0], to=marks(election))
    if code is None:
        builder.ledger.check_tx(tx, time=builder.ledger.head_time + 1)
    else:
        assert rejection(builder.ledger, tx) == code


def test_approval_token_cannot_vote_twice():
    builder, election, keys = approval_chain()
    builder.seal([ballot(election, keys[0], "alice")])
    again = election.tx("transfer", {"election": election.id, "to": [election.address("bob")]}, key=keys[0], nonce=1)
    assert rejection(builder.ledger, again) == "token_already_spent"


@pytest.mark.parametrize("choices", [0, 5, -1, "2"])
def test_create_rejects_choices_outside_one_to_candidate_count(choices):
    network = make_network()
    builder = ChainBuilder(network)
    election = Election(network, candidates=("alice", "bob", "carol", "dave"))
    create = election.tx("create", dict(election.create().payload, choices=choices))
    assert rejection(builder.ledger, create) == "malformed"


def test_single_choice_elections_reject_a_list():
    network = make_network()
    builder = ChainBuilder(network)
    election = Election(network)
    keys = token_keys(1, prefix="single")
    builder.seal([election.create(), election.register("st-1", 1)])
    builder.seal([election.mint("st-1", keys)])
    builder.seal([election.open()], time=election.opens_at)
    assert rejection(builder.ledger, ballot(election, keys[0], "alice")) == "malformed"
    builder.ledger.check_tx(election.transfer(keys[0], "alice"), time=builder.ledger.head_time + 1)
