"""Peer frames: canonical JSON ``{"m": body, "t": kind}``.

Kinds ``proposal``, ``vote`` and ``commit`` are the consensus messages of
``ledger.core.consensus.messages`` (same envelope as ``encode_message``); kind ``txs``
carries a batch of signed transactions being gossiped to the proposer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ledger.core.block import Vote
from ledger.core.consensus.messages import CommitMessage, Proposal, encode_message
from ledger.core.encoding import decode, require_keys
from ledger.core.errors import MalformedObject
from ledger.core.tx import Transaction

TXS = "txs"
MAX_TXS_PER_FRAME = 1000
_CONSENSUS_KINDS: dict[str, Any] = {"proposal": Proposal, "vote": Vote, "commit": CommitMessage}
_FRAME_KEYS = frozenset({"t", "m"})


def encode_txs_frame(tx_bytes: Sequence[bytes]) -> bytes:
    """Concatenate already-canonical transactions into a canonical frame (no re-encoding)."""
    return b'{"m":[' + b",".join(tx_bytes) + b'],"t":"txs"}'


def encode_consensus_frame(message: Proposal | Vote | CommitMessage) -> bytes:
    return encode_message(message)


def decode_frame(data: bytes) -> tuple[str, Any]:
    """Strictly decode a frame into (kind, message) or (``txs``, list of transactions)."""
    obj = require_keys(decode(data), _FRAME_KEYS, "frame")
    kind = obj["t"]
    if kind == TXS:
        items = obj["m"]
        if type(items) is not list or len(items) > MAX_TXS_PER_FRAME:
            raise MalformedObject(f"txs frame must hold a list of at most {MAX_TXS_PER_FRAME}", field="m")
        return TXS, [Transaction.from_dict(item) for item in items]
    cls = _CONSENSUS_KINDS.get(kind) if type(kind) is str else None
    if cls is None:
        raise MalformedObject("unknown frame type", field="t")
    return kind, cls.from_dict(obj["m"])
