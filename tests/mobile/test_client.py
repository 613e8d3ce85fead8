"""The reference client is an independent implementation: check it against the protocol's vectors and the core."""

from __future__ import annotations

import json
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from hypothesis import given, settings as hypothesis_settings, strategies as st

from clients import evote_mobile as client
from ledger.core import blindrsa
from ledger.core.contracts.vote import candidate_address, credential_message
from ledger.core.encoding import encode
from ledger.core.tx import Transaction

VECTORS = Path(settings.BASE_DIR) / "tests" / "ledger" / "vectors"
ISSUANCE = json.loads((VECTORS / "credentials.json").read_text())
SIGNER: rsa.RSAPrivateKey = blindrsa.generate_private_key(2048)
IDENT = st.from_regex(r"\A[A-Za-z0-9][A-Za-z0-9._:-]{0,20}\Z")


def test_the_client_reproduces_the_credential_vector() -> None:
    step = ISSUANCE["issuance"]
    message = client.canonical([client.CREDENTIAL_TAG, step["chain"], step["election"], step["address"]])
    assert message.hex() == step["message_hex"]
    state = client.blind(client.load_credential_key(ISSUANCE["credential_key"]), message,
                         prefix=bytes.fromhex(step["msg_prefix"]), salt=bytes.fromhex(step["salt"]),
                         r=int(step["r"], 16))
    assert state.blinded_msg.hex() == step["blinded_msg"] and state.input_msg.hex() == step["input_msg"]
    assert client.finalize(state, bytes.fromhex(step["blind_sig"])).hex() == step["credential"]


@hypothesis_settings(max_examples=30, deadline=None)
@given(chain=IDENT, election=IDENT, address=st.binary(min_size=20, max_size=20))
def test_client_blinding_is_signed_by_the_core_and_verifies_as_the_contract_does(
    chain: str, election: str, address: bytes,
) -> None:
    assert client.canonical([client.CREDENTIAL_TAG, chain, election, address.hex()]) == credential_message(
        chain, election, address.hex())
    assert client.candidate_address(election, chain) == candidate_address(election, chain)
    state = client.blind(SIGNER.public_key(), credential_message(chain, election, address.hex()))
    credential = client.finalize(state, blindrsa.blind_sign(SIGNER, state.blinded_msg))
    blindrsa.verify(SIGNER.public_key(), credential[:32] + credential_message(chain, election, address.hex()),
                    credential[32:], blindrsa.PSS_RANDOMIZED)


@hypothesis_settings(max_examples=40, deadline=None)
@given(election=IDENT, nonce=st.integers(min_value=0, max_value=2**53 - 1), to=st.binary(min_size=20, max_size=20))
def test_client_transactions_decode_in_the_core_with_the_same_id_and_a_valid_low_s_signature(
    election: str, nonce: int, to: bytes,
) -> None:
    key = client.TokenKey()
    tx, tx_id = client.build_tx(key, chain="evote-test", tx_type="transfer",
                                payload={"election": election, "to": to.hex()}, nonce=nonce)
    decoded = Transaction.from_dict(tx)
    assert decoded.id_hex == tx_id and decoded.sender == key.address
    assert encode(tx) == decoded.to_bytes()
    decoded.verify_signature()  # raises on a bad or high-S signature
