"""Contract queries: typed errors for bad arguments, canonical-JSON-safe results, no aliasing of state."""

from __future__ import annotations

import pytest

from ledger.core.encoding import encode
from ledger.core.errors import MalformedObject, UnknownElection

from .factory import open_election_chain


@pytest.fixture
def chain():
    builder, election, keys = open_election_chain(tokens=4)
    builder.seal([election.transfer(keys[0], "alice")])
    return builder, election, keys


@pytest.mark.parametrize("args", [{}, {"address": "00" * 20}])
def test_query_without_required_argument_is_malformed(chain, args):
    builder, _, _ = chain
    name = "token" if "address" in args else "tally"
    with pytest.raises(MalformedObject):
        builder.ledger.query("vote", name, args)


@pytest.mark.parametrize("args", [None, [], "e1", 7])
def test_query_with_non_object_arguments_is_malformed(chain, args):
    builder, _, _ = chain
    with pytest.raises(MalformedObject):
        builder.ledger.query("vote", "tally", args)


def test_query_for_unknown_election_names_it(chain):
    builder, _, _ = chain
    with pytest.raises(UnknownElection):
        builder.ledger.query("vote", "tally", {"election": "no-such-election"})


def test_token_query_reports_status_in_canonical_json(chain):
    builder, election, keys = chain
    spent = builder.ledger.query("vote", "token", {"election": election.id, "address": keys[0].address})
    unspent = builder.ledger.query("vote", "token", {"election": election.id, "address": keys[1].address})
    unknown = builder.ledger.query("vote", "token", {"election": election.id, "address": "ab" * 20})
    assert (spent["status"], spent["balance"]) == ("spent", 0)
    assert (unspent["status"], unspent["balance"]) == ("unspent", 1)
    assert (unknown["status"], unknown["station"]) == ("not_minted", None)
    for result in (spent, unspent, unknown):
        encode(result)  # the node API serves query results as canonical JSON


def test_mutating_a_query_result_leaves_committed_state_alone(chain):
    builder, election, _ = chain
    root = builder.ledger.state.root
    record = builder.ledger.query("vote", "election", {"election": election.id})
    record["status"] = "closed"
    record["candidates"].clear()
    again = builder.ledger.query("vote", "election", {"election": election.id})
    assert again["status"] == "open" and again["candidates"]
    assert builder.ledger.state.root == root
