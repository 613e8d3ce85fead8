"""The system contract (docs/protocol.md section 11): contract pins, equivocation evidence, log anchors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .errors import Invalid
from .objects import HEX64, HEX128, Genesis, Tx, check_payload_keys, is_hex, is_identifier, is_int, vote_signing_message
from .signatures import CryptoImpl, verify

if TYPE_CHECKING:
    from .contracts import Machine

KNOWN_CONTRACTS = ("system", "vote", "poll")


def _fail(code: str, message: str) -> Invalid:
    return Invalid(code, message)


def deploy(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    check_payload_keys(p, {"contract", "source_sha256"})
    if not is_identifier(p["contract"]) or not is_hex(p["source_sha256"], HEX64):
        raise _fail("malformed", "contract must be an identifier and source_sha256 64 hex digits")
    if tx.signer_hex not in machine.genesis.authorities:
        raise _fail("not_authorised", "only a genesis authority deploys")
    if f"sys/contract/{p['contract']}" in machine.state:
        raise _fail("tx_rejected", "this contract is already pinned")
    if p["contract"] not in KNOWN_CONTRACTS:
        raise _fail("unknown_contract", f"no implementation of contract {p['contract']}")
    if machine.sources.get(p["contract"]) != p["source_sha256"]:
        raise _fail("contract_source_mismatch", "the bundle's source of this contract has another hash")
    return [(f"sys/contract/{p['contract']}", p["source_sha256"])]


def decode_vote(value: Any, genesis: Genesis, impl: CryptoImpl) -> dict[str, Any]:
    """A consensus vote of section 6.2 with a valid signature, else ``evidence_invalid``."""
    def bad(message: str) -> Invalid:
        return _fail("evidence_invalid", message)

    if type(value) is not dict or value.keys() != {"v", "chain", "kind", "height", "round", "block", "validator", "sig"}:
        raise bad("a vote has exactly v, chain, kind, height, round, block, validator, sig")
    if not (value["v"] == 1 and type(value["v"]) is int and is_identifier(value["chain"])
            and value["kind"] in ("prevote", "precommit") and is_int(value["height"], 1) and is_int(value["round"], 0)
            and (value["block"] is None or is_hex(value["block"], HEX64)) and is_identifier(value["validator"])
            and is_hex(value["sig"], HEX128)):
        raise bad("a vote field breaks its rule")
    validator = genesis.by_id.get(value["validator"])
    if validator is None:
        raise bad("the vote's validator is not in the genesis")
    body = {k: v for k, v in value.items() if k != "sig"}
    try:
        verify(validator.pubkey, bytes.fromhex(value["sig"]), vote_signing_message(body), impl)
    except Invalid as exc:
        raise bad(f"the vote's signature fails: {exc.code}") from exc
    return value


def evidence(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    p = tx.payload
    check_payload_keys(p, {"votes"})
    votes = p["votes"]
    if type(votes) is not list or len(votes) != 2:
        raise _fail("evidence_invalid", "evidence is exactly two votes")
    if tx.signer not in {v.pubkey for v in machine.genesis.validators}:  # bytes: rare, so decoded here
        raise _fail("not_authorised", "only a validator reports evidence")
    first, second = (decode_vote(vote, machine.genesis, machine.impl) for vote in votes)
    same = all(first[k] == second[k] for k in ("validator", "height", "round", "kind"))
    if not (same and first["chain"] == second["chain"] == machine.genesis.chain and first["block"] != second["block"]):
        raise _fail("evidence_invalid", "the votes are not two different blocks of one validator, height, round, kind")
    key = f"sys/evidence/{first['validator']}/{first['height']}/{first['round']}/{first['kind']}"
    if key in machine.state:
        raise _fail("evidence_invalid", "this equivocation is already recorded")
    record = {"validator": first["validator"], "height": first["height"], "round": first["round"],
              "kind": first["kind"], "votes": sorted([first, second], key=lambda v: v["sig"]), "reported_at": height}
    return [(key, record)]


def anchor(machine: Machine, tx: Tx, height: int, time: int) -> list[tuple[str, Any]]:
    """The head of an off-chain hash-chained log, published under a label with consecutive seq numbers."""
    p = tx.payload
    check_payload_keys(p, {"label", "seq", "hash"})
    if not (is_identifier(p["label"]) and is_int(p["seq"], 0) and is_hex(p["hash"], HEX64)):
        raise _fail("malformed", "label is an identifier, seq an integer >= 0, hash 64 lowercase hex digits")
    if tx.signer_hex not in machine.genesis.authorities:
        raise _fail("not_authorised", "only a genesis authority anchors")
    latest = machine.state.get(f"system/a/{p['label']}")
    expected = 0 if latest is None else latest["seq"] + 1
    if p["seq"] != expected:
        raise _fail("anchor_seq_invalid", f"the next anchor of {p['label']} is seq {expected}")
    return [(f"system/a/{p['label']}", {"hash": p["hash"], "height": height, "seq": p["seq"]}),
            (f"system/a/{p['label']}/{p['seq']}", p["hash"])]
