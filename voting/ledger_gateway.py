"""The one way the voting app talks to the ledger: vote-contract transactions signed by the election authority.

Services call ``get_gateway()`` and the verbs below; each verb builds the transactions,
signs them with the authority key (``LEDGER["AUTHORITY_KEY_FILE"]``), submits them through
a transport and returns only once every one is committed (final), so the database never
records something the ledger does not hold. Repeating a call is safe: a transaction that is
already on the chain (same id) or a state that is already reached counts as success.

The transport is ``NodeClientTransport`` (``ledger.client.NodeClient``, with failover
between nodes) in production; tests and the benchmark may pass any object with the same
three methods, such as an in-process ledger.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from ledger.core.contracts.vote import MAX_MINT_BATCH
from ledger.core.crypto import PrivateKey
from ledger.core.tx import Transaction, make_tx

from .config import get_voting_settings
from .errors import LedgerRejected, LedgerUnavailable

VOTE_CONTRACT = "vote"
# Rejections that mean "this already happened", for verbs whose effect is a state, not a count.
_REPLAYED = "tx_replayed"


@dataclass(frozen=True)
class CommitOutcome:
    """What became of one submitted transaction."""

    tx_id: str
    committed: bool
    height: int | None = None
    code: str = ""
    message: str = ""


@dataclass(frozen=True)
class TxInfo:
    """The network's view of one transaction: committed (with height and block), pending, rejected or unknown."""

    tx_id: str
    status: str  # committed | pending | rejected | unknown
    height: int | None = None
    block_hash: str | None = None
    code: str = ""


class LedgerTransport(Protocol):
    """What the gateway needs from a ledger connection."""

    def get_chain_id(self) -> str: ...

    def commit(self, txs: Sequence[Transaction], timeout_s: float) -> list[CommitOutcome]:
        """Submit ``txs`` and wait until each is committed or rejected; raise LedgerUnavailable on timeout."""
        ...

    def query(self, contract: str, name: str, args: dict[str, Any]) -> Any:
        """Read-only contract query on the committed state; raise LedgerUnavailable if no node answers."""
        ...

    def iter_transactions(self, contract: str, tx_type: str | tuple[str, ...]) -> Iterable[Transaction]:
        """Every committed transaction of ``contract`` and ``tx_type`` (one, or any of several), in chain order.

        Several types in one call read the chain once: a recount that needs registrations
        before casts gets both in their order without a second pass over every block."""
        ...

    def tx_status(self, tx_id: str) -> TxInfo:
        """What the network knows of one transaction id (hex); raise LedgerUnavailable if no node answers."""
        ...


@dataclass(frozen=True)
class StationCount:
    registered: int
    minted: int
    checkins: int
    spent: int


def to_ledger_ms(moment: Any) -> int:
    """Aware datetime -> unix milliseconds, the ledger's time unit."""
    return int(moment.timestamp() * 1000)


class LedgerGateway:
    """Signs and submits vote-contract transactions for the election authority."""

    def __init__(self, transport: LedgerTransport, authority_key: PrivateKey, *, timeout_s: float = 30.0) -> None:
        self.transport = transport
        self.authority_key = authority_key
        self.timeout_s = timeout_s

    @property
    def chain_id(self) -> str:
        return self.transport.get_chain_id()

    @property
    def authority_public_key_hex(self) -> str:
        return self.authority_key.public_key.hex()

    # --- writes ---------------------------------------------------------------------------

    def create_election(
        self, *, election: str, title: str, candidates: Sequence[tuple[str, str]], opens_at_ms: int, closes_at_ms: int,
        choices: int = 1, credential_key: str | None = None,
    ) -> str:
        """Create the election; ``credential_key`` (SPKI DER hex) enables mobile credentials (protocol 10.2, 10.10)."""
        payload: dict[str, Any] = {
            "election": election,
            "title": title,
            "candidates": [{"id": cid, "name": name} for cid, name in candidates],
            "opens_at": opens_at_ms,
            "closes_at": closes_at_ms,
        }
        if choices != 1:  # approval k-of-n: every token holds k units (docs/protocol.md 10.2)
            payload["choices"] = choices
        if credential_key is not None:
            payload["credential_key"] = credential_key
        (outcome,) = self._commit([self._tx("create", payload)], tolerate={"election_exists"})
        if not outcome.committed:
            record = self.get_election(election)
            if record is None or record.get("authority") != self.authority_public_key_hex:
                raise LedgerRejected(detail={"reason": outcome.code, "election": election})
        return outcome.tx_id

    def register_station(self, *, election: str, station: str, voters: int) -> str:
        (outcome,) = self._commit([self._tx("register", {"election": election, "station": station, "voters": voters})])
        return outcome.tx_id

    def mint(self, *, election: str, station: str, addresses: Sequence[str]) -> list[str]:
        """Mint one unit to each address, in transactions of at most MAX_MINT_BATCH addresses."""
        txs = [
            self._tx("mint", {"election": election, "station": station, "tokens": list(addresses[i : i + MAX_MINT_BATCH])})
            for i in range(0, len(addresses), MAX_MINT_BATCH)
        ]
        return [outcome.tx_id for outcome in self._commit(txs)]

    def open_election(self, *, election: str) -> str:
        return self._set_status("open", election, reached={"open", "closed"})

    def close_election(self, *, election: str) -> str:
        return self._set_status("close", election, reached={"closed"})

    def check_in(self, *, election: str, station: str, checkin_id: str) -> str:
        """Record an anonymous check-in; a repeat of the same id is already recorded, so it succeeds."""
        payload = {"election": election, "station": station, "checkin": checkin_id}
        (outcome,) = self._commit([self._tx("checkin", payload)], tolerate={"checkin_duplicate"})
        return outcome.tx_id

    # --- reads ------------------------------------------------------------------------------

    def get_election(self, election: str) -> dict[str, Any] | None:
        try:
            record = self.transport.query(VOTE_CONTRACT, "election", {"election": election})
        except LedgerRejected as exc:
            if exc.detail.get("reason") == "unknown_election":
                return None
            raise
        return dict(record) if record is not None else None

    def get_tally(self, election: str) -> dict[str, Any]:
        return dict(self.transport.query(VOTE_CONTRACT, "tally", {"election": election}))

    def count_votes_by_station(self, election: str, station_of: dict[str, str]) -> dict[str, dict[str, int]]:
        """Recount committed transfers per station of the spending token and per candidate address."""
        counts: dict[str, dict[str, int]] = {}
        for tx in self.transport.iter_transactions(VOTE_CONTRACT, "transfer"):
            if tx.payload.get("election") != election:
                continue
            station = station_of.get(tx.sender, "")
            per_candidate = counts.setdefault(station, {})
            to = str(tx.payload.get("to"))
            per_candidate[to] = per_candidate.get(to, 0) + 1
        return counts

    # --- transactions signed by voters ---------------------------------------------------------

    def relay(self, tx: Transaction) -> CommitOutcome:
        """Commit a transaction signed by someone else (a token key) and report its fate; never raises on rejection.

        Kiosks and phones sign their own votes; the server only forwards them. A rejection is
        returned with its ledger code for the caller to show. A ``tx_replayed`` rejection means
        this very transaction (same id, so same body) is already on the chain, typically a
        retry after a lost answer: that is success, with the height looked up.
        Raises LedgerUnavailable when no node answers or the commit is not final in time.
        """
        (outcome,) = self.transport.commit([tx], self.timeout_s)
        # A node answers a resubmission of a committed transaction with "committed" but no height.
        if outcome.code == _REPLAYED or (outcome.committed and outcome.height is None):
            info = self.transport.tx_status(tx.id_hex)
            if info.status == "committed":
                return CommitOutcome(tx.id_hex, True, info.height)
        return outcome

    def tx_status(self, tx_id: str) -> TxInfo:
        """Where one transaction stands (the voter's tracking code is its id)."""
        return self.transport.tx_status(tx_id)

    # --- plumbing ---------------------------------------------------------------------------

    def _tx(self, tx_type: str, payload: dict[str, Any]) -> Transaction:
        return make_tx(self.authority_key, chain=self.chain_id, contract=VOTE_CONTRACT, type=tx_type, payload=payload)

    def _set_status(self, tx_type: str, election: str, *, reached: set[str]) -> str:
        (outcome,) = self._commit([self._tx(tx_type, {"election": election})], tolerate={"election_wrong_state"})
        if not outcome.committed:
            record = self.get_election(election) or {}
            if record.get("status") not in reached:
                raise LedgerRejected(detail={"reason": outcome.code, "status": record.get("status")})
        return outcome.tx_id

    def _commit(self, txs: Sequence[Transaction], *, tolerate: frozenset[str] | set[str] = frozenset()) -> list[CommitOutcome]:
        """Commit all; a replay is success, a tolerated code is returned uncommitted, anything else raises."""
        outcomes = self.transport.commit(txs, self.timeout_s)
        result = []
        for outcome in outcomes:
            if outcome.committed or outcome.code == _REPLAYED:
                result.append(CommitOutcome(outcome.tx_id, True, outcome.height))
            elif outcome.code in tolerate:
                result.append(outcome)
            else:
                raise LedgerRejected(detail={"reason": outcome.code, "message": outcome.message, "tx": outcome.tx_id})
        return result


class NodeClientTransport:
    """LedgerTransport over ``ledger.client.NodeClient`` (submission with failover between nodes)."""

    def __init__(self, client: Any) -> None:
        self.client = client
        self._chain_id: str | None = None

    @classmethod
    def from_settings(cls) -> "NodeClientTransport":
        from ledger.client import NodeClient

        return cls(NodeClient.from_settings())

    def get_chain_id(self) -> str:
        if self._chain_id is None:
            self._chain_id = str(self._call(self.client.status)["chain"])
        return self._chain_id

    def commit(self, txs: Sequence[Transaction], timeout_s: float) -> list[CommitOutcome]:
        statuses = self._call(self.client.commit_many, list(txs), timeout_s)
        outcomes = []
        for tx, status in zip(txs, statuses):
            if status.status == "committed":
                outcomes.append(CommitOutcome(tx.id_hex, True, status.height))
            elif status.status == "rejected":
                outcomes.append(CommitOutcome(tx.id_hex, False, None, status.code, status.message))
            else:  # still pending at the deadline: it may yet commit, so the caller must not assume either way
                raise LedgerUnavailable(detail={"reason": "commit_timeout", "tx": tx.id_hex})
        return outcomes

    def query(self, contract: str, name: str, args: dict[str, Any]) -> Any:
        return self._call(self.client.query, contract, name, args)

    def tx_status(self, tx_id: str) -> TxInfo:
        status = self._call(self.client.get_tx, tx_id)
        return TxInfo(tx_id, status.status, status.height, status.block_hash, status.code)

    def iter_transactions(self, contract: str, tx_type: str | tuple[str, ...]) -> Iterable[Transaction]:
        types = (tx_type,) if isinstance(tx_type, str) else tx_type
        for entry in self._call(lambda: list(self.client.iter_blocks(1, page=200))):
            for raw in entry["block"]["txs"]:
                if raw.get("contract") == contract and raw.get("type") in types:
                    yield Transaction.from_dict(raw)

    @staticmethod
    def _call(method: Any, *args: Any) -> Any:
        """Run a client call, turning node failures into the voting app's errors."""
        from ledger.errors import NodeRequestFailed, NodeUnavailable

        try:
            return method(*args)
        except NodeUnavailable as exc:
            raise LedgerUnavailable(detail={"reason": "node_unavailable", "nodes": exc.detail.get("nodes", {})}) from exc
        except NodeRequestFailed as exc:
            reason = getattr(exc, "node_code", "") or exc.code
            raise LedgerRejected(detail={"reason": reason, "message": exc.message}) from exc


# --- the process-wide gateway -----------------------------------------------------------------

_lock = threading.Lock()
_gateway: LedgerGateway | None = None


def load_authority_key() -> PrivateKey:
    path = get_voting_settings().authority_key_file
    try:
        return PrivateKey.from_pem(path.read_bytes())
    except OSError as exc:
        raise LedgerUnavailable(
            f"The election authority key file {path} cannot be read ({exc.strerror}).",
            detail={"reason": "authority_key_missing"},
        ) from exc


def get_gateway() -> LedgerGateway:
    """The configured gateway (built on first use: authority key from settings, NodeClient transport)."""
    global _gateway
    with _lock:
        if _gateway is None:
            _gateway = LedgerGateway(
                NodeClientTransport.from_settings(),
                load_authority_key(),
                timeout_s=get_voting_settings().ledger_commit_timeout_s,
            )
        return _gateway


def set_gateway(gateway: LedgerGateway | None) -> None:
    """Install a gateway (tests, benchmarks, the demo), or None to rebuild from settings on next use."""
    global _gateway
    with _lock:
        _gateway = gateway
