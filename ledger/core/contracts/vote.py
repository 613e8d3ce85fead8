"""The vote contract: one vote is one unit of an election's asset.

An election authority creates an election, registers how many voters each
polling station has, mints the vote units to each vote-token address (never
more tokens than a station's registered voters), records anonymous check-ins,
opens and closes. A voter spends a token by transferring its units to
candidate addresses, signed with the token key. The tally is the candidates'
balances.

Ballot kinds: single choice (``choices`` = 1, the default): a token holds one
unit and ``to`` is one candidate address. Approval k-of-n (``choices`` = k):
a token holds k units; ``to`` lists 0..k distinct candidate addresses in
ascending order, each gets one unit, and the unmarked units are added to the
election's ``unused`` counter, so no unit is ever destroyed. Yes/no/abstain is
single choice over three options.

Mobile voters (docs/protocol.md section 10.10): an election created with a
``credential_key`` (RSA, RFC 9474 blind signatures) accepts ``mint_credential``:
the holder of a blind-signed credential over its own address mints its token
into the ``mobile`` pseudo-station, once per address and per credential, so the
authority that issued the credential cannot tell which address it signed.

Invariant (checked by the test suite at every height): for every election,
sum of all balances + unused == units minted (tokens x choices), and each
spent token moved exactly ``choices`` units.

State keys, all under ``vote/``:
  e/<election>             election record
  s/<election>/<station>   {"registered", "minted", "checkins", "spent"} (counted in tokens)
  t/<election>/<address>   station id of a minted token
  b/<election>/<address>   balance (tokens choices -> 0, candidates count up)
  u/<election>             approval units left unmarked
  k/<election>/<checkin>   1 once a check-in id is used
  c/<election>/<sha256>    1 once a credential (SHA-256 of its signature) minted a token
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from cryptography.hazmat.primitives.asymmetric.rsa import RSAPublicKey

from .. import blindrsa
from ..encoding import encode, read_int, read_str, require_keys
from ..errors import (
    CheckinLimitExceeded,
    CredentialAlreadyUsed,
    CredentialInvalid,
    CredentialKeyMissing,
    DuplicateCheckin,
    ElectionClosed,
    ElectionExists,
    ElectionNotOpen,
    MalformedObject,
    MintLimitExceeded,
    NotAuthorised,
    TokenAlreadyMinted,
    TokenAlreadySpent,
    TokenNotMinted,
    UnknownElection,
    UnknownStation,
    WrongCandidate,
    WrongElectionState,
    WrongStation,
)
from ..state import ReadView
from ..tx import IDENT_RE
from .base import Contract, ExecContext, register

CANDIDATE_TAG = b"EVOTE-CANDIDATE-V1:"
MAX_CANDIDATES = 200
MAX_MINT_BATCH = 1000
_ADDRESS_RE = re.compile(r"^[0-9a-f]{40}\Z")
_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
_HEX = re.compile(r"^(?:[0-9a-f]{2})+\Z")
CREDENTIAL_TAG = "EVOTE-CREDENTIAL-V1"
CREDENTIAL_STATION = "mobile"
CREDENTIAL_VARIANT = blindrsa.PSS_RANDOMIZED
_MAX_KEY_HEX = 2 * 1100  # DER SubjectPublicKeyInfo of a 4096-bit key is 550 bytes

CREATED, OPEN, CLOSED = "created", "open", "closed"

# Payload field sets, built once (the transfer handler runs for every vote).
_CREATE_FIELDS = frozenset({"election", "title", "candidates", "opens_at", "closes_at"})
_CREATE_OPTIONAL = frozenset({"choices", "credential_key"})
_CANDIDATE_FIELDS = frozenset({"id", "name"})
_REGISTER_FIELDS = frozenset({"election", "station", "voters"})
_MINT_FIELDS = frozenset({"election", "station", "tokens"})
_ELECTION_FIELDS = frozenset({"election"})
_CHECKIN_FIELDS = frozenset({"election", "station", "checkin"})
_TRANSFER_FIELDS = frozenset({"election", "to"})
_MINT_CREDENTIAL_FIELDS = frozenset({"election", "station", "address", "credential"})


def candidate_address(election: str, candidate: str) -> str:
    """Address of a candidate: a hash, so no key can ever spend from it."""
    return hashlib.sha256(CANDIDATE_TAG + encode([election, candidate])).digest()[:20].hex()


# Candidate address sets by candidate list. Updated election records share the same list
# object (dict(record, ...) copies), so one set serves every vote of an election. The
# list itself is kept in the entry, so its id() cannot be reused while it is cached.
_CANDIDATE_SETS: dict[int, tuple[list[dict[str, Any]], frozenset[str]]] = {}


def _candidate_addresses(candidates: list[dict[str, Any]]) -> frozenset[str]:
    entry = _CANDIDATE_SETS.get(id(candidates))
    if entry is not None and entry[0] is candidates:
        return entry[1]
    addresses = frozenset(c["address"] for c in candidates)
    if len(_CANDIDATE_SETS) >= 256:
        _CANDIDATE_SETS.clear()
    _CANDIDATE_SETS[id(candidates)] = (candidates, addresses)
    return addresses


def credential_message(chain: str, election: str, address: str) -> bytes:
    """The message a credential signs (before the 32-byte random prefix of RFC 9474)."""
    return encode([CREDENTIAL_TAG, chain, election, address])


# Parsed credential keys by their hex form: one parse per election, not one per mint.
_CREDENTIAL_KEYS: dict[str, RSAPublicKey] = {}


def _credential_key(key_hex: str) -> RSAPublicKey:
    key = _CREDENTIAL_KEYS.get(key_hex)
    if key is None:
        key = blindrsa.load_public_key(bytes.fromhex(key_hex))
        if len(_CREDENTIAL_KEYS) >= 64:
            _CREDENTIAL_KEYS.clear()
        _CREDENTIAL_KEYS[key_hex] = key
    return key


def _election_key(election: str) -> str:
    return f"vote/e/{election}"


def _station_key(election: str, station: str) -> str:
    return f"vote/s/{election}/{station}"


def _load_election(view: ReadView, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    election = read_str(payload, "election", pattern=IDENT_RE)
    record = view.get(_election_key(election))
    if record is None:
        raise UnknownElection(f"no election {election}", election=election)
    return election, record


def _require_authority(ctx: ExecContext, record: dict[str, Any]) -> None:
    if ctx.tx.signer.hex() != record["authority"]:
        raise NotAuthorised("only the election authority may do this", election=record["id"])


def _require_open(ctx: ExecContext, record: dict[str, Any]) -> None:
    if record["status"] == CLOSED or ctx.time >= record["closes_at"]:
        raise ElectionClosed("the election is closed", election=record["id"])
    if record["status"] != OPEN or ctx.time < record["opens_at"]:
        raise ElectionNotOpen("the election is not open", election=record["id"], status=record["status"])


def _load_station(ctx: ExecContext, election: str, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    station = read_str(payload, "station", pattern=IDENT_RE)
    counters = ctx.state.get(_station_key(election, station))
    if counters is None:
        raise UnknownStation(f"no station {station} in {election}", election=election, station=station)
    return station, counters


def _create(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _CREATE_FIELDS, "payload", _CREATE_OPTIONAL)
    election = read_str(payload, "election", pattern=IDENT_RE)
    title = read_str(payload, "title", max_len=300)
    opens_at = read_int(payload, "opens_at")
    closes_at = read_int(payload, "closes_at")
    if closes_at <= opens_at:
        raise MalformedObject("closes_at must be after opens_at", field="closes_at")
    raw = payload["candidates"]
    if type(raw) is not list or not 1 <= len(raw) <= MAX_CANDIDATES:
        raise MalformedObject(f"candidates must be a list of 1 to {MAX_CANDIDATES}", field="candidates")
    candidates = []
    for item in raw:
        entry = require_keys(item, _CANDIDATE_FIELDS, "candidate")
        cid = read_str(entry, "id", pattern=IDENT_RE)
        candidates.append({"id": cid, "name": read_str(entry, "name", max_len=200), "address": candidate_address(election, cid)})
    if len({c["id"] for c in candidates}) != len(candidates):
        raise MalformedObject("candidate ids must be unique", field="candidates")
    choices = read_int(payload, "choices", minimum=1, maximum=len(candidates)) if "choices" in payload else 1
    credential_key = None
    if "credential_key" in payload:
        credential_key = read_str(payload, "credential_key", pattern=_HEX, max_len=_MAX_KEY_HEX)
        _credential_key(credential_key)  # credential_key_invalid unless RSA 2048..4096, e = 65537, canonical DER
    if not ctx.genesis.is_authority(ctx.tx.signer):
        raise NotAuthorised("only a genesis authority may create elections")
    if ctx.state.get(_election_key(election)) is not None:
        raise ElectionExists(f"election {election} exists", election=election)
    record = {
        "id": election,
        "title": title,
        "authority": ctx.tx.signer.hex(),
        "candidates": candidates,
        "opens_at": opens_at,
        "closes_at": closes_at,
        "choices": choices,
        "status": CREATED,
        "stations": [],
        "created_at": ctx.height,
    }
    if credential_key is not None:
        record["credential_key"] = credential_key
    ctx.state.put(_election_key(election), record)


def _register(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _REGISTER_FIELDS, "payload")
    election, record = _load_election(ctx.state, payload)
    station = read_str(payload, "station", pattern=IDENT_RE)
    voters = read_int(payload, "voters", maximum=100_000_000)
    _require_authority(ctx, record)
    if record["status"] != CREATED:
        raise WrongElectionState("voters can only be registered before opening", election=election)
    key = _station_key(election, station)
    counters = ctx.state.get(key)
    if counters is None:
        counters = {"registered": 0, "minted": 0, "checkins": 0, "spent": 0}
        record = dict(record, stations=sorted([*record["stations"], station]))
        ctx.state.put(_election_key(election), record)
    if voters < counters["minted"]:
        raise MintLimitExceeded("cannot register fewer voters than tokens already minted", station=station)
    ctx.state.put(key, dict(counters, registered=voters))


def _refuse_credential_station(record: dict[str, Any], station: str) -> None:
    """Only credentials mint into the mobile pseudo-station, so its count is the credentials redeemed."""
    if station == CREDENTIAL_STATION and "credential_key" in record:
        raise WrongStation("the mobile station takes credential mints only", station=station)


def _mint(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _MINT_FIELDS, "payload")
    election, record = _load_election(ctx.state, payload)
    _require_authority(ctx, record)
    if record["status"] == CLOSED:
        raise ElectionClosed("no minting after the close", election=election)
    station, counters = _load_station(ctx, election, payload)
    _refuse_credential_station(record, station)
    tokens = payload["tokens"]
    if type(tokens) is not list or not 1 <= len(tokens) <= MAX_MINT_BATCH:
        raise MalformedObject(f"tokens must be a list of 1 to {MAX_MINT_BATCH} addresses", field="tokens")
    if counters["minted"] + len(tokens) > counters["registered"]:
        raise MintLimitExceeded(
            "more tokens than registered voters at this station",
            station=station, registered=counters["registered"], minted=counters["minted"], requested=len(tokens),
        )
    candidate_addresses = {c["address"] for c in record["candidates"]}
    for address in tokens:  # types first: set() below needs hashable items
        if type(address) is not str or not _ADDRESS_RE.match(address) or address in candidate_addresses:
            raise MalformedObject("token addresses must be 40 lowercase hex digits", field="tokens")
    if len(set(tokens)) != len(tokens):
        raise MalformedObject("duplicate token address in one mint", field="tokens")
    state = ctx.state
    for address in tokens:
        if state.get(f"vote/t/{election}/{address}") is not None:
            raise TokenAlreadyMinted("token already minted", address=address)
    choices = record.get("choices", 1)
    for address in tokens:
        state.put(f"vote/t/{election}/{address}", station)
        state.put(f"vote/b/{election}/{address}", choices)
    state.put(_station_key(election, station), dict(counters, minted=counters["minted"] + len(tokens)))


def _mint_credential(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _MINT_CREDENTIAL_FIELDS, "payload")
    election, record = _load_election(ctx.state, payload)
    address = read_str(payload, "address", pattern=_ADDRESS_RE)
    credential = read_str(payload, "credential", pattern=_HEX, max_len=2 * (blindrsa.PREFIX_SIZE + 512))
    if address != ctx.tx.sender:
        raise NotAuthorised("a credential mint must be signed by the key of the address it mints", address=address)
    if record["status"] == CLOSED or ctx.time >= record["closes_at"]:
        raise ElectionClosed("no minting after the close", election=election)
    if "credential_key" not in record:
        raise CredentialKeyMissing("this election takes no vote credentials", election=election)
    if read_str(payload, "station", pattern=IDENT_RE) != CREDENTIAL_STATION:
        raise WrongStation(f"credential mints go to the station {CREDENTIAL_STATION!r}", election=election)
    station, counters = _load_station(ctx, election, payload)
    public_key = _credential_key(record["credential_key"])
    raw = bytes.fromhex(credential)
    if len(raw) != blindrsa.PREFIX_SIZE + (public_key.key_size + 7) // 8:
        raise CredentialInvalid("the credential must be a 32-byte prefix and one RSA signature", election=election)
    prefix, signature = raw[: blindrsa.PREFIX_SIZE], raw[blindrsa.PREFIX_SIZE :]
    message = prefix + credential_message(ctx.genesis.chain, election, address)
    blindrsa.verify(public_key, message, signature, CREDENTIAL_VARIANT)
    state = ctx.state
    used_key = f"vote/c/{election}/{hashlib.sha256(signature).hexdigest()}"
    if state.get(used_key) is not None:
        raise CredentialAlreadyUsed("this credential has already minted a token", election=election)
    if state.get(f"vote/t/{election}/{address}") is not None:
        raise TokenAlreadyMinted("token already minted", address=address)
    if counters["minted"] >= counters["registered"]:
        raise MintLimitExceeded("more credentials than registered mobile voters", station=station,
                                registered=counters["registered"], minted=counters["minted"], requested=1)
    state.put(used_key, 1)
    state.put(f"vote/t/{election}/{address}", station)
    state.put(f"vote/b/{election}/{address}", record.get("choices", 1))
    state.put(_station_key(election, station), dict(counters, minted=counters["minted"] + 1))


def _open(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _ELECTION_FIELDS, "payload")
    election, record = _load_election(ctx.state, payload)
    _require_authority(ctx, record)
    if record["status"] != CREATED:
        raise WrongElectionState(f"cannot open an election that is {record['status']}", election=election)
    if ctx.time < record["opens_at"]:
        raise ElectionNotOpen("the scheduled opening time has not come", election=election, opens_at=record["opens_at"])
    if ctx.time >= record["closes_at"]:
        raise ElectionClosed("the scheduled closing time has passed", election=election)
    ctx.state.put(_election_key(election), dict(record, status=OPEN, opened_at=ctx.height))


def _close(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _ELECTION_FIELDS, "payload")
    election, record = _load_election(ctx.state, payload)
    _require_authority(ctx, record)
    if record["status"] != OPEN:
        raise WrongElectionState(f"cannot close an election that is {record['status']}", election=election)
    ctx.state.put(_election_key(election), dict(record, status=CLOSED, closed_at=ctx.height))


def _checkin(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _CHECKIN_FIELDS, "payload")
    election, record = _load_election(ctx.state, payload)
    checkin = read_str(payload, "checkin", pattern=_HEX64)
    _require_authority(ctx, record)
    _require_open(ctx, record)
    station, counters = _load_station(ctx, election, payload)
    _refuse_credential_station(record, station)
    key = f"vote/k/{election}/{checkin}"
    if ctx.state.get(key) is not None:
        raise DuplicateCheckin("this voter has already checked in", election=election)
    if counters["checkins"] >= counters["registered"]:
        raise CheckinLimitExceeded("more check-ins than registered voters", station=station)
    ctx.state.put(key, 1)
    ctx.state.put(_station_key(election, station), dict(counters, checkins=counters["checkins"] + 1))


def _read_marks(record: dict[str, Any], to: Any) -> list[str]:
    """The candidate addresses a ballot marks.

    Single choice: ``to`` is one address. Approval (``choices`` = k > 1): ``to`` is a
    list of 0..k distinct addresses in ascending order; one order only, so the order
    of marks cannot serve as a signature for a vote buyer.
    """
    choices = record.get("choices", 1)
    if choices == 1:
        if type(to) is not str:
            raise MalformedObject("to must be a candidate address", field="to")
        marks = [to]
    else:
        if type(to) is not list or len(to) > choices or any(type(a) is not str for a in to):
            raise MalformedObject(f"to must be a list of at most {choices} candidate addresses", field="to")
        if any(a >= b for a, b in zip(to, to[1:])):
            raise MalformedObject("marked addresses must be distinct and in ascending order", field="to")
        marks = to
    allowed = _candidate_addresses(record["candidates"])
    for address in marks:
        if address not in allowed:
            raise WrongCandidate("not a candidate of this election", election=record["id"], to=address[:64])
    return marks


def _transfer(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _TRANSFER_FIELDS, "payload")
    election, record = _load_election(ctx.state, payload)
    _require_open(ctx, record)
    marks = _read_marks(record, payload["to"])
    state = ctx.state
    sender = ctx.tx.sender
    station = state.get(f"vote/t/{election}/{sender}")
    if station is None:
        raise TokenNotMinted("this token was never issued for this election", election=election, address=sender)
    balance_key = f"vote/b/{election}/{sender}"
    units = record.get("choices", 1)
    if state.get(balance_key) != units:
        raise TokenAlreadySpent("this token has already voted", election=election, address=sender)
    state.put(balance_key, 0)
    for address in marks:
        to_key = f"vote/b/{election}/{address}"
        state.put(to_key, state.get(to_key, 0) + 1)
    if len(marks) < units:  # unmarked approval units stay accounted for, not destroyed
        unused_key = f"vote/u/{election}"
        state.put(unused_key, state.get(unused_key, 0) + units - len(marks))
    counters = state.get(_station_key(election, station))
    state.put(_station_key(election, station), dict(counters, spent=counters["spent"] + 1))


# --- queries -------------------------------------------------------------


def _q_election(self: Contract, view: ReadView, args: dict[str, Any]) -> Any:
    return _load_election(view, args)[1]


def _q_tally(self: Contract, view: ReadView, args: dict[str, Any]) -> Any:
    election, record = _load_election(view, args)
    candidates = {c["id"]: view.get(f"vote/b/{election}/{c['address']}", 0) for c in record["candidates"]}
    stations = {s: view.get(_station_key(election, s)) for s in record["stations"]}
    totals = {name: sum(c[name] for c in stations.values()) for name in ("registered", "minted", "checkins", "spent")}
    return {"election": election, "status": record["status"], "choices": record.get("choices", 1), "candidates": candidates,
            "unused": view.get(f"vote/u/{election}", 0), "stations": stations, "totals": totals}


def _q_token(self: Contract, view: ReadView, args: dict[str, Any]) -> Any:
    election, _ = _load_election(view, args)
    address = read_str(args, "address", pattern=_ADDRESS_RE)
    station = view.get(f"vote/t/{election}/{address}")
    balance = view.get(f"vote/b/{election}/{address}", 0)
    # Canonical JSON has no booleans, so the token's state is a word, not a flag.
    status = "not_minted" if station is None else ("unspent" if balance else "spent")
    return {"status": status, "station": station, "balance": balance}


@register
class VoteContract(Contract):
    contract_id = "vote"
    handlers = {
        "create": _create,
        "register": _register,
        "mint": _mint,
        "mint_credential": _mint_credential,
        "open": _open,
        "checkin": _checkin,
        "transfer": _transfer,
        "close": _close,
    }
    queries = {"election": _q_election, "tally": _q_tally, "token": _q_token}
