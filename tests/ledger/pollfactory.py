"""Poll-contract transactions and chains for the tests, the vector generator and the verifier tests.

Builds on tests/ledger/core/factory.py (fixed keys, certified chains); a network made here
pins the ``poll`` contract next to ``system`` and ``vote``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from cryptography.hazmat.primitives.asymmetric import rsa

from ledger.core import blindrsa, crypto
from ledger.core.contracts.poll import CREDENTIAL_VARIANT, credential_message
from ledger.core.errors import LedgerError
from ledger.core.tx import Transaction, make_tx
from tests.ledger.core.factory import BLOCK_INTERVAL_MS, GENESIS_TIME, ChainBuilder, Network, make_network

ALL_CONTRACTS = ("system", "vote", "poll")

# A small 3-level tree: province > two cities > districts.
UNITS: list[dict[str, Any]] = [
    {"id": "gg", "parent": None, "name": "Gyeonggi"},
    {"id": "suwon", "parent": "gg", "name": "Suwon"},
    {"id": "suwon-jangan", "parent": "suwon", "name": "Jangan-gu"},
    {"id": "suwon-paldal", "parent": "suwon", "name": "Paldal-gu"},
    {"id": "seongnam", "parent": "gg", "name": "Seongnam"},
]


def poll_network(**kwargs: Any) -> Network:
    return make_network(contracts=ALL_CONTRACTS, **kwargs)


def options_for(method: str, count: int = 3) -> list[dict[str, str]]:
    if method == "yna":
        return [{"id": "yes", "name": "Yes"}, {"id": "no", "name": "No"}, {"id": "abstain", "name": "Abstain"}]
    return [{"id": f"opt-{chr(ord('a') + i)}", "name": f"Option {i}"} for i in range(count)]


@dataclass
class Poll:
    """Parameters of one poll and helpers that sign its transactions."""

    network: Network
    id: str = "p1"
    method: str = "single"
    title: str = "Where should the new park go?"
    options: list[dict[str, str]] = field(default_factory=list)
    units: list[dict[str, Any]] = field(default_factory=lambda: [dict(u) for u in UNITS])
    weights: str = "equal"
    opens_at: int = GENESIS_TIME + 10 * BLOCK_INTERVAL_MS
    closes_at: int = GENESIS_TIME + 10_000 * BLOCK_INTERVAL_MS
    extra: dict[str, Any] = field(default_factory=dict)
    authority: crypto.PrivateKey | None = None

    def __post_init__(self) -> None:
        if not self.options:
            self.options = options_for(self.method)
        if self.method == "multi":
            self.extra.setdefault("choices", 2)
        if self.method == "score":
            self.extra.setdefault("score_max", 5)
        if self.weights == "registered":
            self.extra.setdefault("weight_rule", "one weight per member, from the published forecast scores")

    @property
    def key(self) -> crypto.PrivateKey:
        return self.authority or self.network.authority_key

    @property
    def option_ids(self) -> list[str]:
        return [o["id"] for o in self.options]

    def tx(self, type: str, payload: dict[str, Any], *, key: crypto.PrivateKey | None = None, nonce: int = 0,
           chain: str | None = None) -> Transaction:
        return make_tx(key or self.key, chain=chain or self.network.chain, contract="poll", type=type,
                       payload=payload, nonce=nonce)

    def create_payload(self, **overrides: Any) -> dict[str, Any]:
        payload = {"poll": self.id, "title": self.title, "method": self.method, "options": self.options,
                   "units": self.units, "opens_at": self.opens_at, "closes_at": self.closes_at,
                   "weights": self.weights, **self.extra}
        payload.update(overrides)
        return payload

    def create(self, **kwargs: Any) -> Transaction:
        return self.tx("create", self.create_payload(), **kwargs)

    def create_anonymous(self, credential_key: rsa.RSAPublicKey, **kwargs: Any) -> Transaction:
        payload = self.create_payload(credential_key=blindrsa.public_key_der(credential_key).hex())
        return self.tx("create", payload, **kwargs)

    def register(self, voters: Sequence[tuple[crypto.PrivateKey | str, str, int]], **kwargs: Any) -> Transaction:
        rows = [{"address": k if isinstance(k, str) else k.address, "unit": unit, "weight": weight}
                for k, unit, weight in voters]
        return self.tx("register", {"poll": self.id, "voters": rows}, **kwargs)

    def enrol(self, voter: crypto.PrivateKey, credential: str, *, address: str | None = None,
              **kwargs: Any) -> Transaction:
        payload = {"poll": self.id, "address": address or voter.address, "credential": credential}
        return self.tx("enrol", payload, key=kwargs.pop("key", voter), **kwargs)

    def open(self, **kwargs: Any) -> Transaction:
        return self.tx("open", {"poll": self.id}, **kwargs)

    def close(self, **kwargs: Any) -> Transaction:
        return self.tx("close", {"poll": self.id}, **kwargs)

    def cast(self, voter: crypto.PrivateKey, ballot: Any, **kwargs: Any) -> Transaction:
        return self.tx("cast", {"poll": self.id, "ballot": ballot}, key=voter, **kwargs)


def issue_poll_credential(signer: rsa.RSAPrivateKey, chain: str, poll: str, address: str, *,
                          prefix: bytes | None = None, salt: bytes | None = None, r: int | None = None) -> str:
    """Blind, blind-sign and finalize a poll credential (docs/protocol.md 16.5); hex of prefix || signature."""
    input_msg = blindrsa.prepare(CREDENTIAL_VARIANT, credential_message(chain, poll, address), prefix)
    blinded = blindrsa.blind(signer.public_key(), input_msg, CREDENTIAL_VARIANT, salt=salt, r=r)
    blind_sig = blindrsa.blind_sign(signer, blinded.blinded_msg)
    signature = blindrsa.finalize(signer.public_key(), input_msg, blind_sig, blinded.inv, CREDENTIAL_VARIANT)
    return (input_msg[: blindrsa.PREFIX_SIZE] + signature).hex()


def error_code(builder: ChainBuilder, tx: Transaction, time: int | None = None) -> str | None:
    """The error code of ``tx`` against the head state (None if it would apply); changes nothing."""
    try:
        builder.ledger.check_tx(tx, time=time if time is not None else builder.next_time)
    except LedgerError as exc:
        return exc.code
    return None
