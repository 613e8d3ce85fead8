"""Hand-made poll contract transactions (docs/protocol.md, contract ``poll``) for the statistics tests.

Block entries have the shape ``GET /v1/blocks`` serves; signatures are left out because the
engine trusts committed blocks (only ``signer`` matters: a cast is counted for the address
derived from it).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from ledger.core.crypto import address_of

METHODS = ("single", "multi", "yna", "ranked", "score")
OPEN_AT, CLOSE_AT = 1_000_000, 9_000_000


def signer_for(index: int) -> str:
    """A stand-in public key: the engine only hashes it into an address."""
    return "04" + hashlib.sha256(b"voter-%d" % index).hexdigest() * 2


def tx(tx_type: str, payload: dict[str, Any], signer: str = "04" + "aa" * 64) -> dict[str, Any]:
    return {"v": 1, "chain": "test", "contract": "poll", "type": tx_type, "payload": payload, "signer": signer,
            "nonce": 0, "sig": ""}


def block(height: int, time: int, txs: list[dict[str, Any]]) -> dict[str, Any]:
    return {"height": height, "block": {"header": {"height": height, "time": time}, "txs": txs}}


@dataclass
class PollCase:
    """One poll's create payload, its voters and ballots (one per casting voter), in cast order."""

    create: dict[str, Any]
    voters: list[tuple[int, str, int]]  # (voter index, unit, weight)
    ballots: list[tuple[int, Any]]  # (voter index, ballot)

    @property
    def poll(self) -> str:
        return str(self.create["poll"])

    def register_txs(self, size: int = 50) -> list[dict[str, Any]]:
        voters = [{"address": address_of(bytes.fromhex(signer_for(i))), "unit": unit, "weight": weight}
                  for i, unit, weight in self.voters]
        return [tx("register", {"poll": self.poll, "voters": voters[start:start + size]})
                for start in range(0, len(voters), size)]

    def cast_txs(self) -> list[dict[str, Any]]:
        return [tx("cast", {"poll": self.poll, "ballot": ballot}, signer_for(i)) for i, ballot in self.ballots]

    def all_txs(self) -> list[dict[str, Any]]:
        return [tx("create", self.create), *self.register_txs(), tx("open", {"poll": self.poll}), *self.cast_txs()]

    def unit_of(self) -> dict[int, tuple[str, int]]:
        return {i: (unit, weight) for i, unit, weight in self.voters}


@st.composite
def trees(draw: st.DrawFn, max_units: int = 12) -> list[dict[str, Any]]:
    """A random community tree as ``units``: unit k's parent is any earlier unit."""
    count = draw(st.integers(1, max_units))
    units = [{"id": "u0", "parent": None, "name": "root"}]
    for k in range(1, count):
        units.append({"id": f"u{k}", "parent": f"u{draw(st.integers(0, k - 1))}", "name": f"unit {k}"})
    return units


def ballot_strategy(method: str, options: list[str], choices: int, score_max: int) -> st.SearchStrategy[Any]:
    if method in ("single", "yna"):
        return st.sampled_from(options)
    if method == "multi":
        return st.lists(st.sampled_from(options), min_size=1, max_size=choices, unique=True).map(
            lambda marks: sorted(marks))
    if method == "ranked":
        return st.permutations(options).flatmap(lambda order: st.integers(1, len(order)).map(lambda n: list(order[:n])))
    return st.fixed_dictionaries({option: st.integers(0, score_max) for option in options})


@st.composite
def poll_cases(draw: st.DrawFn, method: str | None = None, poll: str = "p1") -> PollCase:
    method = method or draw(st.sampled_from(METHODS))
    units = draw(trees())
    if method == "yna":
        options = ["yes", "no", "abstain"]
    else:
        options = [f"o{i}" for i in range(draw(st.integers(2, 5)))]
    weighted = draw(st.booleans())
    create: dict[str, Any] = {
        "poll": poll, "title": "t", "method": method, "options": [{"id": o, "name": o.upper()} for o in options],
        "units": units, "opens_at": OPEN_AT, "closes_at": CLOSE_AT, "weights": "registered" if weighted else "equal",
    }
    choices = draw(st.integers(1, len(options))) if method == "multi" else 0
    score_max = draw(st.integers(1, 10)) if method == "score" else 0
    if choices:
        create["choices"] = choices
    if score_max:
        create["score_max"] = score_max
    if weighted:
        create["weight_rule"] = "test rule"
    count = draw(st.integers(0, 40))
    unit_ids = [u["id"] for u in units]
    voters = [(i, draw(st.sampled_from(unit_ids)), draw(st.integers(1, 5)) if weighted else 1) for i in range(count)]
    casting = draw(st.lists(st.sampled_from(range(count)), unique=True)) if count else []
    ballots = [(i, draw(ballot_strategy(method, options, choices, score_max))) for i in casting]
    return PollCase(create, voters, ballots)


def split_into_blocks(txs: list[dict[str, Any]], cuts: list[int], start_time: int = OPEN_AT) -> list[dict[str, Any]]:
    """Cut ``txs`` at the given positions into consecutive blocks (heights from 1, a second apart)."""
    bounds = sorted({c for c in cuts if 0 < c < len(txs)})
    pieces = [txs[a:b] for a, b in zip([0, *bounds], [*bounds, len(txs)])]
    return [block(h, start_time + h * 1000, piece) for h, piece in enumerate(pieces, start=1)]
