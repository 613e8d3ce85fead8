# ruff: noqa: F811  (pytest fixtures imported from tests.voting.conftest are requested by name)
"""A whole election through the real code paths, every logger at DEBUG into a file: no secret reaches the log.

Run: roll import (names, birth dates, phone numbers, national ids), scheduling (RSA credential
key), kiosk registration, token issuance (cards with private keys), opening, a poll worker's
check-in, a kiosk vote over the booth API, mobile votes (SMS code, blind-signed credential,
mint, vote, over the REST API), a wrong and a right staff password, closing, counting,
publishing, anchoring the officials' log. Then the log file is searched for every secret and
every personal datum the run created, and for every value that would tie a voter to a ballot
(token addresses, tracking codes). Any hit fails, naming what leaked.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import User
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from clients import evote_mobile
from clients.evote_mobile import MobileVotingClient, normalise_phone
from mobile_api import credential_keys, sms
from tests.kiosk.support import KioskClient, sign_vote
from tests.mobile.harness import DjangoTransport, read_last_code
from tests.voting.conftest import now, official, station, suwon, transport  # noqa: F401
from tests.voting.factories import make_election, roll_rows, to_csv
from tests.voting.inprocess_ledger import InProcessTransport
from tests.voting.pdf_text import extract_qr_payloads
from voting import audit_log
from voting.audit_log_anchor import anchor_head
from voting.cards import parse_card_payload
from voting.models import PollingStation, Region, VoterRollEntry
from voting.services.checkin import check_in_voter
from voting.services.elections import close_election, open_election, publish_results, schedule_election, tally_election
from voting.services.roll import import_roll
from voting.services.stations import register_kiosk
from voting.services.tokens import issue_tokens

pytestmark = pytest.mark.django_db
PASSWORD = "correct horse battery staple"  # the official fixture's password
WRONG_PASSWORD = "Tr0ub4dor&3-wrong-guess"
DUMP_LOG = Path(os.environ["NO_SECRETS_LOG_COPY"]) if os.environ.get("NO_SECRETS_LOG_COPY") else None  # to read it


@pytest.fixture
def log_file(tmp_path: Path) -> Iterator[Path]:
    """Every record of every logger, DEBUG and up, formatted with its arguments and tracebacks, into a file."""
    path = tmp_path / "all.log"
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s %(pathname)s: %(message)s"))
    root = logging.getLogger()
    saved = root.level, {name: logger.level for name, logger in logging.root.manager.loggerDict.items()
                         if isinstance(logger, logging.Logger)}
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    for name in saved[1]:
        logging.getLogger(name).setLevel(logging.NOTSET)  # every logger defers to the root: DEBUG
    logging.disable(logging.NOTSET)
    try:
        yield path
    finally:
        root.removeHandler(handler)
        handler.close()
        root.setLevel(saved[0])
        for name, level in saved[1].items():
            logging.getLogger(name).setLevel(level)


@pytest.fixture
def isolated(settings: Any, tmp_path: Path) -> None:
    settings.MOBILE = {
        **settings.MOBILE, "SMS_BACKEND": "mobile_api.sms.backends.locmem.SmsBackend",
        "OTP_HMAC_KEY": "test-otp-key-0123456789abcdef", "CREDENTIAL_KEY_DIR": tmp_path / "credential-keys",
        "CREDENTIAL_KEY_BITS": 2048, "PAGE_MINT_DELAY_MAX_S": 0,
        "THROTTLE_RATES": {name: "100000/hour" for name in settings.MOBILE["THROTTLE_RATES"]},
    }
    settings.VOTING = {**settings.VOTING, "AUDIT_LOG_KEY_FILE": tmp_path / "official-log.pem", "ISSUANCE_WORKERS": 1}
    cache.clear()
    sms.outbox.clear()


class KeyRecordingClient(MobileVotingClient):
    """The reference phone client, remembering its token keys so the test can search the log for them."""

    token_secrets: list[str]

    def obtain_credential(self, election: dict[str, Any], session: str) -> Any:
        credential = super().obtain_credential(election, session)
        secret = credential.key._key.private_numbers().private_value.to_bytes(32, "big").hex()
        self.token_secrets = [*getattr(self, "token_secrets", []), secret, session]
        return credential


def test_a_full_election_writes_no_secret_to_any_log(
    isolated: None, log_file: Path, official: User, suwon: Region, station: PollingStation,
    transport: InProcessTransport, now: datetime,
) -> None:
    secrets: dict[str, str] = {}

    def keep(kind: str, *values: str) -> None:
        for value in values:
            if value:
                secrets[value] = kind

    # --- the officials: roll, schedule, kiosk, cards, open -------------------------------------------
    election = make_election(official, suwon, now, mobile_voting=True)
    rows = roll_rows(4, [station.code])
    import_roll(official, election, file_name="roll.csv", data=to_csv(rows), now=now)
    for roll_number, name, birth, _station, phone, national_id in rows:
        keep("roll number", roll_number)
        keep("voter name", name)
        keep("birth date", birth, birth.replace("-", ""))
        keep("phone number", phone, phone.replace("-", ""), normalise_phone(phone))
        keep("national id", national_id)
    schedule_election(official, election, now)
    registration = register_kiosk(official, election, station, label="booth-1", now=now)
    keep("kiosk credential", registration.credential)
    cards = extract_qr_payloads(issue_tokens(official, election, station, now=now).pdf)
    for card in cards:
        key = parse_card_payload(card)[1]
        keep("token card", card, card.split("~")[3])
        keep("token private key", key.secret_bytes().hex())
    open_election(official, election, now)

    # --- a poll worker checks a voter in, who votes at the kiosk -------------------------------------
    entry = VoterRollEntry.objects.filter(election=election).order_by("pk").first()
    assert entry is not None
    check_in_voter(official, election, station, entry.pk, now=now)
    kiosk = KioskClient(registration.credential)
    kiosk.get("/kiosk/api/session")
    card = cards[0]
    kiosk.check(election.ledger_id, parse_card_payload(card)[1].address, transport.get_chain_id())
    raw, tracking_code = sign_vote(card, transport.get_chain_id(), election.ledger_id,
                                   election.candidates.first().ledger_address)
    assert kiosk.vote(raw).status_code == 200
    keep("kiosk voter's token address", parse_card_payload(card)[1].address)
    keep("kiosk vote tracking code", tracking_code)
    kiosk.get(f"/track/{tracking_code}/")

    # --- mobile voters: SMS code, anonymous credential, mint, vote -----------------------------------
    for index, (_roll, _name, birth, _station, phone, _nid) in enumerate(rows[1:3]):
        client = KeyRecordingClient(transport=DjangoTransport(f"198.51.100.{index + 10}"))
        candidate = election.candidates.order_by("position")[index].ledger_id
        receipt = client.vote_flow(election.ledger_id, phone, birth, [candidate], lambda p=phone: read_last_code(p))
        keep("mobile token address", receipt.address)
        keep("mobile tracking code", receipt.mint_tracking_code, receipt.vote_tracking_code)
        keep("mobile token key or session", *client.token_secrets)
    for message in sms.outbox:
        keep("one-time code", evote_mobile.extract_code(message.text))
    assert len(sms.outbox) == 2

    # --- staff sign-in: a wrong password, then the right one ------------------------------------------
    web = Client()
    web.post(reverse("voting:sign_in"), {"username": "official", "password": WRONG_PASSWORD})
    web.post(reverse("voting:sign_in"), {"username": "official", "password": PASSWORD})
    keep("staff password", WRONG_PASSWORD, PASSWORD)

    # --- close, count, publish, anchor ---------------------------------------------------------------
    close_election(official, election, now, confirm_early=True)
    tally_election(official, election, now)
    publish_results(official, election, now)
    anchor_head()

    # --- keys the servers hold ------------------------------------------------------------------------
    keep("audit-log private key", audit_log.get_signing_key().secret_bytes().hex())
    rsa_key = credential_keys.load_private_key(election.ledger_id)
    keep("credential RSA private exponent", format(rsa_key.private_numbers().d, "x"))

    text = log_file.read_text(encoding="utf-8")
    if DUMP_LOG:
        DUMP_LOG.write_text(text, encoding="utf-8")
    # The scan means something only if the run's own loggers reached the file (DEBUG included).
    for expected in ("INFO voting.services.tokens", "issued 4 tokens", "INFO voting.audit", " DEBUG "):
        assert expected in text, f"{expected!r} not logged: the scan would be vacuous"
    leaked = sorted({f"{kind}: {value[:12]}…" for value, kind in secrets.items() if value in text})
    assert not leaked, f"secrets or personal data in the log: {leaked}"
