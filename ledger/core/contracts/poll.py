"""The poll contract: community polls on the same ledger as elections.

A genesis authority creates a poll over a community tree (``units``, grown with
``add_units`` before opening when it does not fit in one transaction) with one of five
methods (single, multi k-of-n, yes/no/abstain, ranked, score), registers voter addresses
with their unit and weight (or, for an anonymous poll, voters enrol themselves with an
RSA blind-signed credential as in the vote contract), opens it, and each registered
address casts one ballot, once, while the poll is open. Every ballot is stored under a
dense index so anyone can recount it (``ledger/core/polls.py``) and roll it up the tree
from the ledger alone. The rules are written out in docs/protocol.md section 16.

State keys, all under ``poll/``:
  p/<poll>              poll record
  n/<poll>              counters {"registered", "weight", "cast", "cast_weight"}
  v/<poll>/<address>    voter {"unit", "weight", "cast": 0 | 1}
  x/<poll>/<n>          ballot n (0, 1, ...) {"address", "unit", "weight", "ballot"}
  c/<poll>/<sha256>     1 once a credential (SHA-256 of its signature) enrolled an address
  u/<poll>/<unit>       voters registered in the unit (only for polls whose units carry ``eligible``)

When the units carry ``eligible`` (the members whose ballot unit is that unit, published by
the organiser), the contract refuses to register more voters in a unit than it has eligible
members, and to enrol more voters in an anonymous poll than the sum; so turnout computed
from the ledger has an honest denominator that the organiser cannot pad after the fact.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any

from .. import blindrsa, polls
from ..encoding import encode, read_int, read_str, require_keys
from ..errors import (
    BallotAlreadyCast,
    BallotInvalid,
    CredentialAlreadyUsed,
    CredentialInvalid,
    CredentialKeyMissing,
    EligibleExceeded,
    MalformedObject,
    NotAuthorised,
    PollAnonymous,
    PollClosed,
    PollExists,
    PollNotOpen,
    UnitsInvalid,
    UnknownPoll,
    UnknownUnit,
    VoterAlreadyRegistered,
    VoterNotRegistered,
    WrongPollState,
)
from ..state import ReadView
from ..tx import IDENT_RE
from .base import Contract, ExecContext, register

METHODS = ("single", "multi", "yna", "ranked", "score")
YNA_OPTIONS = ("yes", "no", "abstain")
WEIGHTS = ("equal", "registered")
MIN_OPTIONS, MAX_OPTIONS = 2, 100
MAX_UNITS = 5000
MAX_REGISTER_BATCH = 1000
MAX_WEIGHT = 1000
MAX_SCORE = 100
MAX_WEIGHT_RULE = 2000
MAX_ELIGIBLE = 100_000_000
CREDENTIAL_TAG = "EVOTE-POLL-CREDENTIAL-V1"
CREDENTIAL_VARIANT = blindrsa.PSS_RANDOMIZED
_MAX_KEY_HEX = 2 * 1100
_ADDRESS_RE = re.compile(r"^[0-9a-f]{40}\Z")
_HEX = re.compile(r"^(?:[0-9a-f]{2})+\Z")

CREATED, OPEN, CLOSED = "created", "open", "closed"

_CREATE_FIELDS = frozenset({"poll", "title", "method", "options", "units", "opens_at", "closes_at", "weights"})
_CREATE_OPTIONAL = frozenset({"choices", "score_max", "weight_rule", "credential_key"})
_OPTION_FIELDS = frozenset({"id", "name"})
_UNIT_FIELDS = frozenset({"id", "parent", "name"})
_UNIT_OPTIONAL = frozenset({"eligible"})
_REGISTER_FIELDS = frozenset({"poll", "voters"})
_VOTER_FIELDS = frozenset({"address", "unit", "weight"})
_ENROL_FIELDS = frozenset({"poll", "address", "credential"})
_POLL_FIELDS = frozenset({"poll"})
_ADD_UNITS_FIELDS = frozenset({"poll", "units"})
_CAST_FIELDS = frozenset({"poll", "ballot"})


def credential_message(chain: str, poll: str, address: str) -> bytes:
    """The message a poll credential signs (before the 32-byte random prefix of RFC 9474)."""
    return encode([CREDENTIAL_TAG, chain, poll, address])


def poll_key(poll: str) -> str:
    return f"poll/p/{poll}"


def counters_key(poll: str) -> str:
    return f"poll/n/{poll}"


def voter_key(poll: str, address: str) -> str:
    return f"poll/v/{poll}/{address}"


def ballot_key(poll: str, index: int) -> str:
    return f"poll/x/{poll}/{index}"


def unit_count_key(poll: str, unit: str) -> str:
    return f"poll/u/{poll}/{unit}"


def has_eligible(record: dict[str, Any]) -> bool:
    """Whether the poll published eligible counts (all its units carry them, or none does)."""
    return "eligible" in record["units"][0]


def root_unit(record: dict[str, Any]) -> str:
    root: str = next(unit["id"] for unit in record["units"] if unit["parent"] is None)
    return root


def _load_poll(view: ReadView, payload: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    poll = read_str(payload, "poll", pattern=IDENT_RE)
    record = view.get(poll_key(poll))
    if record is None:
        raise UnknownPoll(f"no poll {poll}", poll=poll)
    return poll, record


def _require_authority(ctx: ExecContext, record: dict[str, Any]) -> None:
    if ctx.tx.signer.hex() != record["authority"]:
        raise NotAuthorised("only the poll's authority may do this", poll=record["id"])


def _require_not_closed(ctx: ExecContext, record: dict[str, Any]) -> None:
    if record["status"] == CLOSED or ctx.time >= record["closes_at"]:
        raise PollClosed("the poll is closed", poll=record["id"])


def _require_open(ctx: ExecContext, record: dict[str, Any]) -> None:
    _require_not_closed(ctx, record)
    if record["status"] != OPEN or ctx.time < record["opens_at"]:
        raise PollNotOpen("the poll is not open", poll=record["id"], status=record["status"])


# --- create ----------------------------------------------------------------------


def _read_options(payload: dict[str, Any], method: str) -> list[dict[str, str]]:
    raw = payload["options"]
    if type(raw) is not list or not MIN_OPTIONS <= len(raw) <= MAX_OPTIONS:
        raise MalformedObject(f"options must be a list of {MIN_OPTIONS} to {MAX_OPTIONS}", field="options")
    options = []
    for item in raw:
        entry = require_keys(item, _OPTION_FIELDS, "option")
        options.append({"id": read_str(entry, "id", pattern=IDENT_RE), "name": read_str(entry, "name", max_len=200)})
    ids = [option["id"] for option in options]
    if len(set(ids)) != len(ids):
        raise MalformedObject("option ids must be unique", field="options")
    if method == "yna" and sorted(ids) != sorted(YNA_OPTIONS):
        raise MalformedObject("a yes/no/abstain poll has exactly the options yes, no, abstain", field="options")
    return options


def _read_units(payload: dict[str, Any], existing: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The payload's units, checked as one tree together with the ``existing`` units of the poll."""
    raw = payload["units"]
    if type(raw) is not list or not 1 <= len(raw) <= MAX_UNITS:
        raise MalformedObject(f"units must be a list of 1 to {MAX_UNITS}", field="units")
    units = []
    for item in raw:
        entry = require_keys(item, _UNIT_FIELDS, "unit", _UNIT_OPTIONAL)
        parent = entry["parent"]
        if parent is not None:
            parent = read_str(entry, "parent", pattern=IDENT_RE)
        unit = {"id": read_str(entry, "id", pattern=IDENT_RE), "parent": parent,
                "name": read_str(entry, "name", max_len=200)}
        if "eligible" in entry:
            unit["eligible"] = read_int(entry, "eligible", minimum=0, maximum=MAX_ELIGIBLE)
        units.append(unit)
    whole = units if existing is None else [*existing, *units]
    if len(whole) > MAX_UNITS:
        raise UnitsInvalid(f"a poll has at most {MAX_UNITS} units")
    if len({"eligible" in unit for unit in whole}) != 1:
        raise UnitsInvalid("either every unit of a poll carries eligible or none does")
    validate_tree(whole)
    return units


def validate_tree(units: list[dict[str, Any]]) -> None:
    """Unique ids, exactly one root, every parent present, no cycle; else ``units_invalid``."""
    parent = {unit["id"]: unit["parent"] for unit in units}
    if len(parent) != len(units):
        raise UnitsInvalid("unit ids must be unique")
    if sum(1 for p in parent.values() if p is None) != 1:
        raise UnitsInvalid("the units need exactly one root (parent null)")
    if any(p is not None and p not in parent for p in parent.values()):
        raise UnitsInvalid("every parent must be one of the units")
    reaches_root: set[str] = set()
    for start in parent:
        path: list[str] = []
        on_path: set[str] = set()
        node: str | None = start
        while node is not None and node not in reaches_root:
            if node in on_path:
                raise UnitsInvalid("the units contain a cycle", unit=node)
            path.append(node)
            on_path.add(node)
            node = parent[node]
        reaches_root.update(path)


def _read_method_options(payload: dict[str, Any], method: str, count: int) -> dict[str, int]:
    extra: dict[str, int] = {}
    if method == "multi":
        if "choices" not in payload:
            raise MalformedObject("a multi poll needs choices", field="choices")
        extra["choices"] = read_int(payload, "choices", minimum=1, maximum=count)
    elif "choices" in payload:
        raise MalformedObject("choices belongs to multi polls only", field="choices")
    if method == "score":
        if "score_max" not in payload:
            raise MalformedObject("a score poll needs score_max", field="score_max")
        extra["score_max"] = read_int(payload, "score_max", minimum=1, maximum=MAX_SCORE)
    elif "score_max" in payload:
        raise MalformedObject("score_max belongs to score polls only", field="score_max")
    return extra


def _read_weighting(payload: dict[str, Any]) -> dict[str, str]:
    weights = payload["weights"]
    if weights not in WEIGHTS or type(weights) is not str:
        raise MalformedObject("weights must be equal or registered", field="weights")
    extra = {"weights": weights}
    if "weight_rule" in payload:
        extra["weight_rule"] = read_str(payload, "weight_rule", max_len=MAX_WEIGHT_RULE)
    elif weights == "registered":
        raise MalformedObject("registered weights need the published weight_rule", field="weight_rule")
    if "credential_key" in payload:
        if weights != "equal":
            raise MalformedObject("an anonymous poll has equal weights", field="credential_key")
        extra["credential_key"] = read_str(payload, "credential_key", pattern=_HEX, max_len=_MAX_KEY_HEX)
    return extra


def _create(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _CREATE_FIELDS, "payload", _CREATE_OPTIONAL)
    poll = read_str(payload, "poll", pattern=IDENT_RE)
    title = read_str(payload, "title", max_len=300)
    method = payload["method"]
    if type(method) is not str or method not in METHODS:
        raise MalformedObject(f"method must be one of {', '.join(METHODS)}", field="method")
    options = _read_options(payload, method)
    extra: dict[str, Any] = _read_method_options(payload, method, len(options))
    opens_at = read_int(payload, "opens_at")
    closes_at = read_int(payload, "closes_at")
    if closes_at <= opens_at:
        raise MalformedObject("closes_at must be after opens_at", field="closes_at")
    units = _read_units(payload)
    extra.update(_read_weighting(payload))
    if "credential_key" in extra:
        blindrsa.load_public_key(bytes.fromhex(extra["credential_key"]))  # credential_key_invalid
    if not ctx.genesis.is_authority(ctx.tx.signer):
        raise NotAuthorised("only a genesis authority may create polls")
    if ctx.state.get(poll_key(poll)) is not None:
        raise PollExists(f"poll {poll} exists", poll=poll)
    record = {"id": poll, "title": title, "method": method, "options": options, "units": units,
              "opens_at": opens_at, "closes_at": closes_at, "authority": ctx.tx.signer.hex(),
              "status": CREATED, "created_at": ctx.height, **extra}
    ctx.state.put(poll_key(poll), record)
    ctx.state.put(counters_key(poll), {"registered": 0, "weight": 0, "cast": 0, "cast_weight": 0})


def _add_units(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    """Grow the tree before the poll opens: one transaction holds at most 128 KiB, far fewer than 5000 units."""
    require_keys(payload, _ADD_UNITS_FIELDS, "payload")
    poll, record = _load_poll(ctx.state, payload)
    units = _read_units(payload, record["units"])
    _require_authority(ctx, record)
    if record["status"] != CREATED:
        raise WrongPollState("units are added before the poll opens", poll=poll)
    ctx.state.put(poll_key(poll), dict(record, units=[*record["units"], *units]))


# --- voters ------------------------------------------------------------------------


def _read_voters(payload: dict[str, Any], record: dict[str, Any]) -> list[dict[str, Any]]:
    raw = payload["voters"]
    if type(raw) is not list or not 1 <= len(raw) <= MAX_REGISTER_BATCH:
        raise MalformedObject(f"voters must be a list of 1 to {MAX_REGISTER_BATCH}", field="voters")
    top = 1 if record["weights"] == "equal" else MAX_WEIGHT
    voters = []
    for item in raw:
        entry = require_keys(item, _VOTER_FIELDS, "voter")
        voters.append({"address": read_str(entry, "address", pattern=_ADDRESS_RE),
                       "unit": read_str(entry, "unit", pattern=IDENT_RE),
                       "weight": read_int(entry, "weight", minimum=1, maximum=top)})
    if len({voter["address"] for voter in voters}) != len(voters):
        raise MalformedObject("an address appears twice in one registration", field="voters")
    return voters


def _register(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _REGISTER_FIELDS, "payload")
    poll, record = _load_poll(ctx.state, payload)
    voters = _read_voters(payload, record)
    _require_authority(ctx, record)
    _require_not_closed(ctx, record)
    if "credential_key" in record:
        raise PollAnonymous("an anonymous poll's voters enrol with a credential", poll=poll)
    unit_ids = {unit["id"] for unit in record["units"]}
    state = ctx.state
    for voter in voters:
        if voter["unit"] not in unit_ids:
            raise UnknownUnit(f"no unit {voter['unit']} in poll {poll}", poll=poll, unit=voter["unit"])
        if state.get(voter_key(poll, voter["address"])) is not None:
            raise VoterAlreadyRegistered("address already registered in this poll", poll=poll, address=voter["address"])
    unit_counts = _unit_counts_after(state, record, voters)
    for voter in voters:
        state.put(voter_key(poll, voter["address"]), {"unit": voter["unit"], "weight": voter["weight"], "cast": 0})
    for unit, count in unit_counts.items():
        state.put(unit_count_key(poll, unit), count)
    counters = state.get(counters_key(poll))
    state.put(counters_key(poll), dict(counters, registered=counters["registered"] + len(voters),
                                       weight=counters["weight"] + sum(v["weight"] for v in voters)))


def _unit_counts_after(state: ReadView, record: dict[str, Any], voters: list[dict[str, Any]]) -> dict[str, int]:
    """Per-unit registered counts after ``voters`` join; ``eligible_exceeded`` if one passes its unit's eligible."""
    if not has_eligible(record):
        return {}
    poll = record["id"]
    eligible = {unit["id"]: unit["eligible"] for unit in record["units"]}
    counts: dict[str, int] = {}
    for voter in voters:
        unit = voter["unit"]
        if unit not in counts:
            counts[unit] = state.get(unit_count_key(poll, unit)) or 0
        counts[unit] += 1
        if counts[unit] > eligible[unit]:
            raise EligibleExceeded(f"unit {unit} has only {eligible[unit]} eligible members", poll=poll, unit=unit)
    return counts


def _enrol(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _ENROL_FIELDS, "payload")
    poll, record = _load_poll(ctx.state, payload)
    address = read_str(payload, "address", pattern=_ADDRESS_RE)
    credential = read_str(payload, "credential", pattern=_HEX, max_len=2 * (blindrsa.PREFIX_SIZE + 512))
    if address != ctx.tx.sender:
        raise NotAuthorised("an enrolment must be signed by the key of the address it enrols", address=address)
    _require_not_closed(ctx, record)
    if "credential_key" not in record:
        raise CredentialKeyMissing("this poll takes no credentials", poll=poll)
    public_key = blindrsa.load_public_key(bytes.fromhex(record["credential_key"]))
    raw = bytes.fromhex(credential)
    if len(raw) != blindrsa.PREFIX_SIZE + (public_key.key_size + 7) // 8:
        raise CredentialInvalid("the credential must be a 32-byte prefix and one RSA signature", poll=poll)
    prefix, signature = raw[: blindrsa.PREFIX_SIZE], raw[blindrsa.PREFIX_SIZE :]
    blindrsa.verify(public_key, prefix + credential_message(ctx.genesis.chain, poll, address), signature,
                    CREDENTIAL_VARIANT)
    state = ctx.state
    used_key = f"poll/c/{poll}/{hashlib.sha256(signature).hexdigest()}"
    if state.get(used_key) is not None:
        raise CredentialAlreadyUsed("this credential has already enrolled an address", poll=poll)
    if state.get(voter_key(poll, address)) is not None:
        raise VoterAlreadyRegistered("address already enrolled in this poll", poll=poll, address=address)
    counters = state.get(counters_key(poll))
    if has_eligible(record) and counters["registered"] >= sum(unit["eligible"] for unit in record["units"]):
        raise EligibleExceeded("every eligible member of the poll has enrolled", poll=poll)
    state.put(used_key, 1)
    state.put(voter_key(poll, address), {"unit": root_unit(record), "weight": 1, "cast": 0})
    state.put(counters_key(poll), dict(counters, registered=counters["registered"] + 1, weight=counters["weight"] + 1))


# --- schedule ----------------------------------------------------------------------


def _open(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _POLL_FIELDS, "payload")
    poll, record = _load_poll(ctx.state, payload)
    _require_authority(ctx, record)
    if record["status"] != CREATED:
        raise WrongPollState(f"cannot open a poll that is {record['status']}", poll=poll)
    if ctx.time < record["opens_at"]:
        raise PollNotOpen("the scheduled opening time has not come", poll=poll, opens_at=record["opens_at"])
    if ctx.time >= record["closes_at"]:
        raise PollClosed("the scheduled closing time has passed", poll=poll)
    ctx.state.put(poll_key(poll), dict(record, status=OPEN, opened_at=ctx.height))


def _close(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _POLL_FIELDS, "payload")
    poll, record = _load_poll(ctx.state, payload)
    _require_authority(ctx, record)
    if record["status"] != OPEN:
        raise WrongPollState(f"cannot close a poll that is {record['status']}", poll=poll)
    ctx.state.put(poll_key(poll), dict(record, status=CLOSED, closed_at=ctx.height))


# --- ballots -----------------------------------------------------------------------


def validate_ballot(record: dict[str, Any], ballot: Any) -> None:
    """Raise ``ballot_invalid`` unless ``ballot`` has exactly the form of the poll's method."""
    method = record["method"]
    ids = [option["id"] for option in record["options"]]
    if method in ("single", "yna"):
        if type(ballot) is not str or ballot not in ids:
            raise BallotInvalid("the ballot must be one option id", poll=record["id"])
    elif method in ("multi", "ranked"):
        top = record["choices"] if method == "multi" else len(ids)
        if type(ballot) is not list or not 1 <= len(ballot) <= top or any(type(o) is not str for o in ballot):
            raise BallotInvalid(f"the ballot must list 1 to {top} option ids", poll=record["id"])
        if any(option not in ids for option in ballot) or len(set(ballot)) != len(ballot):
            raise BallotInvalid("the ballot must list distinct option ids of this poll", poll=record["id"])
        if method == "multi" and any(a >= b for a, b in zip(ballot, ballot[1:])):
            raise BallotInvalid("the marks must be in ascending order", poll=record["id"])
    elif method == "score":
        if type(ballot) is not dict or sorted(ballot) != sorted(ids):
            raise BallotInvalid("the ballot must score every option", poll=record["id"])
        top = record["score_max"]
        if any(type(score) is not int or not 0 <= score <= top for score in ballot.values()):
            raise BallotInvalid(f"every score must be an integer in 0..{top}", poll=record["id"])
    else:  # pragma: no cover - create admits the methods above only
        raise BallotInvalid("unknown method", poll=record["id"])


def _cast(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _CAST_FIELDS, "payload")
    poll, record = _load_poll(ctx.state, payload)
    _require_open(ctx, record)
    ballot = payload["ballot"]
    validate_ballot(record, ballot)
    state = ctx.state
    sender = ctx.tx.sender
    voter = state.get(voter_key(poll, sender))
    if voter is None:
        raise VoterNotRegistered("this address is not a voter of the poll", poll=poll, address=sender)
    if voter["cast"]:
        raise BallotAlreadyCast("this address has already voted in the poll", poll=poll, address=sender)
    counters = state.get(counters_key(poll))
    state.put(voter_key(poll, sender), dict(voter, cast=1))
    state.put(ballot_key(poll, counters["cast"]),
              {"address": sender, "unit": voter["unit"], "weight": voter["weight"], "ballot": ballot})
    state.put(counters_key(poll), dict(counters, cast=counters["cast"] + 1,
                                       cast_weight=counters["cast_weight"] + voter["weight"]))


# --- queries -----------------------------------------------------------------------


def ballots(view: ReadView, poll: str, count: int) -> list[tuple[str, int, Any]]:
    """The poll's ballots as ``(unit, weight, ballot)`` rows, in casting order."""
    rows = []
    for index in range(count):
        entry = view.get(ballot_key(poll, index))
        rows.append((entry["unit"], entry["weight"], entry["ballot"]))
    return rows


def _q_poll(self: Contract, view: ReadView, args: dict[str, Any]) -> Any:
    poll, record = _load_poll(view, args)
    return dict(record, counts=view.get(counters_key(poll)))


def _q_voter(self: Contract, view: ReadView, args: dict[str, Any]) -> Any:
    poll, _ = _load_poll(view, args)
    address = read_str(args, "address", pattern=_ADDRESS_RE)
    voter = view.get(voter_key(poll, address))
    if voter is None:
        return {"status": "not_registered", "unit": None, "weight": 0}
    return {"status": "cast" if voter["cast"] else "registered", "unit": voter["unit"], "weight": voter["weight"]}


def _q_tally(self: Contract, view: ReadView, args: dict[str, Any]) -> Any:
    poll, record = _load_poll(view, args)
    counters = view.get(counters_key(poll))
    rows = ballots(view, poll, counters["cast"])
    result: dict[str, Any] = {"poll": poll, "status": record["status"], "counts": counters,
                              "result": polls.tally(record, rows)}
    if "units" in args and type(args["units"]) is int and args["units"] == 1:  # per-unit roll-ups on request
        result["units"] = polls.tally_by_unit(record, rows)
    return without_booleans(result)


def without_booleans(value: Any) -> Any:
    """``value`` with true/false as 1/0: query results travel as canonical JSON, which has no booleans."""
    if type(value) is bool:
        return int(value)
    if type(value) is dict:
        return {key: without_booleans(item) for key, item in value.items()}
    if type(value) is list:
        return [without_booleans(item) for item in value]
    return value


@register
class PollContract(Contract):
    contract_id = "poll"
    handlers = {
        "create": _create,
        "add_units": _add_units,
        "register": _register,
        "enrol": _enrol,
        "open": _open,
        "close": _close,
        "cast": _cast,
    }
    queries = {"poll": _q_poll, "voter": _q_voter, "tally": _q_tally}
