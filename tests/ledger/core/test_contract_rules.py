"""Every rejection of the vote and system contracts has its typed error and changes nothing."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from functools import cache

import pytest

from ledger.core import crypto
from ledger.core.block import sign_vote
from ledger.core.contracts import contract_source_sha256
from ledger.core.encoding import encode
from ledger.core.errors import LedgerError
from ledger.core.genesis import ContractPin, Genesis
from ledger.core.machine import Ledger
from ledger.core.tx import Transaction, make_tx

from .factory import (
    GENESIS_TIME,
    ChainBuilder,
    Election,
    Network,
    checkin_id,
    key_for,
    make_network,
    token_keys,
)

G = GENESIS_TIME


@dataclass
class World:
    """A chain with elections in every state, for rejection scenarios."""

    builder: ChainBuilder
    main: Election  # open; token 0 spent; voter-1 checked in at st-1; st-full full
    draft: Election  # created, one token minted, opens in the future
    closed: Election  # opened, then closed
    late: Election  # open, closes at G + 20 s
    expired: Election  # created with a window already in the past
    tokens: list[crypto.PrivateKey]
    draft_token: crypto.PrivateKey
    late_token: crypto.PrivateKey
    closed_token: crypto.PrivateKey
    applied: Transaction  # a transaction already on chain

    @property
    def network(self) -> Network:
        return self.builder.network

    @property
    def ledger(self) -> Ledger:
        return self.builder.ledger

    @property
    def stranger(self) -> crypto.PrivateKey:
        return key_for("stranger")

    def tx(self, contract: str, type: str, payload: dict, key: crypto.PrivateKey | None = None, **kw: object) -> Transaction:
        return make_tx(key or self.network.authority_key, chain=self.network.chain, contract=contract, type=type,
                       payload=payload, **kw)  # type: ignore[arg-type]


@cache
def world() -> World:
    network = make_network()
    builder = ChainBuilder(network)
    main = Election(network)
    draft = Election(network, id="e-draft", opens_at=G + 5_000_000, closes_at=G + 6_000_000)
    closed = Election(network, id="e-closed", opens_at=G + 1_000)
    late = Election(network, id="e-late", opens_at=G + 1_000, closes_at=G + 20_000)
    expired = Election(network, id="e-expired", opens_at=G + 1, closes_at=G + 2)
    tokens = token_keys(6)
    draft_token, late_token, closed_token = key_for("draft-0"), key_for("late-0"), key_for("closed-0")
    builder.seal([
        main.create(), main.register("st-1", 3), main.register("st-2", 3), main.register("st-full", 1),
        draft.create(), draft.register("st-1", 4),
        closed.create(), closed.register("st-1", 1),
        late.create(), late.register("st-1", 1),
        expired.create(),
    ])
    builder.seal([
        main.mint("st-1", tokens[:3]), main.mint("st-2", tokens[3:]),
        draft.mint("st-1", [draft_token]), late.mint("st-1", [late_token]), closed.mint("st-1", [closed_token]),
        closed.open(), late.open(),
    ])
    builder.seal([closed.close()])
    builder.seal([main.open()], time=main.opens_at)
    applied = main.transfer(tokens[0], "alice")
    builder.seal([applied, main.checkin("st-1", checkin_id("voter-1")), main.checkin("st-full", checkin_id("full-1"))])
    return World(builder, main, draft, closed, late, expired, tokens, draft_token, late_token, closed_token, applied)


def _high_s(tx: Transaction) -> Transaction:
    r, s = crypto.split_signature(tx.sig)
    high = r.to_bytes(32, "big") + (crypto.CURVE_ORDER - s).to_bytes(32, "big")
    return Transaction(tx.chain, tx.contract, tx.type, tx.payload, tx.signer, tx.nonce, high)


def _resigned_by(tx: Transaction, key: crypto.PrivateKey) -> Transaction:
    """Keeps the claimed signer, signature from another key."""
    return Transaction(tx.chain, tx.contract, tx.type, tx.payload, tx.signer, tx.nonce, key.sign(tx.signing_message()))


def _evidence_votes(w: World, second_block: bytes | None) -> list[dict]:
    key = w.network.validator_keys["node-1"]
    votes = [
        sign_vote(key, chain=w.network.chain, kind="prevote", height=9, round=0, block=block, validator="node-1")
        for block in (b"\x01" * 32, second_block)
    ]
    return [v.to_dict() for v in votes]


Scenario = Callable[[World], Transaction]
LATER = G + 25_000  # after e-late closes

REJECTIONS: list[object] = [
    # --- transfer (a vote) ---
    pytest.param(lambda w: w.main.transfer(w.tokens[0], "bob", nonce=1), None, "token_already_spent", id="transfer-double-spend"),
    pytest.param(lambda w: w.main.transfer(key_for("never-minted"), "alice"), None, "token_not_minted", id="transfer-unknown-token"),
    pytest.param(lambda w: w.main.transfer(w.draft_token, "alice"), None, "token_not_minted", id="transfer-token-of-other-election"),
    pytest.param(lambda w: w.main.transfer(w.tokens[1], "", to="ab" * 20), None, "wrong_candidate", id="transfer-to-non-candidate"),
    pytest.param(lambda w: w.main.transfer(w.tokens[1], "", to=w.draft.address("alice")), None, "wrong_candidate",
                 id="transfer-to-candidate-of-other-election"),
    pytest.param(lambda w: w.main.transfer(w.tokens[1], "", to=w.tokens[2].address), None, "wrong_candidate", id="transfer-to-token"),
    pytest.param(lambda w: w.main.tx("transfer", {"election": w.main.id, "to": []}, key=w.tokens[1]), None, "malformed",
                 id="transfer-to-not-a-string"),
    pytest.param(lambda w: w.main.tx("transfer", {"election": w.main.id}, key=w.tokens[1]), None, "malformed", id="transfer-without-to"),
    pytest.param(lambda w: w.draft.transfer(w.draft_token, "alice"), None, "election_not_open", id="transfer-before-open"),
    pytest.param(lambda w: w.closed.transfer(w.closed_token, "alice"), None, "election_closed", id="transfer-after-close"),
    pytest.param(lambda w: w.late.transfer(w.late_token, "alice"), LATER, "election_closed", id="transfer-after-closing-time"),
    pytest.param(lambda w: Election(w.network, id="nope").transfer(w.tokens[1], "alice"), None, "unknown_election",
                 id="transfer-unknown-election"),
    # --- envelope: replay, chain, contract, signature ---
    pytest.param(lambda w: w.applied, None, "tx_replayed", id="replay-of-applied-tx"),
    pytest.param(lambda w: w.main.transfer(w.tokens[1], "alice", chain="other-chain"), None, "wrong_chain", id="wrong-chain"),
    pytest.param(lambda w: w.main.transfer(w.tokens[1], "alice", contract="ballot"), None, "unknown_contract", id="unknown-contract"),
    pytest.param(lambda w: w.main.tx("burn", {"election": w.main.id}), None, "unknown_tx_type", id="unknown-tx-type"),
    pytest.param(lambda w: _resigned_by(w.main.transfer(w.tokens[1], "alice"), w.tokens[2]), None, "signature_invalid",
                 id="signature-by-another-key"),
    pytest.param(lambda w: _high_s(w.main.transfer(w.tokens[1], "alice")), None, "signature_high_s", id="high-s-signature"),
    # --- create ---
    pytest.param(lambda w: Election(w.network, id="e-new", authority=w.stranger).create(), None, "not_authorised",
                 id="create-by-non-authority"),
    pytest.param(lambda w: Election(w.network, id="e-new", authority=w.network.validator_keys["node-0"]).create(), None,
                 "not_authorised", id="create-by-validator"),
    pytest.param(lambda w: w.main.create(nonce=1), None, "election_exists", id="create-existing"),
    pytest.param(lambda w: Election(w.network, id="e-new", opens_at=G + 5, closes_at=G + 5).create(), None, "malformed",
                 id="create-empty-window"),
    pytest.param(lambda w: Election(w.network, id="e-new", candidates=("a", "a")).create(), None, "malformed",
                 id="create-duplicate-candidates"),
    pytest.param(lambda w: Election(w.network, id="e-new", candidates=()).create(), None, "malformed", id="create-no-candidates"),
    pytest.param(lambda w: Election(w.network, id="e-new", candidates=tuple(f"c{i}" for i in range(201))).create(), None,
                 "malformed", id="create-too-many-candidates"),
    pytest.param(lambda w: w.main.tx("create", {**w.main.create().payload, "election": "e-new", "extra": 1}), None, "malformed",
                 id="create-unknown-field"),
    pytest.param(lambda w: Election(w.network, id="bad id").create(), None, "malformed", id="create-bad-election-id"),
    # --- register ---
    pytest.param(lambda w: w.draft.register("st-9", 5, key=w.stranger), None, "not_authorised", id="register-by-non-authority"),
    pytest.param(lambda w: w.main.register("st-9", 5), None, "election_wrong_state", id="register-after-open"),
    pytest.param(lambda w: w.draft.register("st-1", 0), None, "mint_limit_exceeded", id="register-fewer-than-minted"),
    pytest.param(lambda w: Election(w.network, id="nope").register("st-1", 1), None, "unknown_election", id="register-unknown-election"),
    pytest.param(lambda w: w.draft.register("st-1", -1), None, "malformed", id="register-negative-voters"),
    # --- mint ---
    pytest.param(lambda w: w.main.mint("st-1", [key_for("extra")]), None, "mint_limit_exceeded", id="mint-over-registered"),
    pytest.param(lambda w: w.draft.mint("st-1", [w.draft_token], nonce=1), None, "token_already_minted", id="mint-already-minted"),
    pytest.param(lambda w: w.draft.mint("st-9", [key_for("x")]), None, "unknown_station", id="mint-unknown-station"),
    pytest.param(lambda w: w.draft.mint("st-1", ["ab" * 20, "ab" * 20]), None, "malformed", id="mint-duplicate-in-batch"),
    pytest.param(lambda w: w.draft.mint("st-1", [w.draft.address("alice")]), None, "malformed", id="mint-candidate-address"),
    pytest.param(lambda w: w.draft.mint("st-1", ["AB" * 20]), None, "malformed", id="mint-uppercase-address"),
    pytest.param(lambda w: w.draft.mint("st-1", ["ab" * 20 + "\n"]), None, "malformed", id="mint-address-with-newline"),
    pytest.param(lambda w: w.draft.tx("mint", {"election": w.draft.id, "station": "st-1", "tokens": [["ab" * 20]]}), None, "malformed", id="mint-unhashable-address"),
    pytest.param(lambda w: w.draft.mint("st-1", []), None, "malformed", id="mint-empty-batch"),
    pytest.param(lambda w: w.closed.mint("st-1", [key_for("y")]), None, "election_closed", id="mint-after-close"),
    pytest.param(lambda w: w.draft.mint("st-1", [key_for("z")], key=w.stranger), None, "not_authorised", id="mint-by-non-authority"),
    pytest.param(lambda w: w.draft.mint("st-1", [key_for("z")], key=w.draft_token), None, "not_authorised", id="mint-by-token"),
    # --- open / close ---
    pytest.param(lambda w: w.main.open(nonce=1), None, "election_wrong_state", id="open-twice"),
    pytest.param(lambda w: w.draft.open(), None, "election_not_open", id="open-before-opening-time"),
    pytest.param(lambda w: w.expired.open(), None, "election_closed", id="open-after-closing-time"),
    pytest.param(lambda w: w.closed.open(nonce=1), None, "election_wrong_state", id="open-closed"),
    pytest.param(lambda w: w.draft.open(key=w.stranger), None, "not_authorised", id="open-by-non-authority"),
    pytest.param(lambda w: w.draft.close(), None, "election_wrong_state", id="close-before-open"),
    pytest.param(lambda w: w.closed.close(nonce=1), None, "election_wrong_state", id="close-twice"),
    pytest.param(lambda w: w.main.close(key=w.tokens[1]), None, "not_authorised", id="close-by-token"),
    # --- checkin ---
    pytest.param(lambda w: w.main.checkin("st-1", checkin_id("voter-1"), nonce=1), None, "checkin_duplicate",
                 id="checkin-duplicate"),
    pytest.param(lambda w: w.main.checkin("st-2", checkin_id("voter-1")), None, "checkin_duplicate",
                 id="checkin-duplicate-at-other-station"),
    pytest.param(lambda w: w.main.checkin("st-full", checkin_id("full-2")), None, "checkin_limit_exceeded", id="checkin-over-limit"),
    pytest.param(lambda w: w.main.checkin("st-9", checkin_id("v")), None, "unknown_station", id="checkin-unknown-station"),
    pytest.param(lambda w: w.draft.checkin("st-1", checkin_id("v")), None, "election_not_open", id="checkin-before-open"),
    pytest.param(lambda w: w.closed.checkin("st-1", checkin_id("v")), None, "election_closed", id="checkin-after-close"),
    pytest.param(lambda w: w.main.checkin("st-1", checkin_id("v"), key=w.stranger), None, "not_authorised",
                 id="checkin-by-non-authority"),
    pytest.param(lambda w: w.main.checkin("st-1", "voter-1"), None, "malformed", id="checkin-id-not-hex"),
    pytest.param(lambda w: w.main.checkin("st-1", checkin_id("v") + "\n"), None, "malformed", id="checkin-id-with-newline"),
    # --- system contract ---
    pytest.param(lambda w: w.tx("system", "deploy", {"contract": "vote", "source_sha256": contract_source_sha256("vote")},
                                key=w.stranger), None, "not_authorised", id="deploy-by-non-authority"),
    pytest.param(lambda w: w.tx("system", "deploy", {"contract": "vote", "source_sha256": contract_source_sha256("vote")}),
                 None, "tx_rejected", id="deploy-already-deployed"),
    pytest.param(lambda w: w.tx("system", "deploy", {"contract": "ballot", "source_sha256": "00" * 32}), None, "unknown_contract",
                 id="deploy-unregistered-contract"),
    pytest.param(lambda w: w.tx("system", "evidence", {"votes": _evidence_votes(w, b"\x02" * 32)}, key=w.stranger), None,
                 "not_authorised", id="evidence-by-non-validator"),
    pytest.param(lambda w: w.tx("system", "evidence", {"votes": _evidence_votes(w, b"\x01" * 32)},
                                key=w.network.validator_keys["node-0"]), None, "evidence_invalid", id="evidence-not-conflicting"),
    pytest.param(lambda w: w.tx("system", "evidence", {"votes": _evidence_votes(w, None)[:1]},
                                key=w.network.validator_keys["node-0"]), None, "evidence_invalid", id="evidence-one-vote"),
    pytest.param(lambda w: w.tx("system", "evidence", {"votes": [_evidence_votes(w, None)[0], {"v": 1}]},
                                key=w.network.validator_keys["node-0"]), None, "evidence_invalid", id="evidence-malformed-vote"),
]


def _snapshot(ledger: Ledger) -> tuple[bytes, bytes, int, bytes]:
    items = sorted(ledger.state.data.items())
    return encode([[k, v] for k, v in items]), ledger.state.root, ledger.height, ledger.head_hash


@pytest.mark.parametrize(("make", "time", "code"), REJECTIONS)
def test_rejected_transaction_raises_its_code_and_changes_nothing(make: Scenario, time: int | None, code: str) -> None:
    w = world()
    tx = make(w)
    before = _snapshot(w.ledger)
    with pytest.raises(LedgerError) as info:
        w.ledger.check_tx(tx, time=time or w.builder.next_time)
    assert info.value.code == code, info.value.message
    assert _snapshot(w.ledger) == before


@pytest.mark.parametrize(("make", "time", "code"), REJECTIONS)
def test_proposer_drops_rejected_transaction_from_the_block(make: Scenario, time: int | None, code: str) -> None:
    w = world()
    tx = make(w)
    result = w.ledger.build_block([tx], proposer="node-0", round=0, time=time or w.builder.next_time)
    assert [(t.id, e.code) for t, e in result.rejected] == [(tx.id, code)]
    assert result.pending.block.txs == ()
    assert result.pending.overlay.writes == {}


def test_valid_evidence_is_recorded_once() -> None:
    w = world()
    reporter = w.network.validator_keys["node-0"]
    first = w.tx("system", "evidence", {"votes": _evidence_votes(w, b"\x02" * 32)}, key=reporter)
    again = w.tx("system", "evidence", {"votes": _evidence_votes(w, b"\x02" * 32)}, key=reporter, nonce=1)
    result = w.ledger.build_block([first, again], proposer="node-0", round=0, time=w.builder.next_time)
    assert [t.id for t in result.pending.block.txs] == [first.id]
    assert [e.code for _, e in result.rejected] == ["evidence_invalid"]
    (key, record), = [(k, v) for k, v in result.pending.overlay.writes.items() if k.startswith("sys/evidence/")]
    assert key == "sys/evidence/node-1/9/0/prevote" and record["validator"] == "node-1"


def _ledger_with_pins(pins: dict[str, str]) -> tuple[Ledger, Network]:
    network = make_network()
    genesis = Genesis(network.genesis.chain, network.genesis.time, network.genesis.validators, network.genesis.authorities,
                      tuple(ContractPin(cid, digest) for cid, digest in pins.items()), {})
    return Ledger(genesis), Network(genesis, network.validator_keys, network.authority_key)


def test_contract_whose_local_source_differs_from_the_pin_is_refused() -> None:
    ledger, network = _ledger_with_pins({"system": contract_source_sha256("system"), "vote": "00" * 32})
    with pytest.raises(LedgerError) as info:
        ledger.check_tx(Election(network).create(), time=G + 1000)
    assert info.value.code == "contract_source_mismatch"


def test_contract_not_pinned_in_genesis_is_unknown_until_deployed() -> None:
    ledger, network = _ledger_with_pins({"system": contract_source_sha256("system")})
    builder = ChainBuilder(network)
    builder.ledger = ledger
    create = Election(network).create()
    with pytest.raises(LedgerError) as info:
        ledger.check_tx(create, time=G + 1000)
    assert info.value.code == "unknown_contract"
    deploy = make_tx(network.authority_key, chain=network.chain, contract="system", type="deploy",
                     payload={"contract": "vote", "source_sha256": contract_source_sha256("vote")})
    builder.seal([deploy])
    builder.seal([create])
    assert ledger.query("system", "contracts", {}) == {
        "system": contract_source_sha256("system"), "vote": contract_source_sha256("vote"),
    }


def test_deploy_with_a_source_hash_other_than_the_local_code_is_refused() -> None:
    ledger, network = _ledger_with_pins({"system": contract_source_sha256("system")})
    deploy = make_tx(network.authority_key, chain=network.chain, contract="system", type="deploy",
                     payload={"contract": "vote", "source_sha256": "11" * 32})
    with pytest.raises(LedgerError) as info:
        ledger.check_tx(deploy, time=G + 1000)
    assert info.value.code == "contract_source_mismatch"


def test_election_authority_is_the_creator_not_any_genesis_authority() -> None:
    """A second genesis authority cannot act on an election the first one created."""
    base = make_network()
    second = key_for("authority-1")
    from ledger.core.genesis import Authority

    genesis = Genesis(base.genesis.chain, base.genesis.time, base.genesis.validators,
                      (*base.genesis.authorities, Authority("commission-2", "Second commission", second.public_key)),
                      base.genesis.contracts, {})
    network = Network(genesis, base.validator_keys, base.authority_key)
    builder = ChainBuilder(network)
    election = Election(network)
    builder.seal([election.create(), election.register("st-1", 1)])
    with pytest.raises(LedgerError) as info:
        builder.ledger.check_tx(election.mint("st-1", ["ab" * 20], key=second), time=builder.next_time)
    assert info.value.code == "not_authorised"
    builder.seal([Election(network, id="e-second", authority=second).create()])  # but it may create its own


def test_successful_vote_moves_exactly_one_unit() -> None:
    w = world()
    vote = w.main.transfer(w.tokens[1], "carol")
    result = w.ledger.build_block([vote], proposer="node-0", round=0, time=w.builder.next_time)
    assert result.rejected == []
    writes = result.pending.overlay.writes
    assert writes[f"vote/b/{w.main.id}/{w.tokens[1].address}"] == 0
    assert writes[f"vote/b/{w.main.id}/{w.main.address('carol')}"] == 1
    assert writes[f"vote/s/{w.main.id}/st-1"]["spent"] == 2
    assert writes[f"tx/{vote.id.hex()}"] == w.ledger.height + 1
    assert set(writes) == {
        f"vote/b/{w.main.id}/{w.tokens[1].address}", f"vote/b/{w.main.id}/{w.main.address('carol')}",
        f"vote/s/{w.main.id}/st-1", f"tx/{vote.id.hex()}",
    }
