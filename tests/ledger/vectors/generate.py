"""Regenerate the ledger test vectors (tests/ledger/vectors/*.json).

    .venv/bin/python -m tests.ledger.vectors.generate          # rewrite the files
    .venv/bin/python -m tests.ledger.vectors.generate --check  # exit 1 if they differ

Every key comes from a fixed private scalar and every signature is RFC 6979
deterministic (normalised to low S), so the output is byte-identical between runs.
The vectors pin the source hashes of the built-in contracts: after any edit to
ledger/core/contracts/*.py the chain vectors change and must be regenerated (and the
change is then a protocol change, visible in review). Bytes are lowercase hex
throughout so that a verifier in any language can use the files; docs/protocol.md
explains every field.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path
from typing import Any

import ecdsa
from cryptography.hazmat.primitives.asymmetric import rsa

from ledger.core import blindrsa, crypto
from ledger.core.contracts.vote import CREDENTIAL_STATION, CREDENTIAL_VARIANT, credential_message
from ledger.core.block import Block, CommitCertificate
from ledger.core.encoding import encode
from ledger.core.errors import LedgerError
from ledger.core.machine import Ledger, genesis_writes
from ledger.core.merkle import compute_merkle_proof, compute_merkle_root
from ledger.core.state import compute_state_root
from ledger.core.tx import Transaction, make_tx
from ledger.core.verify import verify_chain
from tests.ledger.vectors.poll_vectors import poll_vectors
from tests.ledger.core.factory import (
    ChainBuilder,
    DeterministicKey,
    Election,
    certify,
    checkin_id,
    issue_credential,
    make_network,
)

HERE = Path(__file__).resolve().parent
CHAIN_ID = "evote-vectors"
P256_PRIME = 0xFFFFFFFF00000001000000000000000000000000FFFFFFFFFFFFFFFFFFFFFFFF


def _hex(data: bytes) -> str:
    return data.hex()


def _code(call: Any) -> str | None:
    try:
        call()
    except LedgerError as exc:
        return exc.code
    return None


# --- encoding -------------------------------------------------------------------------

ENCODING_VALID: list[tuple[str, Any]] = [
    ("null", None), ("zero", 0), ("negative", -42), ("max-safe-int", 2**53 - 1), ("min-safe-int", -(2**53 - 1)),
    ("empty-string", ""), ("empty-array", []), ("empty-object", {}),
    ("keys-sorted-by-code-point", {"b": 1, "B": 2, "a": 3, "_": 4, " ": 5, "aa": 6}),
    ("nested", {"z": [1, {"y": None, "x": "s"}], "a": {}}),
    ("short-escapes", "quote\" backslash\\ slash/ \b\f\n\r\t"),
    ("control-characters", "\x00\x01\x1f\x7f"),
    ("non-ascii-raw-utf8", "경기도 수원시 é \U0001f5f3"),
    ("line-separators-raw", "\u2028\u2029"),
]

ENCODING_INVALID: list[tuple[str, bytes, str]] = [
    ("float", b"1.5", "encoding_invalid"),
    ("exponent", b"1e2", "encoding_invalid"),
    ("true", b"true", "encoding_invalid"),
    ("false-in-array", b"[false]", "encoding_invalid"),
    ("nan", b"NaN", "encoding_invalid"),
    ("int-above-safe-range", b"9007199254740992", "encoding_invalid"),
    ("minus-zero", b"-0", "encoding_not_canonical"),
    ("leading-zero", b"01", "encoding_invalid"),
    ("duplicate-key", b'{"a":1,"a":1}', "encoding_not_canonical"),
    ("unsorted-keys", b'{"b":1,"a":2}', "encoding_not_canonical"),
    ("whitespace", b'{"a": 1}', "encoding_not_canonical"),
    ("trailing-newline", b"{}\n", "encoding_not_canonical"),
    ("non-ascii-key", '{"é":1}'.encode(), "encoding_invalid"),
    ("empty-key", b'{"":1}', "encoding_invalid"),
    ("escaped-non-ascii", b'"\\u00e9"', "encoding_not_canonical"),
    ("escaped-slash", b'"\\/"', "encoding_not_canonical"),
    ("uppercase-unicode-escape", b'"\\u001F"', "encoding_not_canonical"),
    ("long-form-newline-escape", b'"\\u000a"', "encoding_not_canonical"),
    ("lone-surrogate-escape", b'"\\ud800"', "encoding_invalid"),
    ("utf8-encoded-surrogate", b'"\xed\xa0\x80"', "encoding_invalid"),
    ("invalid-utf8", b'"\xff"', "encoding_invalid"),
    ("utf8-bom", b'\xef\xbb\xbf{}', "encoding_invalid"),
    ("raw-control-character", b'"\x01"', "encoding_invalid"),
    ("nesting-33", b"[" * 34 + b"]" * 34, "encoding_invalid"),
]


def encoding_vectors() -> dict[str, Any]:
    from ledger.core.encoding import decode

    valid = [{"name": name, "value": value, "canonical_hex": _hex(encode(value)), "sha256": hashlib.sha256(encode(value)).hexdigest()}
             for name, value in ENCODING_VALID]
    invalid = []
    for name, data, code in ENCODING_INVALID:
        actual = _code(lambda: decode(data))
        if actual != code:
            raise AssertionError(f"encoding vector {name}: code {actual}, expected {code}")
        invalid.append({"name": name, "bytes_hex": _hex(data), "error": code})
    return {"description": "Canonical JSON: value -> canonical bytes, and byte strings a decoder must reject.",
            "valid": valid, "invalid": invalid}


# --- keys and signatures --------------------------------------------------------------

RFC6979_SECRET = "c9afa9d845ba75166b5c215767b1d6934e50c3db36e89b127b8a622b120f6721"


def _secp256k1_point() -> bytes:
    return bytes(ecdsa.SigningKey.from_secret_exponent(12345, curve=ecdsa.SECP256k1).get_verifying_key()
                 .to_string("uncompressed"))


def _unreduced_point() -> bytes:
    b = 0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B
    for x in range(1, 100):
        rhs = (x**3 - 3 * x + b) % P256_PRIME
        y = pow(rhs, (P256_PRIME + 1) // 4, P256_PRIME)
        if y * y % P256_PRIME == rhs:
            return b"\x04" + (x + P256_PRIME).to_bytes(32, "big") + y.to_bytes(32, "big")
    raise AssertionError("no point")


def key_vectors() -> dict[str, Any]:
    keys = []
    for label in ("validator-0", "authority-0", "vector-token-0"):
        key = DeterministicKey.for_label(label)
        keys.append({"label": label, "secret": key.secret_bytes().hex(), "public_key": _hex(key.public_key),
                     "address": key.address})
    key = DeterministicKey.for_label("vector-token-0")
    message = b"EVOTE-TX-V1:" + hashlib.sha256(b"vector").digest()
    sig = key.sign(message)
    r, s = crypto.split_signature(sig)
    n = crypto.CURVE_ORDER
    pub = key.public_key
    y = int.from_bytes(pub[33:], "big")

    def raw(r_: int, s_: int) -> bytes:
        return r_.to_bytes(32, "big") + s_.to_bytes(32, "big")

    rfc_pub = bytes(ecdsa.SigningKey.from_string(bytes.fromhex(RFC6979_SECRET), curve=ecdsa.NIST256p)
                    .get_verifying_key().to_string("uncompressed"))
    cases: list[tuple[str, bytes, bytes, bytes]] = [
        ("valid-low-s", pub, message, sig),
        ("high-s-flip-of-valid", pub, message, raw(r, n - s)),
        ("r-zero", pub, message, raw(0, s)),
        ("s-zero", pub, message, raw(r, 0)),
        ("r-equals-n", pub, message, raw(n, s)),
        ("s-equals-n", pub, message, raw(r, n)),
        ("truncated-63-bytes", pub, message, sig[:63]),
        ("extended-65-bytes", pub, message, sig + b"\x00"),
        ("other-message", pub, message + b"!", sig),
        ("r-bit-flipped", pub, message, raw(r ^ 1, s)),
        ("compressed-public-key", bytes([2 + (y & 1)]) + pub[1:33], message, sig),
        ("hybrid-public-key", bytes([6 + (y & 1)]) + pub[1:], message, sig),
        ("off-curve-public-key", pub[:33] + (y ^ 1).to_bytes(32, "big"), message, sig),
        ("coordinate-not-reduced-mod-p", _unreduced_point(), message, sig),
        ("secp256k1-public-key", _secp256k1_point(), message, sig),
        ("rfc6979-p256-sha256-test", rfc_pub, b"test", bytes.fromhex(
            "f1abb023518351cd71d881567b1ea663ed3efcf6c5132b354f28d3b0b7d38367"
            "019f4113742a2b14bd25926b49c649155f267e60d3814b4c0cc84250e46f0083")),
        ("rfc6979-p256-sha256-sample-high-s", rfc_pub, b"sample", bytes.fromhex(
            "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
            "f7cb1c942d657c41d436c7a1b6e29f65f3e900dbb9aff4064dc4ab2f843acda8")),
        ("rfc6979-p256-sha256-sample-normalised", rfc_pub, b"sample", bytes.fromhex(
            "efd48b2aacb6a8fd1140dd9cd45e81d69d2c877b56aaf991c34d0ea84eaf3716"
            f"{n - 0xF7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8:064x}")),
    ]
    signatures = []
    for name, public_key, msg, signature in cases:
        codes = {impl: _code(lambda impl=impl: crypto.verify(public_key, signature, msg, impl)) for impl in ("openssl", "ecdsa")}
        if codes["openssl"] != codes["ecdsa"]:
            raise AssertionError(f"implementations disagree on {name}: {codes}")
        signatures.append({"name": name, "public_key": _hex(public_key), "message_hex": _hex(msg), "signature": _hex(signature),
                           "valid": codes["openssl"] is None, "error": codes["openssl"]})
    return {
        "description": "P-256 keys (fixed scalars), addresses and raw r||s signatures over SHA-256 of the message.",
        "keys": keys,
        "signatures": signatures,
    }


# --- Merkle ---------------------------------------------------------------------------

def merkle_vectors() -> dict[str, Any]:
    cases = []
    for n in (0, 1, 2, 3, 5, 8):
        leaves = [hashlib.sha256(f"leaf-{i}".encode()).digest() for i in range(n)]
        cases.append({
            "leaves": [_hex(leaf) for leaf in leaves],
            "root": _hex(compute_merkle_root(leaves)),
            "proofs": [[{"side": side, "hash": _hex(h)} for side, h in compute_merkle_proof(leaves, i)] for i in range(n)],
        })
    return {"description": "RFC 6962 Merkle tree hash over leaf values (transaction ids); leaf_i = SHA-256('leaf-i').",
            "cases": cases}


# --- the election chain ---------------------------------------------------------------

CANDIDATES = [("cand-1", "김민준"), ("cand-2", "이서연"), ("cand-3", "박지훈")]


def build_chain() -> tuple[ChainBuilder, Election, list[DeterministicKey], dict[int, dict[str, Any]]]:
    network = make_network(chain=CHAIN_ID, deterministic=True)
    builder = ChainBuilder(network)
    election = Election(network, id="gg-2026", title="경기도지사 선거 2026 (Gyeonggi governor)",
                        candidates=tuple(c for c, _ in CANDIDATES))
    tokens = [DeterministicKey.for_label(f"vector-token-{i}") for i in range(5)]
    create = election.tx("create", {
        "election": election.id, "title": election.title, "opens_at": election.opens_at, "closes_at": election.closes_at,
        "candidates": [{"id": cid, "name": name} for cid, name in CANDIDATES],
    })
    builder.seal([create, election.register("suwon-01", 4), election.register("goyang-07", 2)])
    builder.seal([election.mint("suwon-01", tokens[:3]), election.mint("goyang-07", tokens[3:])])
    builder.seal([election.open()], time=election.opens_at)
    builder.seal([
        election.checkin("suwon-01", checkin_id("roll-0001")), election.checkin("suwon-01", checkin_id("roll-0002")),
        election.transfer(tokens[0], "cand-1"), election.transfer(tokens[1], "cand-2"),
        election.transfer(tokens[3], "cand-1"),
    ])
    builder.seal([election.checkin("suwon-01", checkin_id("roll-0003")),
                  election.checkin("goyang-07", checkin_id("roll-0103")), election.checkin("goyang-07", checkin_id("roll-0104")),
                  election.transfer(tokens[2], "cand-1")])
    builder.seal([election.close()])
    return builder, election, tokens, {}


def _tx_vector(tx: Transaction) -> dict[str, Any]:
    return {"tx": tx.to_dict(), "canonical_hex": _hex(tx.to_bytes()), "body_canonical_hex": _hex(encode(tx.body())),
            "id": tx.id_hex, "signing_message_hex": _hex(tx.signing_message()), "sender": tx.sender}


def chain_vectors(builder: ChainBuilder, election: Election) -> dict[str, Any]:
    genesis = builder.network.genesis
    replica = Ledger(genesis)
    initial = genesis_writes(genesis)
    blocks = []
    for block, cert in builder.blocks:
        pending = replica.execute_block(block)
        cert.verify(genesis, block.header)
        writes = pending.overlay.writes
        blocks.append({
            "height": block.height,
            "hash": _hex(block.hash),
            "block": block.to_dict(),
            "header_canonical_hex": _hex(encode(block.header.to_dict())),
            "certificate": cert.to_dict(),
            "tx_ids": [tx.id_hex for tx in block.txs],
            "tx_root": _hex(block.header.tx_root),
            "writes": [[key, writes[key]] for key in sorted(writes)],
            "state_root": _hex(pending.state_root),
        })
        replica.commit(pending)
    report = verify_chain(genesis, builder.blocks)
    if not report.ok:
        raise AssertionError(report.failure)
    return {
        "description": "A small election chain: genesis, six certified blocks, per-block write sets and state roots.",
        "genesis": genesis.to_dict(),
        "genesis_canonical_hex": _hex(genesis.to_bytes()),
        "genesis_hash": _hex(genesis.hash),
        "genesis_writes": [[key, initial[key]] for key in sorted(initial)],
        "genesis_state_root": _hex(compute_state_root(genesis.hash, initial)),
        "blocks": blocks,
        "candidates": [{"election": election.id, "candidate": cid, "address": election.address(cid)} for cid, _ in CANDIDATES],
        "tallies": report.tallies,
        "sample_transactions": [_tx_vector(tx) for tx in builder.blocks[3][0].txs[:3]],
    }


def _rejection(builder: ChainBuilder, name: str, after_height: int, tx: Transaction, time: int) -> dict[str, Any]:
    ledger = Ledger(builder.network.genesis)
    for block, _ in builder.blocks[:after_height]:
        ledger.apply_block(block)
    code = _code(lambda: ledger.check_tx(tx, time=time))
    if code is None:
        raise AssertionError(f"rejection vector {name} was accepted")
    return {"name": name, "after_height": after_height, "time": time, "tx": tx.to_dict(), "error": code}


def rejection_vectors(builder: ChainBuilder, election: Election, tokens: list[DeterministicKey]) -> dict[str, Any]:
    network = builder.network
    time5 = builder.blocks[4][0].header.time + 1000
    time6 = builder.blocks[5][0].header.time + 1000
    stranger = DeterministicKey.for_label("vector-stranger")
    spent_vote = builder.blocks[3][0].txs[2]
    forged = Transaction(spent_vote.chain, spent_vote.contract, spent_vote.type, {"election": election.id, "to": election.address("cand-3")},
                         spent_vote.signer, 5, bytes(64))
    forged = Transaction(forged.chain, forged.contract, forged.type, forged.payload, forged.signer, forged.nonce,
                         stranger.sign(forged.signing_message()))
    honest = election.transfer(tokens[4], "cand-2", nonce=3)
    r, s = crypto.split_signature(honest.sig)
    high_s = Transaction(honest.chain, honest.contract, honest.type, honest.payload, honest.signer, honest.nonce,
                         r.to_bytes(32, "big") + (crypto.CURVE_ORDER - s).to_bytes(32, "big"))
    cases = [
        ("double-spend", 5, election.transfer(tokens[0], "cand-3", nonce=1), time5),
        ("replayed-vote", 5, spent_vote, time5),
        ("unknown-token", 5, election.transfer(stranger, "cand-1"), time5),
        ("wrong-candidate", 5, election.transfer(tokens[4], "", to=tokens[0].address), time5),
        ("unknown-election", 5, Election(network, id="gg-2030").transfer(tokens[4], "cand-1"), time5),
        ("wrong-chain", 5, election.transfer(tokens[4], "cand-1", chain="evote-other"), time5),
        ("unknown-contract", 5, election.transfer(tokens[4], "cand-1", contract="ballot"), time5),
        ("unknown-tx-type", 5, election.tx("burn", {"election": election.id}), time5),
        ("signature-by-another-key", 5, forged, time5),
        ("high-s-signature", 5, high_s, time5),
        ("vote-before-open", 2, election.transfer(tokens[4], "cand-1"), builder.blocks[1][0].header.time + 1000),
        ("vote-after-close", 6, election.transfer(tokens[4], "cand-1"), time6),
        ("vote-after-closing-time", 5, election.transfer(tokens[4], "cand-1"), election.closes_at),
        ("mint-over-registered", 5, election.mint("goyang-07", [stranger]), time5),
        ("mint-by-non-authority", 5, election.mint("goyang-07", [stranger], key=stranger), time5),
        ("mint-already-minted", 5, election.mint("suwon-01", [tokens[0]]), time5),
        ("create-by-non-authority", 5, Election(network, id="gg-2027", authority=stranger).create(), time5),
        ("create-existing", 5, election.create(nonce=1), time5),
        ("register-after-open", 5, election.register("suwon-01", 9), time5),
        ("checkin-duplicate", 5, election.checkin("suwon-01", checkin_id("roll-0001"), nonce=1), time5),
        ("checkin-over-registered", 5, election.checkin("goyang-07", checkin_id("roll-0105")), time5),
        ("checkin-unknown-station", 5, election.checkin("anyang-01", checkin_id("roll-0106")), time5),
        ("open-twice", 5, election.open(nonce=1), time5),
        ("close-by-token", 5, election.close(key=tokens[4]), time5),
        ("deploy-by-non-authority", 5, make_tx(stranger, chain=CHAIN_ID, contract="system", type="deploy",
                                                payload={"contract": "vote", "source_sha256": "00" * 32}), time5),
    ]
    return {
        "description": ("Transactions each verifier must reject with the given error code, applied to the state of "
                        "chain.json after block `after_height` at block time `time`."),
        "cases": [_rejection(builder, *case) for case in cases],
    }


def _broken_chain(builder: ChainBuilder, name: str, height: int, block: Block, cert: CommitCertificate | None) -> dict[str, Any]:
    genesis = builder.network.genesis
    cert = cert or certify(builder.network, block.header)
    report = verify_chain(genesis, [*builder.blocks[:height - 1], (block, cert)])
    failure = report.failure
    if failure is None:
        raise AssertionError(f"broken chain vector {name} verified")
    return {"name": name, "replace_height": height, "block": block.to_dict(), "certificate": cert.to_dict(),
            "failure": {"height": failure.height, "code": failure.code, "field": failure.field, "tx_index": failure.tx_index}}


def broken_chain_vectors(builder: ChainBuilder, election: Election, tokens: list[DeterministicKey]) -> dict[str, Any]:
    import dataclasses

    block4, cert4 = builder.blocks[3]
    block5, cert5 = builder.blocks[4]
    stranger = DeterministicKey.for_label("vector-stranger")
    vote = block4.txs[3]
    forged = dataclasses.replace(vote, sig=stranger.sign(vote.signing_message()))
    double = election.transfer(tokens[0], "cand-2", nonce=1)
    with_double = (*block5.txs, double)

    def header5(**changes: Any) -> Block:
        return Block(dataclasses.replace(block5.header, **changes), block5.txs)

    cases = [
        ("forged-vote-signature", 4, Block(block4.header, (*block4.txs[:3], forged, *block4.txs[4:])), cert4),
        ("state-root-wrong-recertified", 5, header5(state_root=bytes(32)), None),
        ("prev-hash-wrong", 5, header5(prev=block4.header.prev), None),
        ("time-not-increasing", 5, header5(time=block4.header.time), None),
        ("proposer-not-scheduled", 5, header5(proposer="node-0"), None),
        ("tx-root-wrong", 5, header5(tx_root=bytes(32)), None),
        ("double-spend-included", 5, Block(dataclasses.replace(block5.header, txs=len(with_double), tx_root=compute_merkle_root(
            [t.id for t in with_double])), with_double), None),
        ("certificate-below-quorum", 5, block5, certify(builder.network, block5.header, signers=["node-0", "node-1"])),
        ("certificate-of-another-block", 5, block5, cert4),
        ("block-skipped", 4, block5, cert5),
    ]
    return {
        "description": ("Each case replaces block `replace_height` of chain.json (and drops the blocks after it); "
                        "verification must stop at `failure`."),
        "cases": [_broken_chain(builder, *case) for case in cases],
    }


def transaction_vectors(builder: ChainBuilder, election: Election) -> dict[str, Any]:
    vote = builder.blocks[3][0].txs[2]
    good = vote.to_dict()
    invalid_objects: list[tuple[str, Any]] = [
        ("missing-field", {k: v for k, v in good.items() if k != "nonce"}),
        ("unknown-field", {**good, "memo": "x"}),
        ("version-2", {**good, "v": 2}),
        ("signature-uppercase-hex", {**good, "sig": good["sig"].upper()}),
        ("signature-63-bytes", {**good, "sig": good["sig"][:126]}),
        ("signer-compressed", {**good, "signer": "02" + good["signer"][2:66]}),
        ("signer-hybrid", {**good, "signer": "06" + good["signer"][2:]}),
        ("signer-off-curve", {**good, "signer": good["signer"][:-2] + ("00" if good["signer"][-2:] != "00" else "01")}),
        ("payload-not-object", {**good, "payload": ["election"]}),
        ("nonce-negative", {**good, "nonce": -1}),
        ("chain-with-space", {**good, "chain": "evote vectors"}),
        ("type-uppercase", {**good, "type": "Transfer"}),
    ]
    non_canonical = vote.to_bytes().replace(b'"nonce":0', b'"nonce": 0')
    invalid = []
    for name, data in [*((name, encode(obj)) for name, obj in invalid_objects), ("non-canonical-whitespace", non_canonical)]:
        stage, code = "decode", _code(lambda: Transaction.from_bytes(data))
        if code is None:  # decodes; the curve check happens when the signature is verified
            stage, code = "verify", _code(lambda: Transaction.from_bytes(data).verify_signature())
        if code is None:
            raise AssertionError(f"transaction vector {name} is valid")
        invalid.append({"name": name, "bytes_hex": _hex(data), "stage": stage, "error": code})
    valid = [dict(name=f"block-{h}-tx-{i}", **_tx_vector(tx))
             for h, (block, _) in enumerate(builder.blocks, start=1) for i, tx in enumerate(block.txs)]
    return {"description": "Signed transactions with their canonical bytes, ids, signing messages and senders; "
                           "byte strings that must not decode as a transaction.",
            "valid": valid, "invalid": invalid}


# --- mobile voting: blind-signed credentials ------------------------------------------

def rfc9474_private_key() -> rsa.RSAPrivateKey:
    """The 4096-bit key of RFC 9474 Appendix A (tests/ledger/vectors/rfc9474.json), as a fixed credential key."""
    vector = json.loads((HERE / "rfc9474.json").read_text(encoding="utf-8"))["vectors"][0]
    p, q, n, e, d = (int(vector[k], 16) for k in ("p", "q", "n", "e", "d"))
    public = rsa.RSAPublicNumbers(e, n)
    return rsa.RSAPrivateNumbers(p, q, d, d % (p - 1), d % (q - 1), pow(q, -1, p), public).private_key()


def _fixed_randomness(label: str, n: int) -> dict[str, Any]:
    """Prefix, PSS salt and blinding factor derived from a label, so the vectors are reproducible."""
    seed = hashlib.sha512(b"evote-vector-credential:" + label.encode()).digest()
    r = int.from_bytes(hashlib.sha512(seed + b"r").digest() * 8, "big") % n
    return {"prefix": seed[:32], "salt": hashlib.sha384(seed + b"salt").digest(), "r": r}


def credential_vectors() -> dict[str, Any]:
    signer = rfc9474_private_key()
    public = signer.public_key()
    n = public.public_numbers().n
    network = make_network(chain=CHAIN_ID, deterministic=True)
    builder = ChainBuilder(network)
    election = Election(network, id="gg-2026-m", title="Mobile voting vector election",
                        candidates=tuple(c for c, _ in CANDIDATES))
    phones = [DeterministicKey.for_label(f"vector-phone-{i}") for i in range(3)]
    randomness = _fixed_randomness("phone-0", n)
    message = credential_message(CHAIN_ID, election.id, phones[0].address)
    input_msg = blindrsa.prepare(CREDENTIAL_VARIANT, message, randomness["prefix"])
    blinded = blindrsa.blind(public, input_msg, CREDENTIAL_VARIANT, salt=randomness["salt"], r=randomness["r"])
    blind_sig = blindrsa.blind_sign(signer, blinded.blinded_msg)
    signature = blindrsa.finalize(public, input_msg, blind_sig, blinded.inv, CREDENTIAL_VARIANT)
    credential = (randomness["prefix"] + signature).hex()

    def credential_for(label: str, *, chain: str = CHAIN_ID, election_id: str = election.id, address: str) -> str:
        return issue_credential(signer, chain, election_id, address, **_fixed_randomness(label, n))

    builder.seal([election.create_with_credentials(public), election.register(CREDENTIAL_STATION, 2),
                  election.register("suwon-01", 1)])
    builder.seal([election.open()], time=election.opens_at)
    builder.seal([election.mint_credential(phones[0], credential)])
    builder.seal([election.transfer(phones[0], "cand-2")])
    time = builder.next_time
    cases = [
        ("credential-replayed", election.mint_credential(phones[0], credential, nonce=1)),
        ("credential-for-another-address", election.mint_credential(phones[1], credential)),
        ("signer-is-not-the-address", election.mint_credential(phones[0], credential, key=phones[1], nonce=2)),
        ("credential-for-another-election", election.mint_credential(
            phones[1], credential_for("phone-1a", election_id="gg-2030", address=phones[1].address))),
        ("credential-for-another-chain", election.mint_credential(
            phones[1], credential_for("phone-1b", chain="evote-other", address=phones[1].address))),
        ("credential-to-another-station", election.mint_credential(
            phones[1], credential_for("phone-1c", address=phones[1].address), station="suwon-01")),
        ("authority-mint-at-mobile-station", election.mint(CREDENTIAL_STATION, [phones[2]])),
    ]
    ledger = builder.ledger
    rejections = []
    for name, tx in cases:
        code = _code(lambda: ledger.check_tx(tx, time=time))
        if code is None:
            raise AssertionError(f"credential vector {name} was accepted")
        rejections.append({"name": name, "tx": tx.to_dict(), "error": code})
    report = verify_chain(network.genesis, builder.blocks)
    if not report.ok:
        raise AssertionError(report.failure)
    return {
        "description": ("Mobile voting (docs/protocol.md 10.10): the credential key is the RFC 9474 Appendix A key; one "
                        "credential issued step by step (RSABSSA-SHA384-PSS-Randomized with fixed prefix, salt and r), "
                        "then a chain that creates the election, opens it, mints by credential and votes; rejections "
                        "apply to the state after the last block at block time `time`."),
        "credential_key": blindrsa.public_key_der(public).hex(),
        "issuance": {
            "chain": CHAIN_ID, "election": election.id, "address": phones[0].address, "message_hex": _hex(message),
            "msg_prefix": _hex(randomness["prefix"]), "input_msg": _hex(input_msg), "salt": _hex(randomness["salt"]),
            "r": f"{randomness['r']:x}", "blinded_msg": _hex(blinded.blinded_msg), "inv": _hex(blinded.inv),
            "blind_sig": _hex(blind_sig), "sig": _hex(signature), "credential": credential,
        },
        "genesis": network.genesis.to_dict(),
        "blocks": [{"block": block.to_dict(), "certificate": cert.to_dict(), "state_root": _hex(block.header.state_root)}
                   for block, cert in builder.blocks],
        "tallies": report.tallies,
        "time": time,
        "rejections": rejections,
    }


def build_all() -> dict[str, Any]:
    builder, election, tokens, _ = build_chain()
    return {
        "encoding.json": encoding_vectors(),
        "keys.json": key_vectors(),
        "merkle.json": merkle_vectors(),
        "transactions.json": transaction_vectors(builder, election),
        "chain.json": chain_vectors(builder, election),
        "rejections.json": rejection_vectors(builder, election, tokens),
        "broken_chains.json": broken_chain_vectors(builder, election, tokens),
        "credentials.json": credential_vectors(),
        "polls.json": poll_vectors(CHAIN_ID, rfc9474_private_key(), _fixed_randomness),
    }


def render(vectors: Any) -> str:
    return json.dumps(vectors, ensure_ascii=False, indent=1) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="compare with the files instead of writing them")
    args = parser.parse_args(argv)
    stale = []
    for name, content in build_all().items():
        path = HERE / name
        text = render(content)
        if args.check:
            if not path.exists() or path.read_text(encoding="utf-8") != text:
                stale.append(name)
        else:
            path.write_text(text, encoding="utf-8")
            print(f"wrote {path.relative_to(HERE.parents[2])}", file=sys.stderr)
    if stale:
        print(f"stale vectors: {', '.join(stale)}; run python -m tests.ledger.vectors.generate", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
