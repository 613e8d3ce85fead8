"""Stateful property test of the vote contract against an independent model.

Random sequences of valid and invalid transactions (create, register, mint, open,
checkin, transfer with double spends, wrong candidates, unknown tokens, replays,
wrong signers, wrong chains, before the opening and after the close) are executed
the way a proposer does, then sealed into blocks that a second replica re-executes.
After every transaction the outcome (accepted, or its error code) must match the
model; a rejected transaction must leave every key and the state root unchanged;
after every block the conservation invariants must hold in the ledger's own state.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from ledger.core import crypto
from ledger.core.encoding import encode
from ledger.core.errors import LedgerError
from ledger.core.machine import Ledger
from ledger.core.state import Overlay
from ledger.core.tx import Transaction, make_tx
from ledger.core.verify import verify_chain

from .factory import GENESIS_TIME, ChainBuilder, Election, checkin_id, key_for, make_network

NETWORK = make_network()
TOKENS = [key_for(f"prop-token-{i}") for i in range(8)]
STRANGER = key_for("prop-stranger")
ELECTIONS = {
    "e0": Election(NETWORK, id="e0", candidates=("ann", "ben", "cat"), opens_at=GENESIS_TIME + 2_000,
                   closes_at=GENESIS_TIME + 60_000),
    "e1": Election(NETWORK, id="e1", candidates=("dan", "eve"), opens_at=GENESIS_TIME + 2_000,
                   closes_at=GENESIS_TIME + 25_000),
}
STATIONS = ("st-a", "st-b")
election_ids = st.sampled_from(sorted(ELECTIONS))
stations = st.sampled_from(STATIONS)
token_indexes = st.integers(0, len(TOKENS) - 1)
nonces = st.integers(0, 2)
as_authority = st.booleans()


@dataclass
class ModelElection:
    opens_at: int
    closes_at: int
    candidates: dict[str, str]  # address -> candidate id
    status: str = "created"
    stations: dict[str, dict[str, int]] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # address -> station
    balances: dict[str, int] = field(default_factory=dict)
    checkins: set[str] = field(default_factory=set)

    def open_error(self, time: int) -> str | None:
        if self.status == "closed" or time >= self.closes_at:
            return "election_closed"
        if self.status != "open" or time < self.opens_at:
            return "election_not_open"
        return None


class VoteContractMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.builder = ChainBuilder(NETWORK)
        self.replica = Ledger(NETWORK.genesis)
        self.block_time = GENESIS_TIME + 1_000
        self.overlay: Overlay = self.ledger.state.begin()
        self.pending: list[Transaction] = []
        self.seen: list[Transaction] = []  # accepted, for replays
        self.applied_ids: set[bytes] = set()
        self.model: dict[str, ModelElection] = {}
        self.spent_once: set[tuple[str, str]] = set()

    @property
    def ledger(self) -> Ledger:
        return self.builder.ledger

    # --- submitting ------------------------------------------------------------------

    def _state_fingerprint(self) -> tuple[bytes, bytes, bytes]:
        return (
            encode(sorted([k, v] for k, v in self.overlay.writes.items())),
            encode(sorted([k, v] for k, v in self.ledger.state.data.items())),
            self.ledger.state.root,
        )

    def submit(self, tx: Transaction, expected: str | None) -> None:
        if tx.chain == NETWORK.chain and tx.id in self.applied_ids:
            expected = "tx_replayed"
        before = self._state_fingerprint()
        try:
            self.ledger.execute_tx(self.overlay, tx, height=self.ledger.height + 1, time=self.block_time)
        except LedgerError as exc:
            event(f"{tx.type}: {exc.code}")
            assert exc.code == expected, f"{tx.type}: got {exc.code} ({exc.message}), model expected {expected}"
            assert self._state_fingerprint() == before, "a rejected transaction changed the state"
            return
        event(f"{tx.type}: accepted")
        assert expected is None, f"{tx.type} was accepted, model expected {expected}"
        self.pending.append(tx)
        self.seen.append(tx)
        self.applied_ids.add(tx.id)

    def _authority(self, yes: bool) -> crypto.PrivateKey:
        return NETWORK.authority_key if yes else STRANGER

    def _guard(self, election: str, authority: bool) -> tuple[ModelElection | None, str | None]:
        record = self.model.get(election)
        if record is None:
            return None, "unknown_election"
        if not authority:
            return record, "not_authorised"
        return record, None

    @initialize(opened=st.booleans())
    def start_with_one_minted_election(self, opened: bool) -> None:
        """Most runs should reach votes: e0 starts with stations and minted tokens."""
        self.create("e0", True, 0)
        self.register("e0", "st-a", 4, True)
        self.register("e0", "st-b", 3, True)
        self.mint("e0", "st-a", [0, 1, 2], True)
        self.mint("e0", "st-b", [3, 4], True)
        self.seal(1_000)
        if opened:
            self.open("e0", True, 0)

    # --- rules: authority operations -------------------------------------------------

    @rule(election=election_ids, authority=as_authority, nonce=nonces)
    def create(self, election: str, authority: bool, nonce: int) -> None:
        e = ELECTIONS[election]
        tx = e.create(key=self._authority(authority), nonce=nonce)
        expected = "not_authorised" if not authority else ("election_exists" if election in self.model else None)
        self.submit(tx, expected)
        if tx in self.pending and election not in self.model:
            self.model[election] = ModelElection(e.opens_at, e.closes_at, {e.address(c): c for c in e.candidates})

    @rule(election=election_ids, station=stations, voters=st.integers(0, 4), authority=as_authority)
    def register(self, election: str, station: str, voters: int, authority: bool) -> None:
        tx = ELECTIONS[election].register(station, voters, key=self._authority(authority))
        record, expected = self._guard(election, authority)
        if record is not None and expected is None:
            if record.status != "created":
                expected = "election_wrong_state"
            elif voters < record.stations.get(station, {"minted": 0})["minted"]:
                expected = "mint_limit_exceeded"
        self.submit(tx, expected)
        if tx in self.pending and record is not None:
            counters = record.stations.setdefault(station, {"registered": 0, "minted": 0, "checkins": 0, "spent": 0})
            counters["registered"] = voters

    @rule(election=election_ids, station=stations, picks=st.lists(token_indexes, min_size=1, max_size=3),
          authority=as_authority)
    def mint(self, election: str, station: str, picks: list[int], authority: bool) -> None:
        addresses = [TOKENS[i].address for i in picks]
        tx = ELECTIONS[election].mint(station, addresses, key=self._authority(authority))
        record, expected = self._guard(election, authority)
        if record is not None and expected is None:
            counters = record.stations.get(station)
            if record.status == "closed":
                expected = "election_closed"
            elif counters is None:
                expected = "unknown_station"
            elif counters["minted"] + len(addresses) > counters["registered"]:
                expected = "mint_limit_exceeded"
            elif len(set(addresses)) != len(addresses):
                expected = "malformed"
            elif any(a in record.tokens for a in addresses):
                expected = "token_already_minted"
        self.submit(tx, expected)
        if tx in self.pending and record is not None:
            for address in addresses:
                record.tokens[address] = station
                record.balances[address] = 1
            record.stations[station]["minted"] += len(addresses)

    @rule(election=election_ids, authority=as_authority, nonce=nonces)
    def open(self, election: str, authority: bool, nonce: int) -> None:
        tx = ELECTIONS[election].open(key=self._authority(authority), nonce=nonce)
        record, expected = self._guard(election, authority)
        if record is not None and expected is None:
            if record.status != "created":
                expected = "election_wrong_state"
            elif self.block_time < record.opens_at:
                expected = "election_not_open"
            elif self.block_time >= record.closes_at:
                expected = "election_closed"
        self.submit(tx, expected)
        if tx in self.pending and record is not None:
            record.status = "open"

    @rule(election=election_ids, authority=as_authority, nonce=nonces)
    def close(self, election: str, authority: bool, nonce: int) -> None:
        tx = ELECTIONS[election].close(key=self._authority(authority), nonce=nonce)
        record, expected = self._guard(election, authority)
        if record is not None and expected is None and record.status != "open":
            expected = "election_wrong_state"
        self.submit(tx, expected)
        if tx in self.pending and record is not None:
            record.status = "closed"

    @rule(election=election_ids, station=stations, voter=st.integers(0, 5), authority=as_authority, nonce=nonces)
    def checkin(self, election: str, station: str, voter: int, authority: bool, nonce: int) -> None:
        checkin = checkin_id(f"prop-voter-{voter}")
        tx = ELECTIONS[election].checkin(station, checkin, key=self._authority(authority), nonce=nonce)
        record, expected = self._guard(election, authority)
        if record is not None and expected is None:
            counters = record.stations.get(station)
            expected = record.open_error(self.block_time)
            if expected is None:
                if counters is None:
                    expected = "unknown_station"
                elif checkin in record.checkins:
                    expected = "checkin_duplicate"
                elif counters["checkins"] >= counters["registered"]:
                    expected = "checkin_limit_exceeded"
        self.submit(tx, expected)
        if tx in self.pending and record is not None:
            record.checkins.add(checkin)
            record.stations[station]["checkins"] += 1

    # --- rules: votes ------------------------------------------------------------------

    @rule(token=token_indexes, candidate=st.integers(0, 3), nonce=nonces)
    def vote_in_e0(self, token: int, candidate: int, nonce: int) -> None:
        self.transfer("e0", token, candidate, nonce)

    @rule(election=election_ids, token=token_indexes, candidate=st.integers(0, 3), nonce=nonces)
    def transfer(self, election: str, token: int, candidate: int, nonce: int) -> None:
        """A vote; candidate index 3 is not a candidate (a token address instead)."""
        e = ELECTIONS[election]
        key = TOKENS[token]
        to = e.address(e.candidates[candidate]) if candidate < len(e.candidates) else TOKENS[(token + 1) % len(TOKENS)].address
        tx = e.transfer(key, "", to=to, nonce=nonce)
        record = self.model.get(election)
        expected = "unknown_election" if record is None else record.open_error(self.block_time)
        if record is not None and expected is None:
            if to not in record.candidates:
                expected = "wrong_candidate"
            elif key.address not in record.tokens:
                expected = "token_not_minted"
            elif record.balances[key.address] != 1:
                expected = "token_already_spent"
        self.submit(tx, expected)
        if tx in self.pending and record is not None:
            assert (election, key.address) not in self.spent_once, "a token was spent twice"
            self.spent_once.add((election, key.address))
            record.balances[key.address] = 0
            record.balances[to] = record.balances.get(to, 0) + 1
            record.stations[record.tokens[key.address]]["spent"] += 1

    @rule(election=election_ids, token=token_indexes)
    def transfer_signed_by_another_key(self, election: str, token: int) -> None:
        e = ELECTIONS[election]
        honest = e.transfer(TOKENS[token], e.candidates[0], nonce=7)
        forged = Transaction(honest.chain, honest.contract, honest.type, honest.payload, honest.signer, honest.nonce,
                             STRANGER.sign(honest.signing_message()))
        self.submit(forged, "signature_invalid")

    @rule(election=election_ids, token=token_indexes)
    def transfer_on_another_chain(self, election: str, token: int) -> None:
        self.submit(ELECTIONS[election].transfer(TOKENS[token], ELECTIONS[election].candidates[0], chain="other"),
                    "wrong_chain")

    @rule(data=st.data())
    @precondition(lambda self: bool(self.seen))
    def replay(self, data: st.DataObject) -> None:
        original = data.draw(st.sampled_from(self.seen))
        resigned = make_tx(NETWORK.authority_key, chain=original.chain, contract=original.contract, type=original.type,
                           payload=original.payload, nonce=original.nonce) if original.signer == NETWORK.authority_key.public_key else original
        self.submit(resigned, "tx_replayed")

    # --- blocks ------------------------------------------------------------------------

    @rule(advance=st.sampled_from([1_000, 3_000, 10_000]))
    def seal(self, advance: int) -> None:
        ledger = self.ledger
        result = ledger.build_block(self.pending, proposer=NETWORK.genesis.proposer_for(ledger.height + 1, 0).id,
                                    round=0, time=self.block_time)
        assert result.rejected == [], "a transaction accepted one by one was rejected in the block"
        assert encode(sorted([k, v] for k, v in result.pending.overlay.writes.items())) == encode(
            sorted([k, v] for k, v in self.overlay.writes.items()))
        replica_pending = self.replica.execute_block(result.pending.block)
        assert replica_pending.state_root == result.pending.state_root
        self.replica.commit(replica_pending)
        self.builder.seal(self.pending, time=self.block_time)
        assert self.ledger.state.root == self.replica.state.root
        self.pending = []
        self.overlay = self.ledger.state.begin()
        self.block_time += advance
        self.check_conservation()

    def check_conservation(self) -> None:
        data = self.ledger.state.data
        for key, record in [(k, v) for k, v in data.items() if k.startswith("vote/e/")]:
            election = record["id"]
            counters = [data[f"vote/s/{election}/{s}"] for s in record["stations"]]
            minted = sum(c["minted"] for c in counters)
            spent = sum(c["spent"] for c in counters)
            balances = {k.rsplit("/", 1)[1]: v for k, v in data.items() if k.startswith(f"vote/b/{election}/")}
            candidates = {c["address"] for c in record["candidates"]}
            tokens = {k.rsplit("/", 1)[1] for k in data if k.startswith(f"vote/t/{election}/")}
            assert sum(balances.values()) == minted == len(tokens), "units were created or destroyed"
            assert sum(v for a, v in balances.items() if a in candidates) == spent, "candidate balances != votes"
            assert all(balances[t] in (0, 1) for t in tokens), "a token holds more than one unit"
            assert sum(1 for t in tokens if balances[t] == 0) == spent
            for c in counters:
                assert c["spent"] <= c["minted"] <= c["registered"] and c["checkins"] <= c["registered"]
            model = self.model[election]
            assert {a: v for a, v in balances.items()} == model.balances
            assert record["status"] == model.status

    @invariant()
    def replay_protection_covers_every_applied_transaction(self) -> None:
        for tx in self.seen[-5:]:
            assert self.overlay.get(f"tx/{tx.id.hex()}") is not None

    def teardown(self) -> None:
        if self.pending:
            self.seal(1_000)
        if self.builder.blocks:
            report = verify_chain(NETWORK.genesis, self.builder.blocks)
            assert report.ok, report.failure
            for election, model in self.model.items():
                expected = {c: model.balances.get(a, 0) for a, c in model.candidates.items()}
                assert report.tallies[election]["candidates"] == expected


VoteContractMachine.TestCase.settings = settings(
    max_examples=150, stateful_step_count=50, deadline=None, suppress_health_check=[HealthCheck.too_slow],
)
test_vote_contract_state_machine = VoteContractMachine.TestCase
