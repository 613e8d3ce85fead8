"""Reward-based voting weights: 1 + correct forecasts in resolved prediction polls, capped.

Everything an observer needs to recompute a weighted poll's result is public:
- the rule (``RULE_TEXT``, put on the ledger as the poll's ``weight_rule`` together with the
  list of prediction polls it counts, each resolved on the ledger by a ``system.anchor``
  labelled ``poll-outcome:<poll>`` whose hash commits to the outcome, see
  ``outcome_commitment``);
- each voter's weight (in the poll's ``register`` transactions);
- the *weights basis* (``build_weights_basis``): for every registered address of the weighted
  poll, the addresses the same member voted with in the counted prediction polls. Its SHA-256
  is anchored on the ledger (label ``poll-weights:<poll>``) when the poll closes, and the web
  app serves the document, so anyone can check it was not changed and recount every weight
  from the prediction polls' ballots on the ledger.

The functions here are pure (no Django, no ledger): the services feed them ledger data.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ledger.core.encoding import encode

WEIGHT_CAP = 10  # the largest weight: 1 + at most 9 correct forecasts
MAX_COUNTED_POLLS = 20  # the most recent resolved prediction polls counted (keeps weight_rule under 2000 chars)
OUTCOME_TAG = "EVOTE-POLL-OUTCOME-V1"
BASIS_VERSION = 1
RULE_ID = "forecast-accuracy-v1"
RULE_TEXT = (
    "forecast-accuracy-v1: weight = 1 + number of correct forecasts (the ballot equals the resolved outcome) "
    f"in the listed resolved prediction polls, at most {WEIGHT_CAP}. Outcomes: system.anchor "
    "poll-outcome:<poll>; per-address basis: system.anchor poll-weights:<this poll>."
)


@dataclass(frozen=True)
class Resolution:
    """A resolved prediction poll: its ledger id and the option that turned out to be right."""

    poll: str
    outcome: str


def compute_weight(correct_forecasts: int) -> int:
    """The rule itself: 1 + correct forecasts, capped at WEIGHT_CAP."""
    if correct_forecasts < 0:
        raise ValueError("a count of forecasts cannot be negative")
    return min(1 + correct_forecasts, WEIGHT_CAP)


def compute_correct_forecasts(resolutions: Iterable[Resolution], ballots: Mapping[str, Any]) -> int:
    """How many of the member's ballots (``{prediction poll: ballot}``) equal that poll's outcome."""
    return sum(1 for r in resolutions if r.poll in ballots and ballots[r.poll] == r.outcome)


def select_counted_polls(resolutions: Sequence[Resolution]) -> list[Resolution]:
    """The most recent MAX_COUNTED_POLLS resolutions (``resolutions`` is in resolution order, oldest first)."""
    return list(resolutions[-MAX_COUNTED_POLLS:])


def build_weight_rule(counted: Sequence[Resolution]) -> str:
    """The ``weight_rule`` text for the ledger: the rule and the prediction polls it counts."""
    listed = ", ".join(r.poll for r in counted) or "none"
    return f"{RULE_TEXT} Counted prediction polls: {listed}."


def outcome_commitment(chain: str, poll: str, outcome: str) -> str:
    """SHA-256 of canonical([OUTCOME_TAG, chain, poll, outcome]): the anchored hash of a resolution.

    An observer finds the outcome by hashing each of the poll's (at most 100) options.
    """
    return hashlib.sha256(encode([OUTCOME_TAG, chain, poll, outcome])).hexdigest()


def build_weights_basis(poll: str, counted: Sequence[Resolution],
                        voters: Iterable[tuple[str, int, Mapping[str, str]]]) -> dict[str, Any]:
    """The weights basis document: ``voters`` are ``(address, weight, {prediction poll: address there})``."""
    return {
        "v": BASIS_VERSION,
        "rule": RULE_ID,
        "cap": WEIGHT_CAP,
        "poll": poll,
        "prediction_polls": [{"poll": r.poll, "outcome": r.outcome} for r in counted],
        "voters": sorted(
            ({"address": address, "weight": weight, "forecasts": dict(sorted(forecasts.items()))}
             for address, weight, forecasts in voters),
            key=lambda entry: entry["address"],
        ),
    }


def basis_sha256(basis: Mapping[str, Any]) -> str:
    return hashlib.sha256(encode(dict(basis))).hexdigest()


def recompute_weights(basis: Mapping[str, Any], ballots_by_poll: Mapping[str, Mapping[str, Any]]) -> dict[str, int]:
    """What an observer does: from the basis and the prediction polls' ledger ballots ({poll: {address: ballot}}),
    every address's weight. Equal to the registered weights when the basis is honest."""
    counted = [Resolution(p["poll"], p["outcome"]) for p in basis["prediction_polls"]]
    weights = {}
    for voter in basis["voters"]:
        ballots = {
            poll: ballots_by_poll.get(poll, {}).get(address)
            for poll, address in voter["forecasts"].items()
        }
        known = {poll: ballot for poll, ballot in ballots.items() if ballot is not None}
        weights[voter["address"]] = compute_weight(compute_correct_forecasts(counted, known))
    return weights
