"""Forwarding the device's own signed transactions (mint by credential, vote) to the ledger.

The server never signs for a voter and never sees a key: it checks the shape, chain and
election so that junk does not reach the nodes, then relays and waits for the final outcome.
These requests carry no session, so nothing here can be joined to a roll entry.
"""

from __future__ import annotations

from typing import Any

from kiosk.tracking import track_transaction
from ledger.core.errors import LedgerError
from ledger.core.tx import MAX_TX_BYTES, Transaction
from voting.ledger_gateway import CommitOutcome, TxInfo, get_gateway

from ..errors import TrackingCodeInvalid, TxInvalid, TxRejected
from .elections import get_mobile_election

VOTE_CONTRACT = "vote"
MINT_TYPE = "mint_credential"
VOTE_TYPE = "transfer"
_HEX = frozenset("0123456789abcdef")


def parse_tx(raw: Any, expected_type: str) -> Transaction:
    """A decoded, signature-checked vote-contract transaction of ``expected_type`` for a mobile election."""
    try:
        tx = Transaction.from_dict(raw)
    except LedgerError as exc:
        raise TxInvalid(detail={"reason": exc.code}) from exc
    if len(tx.to_bytes()) > MAX_TX_BYTES:
        raise TxInvalid(detail={"reason": "too_large", "limit": MAX_TX_BYTES})
    if tx.contract != VOTE_CONTRACT or tx.type != expected_type:
        raise TxInvalid(detail={"reason": "wrong_type", "expected": expected_type})
    gateway = get_gateway()
    if tx.chain != gateway.chain_id:
        raise TxInvalid(detail={"reason": "wrong_chain"})
    election = tx.payload.get("election")
    get_mobile_election(election if isinstance(election, str) else "")
    try:
        tx.verify_signature()
    except LedgerError as exc:
        raise TxInvalid(detail={"reason": exc.code}) from exc
    return tx


def submit_tx(raw: Any, expected_type: str) -> CommitOutcome:
    """Relay and wait for finality; a ledger refusal raises TxRejected with the ledger's code."""
    tx = parse_tx(raw, expected_type)
    outcome = get_gateway().relay(tx)
    if not outcome.committed:
        raise TxRejected(outcome.code or "tx_rejected")
    return outcome


def get_vote_status(tracking_code: str) -> TxInfo:
    """Where a transaction stands, asking every configured node (kiosk.tracking); never the candidate."""
    if len(tracking_code) != 64 or not set(tracking_code) <= _HEX:
        raise TrackingCodeInvalid()
    report = track_transaction(tracking_code)
    status = {"recorded": "final"}.get(report.status, report.status)
    codes = [node.code for node in report.nodes if node.code]
    return TxInfo(tracking_code, status, report.height, report.block_hash, codes[0] if codes else "")
