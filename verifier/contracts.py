"""Re-execution of the vote, system and poll contracts (docs/protocol.md sections 9.1, 10, 11, 16).

``Machine`` holds the state as a plain dict and applies one transaction at a time: every
rule is checked before anything is written, so a failing transaction writes nothing. It
raises ``Invalid`` with the protocol's own error code, in the order the protocol lists
the checks, so reports line up with rejections.json case by case.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from . import canonical, rsapss
from .errors import Invalid
from .objects import HEX64, Genesis, Tx, check_payload_keys, is_hex, is_identifier, is_int
from .poll import METHODS_TABLE as POLL_METHODS
from .signatures import CryptoImpl, verify
from .system import KNOWN_CONTRACTS, anchor, deploy, evidence

CANDIDATE_TAG = b"EVOTE-CANDIDATE-V1:"
CREDENTIAL_TAG = "EVOTE-CREDENTIAL-V1"
STATE_TAG = b"EVOTE-STATE-V1:"
HEX40 = re.compile(r"[0-9a-f]{40}")


def candidate_address(election: str, candidate: str) -> str:
    """Section 10.1: an address no key can produce, so a candidate's votes never move."""
    return hashlib.sha256(CANDIDATE_TAG + canonical.encode_unchecked([election, candidate])).digest()[:20].hex()


def _fail(code: str, message: str) -> Invalid:
    return Invalid(code, message)


_exact = check_payload_keys


class Machine:
    """The state and its per-block write set; ``apply`` runs one transaction (section 9.1)."""

    def __init__(self, genesis: Genesis, sources: dict[str, str] | None = None, impl: CryptoImpl = "cryptography") -> None:
        self.genesis = genesis
        self.impl = impl
        self.sources = sources or {}  # contract id -> sha256 of the bundle's source text
        self.state: dict[str, Any] = {}
        self.writes: dict[str, Any] = {}
        self.last_items: list[tuple[str, Any]] = []
        self.touched: set[str] = set()  # elections written in the current block
        # Running per-election aggregates for the invariants of 10.9 (never recomputed by scans).
        self.balance_sum: dict[str, int] = {}
        self.tokens_at_zero: dict[str, int] = {}
        self.candidate_sum: dict[str, int] = {}
        self.candidates: dict[str, dict[str, str]] = {}  # election -> address -> candidate id
        self.token_count: dict[str, int] = {}
        self.credential_count: dict[str, int] = {}
        for contract, digest in genesis.pins.items():
            self.put(f"sys/contract/{contract}", digest)
        self.root = b""

    # --- state ------------------------------------------------------------------------------

    def put(self, key: str, value: Any) -> None:
        self.state[key] = value
        self.writes[key] = value

    def take_writes(self) -> bytes:
        """SHA-256 of the canonical sorted write set of the block just applied; starts a new one.

        The keys are unique, so sorting the (key, value) pairs sorts by key, and the JSON
        encoder writes a pair as the two-element list ``[key, value]`` the protocol hashes.
        """
        items = sorted(self.writes.items())
        self.last_items = items
        self.writes = {}
        return hashlib.sha256(canonical.encode_unchecked(items)).digest()

    @property
    def last_writes(self) -> list[list[Any]]:
        """The write set of the last block as the protocol lists it: ``[[key, value], ...]``."""
        return [[key, value] for key, value in self.last_items]

    def next_root(self, previous: bytes) -> bytes:
        return hashlib.sha256(STATE_TAG + previous + self.take_writes()).digest()

    # --- one transaction ------------------------------------------------------------------

    def precheck(self, tx: Tx) -> None:
        """Steps 1-3 of 9.1, which come before the signature."""
        if tx.chain != self.genesis.chain:
            raise _fail("wrong_chain", f"transaction for chain {tx.chain}, not {self.genesis.chain}")
        if f"tx/{tx.id.hex()}" in self.state:
            raise _fail("tx_replayed", "this transaction id was already applied")
        if f"sys/contract/{tx.contract}" not in self.state or tx.contract not in KNOWN_CONTRACTS:
            raise _fail("unknown_contract", f"no contract {tx.contract} is pinned")

    def execute(self, tx: Tx, height: int, time: int) -> None:
        """Steps 5-6 of 9.1 (the signature, step 4, is checked by the caller)."""
        method = _METHODS.get((tx.contract, tx.type))
        if method is None:
            raise _fail("unknown_tx_type", f"contract {tx.contract} has no method {tx.type}")
        writes = method(self, tx, height, time)
        state, block = self.state, self.writes  # put() written out: this runs for every write
        for key, value in writes:
            if key.startswith("vote/"):
                self.note(key, value)
            state[key] = value
            block[key] = value
        key = "tx/" + tx.id.hex()
        state[key] = height
        block[key] = height

    def apply(self, tx: Tx, height: int, time: int) -> None:
        """All of 9.1 for one transaction, its signature included (checked here, in order)."""
        self.precheck(tx)
        verify(tx.signer, tx.sig, tx.signing_message, self.impl)
        self.execute(tx, height, time)

    # --- aggregates for the invariants --------------------------------------------------------

    def note(self, key: str, value: Any) -> None:
        """Keep the aggregates of 10.9 up to date with one write (before it is applied)."""
        if not key.startswith("vote/"):
            return
        kind = key[5]
        election, _, rest = key[7:].partition("/")  # identifiers never contain "/"
        self.touched.add(election)
        if kind == "b":
            old = self.state.get(key, 0)
            self.balance_sum[election] = self.balance_sum.get(election, 0) + value - old
            if rest in self.candidates.get(election, ()):
                self.candidate_sum[election] = self.candidate_sum.get(election, 0) + value - old
            elif value == 0 and old != 0:
                self.tokens_at_zero[election] = self.tokens_at_zero.get(election, 0) + 1
        elif kind == "t":
            self.token_count[election] = self.token_count.get(election, 0) + 1
        elif kind == "c":
            self.credential_count[election] = self.credential_count.get(election, 0) + 1
        elif kind == "e" and election not in self.candidates:
            self.candidates[election] = {c["address"]: c["id"] for c in value["candidates"]}


# --- helpers shared by the methods -----------------------------------------------------------------


def _election(machine: Machine, payload: dict[str, Any]) -> dict[str, Any]:
    election = payload.get("election")
    if not is_identifier(election):
        raise _fail("malformed", "election must be an identifier")
    record = machine.state.get(f"vote/e/{election}")
    if record is None:
        raise _fail("unknown_election", f"no election {election}")
    result: dict[str, Any] = record
    return result


def _authority(record: dict[str, Any], tx: Tx) -> None:
    if tx.signer_hex != record["authority"]:
        raise _fail("not_authorised", "only the election's authority may do this")


def _must_be_open(record: dict[str, Any], time: int) -> None:
    if record["status"] == "closed" or time >= record["closes_at"]:
        raise _fail("election_closed", "the election is closed")
    if record["status"] != "open" or time < record["opens_at"]:
        raise _fail("election_not_open", "the election is not open")


def _station(machine: Machine, record: dict[str, Any], station: Any) -> tuple[str, dict[str, int]]:
    key = f"vote/s/{record['id']}/{station}"
    counters = machine.state.get(key) if is_identifier(station) else None
    if counters is None:
        raise _fail("unknown_station", f"no station {str(station)[:64]} in this election")
    return key, counters


def _bump(counters: dict[str, int], **deltas: int) -> dict[str, int]:
    updated = dict(counters)
    for name, delta in deltas.items():
        updated[name] += delta
    return updated


# --- the vote contract (section 10) ------------------------------------------------------------


def _create(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    _exact(p, {"election", "title", "candidates", "opens_at", "closes_at"}, frozenset({"choices", "credential_key"}))
    candidates = p["candidates"]
    if not (is_identifier(p["election"]) and type(p["title"]) is str and 1 <= len(p["title"]) <= 300
            and is_int(p["opens_at"], 0) and is_int(p["closes_at"], 0) and p["closes_at"] > p["opens_at"]
            and type(candidates) is list and 1 <= len(candidates) <= 200):
        raise _fail("malformed", "election, title, opens_at, closes_at or candidates break their rules")
    for entry in candidates:
        if not (type(entry) is dict and entry.keys() == {"id", "name"} and is_identifier(entry["id"])
                and type(entry["name"]) is str and 1 <= len(entry["name"]) <= 200):
            raise _fail("malformed", "each candidate is {id, name} with an identifier and a 1..200-character name")
    if len({entry["id"] for entry in candidates}) != len(candidates):
        raise _fail("malformed", "candidate ids must be unique")
    choices = p.get("choices", 1)
    if not is_int(choices, 1, len(candidates)):
        raise _fail("malformed", "choices must be in 1..number of candidates")
    key_hex = p.get("credential_key")
    if "credential_key" in p:
        if not (type(key_hex) is str and 0 < len(key_hex) <= 2200 and len(key_hex) % 2 == 0
                and all(ch in "0123456789abcdef" for ch in key_hex)):
            raise _fail("malformed", "credential_key must be even-length lowercase hex of at most 2200 digits")
        try:
            rsapss.parse_credential_key(bytes.fromhex(key_hex))
        except ValueError as exc:
            raise _fail("credential_key_invalid", f"credential_key: {exc}") from exc
    if tx.signer_hex not in machine.genesis.authorities:
        raise _fail("not_authorised", "only a genesis authority may create an election")
    election = p["election"]
    if f"vote/e/{election}" in machine.state:
        raise _fail("election_exists", f"election {election} exists")
    record: dict[str, Any] = {
        "authority": tx.signer_hex, "choices": choices, "closes_at": p["closes_at"], "created_at": height,
        "id": election, "opens_at": p["opens_at"], "stations": [], "status": "created", "title": p["title"],
        "candidates": [{"address": candidate_address(election, c["id"]), "id": c["id"], "name": c["name"]}
                       for c in candidates],
    }
    if key_hex is not None:
        record["credential_key"] = key_hex
    return [(f"vote/e/{election}", record)]


def _register(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    _exact(p, {"election", "station", "voters"})
    record = _election(machine, p)
    if not is_identifier(p["station"]) or not is_int(p["voters"], 0, 100_000_000):
        raise _fail("malformed", "station must be an identifier and voters an integer in 0..100000000")
    _authority(record, tx)
    if record["status"] != "created":
        raise _fail("election_wrong_state", "stations are registered before the election opens")
    key = f"vote/s/{record['id']}/{p['station']}"
    counters = machine.state.get(key)
    if counters is None:
        stations = sorted([*record["stations"], p["station"]])
        return [(f"vote/e/{record['id']}", {**record, "stations": stations}),
                (key, {"checkins": 0, "minted": 0, "registered": p["voters"], "spent": 0})]
    if p["voters"] < counters["minted"]:
        raise _fail("mint_limit_exceeded", "fewer voters than tokens already minted")
    return [(key, {**counters, "registered": p["voters"]})]


def _mint(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    _exact(p, {"election", "station", "tokens"})
    record = _election(machine, p)
    _authority(record, tx)
    if record["status"] == "closed":
        raise _fail("election_closed", "the election is closed")
    key, counters = _station(machine, record, p["station"])
    if "credential_key" in record and p["station"] == "mobile":
        raise _fail("station_wrong", "only credentials mint at the mobile station")
    tokens = p["tokens"]
    if type(tokens) is not list or not 1 <= len(tokens) <= 1000:
        raise _fail("malformed", "tokens is a list of 1..1000 addresses")
    if counters["minted"] + len(tokens) > counters["registered"]:
        raise _fail("mint_limit_exceeded", "more tokens than registered voters")
    election = record["id"]
    candidate_addresses = {c["address"] for c in record["candidates"]}
    for token in tokens:
        if not is_hex(token, HEX40) or token in candidate_addresses:
            raise _fail("malformed", "each token is 40 lowercase hex digits and not a candidate address")
    if len(set(tokens)) != len(tokens):
        raise _fail("malformed", "a token appears twice")
    for token in tokens:
        if f"vote/t/{election}/{token}" in machine.state:
            raise _fail("token_already_minted", f"token {token} was already minted")
    writes: list[tuple[str, Any]] = []
    for token in tokens:
        writes.append((f"vote/t/{election}/{token}", p["station"]))
        writes.append((f"vote/b/{election}/{token}", record["choices"]))
    writes.append((key, _bump(counters, minted=len(tokens))))
    return writes


def _open(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    _exact(p, {"election"})
    record = _election(machine, p)
    _authority(record, tx)
    if record["status"] != "created":
        raise _fail("election_wrong_state", "only a created election opens")
    if time < record["opens_at"]:
        raise _fail("election_not_open", "before the opening time")
    if time >= record["closes_at"]:
        raise _fail("election_closed", "after the closing time")
    return [(f"vote/e/{record['id']}", {**record, "status": "open", "opened_at": height})]


def _checkin(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    _exact(p, {"election", "station", "checkin"})
    record = _election(machine, p)
    if not is_hex(p["checkin"], HEX64):
        raise _fail("malformed", "checkin is 64 lowercase hex digits")
    _authority(record, tx)
    _must_be_open(record, time)
    key, counters = _station(machine, record, p["station"])
    if "credential_key" in record and p["station"] == "mobile":
        raise _fail("station_wrong", "the mobile station has no check-ins")
    used = f"vote/k/{record['id']}/{p['checkin']}"
    if used in machine.state:
        raise _fail("checkin_duplicate", "this check-in id was already used")
    if counters["checkins"] >= counters["registered"]:
        raise _fail("checkin_limit_exceeded", "more check-ins than registered voters")
    return [(used, 1), (key, _bump(counters, checkins=1))]


_TRANSFER_KEYS = frozenset({"election", "to"})


def _transfer(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    if p.keys() != _TRANSFER_KEYS:
        _exact(p, {"election", "to"})
    record = _election(machine, p)
    _must_be_open(record, time)
    choices = record["choices"]
    marks = p["to"]
    if choices == 1:
        if type(marks) is not str:
            raise _fail("malformed", "a single-choice ballot marks one candidate address")
        marks = [marks]
    elif not (type(marks) is list and len(marks) <= choices and all(type(m) is str for m in marks)
              and all(a < b for a, b in zip(marks, marks[1:]))):
        raise _fail("malformed", f"an approval ballot is a strictly ascending list of at most {choices} addresses")
    addresses = machine.candidates[record["id"]]  # address -> candidate id, kept since the create
    if any(mark not in addresses for mark in marks):
        raise _fail("wrong_candidate", "a mark is not a candidate of this election")
    election = record["id"]
    station = machine.state.get(f"vote/t/{election}/{tx.sender}")
    if station is None:
        raise _fail("token_not_minted", "the sender is not a token of this election")
    balance_key = f"vote/b/{election}/{tx.sender}"
    if machine.state.get(balance_key) != choices:
        raise _fail("token_already_spent", "this token has already voted")
    writes: list[tuple[str, Any]] = [(balance_key, 0)]
    for mark in marks:
        key = f"vote/b/{election}/{mark}"
        # A key written earlier in this list is not yet in the state: count on the list itself.
        writes.append((key, machine.state.get(key, 0) + 1))
    if choices - len(marks) > 0:
        unused = f"vote/u/{election}"
        writes.append((unused, machine.state.get(unused, 0) + choices - len(marks)))
    station_key = f"vote/s/{election}/{station}"
    writes.append((station_key, _bump(machine.state[station_key], spent=1)))
    return writes


def _close(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    _exact(p, {"election"})
    record = _election(machine, p)
    _authority(record, tx)
    if record["status"] != "open":
        raise _fail("election_wrong_state", "only an open election closes")
    return [(f"vote/e/{record['id']}", {**record, "status": "closed", "closed_at": height})]


def credential_message(chain: str, election: str, address: str) -> bytes:
    return canonical.encode_unchecked([CREDENTIAL_TAG, chain, election, address])


def _mint_credential(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    _exact(p, {"election", "station", "address", "credential"})
    record = _election(machine, p)
    credential = p["credential"]
    if not (is_hex(p["address"], HEX40) and type(credential) is str and 0 < len(credential) <= 1088
            and len(credential) % 2 == 0 and all(ch in "0123456789abcdef" for ch in credential)):
        raise _fail("malformed", "address is 40 hex digits; credential even-length lowercase hex of at most 1088")
    if p["address"] != tx.sender:
        raise _fail("not_authorised", "the credential's address must be the signer's")
    if record["status"] == "closed" or time >= record["closes_at"]:
        raise _fail("election_closed", "the election is closed")
    if "credential_key" not in record:
        raise _fail("credential_key_missing", "this election has no credential key")
    if not is_identifier(p["station"]):
        raise _fail("malformed", "station must be an identifier")
    if p["station"] != "mobile":
        raise _fail("station_wrong", "credentials mint only at the mobile station")
    key, counters = _station(machine, record, "mobile")
    n, e = rsapss.parse_credential_key(bytes.fromhex(record["credential_key"]))
    raw = bytes.fromhex(credential)
    if len(raw) != 32 + (n.bit_length() + 7) // 8:
        raise _fail("credential_invalid", "the credential has the wrong length for this key")
    prefix, sig = raw[:32], raw[32:]
    message = prefix + credential_message(machine.genesis.chain, record["id"], p["address"])
    if not rsapss.pss_verify(n, e, message, sig):
        raise _fail("credential_invalid", "the credential does not verify for this chain, election and address")
    election = record["id"]
    used = f"vote/c/{election}/{hashlib.sha256(sig).hexdigest()}"
    if used in machine.state:
        raise _fail("credential_already_used", "this credential already minted a token")
    if f"vote/t/{election}/{p['address']}" in machine.state:
        raise _fail("token_already_minted", "this address was already minted")
    if counters["minted"] >= counters["registered"]:
        raise _fail("mint_limit_exceeded", "more mobile tokens than mobile voters registered")
    return [(used, 1), (f"vote/t/{election}/{p['address']}", "mobile"),
            (f"vote/b/{election}/{p['address']}", record["choices"]), (key, _bump(counters, minted=1))]


_METHODS = {
    ("vote", "create"): _create, ("vote", "register"): _register, ("vote", "mint"): _mint,
    ("vote", "open"): _open, ("vote", "checkin"): _checkin, ("vote", "transfer"): _transfer,
    ("vote", "close"): _close, ("vote", "mint_credential"): _mint_credential,
    ("system", "deploy"): deploy, ("system", "evidence"): evidence, ("system", "anchor"): anchor,
    **POLL_METHODS,
}

