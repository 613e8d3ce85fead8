"""After a whole mobile election, nothing the server or the ledger keeps joins a voter to a ballot.

What the adversary gets here: every row of every table of the web database, every log
record (all loggers at DEBUG), the SMS outbox, every committed ledger transaction and the
tally, plus the key files. What they still cannot do: name the token address (and so the
vote) of any roll entry. The identity side (roll entries, phone HMACs, challenges, device
sessions and the SHA-256 of each *blinded* message) and the ballot side (token addresses and
public keys, credentials, the tracking codes of mints and votes) share no value, and no
record of either side holds a value of the other. The blinded message is the only thing
the server saw about the credential, and RFC 9474 blinding (a fresh random r for each) makes
it statistically independent of the address it hides, so even the RSA private key does not
join them (the test checks the signer's own view: it cannot recognise the final signatures).

What this test cannot rule out, and docs/mobile.md discusses: network metadata (the client
address of the credential request and of the mint, when they are the same) and timing (a
credential issued at t and a mint in the block after). The roll entry's status time and the
session times are kept, so an adversary with the database and the chain can correlate by
time when few voters are active; clients should wait a random delay before minting and
submit through a different network path.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable
from typing import Any

import pytest
from django.apps import apps

from clients.evote_mobile import MobileVotingClient, Receipt
from mobile_api import credential_keys, sms
from mobile_api.models import DeviceSession, OtpChallenge
from voting.models import VoterRollEntry

from tests.voting.inprocess_ledger import InProcessTransport

from .harness import DjangoTransport, MobileElection, read_last_code

pytestmark = pytest.mark.django_db


def flatten(value: Any) -> Iterable[str]:
    """Every scalar inside a value, as text (bytes as hex)."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield str(key)
            yield from flatten(item)
    elif isinstance(value, (list, tuple, set)):
        for item in value:
            yield from flatten(item)
    elif isinstance(value, (bytes, bytearray, memoryview)):
        yield bytes(value).hex()
    elif value is not None:
        yield str(value)


def dump_database() -> list[tuple[str, list[str]]]:
    rows = []
    for model in apps.get_models():
        for row in model._base_manager.values():
            rows.append((model._meta.label, list(flatten(row))))
    return rows


class RecordingTransport(DjangoTransport):
    """Keeps what the device sent and received, so the test knows the ballot-side secrets."""

    def __init__(self, remote_addr: str) -> None:
        super().__init__(remote_addr)
        self.exchanges: list[tuple[str, Any, Any]] = []

    def __call__(self, method: str, path: str, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
        status, answer = super().__call__(method, path, body, headers)
        self.exchanges.append((path, body, answer))
        return status, answer


def test_no_table_log_message_or_ledger_record_joins_a_roll_entry_to_a_ballot(
    mobile: MobileElection, transport: InProcessTransport, caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    devices = [RecordingTransport(f"198.51.100.{n}") for n in range(len(mobile.voters))]
    receipts: list[Receipt] = []
    for device, voter, choice in zip(devices, mobile.voters, ["c1", "c2", "c2", "c1"]):
        client = MobileVotingClient(transport=device)
        receipts.append(client.vote_flow(mobile.election.ledger_id, voter.phone, voter.birth_date, [choice],
                                         lambda v=voter: read_last_code(v.phone)))
    assert transport.query("vote", "tally", {"election": mobile.election.ledger_id})["candidates"] == {"c1": 2, "c2": 2}

    # --- the ballot side: what only the devices and the ledger know ---------------------------------
    mobile_txs = [tx for tx in transport.committed if tx.type in {"mint_credential", "transfer"}]
    assert len(mobile_txs) == 2 * len(mobile.voters)
    ballot: set[str] = set()
    for tx in mobile_txs:
        ballot |= {tx.id_hex, tx.signer.hex(), tx.sender, tx.sig.hex()}
        if tx.type == "mint_credential":
            credential = bytes.fromhex(tx.payload["credential"])
            ballot |= {tx.payload["credential"], credential[32:].hex(), hashlib.sha256(credential[32:]).hexdigest()}
    ballot |= {r.address for r in receipts} | {r.vote_tracking_code for r in receipts}

    # --- the identity side: what the server knows about voters --------------------------------------
    entries = VoterRollEntry.objects.filter(election=mobile.election)
    identity: set[str] = set()
    for entry in entries:
        identity |= {entry.phone_hmac, entry.national_id_hmac, entry.roll_number, entry.name} - {""}
    identity |= set(OtpChallenge.objects.values_list("challenge_sha256", flat=True))
    identity |= set(OtpChallenge.objects.values_list("code_hmac", flat=True))
    identity |= set(DeviceSession.objects.values_list("token_sha256", flat=True))
    identity |= set(DeviceSession.objects.values_list("blinded_sha256", flat=True))
    seen_by_server: set[str] = set()
    for device in devices:
        for path, body, answer in device.exchanges:
            if path.endswith(("otp/request", "otp/verify", "credential")):
                seen_by_server |= {v for v in flatten(body) if len(v) >= 32} | {v for v in flatten(answer) if len(v) >= 32}
    identity |= seen_by_server  # challenges, session tokens, blinded messages and blind signatures
    assert len(DeviceSession.objects.exclude(blinded_sha256="")) == len(mobile.voters)
    assert not identity & ballot

    # --- everything the adversary holds -------------------------------------------------------------
    database = dump_database()
    logs = [record.getMessage() for record in caplog.records] + [caplog.text]
    outbox = [f"{m.to} {m.text}" for m in sms.outbox]
    ledger_text = "\n".join(tx.to_bytes().decode() for tx in transport.committed)
    ledger_text += repr(transport.query("vote", "tally", {"election": mobile.election.ledger_id}))
    server_text = "\n".join([*(" ".join(values) for _, values in database), *logs, *outbox])

    leaked = sorted(value for value in ballot if value in server_text)
    assert not leaked, f"ballot-side values in the server's tables, logs or SMS: {leaked[:3]}"
    exposed = sorted(value for value in identity if value in ledger_text)
    assert not exposed, f"identity-side values on the ledger: {exposed[:3]}"
    for label, values in database:  # no single record mentions both sides (stronger: neither side is there)
        text = " ".join(values)
        assert not (any(v in text for v in identity) and any(v in text for v in ballot)), label

    # --- the signer's own view: with the private key it still cannot recognise a credential ------------
    key = credential_keys.load_private_key(mobile.election.ledger_id)
    n = key.public_key().public_numbers().n
    blinded = [bytes.fromhex(body["blinded_msg"]) for d in devices for p, body, _ in d.exchanges
               if p.endswith("credential")]
    signatures = [bytes.fromhex(tx.payload["credential"])[32:] for tx in mobile_txs if tx.type == "mint_credential"]
    d = key.private_numbers().d
    signed_blinded = {pow(int.from_bytes(b, "big"), d, n) for b in blinded}
    assert not signed_blinded & {int.from_bytes(s, "big") for s in signatures}
