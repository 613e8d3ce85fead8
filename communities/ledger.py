"""Poll-contract transactions signed by the authority, on top of voting's LedgerGateway.

The gateway already knows how to sign with the authority key, submit, wait for finality and
treat a replay as success; these functions only build ``poll`` (and ``system.anchor``)
payloads and decide which refusals mean "already done" (so every verb is safe to repeat,
like the election verbs). Members' own transactions (cast, enrol) are relayed unchanged
through ``LedgerGateway.relay``.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from ledger.core import polls
from ledger.core.tx import Transaction, make_tx
from voting.errors import LedgerRejected
from voting.ledger_gateway import LedgerGateway

POLL_CONTRACT = "poll"
SYSTEM_CONTRACT = "system"
MAX_REGISTER_BATCH = 1000  # the contract's limit of voters per register transaction
MAX_UNIT_RESULTS = 500  # per-unit roll-ups kept with published results up to this many units


def build_tx(gateway: LedgerGateway, contract: str, tx_type: str, payload: dict[str, Any]) -> Transaction:
    return make_tx(gateway.authority_key, chain=gateway.chain_id, contract=contract, type=tx_type, payload=payload)


def create_poll(gateway: LedgerGateway, payload: dict[str, Any]) -> str:
    """Create the poll; a repeat (poll_exists) is success only if our authority created it."""
    (outcome,) = gateway._commit([build_tx(gateway, POLL_CONTRACT, "create", payload)], tolerate={"poll_exists"})
    if not outcome.committed:
        record = get_poll(gateway, payload["poll"])
        if record is None or record.get("authority") != gateway.authority_public_key_hex:
            raise LedgerRejected(detail={"reason": outcome.code, "poll": payload["poll"]})
    return outcome.tx_id


def register_voters(gateway: LedgerGateway, poll: str, voters: Sequence[dict[str, Any]]) -> list[str]:
    """Register ``{address, unit, weight}`` entries, at most MAX_REGISTER_BATCH per transaction.

    ``voter_already_registered`` is tolerated only when every address in that batch already is
    registered with the same unit and weight (a retry after a lost answer); anything else raises.
    """
    tx_ids = []
    for start in range(0, len(voters), MAX_REGISTER_BATCH):
        batch = [dict(v) for v in voters[start : start + MAX_REGISTER_BATCH]]
        tx = build_tx(gateway, POLL_CONTRACT, "register", {"poll": poll, "voters": batch})
        (outcome,) = gateway._commit([tx], tolerate={"voter_already_registered"})
        if not outcome.committed:
            for voter in batch:
                known = get_voter(gateway, poll, voter["address"])
                if known is None or known.get("unit") != voter["unit"] or known.get("weight") != voter["weight"]:
                    raise LedgerRejected(detail={"reason": outcome.code, "poll": poll})
        tx_ids.append(outcome.tx_id)
    return tx_ids


def set_poll_status(gateway: LedgerGateway, poll: str, tx_type: str, *, reached: set[str]) -> str:
    """``open`` or ``close``; a refusal is success when the ledger's poll already is in a ``reached`` status."""
    tx = build_tx(gateway, POLL_CONTRACT, tx_type, {"poll": poll})
    (outcome,) = gateway._commit([tx], tolerate={"poll_wrong_state", "poll_closed"})
    if not outcome.committed:
        record = get_poll(gateway, poll) or {}
        if record.get("status") not in reached:
            raise LedgerRejected(detail={"reason": outcome.code, "status": record.get("status")})
    return outcome.tx_id


def publish_anchor(gateway: LedgerGateway, label: str, hash_hex: str) -> str:
    """Put ``hash_hex`` on the ledger as the next ``system.anchor`` of ``label`` (protocol section 11).

    A repeat with the same hash as the latest anchor is success (a retry); a different hash
    becomes the next seq, so a change is visible on the chain as a later anchor, never a rewrite.
    """
    latest = get_anchor(gateway, label)
    if latest is not None and latest.get("hash") == hash_hex:
        return ""
    seq = 0 if latest is None else int(latest["seq"]) + 1
    tx = build_tx(gateway, SYSTEM_CONTRACT, "anchor", {"label": label, "seq": seq, "hash": hash_hex})
    (outcome,) = gateway._commit([tx])
    return outcome.tx_id


# --- reads ------------------------------------------------------------------------------------


def _query_or_none(gateway: LedgerGateway, contract: str, name: str, args: dict[str, Any], missing: set[str]) -> Any:
    try:
        return gateway.transport.query(contract, name, args)
    except LedgerRejected as exc:
        if exc.detail.get("reason") in missing:
            return None
        raise


def get_poll(gateway: LedgerGateway, poll: str) -> dict[str, Any] | None:
    record = _query_or_none(gateway, POLL_CONTRACT, "poll", {"poll": poll}, {"unknown_poll"})
    return dict(record) if record is not None else None


def get_voter(gateway: LedgerGateway, poll: str, address: str) -> dict[str, Any] | None:
    """``{"status": registered | cast, "unit", "weight"}``, or None when the address is not a voter."""
    record = _query_or_none(gateway, POLL_CONTRACT, "voter", {"poll": poll, "address": address}, {"unknown_poll"})
    if record is None or record.get("status") == "not_registered":
        return None
    return dict(record)


def get_tally(gateway: LedgerGateway, poll: str) -> dict[str, Any]:
    """``{poll, status, counts, result[, units]}`` from the contract's ``tally`` query.

    ``result`` is ledger.core.polls.tally over the ballots in the committed state; ``units``
    (per-unit roll-ups) is asked for when the poll has at most MAX_UNIT_RESULTS units. The
    query sends ``tie``/``passed`` as 1/0 (canonical JSON has no booleans); they are booleans again here.
    """
    record = get_poll(gateway, poll)
    if record is None:
        raise LedgerRejected(detail={"reason": "unknown_poll", "poll": poll})
    args: dict[str, Any] = {"poll": poll}
    if len(record["units"]) <= MAX_UNIT_RESULTS:
        args["units"] = 1
    tally = dict(gateway.transport.query(POLL_CONTRACT, "tally", args))
    tally["result"] = _with_booleans(tally["result"])
    if "units" in tally:
        tally["units"] = {unit: _with_booleans(result) for unit, result in tally["units"].items()}
    return tally


def _with_booleans(result: dict[str, Any]) -> dict[str, Any]:
    return {key: bool(value) if key in ("tie", "passed") else value for key, value in result.items()}


def recount_tally(gateway: LedgerGateway, poll: str) -> dict[str, Any]:
    """The poll's result recounted from the committed ``register``/``enrol``/``cast`` transactions.

    What an observer does from the blocks alone; publishing results compares it with the
    contract's own tally, so a node whose state and blocks disagree cannot publish a result.
    Reads the whole chain: for the one-time publication, not for pages.
    """
    record = get_poll(gateway, poll)
    if record is None:
        raise LedgerRejected(detail={"reason": "unknown_poll", "poll": poll})
    rows = list(_ledger_ballot_rows(gateway, poll, record))
    return {"poll": poll, "counts": {"cast": len(rows)}, "result": polls.tally(record, rows)}


def _ledger_ballot_rows(gateway: LedgerGateway, poll: str, record: dict[str, Any]) -> Iterator[polls.BallotRow]:
    """``(unit, weight, ballot)`` for every committed cast, with the unit and weight its voter was given.

    One pass in chain order: the contract admits a cast only from an address registered or
    enrolled earlier, so each cast's voter is known by the time the pass reaches it.
    """
    voters: dict[str, tuple[str, int]] = {}
    root = next(unit["id"] for unit in record["units"] if unit["parent"] is None)
    for tx in gateway.transport.iter_transactions(POLL_CONTRACT, ("register", "enrol", "cast")):
        if tx.payload.get("poll") != poll:
            continue
        if tx.type == "register":
            for voter in tx.payload["voters"]:
                voters[voter["address"]] = (voter["unit"], voter["weight"])
        elif tx.type == "enrol":
            voters[tx.payload["address"]] = (root, 1)
        else:
            unit, weight = voters[tx.sender]
            yield unit, weight, tx.payload["ballot"]


def get_anchor(gateway: LedgerGateway, label: str) -> dict[str, Any] | None:
    record = _query_or_none(gateway, SYSTEM_CONTRACT, "anchor", {"label": label}, {"unknown_anchor", "anchor_unknown"})
    return dict(record) if record is not None else None
