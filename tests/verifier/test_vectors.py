"""The standalone verifier against every published vector file (docs/protocol.md section 14).

The verifier is a second implementation written from the protocol text; these cases are
what makes it comparable with the reference, code by code.
"""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from verifier import canonical, rsapss, signatures
from verifier.contracts import Machine, candidate_address
from verifier.engine import ChainState
from verifier.errors import Invalid
from verifier.merkle import merkle_root, proof_root
from verifier.objects import Tx, decode_genesis, decode_header, decode_tx
from verifier.tally import compute_tally

from .helpers import chain_blocks, load, vector_content, verify_bytes, bundle_bytes

ENCODING = load("encoding")
KEYS = load("keys")
MERKLE = load("merkle")
TRANSACTIONS = load("transactions")
CHAIN = load("chain")
REJECTIONS = load("rejections")
CREDENTIALS = load("credentials")
BROKEN = load("broken_chains")
RFC9474 = load("rfc9474")


def code_of(call: Any, *args: Any) -> str | None:
    try:
        call(*args)
    except Invalid as exc:
        return exc.code
    return None


@pytest.mark.parametrize("case", ENCODING["valid"], ids=lambda c: c["name"])
def test_valid_encodings_round_trip_byte_for_byte(case: dict[str, Any]) -> None:
    raw = bytes.fromhex(case["canonical_hex"])
    assert canonical.encode(case["value"]) == raw
    assert canonical.decode(raw) == case["value"]
    assert hashlib.sha256(raw).hexdigest() == case["sha256"]


@pytest.mark.parametrize("case", ENCODING["invalid"], ids=lambda c: c["name"])
def test_invalid_encodings_are_refused_with_the_same_code(case: dict[str, Any]) -> None:
    assert code_of(canonical.decode, bytes.fromhex(case["bytes_hex"])) == case["error"]


@pytest.mark.parametrize("impl", signatures.IMPLS)
@pytest.mark.parametrize("case", KEYS["signatures"], ids=lambda c: c["name"])
def test_signature_cases_agree_with_both_implementations(case: dict[str, Any], impl: signatures.CryptoImpl) -> None:
    error = signatures.signature_error(bytes.fromhex(case["public_key"]), bytes.fromhex(case["signature"]),
                                       bytes.fromhex(case["message_hex"]), impl)
    assert (error is None) is case["valid"]
    assert (error[0] if error else None) == case["error"]


@pytest.mark.parametrize("case", KEYS["keys"], ids=lambda c: c["label"])
def test_addresses_of_fixed_keys(case: dict[str, Any]) -> None:
    assert signatures.address_of(bytes.fromhex(case["public_key"])) == case["address"]


@pytest.mark.parametrize("case", MERKLE["cases"], ids=lambda c: str(len(c["leaves"])))
def test_merkle_roots_and_proofs(case: dict[str, Any]) -> None:
    leaves = [bytes.fromhex(leaf) for leaf in case["leaves"]]
    assert merkle_root(leaves).hex() == case["root"]
    assert len(case["proofs"]) == len(leaves)
    for leaf, proof in zip(leaves, case["proofs"]):
        steps = [(step["side"], bytes.fromhex(step["hash"])) for step in proof]
        assert proof_root(leaf, steps).hex() == case["root"]


@pytest.mark.parametrize("case", TRANSACTIONS["valid"], ids=lambda c: c["name"])
def test_transactions_decode_to_the_same_id_message_and_sender(case: dict[str, Any]) -> None:
    raw = bytes.fromhex(case["canonical_hex"])
    tx = decode_tx(canonical.decode(raw))
    body = dict(case["tx"])
    del body["sig"]
    assert canonical.encode(body).hex() == case["body_canonical_hex"]
    assert tx.id.hex() == case["id"]
    assert tx.signing_message.hex() == case["signing_message_hex"]
    assert tx.sender == case["sender"]
    for impl in signatures.IMPLS:
        signatures.verify(tx.signer, tx.sig, tx.signing_message, impl)


@pytest.mark.parametrize("case", TRANSACTIONS["invalid"], ids=lambda c: c["name"])
def test_invalid_transactions_fail_at_the_same_stage_with_the_same_code(case: dict[str, Any]) -> None:
    raw = bytes.fromhex(case["bytes_hex"])
    if case["stage"] == "decode":
        assert code_of(lambda: decode_tx(canonical.decode(raw))) == case["error"]
        return
    tx = decode_tx(canonical.decode(raw))
    for impl in signatures.IMPLS:
        assert code_of(signatures.verify, tx.signer, tx.sig, tx.signing_message, impl) == case["error"]


def replay(data: dict[str, Any], upto: int | None = None, impl: signatures.CryptoImpl = "cryptography") -> ChainState:
    """The verifier's state after the data's blocks 1..upto, checking each hash, root and certificate."""
    genesis = decode_genesis(canonical.encode(data["genesis"]))
    state = ChainState(genesis, {}, impl)
    blocks = data["blocks"][:upto]
    for item in blocks:
        block = item["block"]
        raw = canonical.encode(block["header"])
        header = decode_header(canonical.decode(raw), raw)
        txs = [decode_tx(tx) for tx in block["txs"]]
        state.verify_block(header, txs, item.get("certificate") or item.get("cert"))
    return state


def test_chain_vector_genesis_hash_and_initial_root() -> None:
    genesis = decode_genesis(bytes.fromhex(CHAIN["genesis_canonical_hex"]))
    assert genesis.hash.hex() == CHAIN["genesis_hash"]
    state = ChainState(genesis, {}, "cryptography")
    assert state.root.hex() == CHAIN["genesis_state_root"]
    assert sorted([k, v] for k, v in state.machine.state.items()) == CHAIN["genesis_writes"]


@pytest.mark.parametrize("height", range(1, len(CHAIN["blocks"]) + 1))
def test_every_chain_block_gives_the_same_hash_writes_root_and_tx_root(height: int) -> None:
    item = CHAIN["blocks"][height - 1]
    state = replay(CHAIN, height - 1)
    block = item["block"]
    raw = canonical.encode(block["header"])
    assert raw.hex() == item["header_canonical_hex"]
    header = decode_header(canonical.decode(raw), raw)
    assert header.hash.hex() == item["hash"]
    txs = [decode_tx(tx) for tx in block["txs"]]
    assert [tx.id.hex() for tx in txs] == item["tx_ids"]
    assert merkle_root([tx.id for tx in txs]).hex() == item["tx_root"]
    state.verify_block(header, txs, item["certificate"])
    assert state.machine.last_writes == item["writes"]
    assert state.root.hex() == item["state_root"]


def test_chain_vector_tallies_and_candidate_addresses() -> None:
    state = replay(CHAIN)
    for election, tally in CHAIN["tallies"].items():
        assert compute_tally(state.machine, election) == tally
    for entry in CHAIN["candidates"]:
        assert candidate_address(entry["election"], entry["candidate"]) == entry["address"]


@pytest.mark.parametrize("case", REJECTIONS["cases"], ids=lambda c: c["name"])
def test_rejections_produce_the_same_code(case: dict[str, Any]) -> None:
    state = replay(CHAIN, case["after_height"])
    machine: Machine = state.machine
    assert code_of(lambda: machine.apply(decode_tx(case["tx"]), case["after_height"] + 1, case["time"])) \
        == case["error"]


def test_credentials_chain_verifies_with_the_same_roots_and_tallies() -> None:
    state = replay(CREDENTIALS)
    assert state.height == len(CREDENTIALS["blocks"])
    assert state.root.hex() == CREDENTIALS["blocks"][-1]["state_root"]
    for election, tally in CREDENTIALS["tallies"].items():
        assert compute_tally(state.machine, election) == tally


def test_credential_issuance_verifies_with_the_pure_python_pss() -> None:
    issuance = CREDENTIALS["issuance"]
    n, e = rsapss.parse_credential_key(bytes.fromhex(CREDENTIALS["credential_key"]))
    credential = bytes.fromhex(issuance["credential"])
    assert rsapss.pss_verify(n, e, bytes.fromhex(issuance["input_msg"]), credential[32:])
    assert not rsapss.pss_verify(n, e, bytes.fromhex(issuance["input_msg"]) + b"x", credential[32:])


@pytest.mark.parametrize("case", CREDENTIALS["rejections"], ids=lambda c: c["name"])
def test_credential_rejections_produce_the_same_code(case: dict[str, Any]) -> None:
    state = replay(CREDENTIALS)
    assert code_of(lambda: state.machine.apply(decode_tx(case["tx"]), state.height + 1, CREDENTIALS["time"])) \
        == case["error"]


@pytest.mark.parametrize("vector", RFC9474["vectors"], ids=lambda v: v["name"])
def test_rfc9474_signatures_verify_under_pss_when_salted_48(vector: dict[str, Any]) -> None:
    n, e = int(vector["n"], 16), int(vector["e"], 16)
    sig = bytes.fromhex(vector["sig"])
    message = bytes.fromhex(vector["input_msg"])
    assert rsapss.pss_verify(n, e, message, sig) is (int(vector["salt_length"]) == 48)
    assert rsapss.parse_credential_key(rsapss.spki_der(n, e)) == (n, e)


@pytest.mark.parametrize("impl", signatures.IMPLS)
@pytest.mark.parametrize("case", BROKEN["cases"], ids=lambda c: c["name"])
def test_broken_chains_fail_where_the_vectors_say(case: dict[str, Any], impl: signatures.CryptoImpl) -> None:
    genesis, blocks = chain_blocks()
    from .helpers import vector_block  # noqa: PLC0415

    kept = blocks[:case["replace_height"] - 1] + [vector_block(case["block"], case["certificate"])]
    report = verify_bytes(bundle_bytes(vector_content(genesis, kept)), impl=impl, workers=1)
    expected = case["failure"]
    assert report.failure is not None
    got = {"height": report.failure.height, "code": report.failure.code, "field": report.failure.field,
           "tx_index": report.failure.tx_index}
    assert got == expected


def test_the_whole_chain_vector_passes_as_a_bundle_with_both_implementations() -> None:
    genesis, blocks = chain_blocks()
    data = bundle_bytes(vector_content(genesis, blocks))
    for impl in signatures.IMPLS:
        report = verify_bytes(data, impl=impl, workers=1)
        assert report.ok, report.failure
        assert report.tallies == CHAIN["tallies"]
    assert isinstance(Tx, type)
