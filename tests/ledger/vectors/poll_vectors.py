"""polls.json: a certified chain of community polls (docs/protocol.md section 16) and rejections.

Called by generate.py; deterministic (RFC 6979 signatures, fixed credential randomness), so
regeneration is byte-identical.
"""

from __future__ import annotations

from typing import Any

from ledger.core import blindrsa
from ledger.core.contracts.poll import credential_message
from ledger.core.errors import LedgerError
from ledger.core.tx import Transaction, make_tx
from ledger.core.verify import verify_chain
from tests.ledger.core.factory import ChainBuilder, DeterministicKey, make_network
from tests.ledger.pollfactory import ALL_CONTRACTS, UNITS, Poll, issue_poll_credential

ANCHORS = ["9b0c3f5a4f1d2e8b7a6c5d4e3f2a1b0c9d8e7f6a5b4c3d2e1f0a9b8c7d6e5f4a",
           "5e884898da28047151d0e56f8dc6292773603d0d6aabbdd62a11ef721d1542d8"]

# The ranked example of protocol 16.8: 8 x [a], 7 x [b, c], 6 x [c, b] -> b wins in round 2.
RANKED = [["opt-a"]] * 8 + [["opt-b", "opt-c"]] * 7 + [["opt-c", "opt-b"]] * 6


def _code(ledger: Any, tx: Transaction, time: int) -> str:
    try:
        ledger.check_tx(tx, time=time)
    except LedgerError as exc:
        return exc.code
    raise AssertionError(f"poll rejection vector {tx.type} was accepted")


def poll_vectors(chain_id: str, signer: Any, randomness: Any) -> dict[str, Any]:
    """``signer``: the RFC 9474 private key; ``randomness(label, n)``: fixed prefix, salt and r."""
    network = make_network(chain=chain_id, deterministic=True, contracts=ALL_CONTRACTS)
    builder = ChainBuilder(network)
    voters = [DeterministicKey.for_label(f"vector-member-{i}") for i in range(21)]
    ranked = Poll(network, id="park-2026", method="ranked", title="새 공원 위치 (where should the park go?)")
    weighted = Poll(network, id="budget-2026", method="single", weights="registered",
                    extra={"weight_rule": "weight = 1 + correct forecasts in the 2025 prediction polls"})
    multi = Poll(network, id="festival-2026", method="multi", extra={"choices": 2})
    yna = Poll(network, id="bylaw-7", method="yna")
    score = Poll(network, id="logo-2026", method="score", extra={"score_max": 5})
    anonymous = Poll(network, id="anon-2026", method="single")
    public = signer.public_key()
    n = public.public_numbers().n
    everyone = [ranked, weighted, multi, yna, score, anonymous]
    # A poll that publishes its eligible members per unit (16.2); it stays created, so it still takes registrations.
    counted = Poll(network, id="hall-2026", method="yna",
                   units=[dict(u, eligible=e) for u, e in zip(UNITS, [0, 1, 0, 2, 1], strict=True)])

    def enrol(index: int) -> Transaction:
        voter = voters[index]
        credential = issue_poll_credential(signer, chain_id, anonymous.id, voter.address,
                                           **randomness(f"member-{index}", n))
        return anonymous.enrol(voter, credential)

    def anchor(seq: int) -> Transaction:
        return make_tx(network.authority_key, chain=chain_id, contract="system", type="anchor",
                       payload={"label": "officials-log", "seq": seq, "hash": ANCHORS[seq]})

    units = [u["id"] for u in UNITS]
    builder.seal([p.create() for p in everyone[:-1]] + [anonymous.create_anonymous(public), counted.create()])
    builder.seal([
        ranked.register([(v, units[i % len(units)], 1) for i, v in enumerate(voters)]),
        weighted.register([(voters[0], "suwon-jangan", 1), (voters[1], "suwon-paldal", 1), (voters[2], "seongnam", 1),
                           (voters[3], "seongnam", 5)]),
        multi.register([(v, "suwon", 1) for v in voters[:3]]),
        yna.register([(v, "gg", 1) for v in voters[:6]]),
        score.register([(v, "seongnam", 1) for v in voters[:3]]),
        enrol(0), enrol(1), anchor(0),
        counted.register([(voters[0], "suwon", 1), (voters[1], "suwon-paldal", 1), (voters[2], "suwon-paldal", 1)]),
    ])
    builder.seal([p.open() for p in everyone], time=ranked.opens_at)
    builder.seal([ranked.cast(v, RANKED[i]) for i, v in enumerate(voters)]
                 + [weighted.cast(voters[i], c) for i, c in enumerate(["opt-a", "opt-a", "opt-a", "opt-b"])]
                 + [multi.cast(voters[0], ["opt-a", "opt-b"]), multi.cast(voters[1], ["opt-b"]),
                    multi.cast(voters[2], ["opt-a", "opt-c"])]
                 + [yna.cast(voters[i], c) for i, c in enumerate(["yes", "no", "abstain", "yes", "no", "abstain"])]
                 + [score.cast(voters[0], {"opt-a": 5, "opt-b": 3, "opt-c": 0}),
                    score.cast(voters[1], {"opt-a": 0, "opt-b": 4, "opt-c": 5}),
                    score.cast(voters[2], {"opt-a": 1, "opt-b": 2, "opt-c": 3})]
                 + [anonymous.cast(voters[0], "opt-c")])
    builder.seal([p.close() for p in everyone] + [anchor(1)])
    ledger = builder.ledger
    time = builder.next_time
    late = enrol(2)
    cases = [
        ("create-existing-poll", Poll(network, id=ranked.id, method="yna").create()),
        ("cast-in-unknown-poll", Poll(network, id="no-such-poll").cast(voters[0], "opt-a")),
        ("anchor-by-a-validator", make_tx(network.validator_keys["node-0"], chain=chain_id, contract="system",
                                          type="anchor", payload={"label": "node-log", "seq": 0, "hash": "00" * 32})),
        ("cast-after-close", yna.cast(voters[6], "yes")),
        ("enrol-after-close", late),
        ("anchor-seq-skipped", anchor_tx(network, chain_id, 3)),
        ("anchor-seq-repeated", anchor_tx(network, chain_id, 1)),
        ("create-with-two-roots", Poll(network, id="bad-tree", units=[{"id": "a", "parent": None, "name": "A"},
                                                                        {"id": "b", "parent": None, "name": "B"}]).create()),
        ("register-after-close", yna.register([(voters[9], "gg", 1)])),
        ("register-over-eligible", counted.register([(voters[3], "seongnam", 1), (voters[4], "suwon-paldal", 1)])),
    ]
    rejections = [{"name": name, "tx": tx.to_dict(), "error": _code(ledger, tx, time)} for name, tx in cases]
    report = verify_chain(network.genesis, builder.blocks)
    if not report.ok:
        raise AssertionError(report.failure)
    return {
        "description": ("Community polls (docs/protocol.md 16) and log anchors (section 11): one poll per method, "
                        "registered weights, a community tree, an anonymous poll (credentials under the RFC 9474 "
                        "Appendix A key) and two anchors; rejections apply to the state after the last block at "
                        "block time `time`."),
        "credential_key": blindrsa.public_key_der(public).hex(),
        "credential_message_hex": credential_message(chain_id, anonymous.id, voters[0].address).hex(),
        "genesis": network.genesis.to_dict(),
        "blocks": [{"block": block.to_dict(), "certificate": cert.to_dict(), "state_root": block.header.state_root.hex()}
                   for block, cert in builder.blocks],
        "polls": {p.id: ledger.query("poll", "tally", {"poll": p.id, "units": 1}) for p in [*everyone, counted]},
        "anchors": ledger.query("system", "anchor", {"label": "officials-log"}),
        "time": time,
        "rejections": rejections,
    }


def anchor_tx(network: Any, chain_id: str, seq: int) -> Transaction:
    return make_tx(network.authority_key, chain=chain_id, contract="system", type="anchor",
                   payload={"label": "officials-log", "seq": seq, "hash": "00" * 32})
