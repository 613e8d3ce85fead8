"""Mobile voting on the ledger: blind-signed vote credentials redeemed by ``mint_credential``."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cache
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from ledger.core import blindrsa, crypto
from ledger.core.contracts.vote import CREDENTIAL_STATION, credential_message
from ledger.core.encoding import encode
from ledger.core.errors import LedgerError
from ledger.core.tx import Transaction

from .factory import ChainBuilder, Election, checkin_id, issue_credential, key_for, make_network


@cache
def authority_rsa_key(label: str = "commission") -> rsa.RSAPrivateKey:
    return blindrsa.generate_private_key(2048)


@dataclass
class MobileElection:
    builder: ChainBuilder
    election: Election
    signer: rsa.RSAPrivateKey

    def credential(self, token: crypto.PrivateKey, *, election: str | None = None, chain: str | None = None,
                   signer: rsa.RSAPrivateKey | None = None) -> str:
        return issue_credential(signer or self.signer, chain or self.builder.network.chain,
                                election or self.election.id, token.address)

    def code(self, tx: Transaction, time: int | None = None) -> str | None:
        """The error code of ``tx`` against the head state (None if accepted); changes nothing."""
        ledger = self.builder.ledger
        try:
            ledger.check_tx(tx, time=time if time is not None else self.builder.next_time)
        except LedgerError as exc:
            return exc.code
        return None


def mobile_election(*, mobile_voters: int = 3, open_it: bool = True) -> MobileElection:
    """An election with a credential key, a registered mobile station and a polling station."""
    network = make_network()
    builder = ChainBuilder(network)
    election = Election(network)
    signer = authority_rsa_key()
    builder.seal([election.create_with_credentials(signer.public_key()),
                  election.register(CREDENTIAL_STATION, mobile_voters), election.register("st-1", 2)])
    if open_it:
        builder.seal([election.open()], time=election.opens_at)
    return MobileElection(builder, election, signer)


def test_credential_message_is_canonical_json_of_tag_chain_election_address() -> None:
    message = credential_message("evote-test", "e2026", "ab" * 20)
    assert message == b'["EVOTE-CREDENTIAL-V1","evote-test","e2026","' + b"ab" * 20 + b'"]'
    assert message == encode(["EVOTE-CREDENTIAL-V1", "evote-test", "e2026", "ab" * 20])


def test_blind_signed_credential_mints_a_token_that_then_votes() -> None:
    world = mobile_election()
    token = key_for("phone-1")
    credential = world.credential(token)
    world.builder.seal([world.election.mint_credential(token, credential)])
    ledger, election = world.builder.ledger, world.election
    assert ledger.query("vote", "token", {"election": election.id, "address": token.address}) == {
        "status": "unspent", "station": CREDENTIAL_STATION, "balance": 1}
    world.builder.seal([election.transfer(token, "bob")])
    tally = ledger.query("vote", "tally", {"election": election.id})
    assert tally["candidates"]["bob"] == 1
    assert tally["stations"][CREDENTIAL_STATION] == {"registered": 3, "minted": 1, "checkins": 0, "spent": 1}


def test_credential_mint_is_accepted_before_the_opening() -> None:
    world = mobile_election(open_it=False)
    token = key_for("phone-early")
    world.builder.seal([world.election.mint_credential(token, world.credential(token))])
    assert world.builder.ledger.query("vote", "token", {"election": world.election.id, "address": token.address})[
        "status"] == "unspent"


def test_approval_election_credential_gives_choices_units() -> None:
    network = make_network()
    builder = ChainBuilder(network)
    election = Election(network)
    signer = authority_rsa_key()
    create = election.create_with_credentials(signer.public_key())
    create = election.tx("create", dict(create.payload, choices=2))
    builder.seal([create, election.register(CREDENTIAL_STATION, 1)])
    token = key_for("phone-approval")
    builder.seal([election.mint_credential(token, issue_credential(signer, network.chain, election.id, token.address))])
    assert builder.ledger.query("vote", "token", {"election": election.id, "address": token.address})["balance"] == 2


def test_replayed_credential_is_refused() -> None:
    world = mobile_election()
    token = key_for("phone-1")
    credential = world.credential(token)
    world.builder.seal([world.election.mint_credential(token, credential)])
    assert world.code(world.election.mint_credential(token, credential, nonce=1)) == "credential_already_used"


def test_second_credential_for_the_same_address_is_refused() -> None:
    world = mobile_election()
    token = key_for("phone-1")
    world.builder.seal([world.election.mint_credential(token, world.credential(token))])
    fresh = world.credential(token)  # another issuance: different prefix and salt, same address
    assert world.code(world.election.mint_credential(token, fresh, nonce=1)) == "token_already_minted"


def test_credential_for_an_address_minted_at_a_polling_station_is_refused() -> None:
    world = mobile_election(open_it=False)
    token = key_for("card-1")
    world.builder.seal([world.election.mint("st-1", [token])])
    assert world.code(world.election.mint_credential(token, world.credential(token))) == "token_already_minted"


@pytest.mark.parametrize("change", ["election", "chain", "signer"])
def test_credential_bound_to_another_election_chain_or_key_is_invalid(change: str) -> None:
    world = mobile_election()
    token = key_for("phone-1")
    other: dict[str, Any] = {"election": {"election": "e2030"}, "chain": {"chain": "evote-other"},
                             "signer": {"signer": blindrsa.generate_private_key(2048)}}[change]
    credential = world.credential(token, **other)
    assert world.code(world.election.mint_credential(token, credential)) == "credential_invalid"


def test_credential_of_another_election_on_the_same_chain_is_invalid() -> None:
    """Two elections sharing one RSA key: a credential for one cannot mint in the other."""
    world = mobile_election()
    network, signer = world.builder.network, world.signer
    second = Election(network, id="e2027")
    world.builder.seal([second.create_with_credentials(signer.public_key()), second.register(CREDENTIAL_STATION, 1)])
    token = key_for("phone-1")
    credential = world.credential(token)  # for e2026
    assert world.code(second.mint_credential(token, credential)) == "credential_invalid"


def test_address_mismatch_is_refused() -> None:
    world = mobile_election()
    holder, thief = key_for("phone-1"), key_for("phone-2")
    credential = world.credential(holder)
    # the thief signs, naming the holder's address: not the holder's key
    assert world.code(world.election.mint_credential(holder, credential, key=thief)) == "not_authorised"
    # the thief signs, naming its own address: the credential is over another address
    assert world.code(world.election.mint_credential(thief, credential)) == "credential_invalid"


@pytest.mark.parametrize("mutate", ["flip-signature", "flip-prefix", "truncate", "uppercase", "odd-length"])
def test_malformed_or_tampered_credential_is_refused(mutate: str) -> None:
    world = mobile_election()
    token = key_for("phone-1")
    credential = world.credential(token)
    last = "0" if credential[-1] != "0" else "1"
    changed = {
        "flip-signature": credential[:-1] + last,
        "flip-prefix": ("0" if credential[0] != "0" else "1") + credential[1:],
        "truncate": credential[:-2],
        "uppercase": credential.upper(),
        "odd-length": credential[:-1],
    }[mutate]
    expected = "malformed" if mutate in ("uppercase", "odd-length") else "credential_invalid"
    assert world.code(world.election.mint_credential(token, changed)) == expected


def test_credential_mint_limit_is_the_mobile_station_registration() -> None:
    world = mobile_election(mobile_voters=1)
    first, second = key_for("phone-1"), key_for("phone-2")
    world.builder.seal([world.election.mint_credential(first, world.credential(first))])
    assert world.code(world.election.mint_credential(second, world.credential(second))) == "mint_limit_exceeded"


def test_credential_mint_to_another_station_is_refused() -> None:
    world = mobile_election()
    token = key_for("phone-1")
    assert world.code(world.election.mint_credential(token, world.credential(token), station="st-1")) == "station_wrong"


def test_mobile_station_must_be_registered() -> None:
    network = make_network()
    builder = ChainBuilder(network)
    election = Election(network)
    signer = authority_rsa_key()
    builder.seal([election.create_with_credentials(signer.public_key())])
    world = MobileElection(builder, election, signer)
    token = key_for("phone-1")
    assert world.code(election.mint_credential(token, world.credential(token))) == "unknown_station"


def test_election_without_credential_key_refuses_credentials() -> None:
    network = make_network()
    builder = ChainBuilder(network)
    election = Election(network)
    builder.seal([election.create(), election.register(CREDENTIAL_STATION, 2)])
    world = MobileElection(builder, election, authority_rsa_key())
    token = key_for("phone-1")
    assert world.code(election.mint_credential(token, world.credential(token))) == "credential_key_missing"
    builder.seal([election.mint(CREDENTIAL_STATION, [token])])  # "mobile" is an ordinary station here


def test_credential_mint_after_the_close_is_refused() -> None:
    world = mobile_election()
    token = key_for("phone-1")
    mint = world.election.mint_credential(token, world.credential(token))
    assert world.code(mint, time=world.election.closes_at) == "election_closed"
    world.builder.seal([world.election.close()])
    assert world.code(mint) == "election_closed"


def test_authority_cannot_mint_or_check_in_at_the_mobile_station() -> None:
    world = mobile_election()
    assert world.code(world.election.mint(CREDENTIAL_STATION, [key_for("card-x")])) == "station_wrong"
    assert world.code(world.election.checkin(CREDENTIAL_STATION, checkin_id("roll-1"))) == "station_wrong"


@pytest.mark.parametrize(("key_hex", "code"), [
    ("zz", "malformed"),
    ("3003020101", "credential_key_invalid"),
    ("ab" * 1200, "malformed"),
])
def test_create_rejects_an_unusable_credential_key(key_hex: str, code: str) -> None:
    network = make_network()
    election = Election(network)
    builder = ChainBuilder(network)
    create = election.tx("create", dict(election.create().payload, credential_key=key_hex))
    assert MobileElection(builder, election, authority_rsa_key()).code(create) == code


def test_create_rejects_a_small_rsa_credential_key() -> None:
    network = make_network()
    election = Election(network)
    small = rsa.generate_private_key(public_exponent=65537, key_size=1024).public_key()
    create = election.tx("create", dict(election.create().payload, credential_key=blindrsa.public_key_der(small).hex()))
    assert MobileElection(ChainBuilder(network), election, authority_rsa_key()).code(create) == "credential_key_invalid"


def test_a_rejected_credential_mint_changes_nothing() -> None:
    world = mobile_election()
    token = key_for("phone-1")
    before = dict(world.builder.ledger.state.scan("vote/"))
    result = world.builder.ledger.build_block([world.election.mint_credential(token, world.credential(token, chain="x"))],
                                              proposer=world.builder.network.genesis.proposer_for(world.builder.ledger.height + 1, 0).id,
                                              round=0, time=world.builder.next_time)
    assert [error.code for _, error in result.rejected] == ["credential_invalid"]
    assert dict(world.builder.ledger.state.scan("vote/")) == before


def test_credential_mint_writes_exactly_the_documented_keys() -> None:
    world = mobile_election()
    token = key_for("phone-1")
    credential = world.credential(token)
    ledger, election = world.builder.ledger, world.election
    tx = election.mint_credential(token, credential)
    result = ledger.build_block([tx], proposer=world.builder.network.genesis.proposer_for(ledger.height + 1, 0).id,
                                round=0, time=world.builder.next_time)
    writes = result.pending.overlay.writes
    signature = bytes.fromhex(credential)[blindrsa.PREFIX_SIZE:]
    e = election.id
    assert {k: v for k, v in writes.items() if k.startswith("vote/")} == {
        f"vote/c/{e}/{hashlib.sha256(signature).hexdigest()}": 1,
        f"vote/t/{e}/{token.address}": CREDENTIAL_STATION,
        f"vote/b/{e}/{token.address}": 1,
        f"vote/s/{e}/{CREDENTIAL_STATION}": {"registered": 3, "minted": 1, "checkins": 0, "spent": 0},
    }
