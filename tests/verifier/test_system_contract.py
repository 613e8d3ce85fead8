"""The system contract (protocol section 11) in the verifier, against the reference: evidence and deploy."""

from __future__ import annotations

from typing import Any

import pytest

from ledger.core.block import sign_vote
from ledger.core.tx import Transaction, make_tx
from tests.ledger.core.factory import ChainBuilder, make_network
from verifier import canonical
from verifier.engine import ChainState
from verifier.errors import Invalid
from verifier.objects import decode_genesis, decode_tx

from .helpers import compress, core_content_of, plain_lines, verify_bytes

NETWORK = make_network()


def evidence_tx(validator: str, *, block: bytes = b"\x02" * 32, reporter: str = "node-1", nonce: int = 0,
                other_chain: bool = False) -> Transaction:
    key = NETWORK.validator_keys[validator]
    votes = [sign_vote(key, chain="elsewhere" if other_chain and i else NETWORK.chain, kind="prevote", height=7,
                       round=1, block=b, validator=validator) for i, b in enumerate((b"\x01" * 32, block))]
    return make_tx(NETWORK.validator_keys[reporter], chain=NETWORK.chain, contract="system", type="evidence",
                   payload={"votes": [v.to_dict() for v in votes]}, nonce=nonce)


def deploy_tx(contract: str, digest: str, *, key: Any = None) -> Transaction:
    return make_tx(key or NETWORK.authority_key, chain=NETWORK.chain, contract="system", type="deploy",
                   payload={"contract": contract, "source_sha256": digest})


def test_recorded_evidence_verifies_with_the_same_state_root() -> None:
    builder = ChainBuilder(NETWORK)
    builder.seal([evidence_tx("node-0"), evidence_tx("node-2", reporter="node-3")])
    data = compress(plain_lines(core_content_of(builder)))
    for impl in ("cryptography", "ecdsa"):
        report = verify_bytes(data, workers=1, impl=impl)
        assert report.ok, report.failure


CASES = {
    "evidence-replayed-with-another-nonce": [evidence_tx("node-0"), evidence_tx("node-0", nonce=1)],
    "evidence-of-one-block": [evidence_tx("node-0", block=b"\x01" * 32)],
    "evidence-across-chains": [evidence_tx("node-0", other_chain=True)],
    "evidence-by-a-non-validator": [make_tx(NETWORK.authority_key, chain=NETWORK.chain, contract="system",
                                            type="evidence", payload=evidence_tx("node-0").payload)],
    "evidence-with-one-vote": [make_tx(NETWORK.validator_keys["node-1"], chain=NETWORK.chain, contract="system",
                                       type="evidence", payload={"votes": evidence_tx("node-0").payload["votes"][:1]})],
    "deploy-of-a-pinned-contract": [deploy_tx("vote", "ab" * 32)],
    "deploy-of-an-unknown-contract": [deploy_tx("lottery", "ab" * 32)],
    "deploy-by-a-validator": [deploy_tx("lottery", "ab" * 32, key=NETWORK.validator_keys["node-0"])],
    "deploy-malformed": [deploy_tx("vote", "AB" * 32)],
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_system_transactions_get_the_reference_verdicts(name: str) -> None:
    txs = CASES[name]
    builder = ChainBuilder(NETWORK)
    result = builder.ledger.build_block(txs, proposer=NETWORK.genesis.proposer_for(1, 0).id, round=0,
                                        time=builder.next_time)
    theirs = {id(tx): error.code for tx, error in result.rejected}
    mine = ChainState(decode_genesis(NETWORK.genesis.to_bytes()), {}, "cryptography")
    verdicts = []
    for tx in txs:
        try:
            mine.machine.apply(decode_tx(canonical.decode(tx.to_bytes())), 1, builder.next_time)
            verdicts.append((None, theirs.get(id(tx))))
        except Invalid as exc:
            verdicts.append((exc.code, theirs.get(id(tx))))
    assert all(ours == reference for ours, reference in verdicts), verdicts
    assert any(ours is not None for ours, _ in verdicts)  # every case holds a refusal
