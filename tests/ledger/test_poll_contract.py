"""The ``poll`` contract and ``system.anchor`` on a real in-process ledger (docs/protocol.md 11, 16)."""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ledger.core import blindrsa, polls
from ledger.core.contracts import contract_source_sha256, registered_ids
from ledger.core.block import Block, CommitCertificate
from ledger.core.encoding import encode
from ledger.core.errors import LedgerError
from ledger.core.genesis import Genesis
from ledger.core.machine import Ledger
from ledger.core.state import Overlay
from ledger.core.tx import Transaction, make_tx
from ledger.localnet import compute_contract_pins
from tests.ledger.core.factory import ChainBuilder, issue_credential, key_for, token_keys
from tests.ledger.core.strategies import json_values
from tests.ledger.pollfactory import Poll, error_code, issue_poll_credential, options_for, poll_network

VOTERS = token_keys(6, prefix="poll-voter")
SPREAD = ["suwon-jangan", "suwon-paldal", "seongnam", "suwon", "gg", "suwon-jangan"]


@cache
def rsa_key() -> rsa.RSAPrivateKey:
    return blindrsa.generate_private_key(2048)


def setup(method: str = "single", *, weights: str = "equal", open_it: bool = True, voters: int = 6,
          **poll_args: Any) -> tuple[ChainBuilder, Poll]:
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, method=method, weights=weights, **poll_args)
    weight = (lambda i: i + 1) if weights == "registered" else (lambda i: 1)
    builder.seal([poll.create()])
    if voters:
        builder.seal([poll.register([(VOTERS[i], SPREAD[i], weight(i)) for i in range(voters)])])
    if open_it:
        builder.seal([poll.open()], time=poll.opens_at)
    return builder, poll


def query(builder: ChainBuilder, name: str, **args: Any) -> Any:
    return builder.ledger.query("poll", name, args)


def test_genesis_pins_the_poll_contract() -> None:
    assert "poll" in registered_ids()
    pins = {pin.id: pin.source_sha256 for pin in compute_contract_pins()}  # what the demo's localnet pins
    assert pins["poll"] == contract_source_sha256("poll")
    assert {"system", "vote", "poll"} <= set(pins)


BALLOTS = {
    "single": ["opt-a", "opt-b", "opt-a", "opt-c", "opt-a", "opt-b"],
    "multi": [["opt-a", "opt-b"], ["opt-b"], ["opt-a", "opt-c"], ["opt-c"], ["opt-b", "opt-c"], ["opt-a"]],
    "yna": ["yes", "no", "abstain", "yes", "yes", "no"],
    "ranked": [["opt-a"], ["opt-b", "opt-a"], ["opt-c", "opt-b", "opt-a"], ["opt-b"], ["opt-c", "opt-b"], ["opt-a"]],
    "score": [{"opt-a": s % 6, "opt-b": (s * 2) % 6, "opt-c": 5 - s % 6} for s in range(6)],
}


@pytest.mark.parametrize("weights", ["equal", "registered"])
@pytest.mark.parametrize("method", sorted(BALLOTS))
def test_poll_lifecycle_records_every_ballot_and_the_tally_recounts_them(method: str, weights: str) -> None:
    builder, poll = setup(method, weights=weights)
    builder.seal([poll.cast(VOTERS[i], BALLOTS[method][i]) for i in range(6)])
    builder.seal([poll.close()])
    tally = query(builder, "tally", poll=poll.id)
    assert tally["status"] == "closed"
    assert tally["counts"]["cast"] == 6 and tally["counts"]["registered"] == 6
    expected_weights = [i + 1 if weights == "registered" else 1 for i in range(6)]
    assert tally["counts"]["cast_weight"] == sum(expected_weights)
    state = builder.ledger.state
    for i in range(6):
        assert state.get(f"poll/x/{poll.id}/{i}") == {"address": VOTERS[i].address, "unit": SPREAD[i],
                                                     "weight": expected_weights[i], "ballot": BALLOTS[method][i]}
    record = query(builder, "poll", poll=poll.id)
    rows = [(SPREAD[i], expected_weights[i], BALLOTS[method][i]) for i in range(6)]
    assert tally["result"] == polls.tally(record, rows)
    units = query(builder, "tally", poll=poll.id, units=1)["units"]
    assert units["gg"] == tally["result"]
    assert units["suwon"]["ballots"] == 4 and units["seongnam"]["ballots"] == 1


def test_the_tally_query_travels_as_canonical_json() -> None:
    """A node answers queries in canonical JSON, which has no booleans: tie and passed come as 0/1."""
    builder, poll = setup("yna")
    builder.seal([poll.cast(VOTERS[0], "yes"), poll.cast(VOTERS[1], "no")])
    tally = query(builder, "tally", poll=poll.id, units=1)
    encode(tally)  # raises EncodingError on a boolean
    assert (tally["result"]["tie"], tally["result"]["passed"]) == (1, 0)
    assert type(tally["result"]["tie"]) is int and type(tally["units"]["gg"]["passed"]) is int


def test_cast_once_ever() -> None:
    builder, poll = setup()
    builder.seal([poll.cast(VOTERS[0], "opt-a")])
    assert query(builder, "voter", poll=poll.id, address=VOTERS[0].address)["status"] == "cast"
    assert error_code(builder, poll.cast(VOTERS[0], "opt-b")) == "ballot_already_cast"
    assert error_code(builder, poll.cast(VOTERS[0], "opt-a", nonce=1)) == "ballot_already_cast"
    assert error_code(builder, poll.cast(VOTERS[0], "opt-a")) == "tx_replayed"


def test_only_registered_addresses_cast() -> None:
    builder, poll = setup(voters=2)
    assert error_code(builder, poll.cast(VOTERS[3], "opt-a")) == "voter_not_registered"
    assert query(builder, "voter", poll=poll.id, address=VOTERS[3].address) == {
        "status": "not_registered", "unit": None, "weight": 0}


def test_time_rules_mirror_the_vote_contract() -> None:
    builder, poll = setup(open_it=False)
    assert error_code(builder, poll.cast(VOTERS[0], "opt-a")) == "poll_not_open"
    assert error_code(builder, poll.open(), time=poll.opens_at - 1) == "poll_not_open"
    assert error_code(builder, poll.open(), time=poll.closes_at) == "poll_closed"
    assert error_code(builder, poll.close()) == "poll_wrong_state"
    builder.seal([poll.open()], time=poll.opens_at)
    assert error_code(builder, poll.open(nonce=1)) == "poll_wrong_state"
    assert error_code(builder, poll.cast(VOTERS[0], "opt-a"), time=poll.closes_at) == "poll_closed"
    assert error_code(builder, poll.register([(key_for("late"), "gg", 1)]), time=poll.closes_at) == "poll_closed"
    builder.seal([poll.register([(key_for("late"), "gg", 1)])])  # registering while open is allowed
    builder.seal([poll.close()])
    assert error_code(builder, poll.cast(VOTERS[0], "opt-a")) == "poll_closed"
    assert error_code(builder, poll.close(nonce=1)) == "poll_wrong_state"


def test_only_the_poll_authority_runs_it() -> None:
    builder, poll = setup(open_it=False, voters=0)
    outsider = key_for("outsider")
    assert error_code(builder, poll.open(key=outsider)) == "not_authorised"
    assert error_code(builder, poll.register([(VOTERS[0], "gg", 1)], key=outsider)) == "not_authorised"
    other = Poll(builder.network, id="p2", authority=outsider)
    assert error_code(builder, other.create()) == "not_authorised"


@pytest.mark.parametrize(("change", "code"), [
    ({"method": "approval"}, "malformed"),
    ({"options": options_for("single", 1)}, "malformed"),
    ({"options": options_for("single", 101)}, "malformed"),
    ({"options": [{"id": "x", "name": "X"}, {"id": "x", "name": "Y"}]}, "malformed"),
    ({"options": [{"id": "x", "name": "X"}, {"id": "y"}]}, "malformed"),
    ({"choices": 1}, "malformed"),
    ({"score_max": 5}, "malformed"),
    ({"title": ""}, "malformed"),
    ({"closes_at": 0}, "malformed"),
    ({"weights": "by_wealth"}, "malformed"),
    ({"weights": "registered"}, "malformed"),  # without a weight_rule
    ({"weight_rule": "x" * 2001}, "malformed"),
    ({"units": []}, "malformed"),
    ({"units": [{"id": "a", "parent": None, "name": ""}]}, "malformed"),
    ({"units": [{"id": "a", "parent": None, "name": "A"}, {"id": "a", "parent": "a", "name": "A"}]}, "units_invalid"),
    ({"units": [{"id": "a", "parent": None, "name": "A"}, {"id": "b", "parent": None, "name": "B"}]}, "units_invalid"),
    ({"units": [{"id": "a", "parent": None, "name": "A"}, {"id": "b", "parent": "zz", "name": "B"}]}, "units_invalid"),
    ({"units": [{"id": "r", "parent": None, "name": "R"}, {"id": "a", "parent": "b", "name": "A"},
                {"id": "b", "parent": "a", "name": "B"}]}, "units_invalid"),
    ({"credential_key": "00ff"}, "credential_key_invalid"),
    ({"unexpected": 1}, "malformed"),
])
def test_create_refuses_bad_polls(change: dict[str, Any], code: str) -> None:
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network)
    assert error_code(builder, poll.tx("create", poll.create_payload(**change))) == code


@pytest.mark.parametrize(("method", "change", "code"), [
    ("multi", {"choices": 4}, "malformed"),
    ("multi", {"choices": None}, "malformed"),
    ("score", {"score_max": 101}, "malformed"),
    ("yna", {"options": options_for("single")}, "malformed"),
])
def test_create_checks_method_parameters(method: str, change: dict[str, Any], code: str) -> None:
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, method=method)
    payload = poll.create_payload(**change)
    if payload.get("choices", 0) is None:
        del payload["choices"]
    assert error_code(builder, poll.tx("create", payload)) == code


def test_anonymous_polls_have_equal_weights_and_poll_ids_are_unique() -> None:
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, weights="registered")
    assert error_code(builder, poll.create_anonymous(rsa_key().public_key())) == "malformed"
    builder.seal([Poll(builder.network).create()])
    assert error_code(builder, Poll(builder.network, method="yna").create()) == "poll_exists"


def test_register_rules() -> None:
    builder, poll = setup(open_it=False, voters=1)
    assert error_code(builder, poll.register([(VOTERS[0], "gg", 1)])) == "voter_already_registered"
    assert error_code(builder, poll.register([(VOTERS[1], "nowhere", 1)])) == "unknown_unit"
    assert error_code(builder, poll.register([(VOTERS[1], "gg", 2)])) == "malformed"  # equal weights
    assert error_code(builder, poll.register([(VOTERS[1], "gg", 1), (VOTERS[1], "suwon", 1)])) == "malformed"
    assert error_code(builder, poll.register([(VOTERS[1], "gg", 1), (VOTERS[0], "gg", 1)])) == "voter_already_registered"
    assert error_code(builder, poll.tx("register", {"poll": poll.id, "voters": []})) == "malformed"
    assert error_code(builder, poll.tx("register", {"poll": "nope", "voters": []})) == "unknown_poll"


def test_registered_weights_are_bounded() -> None:
    builder, poll = setup(weights="registered", open_it=False, voters=0)
    assert error_code(builder, poll.register([(VOTERS[0], "gg", 1001)])) == "malformed"
    assert error_code(builder, poll.register([(VOTERS[0], "gg", 0)])) == "malformed"
    assert error_code(builder, poll.register([(VOTERS[0], "gg", 1000)])) is None


@pytest.mark.parametrize(("method", "ballot"), [
    ("single", "opt-z"), ("single", ["opt-a"]), ("single", None), ("single", 1),
    ("yna", "YES"), ("yna", "opt-a"),
    ("multi", []), ("multi", ["opt-a", "opt-b", "opt-c"]), ("multi", ["opt-b", "opt-a"]), ("multi", ["opt-a", "opt-a"]),
    ("multi", "opt-a"), ("multi", ["opt-z"]), ("multi", [1]),
    ("ranked", []), ("ranked", ["opt-a", "opt-a"]), ("ranked", ["opt-a", "opt-z"]), ("ranked", {"opt-a": 1}),
    ("score", {"opt-a": 1, "opt-b": 2}), ("score", {"opt-a": 1, "opt-b": 2, "opt-c": 6}),
    ("score", {"opt-a": 1, "opt-b": 2, "opt-c": -1}), ("score", {"opt-a": 1, "opt-b": 2, "opt-c": "3"}),
    ("score", {"opt-a": 1, "opt-b": 2, "opt-c": 3, "opt-d": 0}), ("score", ["opt-a"]),
])
def test_cast_refuses_malformed_ballots(method: str, ballot: Any) -> None:
    builder, poll = setup(method, voters=1)
    assert error_code(builder, poll.cast(VOTERS[0], ballot)) == "ballot_invalid"


def test_ranked_accepts_partial_rankings_and_multi_up_to_k() -> None:
    builder, poll = setup("ranked", voters=2)
    builder.seal([poll.cast(VOTERS[0], ["opt-c"]), poll.cast(VOTERS[1], ["opt-b", "opt-c", "opt-a"])])
    builder, poll = setup("multi", voters=2)
    builder.seal([poll.cast(VOTERS[0], ["opt-a", "opt-c"]), poll.cast(VOTERS[1], ["opt-b"])])


# --- anonymous polls: enrol with a blind-signed credential ---------------------------------


def anonymous_poll(**kwargs: Any) -> tuple[ChainBuilder, Poll]:
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, **kwargs)
    builder.seal([poll.create_anonymous(rsa_key().public_key())])
    return builder, poll


def credential(builder: ChainBuilder, poll: str, address: str) -> str:
    return issue_poll_credential(rsa_key(), builder.network.chain, poll, address)


def test_enrolled_voter_casts_at_the_root_unit() -> None:
    builder, poll = anonymous_poll()
    voter = VOTERS[0]
    builder.seal([poll.enrol(voter, credential(builder, poll.id, voter.address))])
    assert query(builder, "voter", poll=poll.id, address=voter.address) == {"status": "registered", "unit": "gg",
                                                                             "weight": 1}
    builder.seal([poll.open()], time=poll.opens_at)
    builder.seal([poll.cast(voter, "opt-b")])
    assert query(builder, "tally", poll=poll.id)["result"]["totals"] == {"opt-a": 0, "opt-b": 1, "opt-c": 0}


def test_a_credential_enrols_once() -> None:
    builder, poll = anonymous_poll()
    issued = credential(builder, poll.id, VOTERS[0].address)
    builder.seal([poll.enrol(VOTERS[0], issued)])
    # The same credential again (a new nonce): already used.
    assert error_code(builder, poll.enrol(VOTERS[0], issued, nonce=1)) == "credential_already_used"
    # A second, fresh credential for an address already enrolled.
    assert error_code(builder, poll.enrol(VOTERS[0], credential(builder, poll.id, VOTERS[0].address))) \
        == "voter_already_registered"
    # Someone else presenting it for their own address: it does not name that address.
    assert error_code(builder, poll.enrol(VOTERS[1], issued)) == "credential_invalid"


def test_a_credential_for_another_poll_or_chain_or_key_is_invalid() -> None:
    builder, poll = anonymous_poll()
    voter = VOTERS[2]
    assert error_code(builder, poll.enrol(voter, credential(builder, "p-other", voter.address))) == "credential_invalid"
    wrong_chain = issue_poll_credential(rsa_key(), "another-chain", poll.id, voter.address)
    assert error_code(builder, poll.enrol(voter, wrong_chain)) == "credential_invalid"
    stranger = issue_poll_credential(blindrsa.generate_private_key(2048), builder.network.chain, poll.id, voter.address)
    assert error_code(builder, poll.enrol(voter, stranger)) == "credential_invalid"
    assert error_code(builder, poll.enrol(voter, credential(builder, poll.id, voter.address)[:-2])) == "credential_invalid"
    # A vote-contract credential (other tag) for the same names does not enrol either.
    vote_credential = issue_credential(rsa_key(), builder.network.chain, poll.id, voter.address)
    assert error_code(builder, poll.enrol(voter, vote_credential)) == "credential_invalid"


def test_enrol_rules() -> None:
    builder, poll = anonymous_poll()
    voter = VOTERS[3]
    issued = credential(builder, poll.id, voter.address)
    assert error_code(builder, poll.enrol(voter, issued, key=VOTERS[4])) == "not_authorised"
    assert error_code(builder, poll.enrol(voter, issued), time=poll.closes_at) == "poll_closed"
    assert error_code(builder, poll.enrol(voter, "zz")) == "malformed"
    assert error_code(builder, poll.register([(voter, "gg", 1)])) == "poll_anonymous"
    public, public_poll = setup(voters=0)
    assert error_code(public, public_poll.enrol(voter, credential(public, public_poll.id, voter.address))) \
        == "credential_key_missing"


# --- arbitrary input: typed errors only, nothing written -------------------------------------


def _poll_payloads() -> st.SearchStrategy[dict[str, Any]]:
    base = Poll(poll_network()).create_payload()
    mutated = st.builds(lambda key, value: dict(base, **{key: value}), st.sampled_from(sorted(base)), json_values)
    dropped = st.builds(lambda key: {k: v for k, v in base.items() if k != key}, st.sampled_from(sorted(base)))
    generic = st.dictionaries(st.sampled_from(["poll", "ballot", "voters", "address", "credential", "units"]),
                              json_values | st.just("p1"), max_size=4)
    return mutated | dropped | generic


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(["create", "register", "enrol", "open", "close", "cast", "tally"]), _poll_payloads(),
       st.sampled_from(["authority", "voter"]))
def test_arbitrary_payloads_fail_with_typed_errors_and_write_nothing(tx_type: str, payload: dict[str, Any],
                                                                     who: str) -> None:
    builder, poll = _fuzz_chain()
    key = builder.network.authority_key if who == "authority" else VOTERS[0]
    tx = make_tx(key, chain=builder.network.chain, contract="poll", type=tx_type, payload=payload)
    overlay = Overlay(builder.ledger.state)
    before = dict(builder.ledger.state.data)
    try:
        builder.ledger.execute_tx(overlay, tx, height=builder.ledger.height + 1, time=builder.next_time)
    except LedgerError as exc:
        assert exc.code and exc.code == exc.code.lower()
        assert overlay.writes == {}
    assert builder.ledger.state.data == before


@cache
def _fuzz_chain() -> tuple[ChainBuilder, Poll]:
    builder, poll = setup("score", voters=2)
    builder.seal([poll.cast(VOTERS[1], {"opt-a": 1, "opt-b": 2, "opt-c": 3})])
    return builder, poll


@settings(max_examples=60, deadline=None)
@given(st.sampled_from(sorted(BALLOTS)), json_values)
def test_arbitrary_ballots_are_accepted_only_in_their_methods_exact_form(method: str, ballot: Any) -> None:
    builder, poll = _open_polls()[method]
    code = error_code(builder, poll.cast(VOTERS[0], ballot))
    assert code in (None, "ballot_invalid")
    if code is None:
        builder_record = query(builder, "poll", poll=poll.id)
        polls.tally(builder_record, [("gg", 1, ballot)])  # an accepted ballot is countable


@cache
def _open_polls() -> dict[str, tuple[ChainBuilder, Poll]]:
    return {method: setup(method, voters=1) for method in BALLOTS}


# --- system.anchor ---------------------------------------------------------------------------


def anchor_tx(builder: ChainBuilder, label: str, seq: Any, digest: str, *, key: Any = None, nonce: int = 0) -> Any:
    return make_tx(key or builder.network.authority_key, chain=builder.network.chain, contract="system",
                   type="anchor", payload={"label": label, "seq": seq, "hash": digest}, nonce=nonce)


def test_anchors_follow_each_other_per_label() -> None:
    builder = ChainBuilder(poll_network())
    h0, h1 = hashlib.sha256(b"0").hexdigest(), hashlib.sha256(b"1").hexdigest()
    assert error_code(builder, anchor_tx(builder, "officials-log", 1, h0)) == "anchor_seq_invalid"
    builder.seal([anchor_tx(builder, "officials-log", 0, h0)])
    assert error_code(builder, anchor_tx(builder, "officials-log", 0, h1)) == "anchor_seq_invalid"
    assert error_code(builder, anchor_tx(builder, "officials-log", 2, h1)) == "anchor_seq_invalid"
    builder.seal([anchor_tx(builder, "officials-log", 1, h1), anchor_tx(builder, "other-log", 0, h1)])
    state = builder.ledger.state
    assert state.get("system/a/officials-log") == {"seq": 1, "hash": h1, "height": 2}
    assert state.get("system/a/officials-log/0") == h0 and state.get("system/a/officials-log/1") == h1
    assert builder.ledger.query("system", "anchor", {"label": "officials-log"}) == {"seq": 1, "hash": h1, "height": 2}
    assert builder.ledger.query("system", "anchor", {"label": "officials-log", "seq": 0}) == {
        "label": "officials-log", "seq": 0, "hash": h0}
    assert builder.ledger.query("system", "anchor", {"label": "nothing"}) is None


@pytest.mark.parametrize(("label", "seq", "digest", "code"), [
    ("officials/log", 0, "00" * 32, "malformed"),
    ("officials-log", -1, "00" * 32, "malformed"),
    ("officials-log", "0", "00" * 32, "malformed"),
    ("officials-log", 0, "AA" * 32, "malformed"),
    ("officials-log", 0, "00" * 31, "malformed"),
])
def test_anchor_refuses_malformed_payloads(label: str, seq: Any, digest: str, code: str) -> None:
    builder = ChainBuilder(poll_network())
    assert error_code(builder, anchor_tx(builder, label, seq, digest)) == code


def test_only_a_genesis_authority_anchors() -> None:
    builder = ChainBuilder(poll_network())
    assert error_code(builder, anchor_tx(builder, "officials-log", 0, "00" * 32, key=key_for("x"))) == "not_authorised"


# --- vectors: tests/ledger/vectors/polls.json --------------------------------------------------


def test_poll_vectors_replay_with_the_same_roots_results_and_rejections() -> None:
    data = json.loads((Path(__file__).parent / "vectors" / "polls.json").read_text(encoding="utf-8"))
    genesis = Genesis.from_dict(data["genesis"])
    assert {pin.id for pin in genesis.contracts} == {"system", "vote", "poll"}
    ledger = Ledger(genesis)
    for item in data["blocks"]:
        block = Block.from_dict(item["block"])
        CommitCertificate.from_dict(item["certificate"]).verify(genesis, block.header)
        ledger.apply_block(block)
        assert ledger.state.root.hex() == item["state_root"]
    for poll, expected in data["polls"].items():
        assert ledger.query("poll", "tally", {"poll": poll, "units": 1}) == expected
    assert data["polls"]["park-2026"]["result"]["winners"] == ["opt-b"]  # the plurality leader opt-a loses
    assert data["polls"]["budget-2026"]["result"]["winners"] == ["opt-b"]  # one voter of weight 5 against three
    assert ledger.query("system", "anchor", {"label": "officials-log"}) == data["anchors"]
    for case in data["rejections"]:
        with pytest.raises(LedgerError) as raised:
            ledger.check_tx(Transaction.from_dict(case["tx"]), time=data["time"])
        assert raised.value.code == case["error"], case["name"]


def test_add_units_grows_the_tree_before_opening() -> None:
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, units=[{"id": "root", "parent": None, "name": "Root"}])
    builder.seal([poll.create()])
    # Many more units than one 128 KiB transaction could hold, added level by level.
    cities = [{"id": f"city-{i}", "parent": "root", "name": f"도시 {i}" * 3} for i in range(40)]
    districts = [{"id": f"d-{i}-{j}", "parent": f"city-{i}", "name": f"구역 {i}-{j}" * 3}
                 for i in range(40) for j in range(100)]
    builder.seal([poll.tx("add_units", {"poll": poll.id, "units": cities})])
    for start in range(0, len(districts), 800):
        builder.seal([poll.tx("add_units", {"poll": poll.id, "units": districts[start:start + 800]})])
    record = query(builder, "poll", poll=poll.id)
    assert len(record["units"]) == 1 + 40 + 4000
    assert error_code(builder, poll.tx("add_units", {"poll": poll.id, "units": [
        {"id": f"x-{i}", "parent": "root", "name": "X"} for i in range(960)]})) == "units_invalid"  # 5001 units
    builder.seal([poll.register([(VOTERS[0], "d-39-99", 1)])])
    builder.seal([poll.open()], time=poll.opens_at)
    builder.seal([poll.cast(VOTERS[0], "opt-b")])
    units = query(builder, "tally", poll=poll.id, units=1)["units"]
    assert units["root"]["totals"]["opt-b"] == units["city-39"]["totals"]["opt-b"] == 1
    assert units["city-0"]["ballots"] == 0


@pytest.mark.parametrize(("units", "code"), [
    ([{"id": "root", "parent": None, "name": "Again"}], "units_invalid"),
    ([{"id": "new-root", "parent": None, "name": "Second root"}], "units_invalid"),
    ([{"id": "orphan", "parent": "missing", "name": "Orphan"}], "units_invalid"),
    ([{"id": "a", "parent": "b", "name": "A"}, {"id": "b", "parent": "a", "name": "B"}], "units_invalid"),
    ([], "malformed"),
    ([{"id": "a", "parent": "root"}], "malformed"),
])
def test_add_units_keeps_one_tree(units: list[dict[str, Any]], code: str) -> None:
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, units=[{"id": "root", "parent": None, "name": "Root"}])
    builder.seal([poll.create()])
    assert error_code(builder, poll.tx("add_units", {"poll": poll.id, "units": units})) == code


def test_add_units_only_by_the_authority_and_before_opening() -> None:
    builder, poll = setup(voters=0)
    extra = {"poll": poll.id, "units": [{"id": "suwon-gwonseon", "parent": "suwon", "name": "Gwonseon-gu"}]}
    assert error_code(builder, poll.tx("add_units", extra)) == "poll_wrong_state"
    builder2, poll2 = setup(voters=0, open_it=False)
    assert error_code(builder2, poll2.tx("add_units", extra, key=key_for("outsider"))) == "not_authorised"
    assert error_code(builder2, poll2.tx("add_units", extra)) is None


# --- eligible members per unit (docs/protocol.md 16.2, 16.3, 16.5) ----------------------------


def eligible_units(counts: list[int]) -> list[dict[str, Any]]:
    from tests.ledger.pollfactory import UNITS
    return [dict(unit, eligible=count) for unit, count in zip(UNITS, counts, strict=True)]


def test_eligible_is_kept_on_the_record_and_bounds_each_units_registrations() -> None:
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, units=eligible_units([0, 1, 2, 0, 1]))
    builder.seal([poll.create()])
    assert [u["eligible"] for u in query(builder, "poll", poll=poll.id)["units"]] == [0, 1, 2, 0, 1]
    builder.seal([poll.register([(VOTERS[0], "suwon-jangan", 1), (VOTERS[1], "suwon-jangan", 1)])])
    assert builder.ledger.state.get(f"poll/u/{poll.id}/suwon-jangan") == 2
    before = dict(builder.ledger.state.data)
    assert error_code(builder, poll.register([(VOTERS[2], "suwon-jangan", 1)])) == "eligible_exceeded"
    # The whole transaction is refused: the voter of a unit with room is not written either.
    assert error_code(builder, poll.register([(VOTERS[3], "seongnam", 1), (VOTERS[4], "gg", 1)])) \
        == "eligible_exceeded"
    assert error_code(builder, poll.register([(VOTERS[3], "seongnam", 1), (VOTERS[4], "seongnam", 1)])) \
        == "eligible_exceeded"
    assert builder.ledger.state.data == before
    assert error_code(builder, poll.register([(VOTERS[3], "seongnam", 1)])) is None


@pytest.mark.parametrize(("units", "code"), [
    ([{"id": "a", "parent": None, "name": "A", "eligible": 3}, {"id": "b", "parent": "a", "name": "B"}],
     "units_invalid"),
    ([{"id": "a", "parent": None, "name": "A", "eligible": -1}], "malformed"),
    ([{"id": "a", "parent": None, "name": "A", "eligible": 100_000_001}], "malformed"),
    ([{"id": "a", "parent": None, "name": "A", "eligible": "3"}], "malformed"),
    ([{"id": "a", "parent": None, "name": "A", "eligible": 100_000_000}], None),
])
def test_eligible_is_all_or_none_and_bounded(units: list[dict[str, Any]], code: str | None) -> None:
    builder = ChainBuilder(poll_network())
    assert error_code(builder, Poll(builder.network, units=units).create()) == code


def test_add_units_must_match_the_polls_eligible_form() -> None:
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, units=[{"id": "root", "parent": None, "name": "Root", "eligible": 2}])
    builder.seal([poll.create()])
    bare = {"poll": poll.id, "units": [{"id": "c", "parent": "root", "name": "C"}]}
    assert error_code(builder, poll.tx("add_units", bare)) == "units_invalid"
    counted = {"poll": poll.id, "units": [{"id": "c", "parent": "root", "name": "C", "eligible": 4}]}
    builder.seal([poll.tx("add_units", counted)])
    assert query(builder, "poll", poll=poll.id)["units"][1] == {"id": "c", "parent": "root", "name": "C", "eligible": 4}
    plain_builder, plain = setup(voters=0, open_it=False)
    assert error_code(plain_builder, plain.tx("add_units", dict(counted, poll=plain.id))) == "units_invalid"


def test_an_anonymous_poll_enrols_at_most_the_sum_of_eligible() -> None:
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, units=eligible_units([0, 1, 0, 1, 0]))
    builder.seal([poll.create_anonymous(rsa_key().public_key())])
    builder.seal([poll.enrol(VOTERS[0], credential(builder, poll.id, VOTERS[0].address)),
                  poll.enrol(VOTERS[1], credential(builder, poll.id, VOTERS[1].address))])
    before = dict(builder.ledger.state.data)
    assert error_code(builder, poll.enrol(VOTERS[2], credential(builder, poll.id, VOTERS[2].address))) \
        == "eligible_exceeded"
    assert builder.ledger.state.data == before


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.integers(0, 3), min_size=5, max_size=5),
       st.lists(st.lists(st.tuples(st.integers(0, 5), st.sampled_from(SPREAD)), min_size=1, max_size=4),
                min_size=1, max_size=8))
def test_random_registrations_never_exceed_eligible(counts: list[int], batches: list[list[tuple[int, str]]]) -> None:
    """Whatever the sequence, each unit's registered voters stay within its eligible; a refusal writes nothing."""
    builder = ChainBuilder(poll_network())
    poll = Poll(builder.network, units=eligible_units(counts))
    builder.seal([poll.create()])
    eligible = {u["id"]: c for u, c in zip(poll.units, counts, strict=True)}
    for nonce, batch in enumerate(batches, start=1):
        unique = list({who: (who, unit) for who, unit in batch}.values())
        tx = poll.register([(VOTERS[who], unit, 1) for who, unit in unique], nonce=nonce)
        before = dict(builder.ledger.state.data)
        code = error_code(builder, tx)
        if code is None:
            builder.seal([tx])
        else:
            assert code in ("eligible_exceeded", "voter_already_registered")
            assert builder.ledger.state.data == before
        state = builder.ledger.state
        per_unit: dict[str, int] = {}
        for voter in VOTERS:
            entry = state.get(f"poll/v/{poll.id}/{voter.address}")
            if entry is not None:
                per_unit[entry["unit"]] = per_unit.get(entry["unit"], 0) + 1
        for unit, limit in eligible.items():
            assert per_unit.get(unit, 0) == (state.get(f"poll/u/{poll.id}/{unit}") or 0) <= limit
