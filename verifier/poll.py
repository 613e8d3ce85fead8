"""The poll contract (docs/protocol.md section 16), re-executed from the protocol text.

Every method checks all its rules before returning its writes, in the order the protocol
lists them, and raises ``Invalid`` with the protocol's code. Counting is in
``pollcount.py``.
"""

from __future__ import annotations

import hashlib
import re
from typing import TYPE_CHECKING, Any

from . import canonical, rsapss
from .errors import Invalid
from .objects import Tx, check_payload_keys, is_identifier, is_int

if TYPE_CHECKING:
    from .contracts import Machine

POLL_CREDENTIAL_TAG = "EVOTE-POLL-CREDENTIAL-V1"
METHODS = frozenset({"single", "multi", "yna", "ranked", "score"})
HEX40 = re.compile(r"[0-9a-f]{40}")
HEX_EVEN = re.compile(r"(?:[0-9a-f]{2})+")


def _fail(code: str, message: str) -> Invalid:
    return Invalid(code, message)


def _text(value: Any, most: int) -> bool:
    return type(value) is str and 1 <= len(value) <= most


def _poll(machine: Machine, payload: dict[str, Any]) -> dict[str, Any]:
    if not is_identifier(payload.get("poll")):
        raise _fail("malformed", "poll must be an identifier")
    record = machine.state.get(f"poll/p/{payload['poll']}")
    if record is None:
        raise _fail("unknown_poll", f"no poll {payload['poll']}")
    result: dict[str, Any] = record
    return result


def _authority(record: dict[str, Any], tx: Tx) -> None:
    if tx.signer_hex != record["authority"]:
        raise _fail("not_authorised", "only the poll's authority may do this")


def _before_close(record: dict[str, Any], time: int) -> None:
    if record["status"] == "closed" or time >= record["closes_at"]:
        raise _fail("poll_closed", "the poll is closed")


def _options(value: Any, method: str) -> list[dict[str, str]]:
    if type(value) is not list or not 2 <= len(value) <= 100:
        raise _fail("malformed", "options is a list of 2..100")
    for entry in value:
        if not (type(entry) is dict and entry.keys() == {"id", "name"} and is_identifier(entry["id"])
                and _text(entry["name"], 200)):
            raise _fail("malformed", "each option is {id, name}")
    ids = [entry["id"] for entry in value]
    if len(set(ids)) != len(ids):
        raise _fail("malformed", "option ids are unique")
    if method == "yna" and set(ids) != {"yes", "no", "abstain"}:
        raise _fail("malformed", "a yna poll has the options yes, no, abstain")
    return [{"id": entry["id"], "name": entry["name"]} for entry in value]


def _units(value: Any, existing: list[dict[str, Any]] | None = None) -> list[dict[str, Any]]:
    if type(value) is not list or not 1 <= len(value) <= 5000:
        raise _fail("malformed", "units is a list of 1..5000")
    for entry in value:
        if not (type(entry) is dict and entry.keys() in ({"id", "parent", "name"}, {"id", "parent", "name", "eligible"})
                and (entry["parent"] is None or is_identifier(entry["parent"]))
                and is_identifier(entry["id"]) and _text(entry["name"], 200)
                and is_int(entry.get("eligible", 0), 0, 100_000_000)):
            raise _fail("malformed", "each unit is {id, parent, name} and optionally eligible 0..100000000")
    whole = [*(existing or []), *value]
    if len(whole) > 5000:
        raise _fail("units_invalid", "more than 5000 units")
    if any(("eligible" in entry) != ("eligible" in whole[0]) for entry in whole):
        raise _fail("units_invalid", "eligible on some units but not all")
    parents = {entry["id"]: entry["parent"] for entry in whole}
    if len(parents) != len(whole):
        raise _fail("units_invalid", "unit ids repeat")
    if [p for p in parents.values() if p is None] != [None]:
        raise _fail("units_invalid", "not exactly one root")
    if any(p is not None and p not in parents for p in parents.values()):
        raise _fail("units_invalid", "a parent is not a unit")
    # Depth by walking up at most len(units) steps: a longer walk can only be a cycle.
    for start in parents:
        node, steps = start, 0
        while node is not None:
            node, steps = parents[node], steps + 1
            if steps > len(parents):
                raise _fail("units_invalid", "the units have a cycle")
    return [{key: entry[key] for key in ("id", "parent", "name", "eligible") if key in entry} for entry in value]


def create(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    check_payload_keys(p, {"poll", "title", "method", "options", "units", "opens_at", "closes_at", "weights"},
                       frozenset({"choices", "score_max", "weight_rule", "credential_key"}))
    if not is_identifier(p["poll"]) or not _text(p["title"], 300):
        raise _fail("malformed", "poll is an identifier, title 1..300 characters")
    method = p["method"]
    if type(method) is not str or method not in METHODS:
        raise _fail("malformed", "unknown method")
    options = _options(p["options"], method)
    extra: dict[str, Any] = {}
    for name, wanted, top in (("choices", "multi", len(options)), ("score_max", "score", 100)):
        if (name in p) != (method == wanted):
            raise _fail("malformed", f"{name} is required for {wanted} polls and refused otherwise")
        if name in p:
            if not is_int(p[name], 1, top):
                raise _fail("malformed", f"{name} out of range")
            extra[name] = p[name]
    if not (is_int(p["opens_at"], 0) and is_int(p["closes_at"], 0) and p["closes_at"] > p["opens_at"]):
        raise _fail("malformed", "opens_at < closes_at, integers >= 0")
    units = _units(p["units"])
    weights = p["weights"]
    if type(weights) is not str or weights not in ("equal", "registered"):
        raise _fail("malformed", "weights is equal or registered")
    extra["weights"] = weights
    if "weight_rule" in p:
        if not _text(p["weight_rule"], 2000):
            raise _fail("malformed", "weight_rule is 1..2000 characters")
        extra["weight_rule"] = p["weight_rule"]
    elif weights == "registered":
        raise _fail("malformed", "registered weights need a weight_rule")
    if "credential_key" in p:
        key = p["credential_key"]
        if weights != "equal":
            raise _fail("malformed", "an anonymous poll has equal weights")
        if not (type(key) is str and len(key) <= 2200 and HEX_EVEN.fullmatch(key)):
            raise _fail("malformed", "credential_key is even-length lowercase hex, at most 2200 digits")
        try:
            rsapss.parse_credential_key(bytes.fromhex(key))
        except ValueError as exc:
            raise _fail("credential_key_invalid", f"credential_key: {exc}") from exc
        extra["credential_key"] = key
    if tx.signer_hex not in machine.genesis.authorities:
        raise _fail("not_authorised", "only a genesis authority creates polls")
    poll = p["poll"]
    if f"poll/p/{poll}" in machine.state:
        raise _fail("poll_exists", f"poll {poll} exists")
    record = {"id": poll, "title": p["title"], "method": method, "options": options, "units": units,
              "opens_at": p["opens_at"], "closes_at": p["closes_at"], "authority": tx.signer_hex,
              "status": "created", "created_at": height, **extra}
    return [(f"poll/p/{poll}", record),
            (f"poll/n/{poll}", {"cast": 0, "cast_weight": 0, "registered": 0, "weight": 0})]


def add_units(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    check_payload_keys(tx.payload, {"poll", "units"})
    record = _poll(machine, tx.payload)
    units = _units(tx.payload["units"], record["units"])
    _authority(record, tx)
    if record["status"] != "created":
        raise _fail("poll_wrong_state", "units are added before the poll opens")
    return [(f"poll/p/{record['id']}", {**record, "units": [*record["units"], *units]})]


def register(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    check_payload_keys(p, {"poll", "voters"})
    record = _poll(machine, p)
    voters = p["voters"]
    top = 1 if record["weights"] == "equal" else 1000
    if type(voters) is not list or not 1 <= len(voters) <= 1000:
        raise _fail("malformed", "voters is a list of 1..1000")
    for v in voters:
        if not (type(v) is dict and v.keys() == {"address", "unit", "weight"} and type(v["address"]) is str
                and HEX40.fullmatch(v["address"]) and is_identifier(v["unit"]) and is_int(v["weight"], 1, top)):
            raise _fail("malformed", "each voter is {address, unit, weight} within the poll's weight range")
    if len({v["address"] for v in voters}) != len(voters):
        raise _fail("malformed", "an address repeats")
    _authority(record, tx)
    _before_close(record, time)
    if "credential_key" in record:
        raise _fail("poll_anonymous", "anonymous polls enrol their voters")
    units = {u["id"] for u in record["units"]}
    poll = record["id"]
    for v in voters:
        if v["unit"] not in units:
            raise _fail("unknown_unit", f"no unit {v['unit']}")
        if f"poll/v/{poll}/{v['address']}" in machine.state:
            raise _fail("voter_already_registered", f"{v['address']} is registered")
    per_unit: dict[str, int] = {}
    if "eligible" in record["units"][0]:
        eligible = {u["id"]: u["eligible"] for u in record["units"]}
        for v in voters:
            per_unit.setdefault(v["unit"], machine.state.get(f"poll/u/{poll}/{v['unit']}", 0))
            per_unit[v["unit"]] += 1
            if per_unit[v["unit"]] > eligible[v["unit"]]:
                raise _fail("eligible_exceeded", f"more voters than eligible members in {v['unit']}")
    counts = machine.state[f"poll/n/{poll}"]
    writes: list[tuple[str, Any]] = [(f"poll/v/{poll}/{v['address']}", {"cast": 0, "unit": v["unit"], "weight": v["weight"]})
                                     for v in voters]
    writes += [(f"poll/u/{poll}/{unit}", n) for unit, n in per_unit.items()]
    writes.append((f"poll/n/{poll}", {**counts, "registered": counts["registered"] + len(voters),
                                      "weight": counts["weight"] + sum(v["weight"] for v in voters)}))
    return writes


def credential_message(chain: str, poll: str, address: str) -> bytes:
    return canonical.encode_unchecked([POLL_CREDENTIAL_TAG, chain, poll, address])


def enrol(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    check_payload_keys(p, {"poll", "address", "credential"})
    record = _poll(machine, p)
    credential = p["credential"]
    if not (type(p["address"]) is str and HEX40.fullmatch(p["address"]) and type(credential) is str
            and len(credential) <= 1088 and HEX_EVEN.fullmatch(credential)):
        raise _fail("malformed", "address 40 hex digits, credential even-length hex of at most 1088")
    if p["address"] != tx.sender:
        raise _fail("not_authorised", "the address enrolled must be the signer's")
    _before_close(record, time)
    if "credential_key" not in record:
        raise _fail("credential_key_missing", "this poll is not anonymous")
    n, e = rsapss.parse_credential_key(bytes.fromhex(record["credential_key"]))
    raw = bytes.fromhex(credential)
    if len(raw) != 32 + (n.bit_length() + 7) // 8:
        raise _fail("credential_invalid", "wrong credential length for this key")
    poll = record["id"]
    if not rsapss.pss_verify(n, e, raw[:32] + credential_message(machine.genesis.chain, poll, p["address"]), raw[32:]):
        raise _fail("credential_invalid", "the credential does not verify for this chain, poll and address")
    used = f"poll/c/{poll}/{hashlib.sha256(raw[32:]).hexdigest()}"
    if used in machine.state:
        raise _fail("credential_already_used", "this credential already enrolled an address")
    if f"poll/v/{poll}/{p['address']}" in machine.state:
        raise _fail("voter_already_registered", "this address is enrolled")
    root = next(u["id"] for u in record["units"] if u["parent"] is None)
    counts = machine.state[f"poll/n/{poll}"]
    if "eligible" in record["units"][0] and counts["registered"] + 1 > sum(u["eligible"] for u in record["units"]):
        raise _fail("eligible_exceeded", "more enrolments than eligible members")
    return [(used, 1), (f"poll/v/{poll}/{p['address']}", {"cast": 0, "unit": root, "weight": 1}),
            (f"poll/n/{poll}", {**counts, "registered": counts["registered"] + 1, "weight": counts["weight"] + 1})]


def open_poll(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    check_payload_keys(tx.payload, {"poll"})
    record = _poll(machine, tx.payload)
    _authority(record, tx)
    if record["status"] != "created":
        raise _fail("poll_wrong_state", "only a created poll opens")
    if time < record["opens_at"]:
        raise _fail("poll_not_open", "before the opening time")
    if time >= record["closes_at"]:
        raise _fail("poll_closed", "after the closing time")
    return [(f"poll/p/{record['id']}", {**record, "status": "open", "opened_at": height})]


def close_poll(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    check_payload_keys(tx.payload, {"poll"})
    record = _poll(machine, tx.payload)
    _authority(record, tx)
    if record["status"] != "open":
        raise _fail("poll_wrong_state", "only an open poll closes")
    return [(f"poll/p/{record['id']}", {**record, "status": "closed", "closed_at": height})]


def ballot_ok(record: dict[str, Any], ballot: Any) -> bool:
    """Section 16.7: the exact ballot form of each method."""
    ids = [o["id"] for o in record["options"]]
    method = record["method"]
    if method in ("single", "yna"):
        return type(ballot) is str and ballot in ids
    if method == "score":
        return (type(ballot) is dict and set(ballot) == set(ids)
                and all(is_int(score, 0, record["score_max"]) for score in ballot.values()))
    most = record["choices"] if method == "multi" else len(ids)
    if type(ballot) is not list or not 1 <= len(ballot) <= most:
        return False
    if not all(type(o) is str and o in ids for o in ballot) or len(set(ballot)) != len(ballot):
        return False
    return method == "ranked" or ballot == sorted(ballot)


def cast(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    check_payload_keys(tx.payload, {"poll", "ballot"})
    record = _poll(machine, tx.payload)
    _before_close(record, time)
    if record["status"] != "open" or time < record["opens_at"]:
        raise _fail("poll_not_open", "the poll is not open")
    ballot = tx.payload["ballot"]
    if not ballot_ok(record, ballot):
        raise _fail("ballot_invalid", f"not a {record['method']} ballot of this poll")
    poll = record["id"]
    voter = machine.state.get(f"poll/v/{poll}/{tx.sender}")
    if voter is None:
        raise _fail("voter_not_registered", "the signer is not a voter of this poll")
    if voter["cast"] != 0:
        raise _fail("ballot_already_cast", "the signer has already voted")
    counts = machine.state[f"poll/n/{poll}"]
    return [(f"poll/v/{poll}/{tx.sender}", {**voter, "cast": 1}),
            (f"poll/x/{poll}/{counts['cast']}", {"address": tx.sender, "ballot": ballot, "unit": voter["unit"],
                                                 "weight": voter["weight"]}),
            (f"poll/n/{poll}", {**counts, "cast": counts["cast"] + 1,
                                "cast_weight": counts["cast_weight"] + voter["weight"]})]


METHODS_TABLE = {("poll", "create"): create, ("poll", "add_units"): add_units, ("poll", "register"): register, ("poll", "enrol"): enrol,
                 ("poll", "open"): open_poll, ("poll", "close"): close_poll, ("poll", "cast"): cast}
