"""Every JSON test vector (tests/ledger/vectors/) agrees with the code.

The same files are meant for independent verifiers in other languages; this test keeps
them honest. If the contract sources changed, regenerate them with
``python -m tests.ledger.vectors.generate`` and review the diff: it is a protocol change.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from pathlib import Path
from typing import Any

import pytest

from ledger.core import blindrsa, crypto
from ledger.core.block import Block, CommitCertificate
from ledger.core.contracts import contract_source_sha256
from ledger.core.contracts.vote import CREDENTIAL_VARIANT, candidate_address, credential_message
from ledger.core.encoding import decode, encode
from ledger.core.errors import LedgerError
from ledger.core.genesis import Genesis
from ledger.core.machine import Ledger, genesis_writes
from ledger.core.merkle import compute_merkle_proof, compute_merkle_root, verify_merkle_proof
from ledger.core.state import compute_state_root
from ledger.core.tx import Transaction
from ledger.core.verify import verify_chain

VECTORS = Path(__file__).resolve().parent.parent / "vectors"


@cache
def load(name: str) -> Any:
    return json.loads((VECTORS / name).read_text(encoding="utf-8"))


def cases(name: str, key: str) -> list[Any]:
    return [pytest.param(case, id=case.get("name", str(i))) for i, case in enumerate(load(name)[key])]


def error_code(call: Any) -> str | None:
    try:
        call()
    except LedgerError as exc:
        return exc.code
    return None


# --- encoding -------------------------------------------------------------------------

@pytest.mark.parametrize("case", cases("encoding.json", "valid"))
def test_encoding_vector_encodes_to_its_canonical_bytes(case: dict[str, Any]) -> None:
    canonical = bytes.fromhex(case["canonical_hex"])
    assert encode(case["value"]) == canonical
    assert decode(canonical) == case["value"]
    assert hashlib.sha256(canonical).hexdigest() == case["sha256"]


@pytest.mark.parametrize("case", cases("encoding.json", "invalid"))
def test_encoding_vector_is_rejected_with_its_code(case: dict[str, Any]) -> None:
    assert error_code(lambda: decode(bytes.fromhex(case["bytes_hex"]))) == case["error"]


# --- keys, signatures, Merkle ---------------------------------------------------------

@pytest.mark.parametrize("case", cases("keys.json", "keys"))
def test_key_vector_derives_its_public_key_and_address(case: dict[str, Any]) -> None:
    key = crypto.PrivateKey.from_secret(bytes.fromhex(case["secret"]))
    assert key.public_key.hex() == case["public_key"]
    assert key.address == case["address"] == hashlib.sha256(key.public_key).hexdigest()[:40]


@pytest.mark.parametrize("impl", ["openssl", "ecdsa"])
@pytest.mark.parametrize("case", cases("keys.json", "signatures"))
def test_signature_vector_verifies_or_fails_with_its_code(case: dict[str, Any], impl: crypto.CryptoImpl) -> None:
    public_key, signature, message = (bytes.fromhex(case[k]) for k in ("public_key", "signature", "message_hex"))
    code = error_code(lambda: crypto.verify(public_key, signature, message, impl))
    assert code == case["error"]
    assert (code is None) is case["valid"]


@pytest.mark.parametrize("case", cases("merkle.json", "cases"))
def test_merkle_vector_root_and_proofs(case: dict[str, Any]) -> None:
    leaves = [bytes.fromhex(leaf) for leaf in case["leaves"]]
    root = bytes.fromhex(case["root"])
    assert compute_merkle_root(leaves) == root
    for index, proof in enumerate(case["proofs"]):
        path = [(step["side"], bytes.fromhex(step["hash"])) for step in proof]
        assert compute_merkle_proof(leaves, index) == path
        assert verify_merkle_proof(leaves[index], path, root)


# --- transactions ---------------------------------------------------------------------

@pytest.mark.parametrize("case", cases("transactions.json", "valid"))
def test_transaction_vector_has_its_bytes_id_message_and_sender(case: dict[str, Any]) -> None:
    tx = Transaction.from_bytes(bytes.fromhex(case["canonical_hex"]))
    assert tx == Transaction.from_dict(case["tx"])
    assert tx.to_bytes().hex() == case["canonical_hex"]
    assert encode(tx.body()).hex() == case["body_canonical_hex"]
    assert tx.id_hex == case["id"] == hashlib.sha256(bytes.fromhex(case["body_canonical_hex"])).hexdigest()
    assert tx.signing_message().hex() == case["signing_message_hex"] == (b"EVOTE-TX-V1:" + tx.id).hex()
    assert tx.sender == case["sender"]
    tx.verify_signature()
    tx.verify_signature("ecdsa")


@pytest.mark.parametrize("case", cases("transactions.json", "invalid"))
def test_invalid_transaction_vector_fails_at_its_stage(case: dict[str, Any]) -> None:
    data = bytes.fromhex(case["bytes_hex"])
    if case["stage"] == "decode":
        assert error_code(lambda: Transaction.from_bytes(data)) == case["error"]
    else:
        tx = Transaction.from_bytes(data)
        assert error_code(tx.verify_signature) == case["error"]


# --- the election chain ---------------------------------------------------------------

@cache
def vector_chain() -> tuple[Genesis, list[tuple[Block, CommitCertificate]]]:
    data = load("chain.json")
    genesis = Genesis.from_dict(data["genesis"])
    items = [(Block.from_dict(b["block"]), CommitCertificate.from_dict(b["certificate"])) for b in data["blocks"]]
    return genesis, items


def test_vector_chain_pins_the_current_contract_sources() -> None:
    pins = {c["id"]: c["source_sha256"] for c in load("chain.json")["genesis"]["contracts"]}
    current = {cid: contract_source_sha256(cid) for cid in pins}
    assert pins == current, (
        "ledger/core/contracts changed since the vectors were generated: run "
        "`python -m tests.ledger.vectors.generate` and review the diff (a protocol change)"
    )


def test_vector_genesis_bytes_hash_and_initial_state_root() -> None:
    data = load("chain.json")
    genesis, _ = vector_chain()
    assert genesis.to_bytes().hex() == data["genesis_canonical_hex"]
    assert genesis.hash.hex() == data["genesis_hash"] == hashlib.sha256(genesis.to_bytes()).hexdigest()
    writes = genesis_writes(genesis)
    assert [[k, writes[k]] for k in sorted(writes)] == data["genesis_writes"]
    assert compute_state_root(genesis.hash, writes).hex() == data["genesis_state_root"]
    assert Ledger(genesis).state.root.hex() == data["genesis_state_root"]


def test_vector_blocks_re_execute_to_their_writes_and_state_roots() -> None:
    data = load("chain.json")
    genesis, items = vector_chain()
    ledger = Ledger(genesis)
    for expected, (block, cert) in zip(data["blocks"], items, strict=True):
        assert block.height == expected["height"]
        assert encode(block.header.to_dict()).hex() == expected["header_canonical_hex"]
        assert block.hash.hex() == expected["hash"] == hashlib.sha256(bytes.fromhex(expected["header_canonical_hex"])).hexdigest()
        assert [tx.id_hex for tx in block.txs] == expected["tx_ids"]
        assert block.computed_tx_root().hex() == expected["tx_root"] == block.header.tx_root.hex()
        pending = ledger.execute_block(block)
        writes = pending.overlay.writes
        assert [[k, writes[k]] for k in sorted(writes)] == expected["writes"]
        assert pending.state_root.hex() == expected["state_root"] == block.header.state_root.hex()
        cert.verify(genesis, block.header)
        ledger.commit(pending)


def test_vector_chain_verifies_with_its_tallies() -> None:
    genesis, items = vector_chain()
    report = verify_chain(genesis, items)
    assert report.ok
    assert report.tallies == load("chain.json")["tallies"]


@pytest.mark.parametrize("case", cases("chain.json", "candidates"))
def test_candidate_address_vector(case: dict[str, Any]) -> None:
    assert candidate_address(case["election"], case["candidate"]) == case["address"]
    expected = hashlib.sha256(b"EVOTE-CANDIDATE-V1:" + encode([case["election"], case["candidate"]])).hexdigest()[:40]
    assert case["address"] == expected


@pytest.mark.parametrize("case", cases("rejections.json", "cases"))
def test_rejection_vector_fails_with_its_code(case: dict[str, Any]) -> None:
    genesis, items = vector_chain()
    ledger = Ledger(genesis)
    for block, _ in items[: case["after_height"]]:
        ledger.apply_block(block)
    root = ledger.state.root
    tx = Transaction.from_dict(case["tx"])
    assert error_code(lambda: ledger.check_tx(tx, time=case["time"])) == case["error"]
    assert ledger.state.root == root


@pytest.mark.parametrize("case", cases("broken_chains.json", "cases"))
def test_broken_chain_vector_fails_where_it_says(case: dict[str, Any]) -> None:
    genesis, items = vector_chain()
    height = case["replace_height"]
    broken = (Block.from_dict(case["block"]), CommitCertificate.from_dict(case["certificate"]))
    failure = verify_chain(genesis, [*items[: height - 1], broken]).failure
    assert failure is not None
    assert {"height": failure.height, "code": failure.code, "field": failure.field, "tx_index": failure.tx_index} == case["failure"]


def test_generator_reproduces_the_vector_files_byte_for_byte() -> None:
    from tests.ledger.vectors import generate

    stale = [name for name, content in generate.build_all().items()
             if (VECTORS / name).read_text(encoding="utf-8") != generate.render(content)]
    assert stale == [], f"regenerate with `python -m tests.ledger.vectors.generate`: {stale}"


# --- mobile voting: blind-signed credentials --------------------------------------------

def test_credential_vector_issuance_reproduces_every_step() -> None:
    from tests.ledger.vectors.generate import rfc9474_private_key

    data = load("credentials.json")
    step = data["issuance"]
    signer = rfc9474_private_key()
    public = blindrsa.load_public_key(bytes.fromhex(data["credential_key"]))
    assert public.public_numbers() == signer.public_key().public_numbers()
    message = credential_message(step["chain"], step["election"], step["address"])
    assert message.hex() == step["message_hex"]
    input_msg = blindrsa.prepare(CREDENTIAL_VARIANT, message, bytes.fromhex(step["msg_prefix"]))
    assert input_msg.hex() == step["input_msg"]
    blinded = blindrsa.blind(public, input_msg, CREDENTIAL_VARIANT, salt=bytes.fromhex(step["salt"]), r=int(step["r"], 16))
    assert (blinded.blinded_msg.hex(), blinded.inv.hex()) == (step["blinded_msg"], step["inv"])
    blind_sig = blindrsa.blind_sign(signer, blinded.blinded_msg)
    assert blind_sig.hex() == step["blind_sig"]
    signature = blindrsa.finalize(public, input_msg, blind_sig, blinded.inv, CREDENTIAL_VARIANT)
    assert signature.hex() == step["sig"]
    assert step["credential"] == step["msg_prefix"] + step["sig"]


@cache
def credential_chain() -> tuple[Genesis, list[tuple[Block, CommitCertificate]]]:
    data = load("credentials.json")
    items = [(Block.from_dict(b["block"]), CommitCertificate.from_dict(b["certificate"])) for b in data["blocks"]]
    return Genesis.from_dict(data["genesis"]), items


def test_credential_vector_chain_verifies_with_its_tallies() -> None:
    genesis, items = credential_chain()
    report = verify_chain(genesis, items)
    assert report.ok
    assert report.tallies == load("credentials.json")["tallies"]
    assert [block.header.state_root.hex() for block, _ in items] == [b["state_root"] for b in load("credentials.json")["blocks"]]


@pytest.mark.parametrize("case", cases("credentials.json", "rejections"))
def test_credential_rejection_vector_fails_with_its_code(case: dict[str, Any]) -> None:
    genesis, items = credential_chain()
    ledger = Ledger(genesis)
    for block, _ in items:
        ledger.apply_block(block)
    root = ledger.state.root
    tx = Transaction.from_dict(case["tx"])
    assert error_code(lambda: ledger.check_tx(tx, time=load("credentials.json")["time"])) == case["error"]
    assert ledger.state.root == root
