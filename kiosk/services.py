"""What a booth does on the server: check a scanned token, relay a vote the voter signed, report its state.

The server never sees a token's private key: the kiosk page derives the token address in
the browser and signs the transfer there; these functions get the address (to check the
card) and the signed transaction (to relay it). Nothing here logs a transaction id, an
address or a payload, since together with a kiosk and a time they could link a voter in
the booth to a ballot on the public ledger.
"""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from datetime import datetime

from ledger.core.errors import LedgerError
from ledger.core.tx import Transaction
from voting.errors import LedgerRejected, LedgerUnavailable
from voting.ledger_gateway import LedgerGateway, get_gateway
from voting.models import Kiosk

from .errors import (
    ElectionClosed,
    InvalidInput,
    LedgerUnreachable,
    TokenSpent,
    TokenUnknown,
    TokenWrongElection,
    TokenWrongStation,
    TxMalformed,
    TxWrongChain,
    TxWrongContract,
    TxWrongType,
    VoteNotConfirmed,
    VoteRejected,
)
from .selectors import access_election_for_token, access_election_for_vote

logger = logging.getLogger(__name__)
ADDRESS_RE = re.compile(r"^[0-9a-f]{40}\Z")
TX_ID_RE = re.compile(r"^[0-9a-f]{64}\Z")
VOTE_CONTRACT = "vote"
VOTE_TYPE = "transfer"
MAX_TX_BYTES = 16 * 1024  # a vote is < 1 KiB; the ledger's own limit (128 KiB) is for any transaction


@dataclass(frozen=True)
class TokenCheck:
    election: str
    station: str
    units: int  # how many marks the token may make (1, or k for approval)


@dataclass(frozen=True)
class VoteReceipt:
    tracking_code: str
    height: int | None
    election: str


def validate_address(address: object) -> str:
    if not isinstance(address, str) or not ADDRESS_RE.match(address):
        raise InvalidInput(detail={"field": "address"})
    return address


def check_token(
    kiosk: Kiosk, *, election: object, address: object, chain: str | None, now: datetime,
    gateway: LedgerGateway | None = None,
) -> TokenCheck:
    """Is the scanned card usable at this kiosk now? Raise the precise reason when it is not."""
    address = validate_address(address)
    if not isinstance(election, str) or not election or len(election) > 64:
        raise InvalidInput(detail={"field": "election"})
    gateway = gateway or get_gateway()
    try:
        if chain is not None and chain != gateway.chain_id:
            raise TokenWrongElection(detail={"reason": "chain"})
        access_election_for_token(kiosk, election, now)
        token = gateway.transport.query(VOTE_CONTRACT, "token", {"election": election, "address": address})
    except LedgerUnavailable as exc:
        raise LedgerUnreachable() from exc
    except LedgerRejected as exc:
        if exc.detail.get("reason") == "unknown_election":
            raise TokenWrongElection(detail={"election": election}) from exc
        raise LedgerUnreachable(detail={"reason": exc.detail.get("reason", "")}) from exc
    status, station = token.get("status"), token.get("station")
    if status == "not_minted":
        raise TokenUnknown()
    if station != kiosk.station.code:
        raise TokenWrongStation(detail={"station": station})
    if status != "unspent":
        raise TokenSpent()
    return TokenCheck(election, str(station), int(token.get("balance") or 0))


def parse_vote(raw: bytes) -> Transaction:
    """Decode a signed vote exactly as sent (canonical bytes), refusing anything that is not a vote transfer."""
    if len(raw) > MAX_TX_BYTES:
        raise TxMalformed(detail={"reason": "too_large"})
    try:
        tx = Transaction.from_bytes(raw)
    except LedgerError as exc:
        raise TxMalformed(detail={"reason": exc.code}) from exc
    if tx.contract != VOTE_CONTRACT:
        raise TxWrongContract(detail={"contract": tx.contract})
    if tx.type != VOTE_TYPE:
        raise TxWrongType(detail={"type": tx.type})
    election = tx.payload.get("election")
    if not isinstance(election, str):
        raise TxMalformed(detail={"reason": "election"})
    return tx


@dataclass(frozen=True)
class VoteRequest:
    """A parsed vote that this kiosk may relay (database checks done; the ledger not asked yet)."""

    tx: Transaction
    station: str
    # Set when the election has closed: only a retry of a vote already recorded can still succeed.
    closed: ElectionClosed | None = None


def authorize_vote(kiosk: Kiosk, raw: bytes, *, now: datetime) -> VoteRequest:
    """The database half of a submission: parse the signed bytes, check this kiosk serves the election now."""
    tx = parse_vote(raw)
    try:
        access_election_for_vote(kiosk, str(tx.payload["election"]), now)
    except ElectionClosed as exc:
        return VoteRequest(tx, kiosk.station.code, exc)
    return VoteRequest(tx, kiosk.station.code)


def relay_vote(request: VoteRequest, *, gateway: LedgerGateway | None = None) -> VoteReceipt:
    """The ledger half: relay the vote and return only once it is final (no database access, so it may
    wait in a worker thread without holding up the web app's other requests).

    Safe to repeat with the same bytes: the id is the same, and a transaction already on the
    chain is reported as recorded. A different vote from the same token is refused by the
    ledger (token_already_spent), also when two nodes receive the two at the same moment.
    """
    tx = request.tx
    election = str(tx.payload["election"])
    gateway = gateway or get_gateway()
    try:
        if tx.chain != gateway.chain_id:
            raise TxWrongChain(detail={"chain": tx.chain})
        if request.closed is not None:
            info = gateway.tx_status(tx.id_hex)
            if info.status == "committed":  # a retry of a vote recorded just before the close
                return VoteReceipt(tx.id_hex, info.height, election)
            raise request.closed
        token = gateway.transport.query(VOTE_CONTRACT, "token", {"election": election, "address": tx.sender})
        if token.get("station") is not None and token.get("station") != request.station:
            raise TokenWrongStation(detail={"station": token.get("station")})
        outcome = gateway.relay(tx)
    except LedgerUnavailable as exc:
        logger.warning("kiosk at %s: vote not confirmed (%s)", request.station, exc.detail.get("reason", "unavailable"))
        raise VoteNotConfirmed(detail={"tracking_code": tx.id_hex}) from exc
    except LedgerRejected as exc:
        raise VoteRejected(str(exc.detail.get("reason") or "ledger_rejected")) from exc
    if not outcome.committed:
        logger.info("kiosk at %s: the ledger refused a vote (%s)", request.station, outcome.code)
        raise VoteRejected(outcome.code, detail={"tracking_code": tx.id_hex})
    return VoteReceipt(tx.id_hex, outcome.height, election)


def submit_vote(kiosk: Kiosk, raw: bytes, *, now: datetime, gateway: LedgerGateway | None = None) -> VoteReceipt:
    """Check, relay and confirm a vote signed in the booth (both halves, in this thread)."""
    return relay_vote(authorize_vote(kiosk, raw, now=now), gateway=gateway)


def get_vote_status(tx_id: str, *, gateway: LedgerGateway | None = None) -> dict[str, object]:
    """Where one vote stands on the network the kiosk submits to (by tracking code)."""
    if not isinstance(tx_id, str) or not TX_ID_RE.match(tx_id):
        raise InvalidInput(detail={"field": "tracking_code"})
    try:
        info = (gateway or get_gateway()).tx_status(tx_id)
    except (LedgerUnavailable, LedgerRejected) as exc:
        raise LedgerUnreachable() from exc
    return {"tracking_code": tx_id, "status": info.status, "height": info.height, "block_hash": info.block_hash,
            "code": info.code}
