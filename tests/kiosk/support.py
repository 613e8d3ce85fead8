"""Builders for the kiosk tests: a booth set up through the real services, a paired HTTP client, votes signed like the page signs them."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.contrib.auth.models import User
from django.test import Client

from ledger.core.tx import make_tx
from tests.voting.factories import roll_rows, to_csv
from tests.voting.pdf_text import extract_qr_payloads
from voting.cards import parse_card_payload
from voting.models import Candidate, Election, Kiosk, PollingStation
from voting.services.elections import open_election, schedule_election
from voting.services.roll import import_roll
from voting.services.stations import register_kiosk
from voting.services.tokens import issue_tokens

CSRF_RE = re.compile(r'data-csrf="([^"]+)"')


@dataclass
class Booth:
    election: Election
    kiosk: Kiosk
    credential: str
    cards: dict[str, list[str]]  # station code -> QR payloads (each holds a token private key)
    candidates: list[Candidate]
    pdfs: dict[str, bytes]  # station code -> the printed card sheet

    @property
    def station(self) -> str:
        return self.kiosk.station.code


def setup_booth(official: User, election: Election, stations: dict[PollingStation, int], now: datetime,
                *, kiosk_at: PollingStation | None = None, open_voting: bool = True) -> Booth:
    """Schedule, import a roll, register a kiosk, print the cards (real PDF, QR codes read back), open."""
    schedule_election(official, election, now)
    rows: list[tuple[str, ...]] = []
    for station, count in stations.items():
        rows += roll_rows(count, [station.code], start=len(rows) + 1)
    import_roll(official, election, file_name="roll.csv", data=to_csv(rows), now=now)
    kiosk_station = kiosk_at or next(iter(stations))
    registration = register_kiosk(official, election, kiosk_station, label="booth-1", now=now)
    for station in stations:
        if station != kiosk_station:
            register_kiosk(official, election, station, label="booth-1", now=now)
    pdfs = {station.code: issue_tokens(official, election, station, now=now).pdf for station in stations}
    cards = {code: extract_qr_payloads(pdf) for code, pdf in pdfs.items()}
    if open_voting:
        open_election(official, election, now)
    election.refresh_from_db()
    return Booth(election, registration.kiosk, registration.credential, cards, list(election.candidates.all()), pdfs)


def sign_vote(card: str, chain: str, election: str, to: str | list[str], *, nonce: int = 0) -> tuple[bytes, str]:
    """What the booth page sends: the transfer signed with the card's key (canonical bytes) and its id."""
    _payload, key = parse_card_payload(card)
    tx = make_tx(key, chain=chain, contract="vote", type="transfer", payload={"election": election, "to": to},
                 nonce=nonce)
    return tx.to_bytes(), tx.id_hex


def card_address(card: str) -> str:
    return parse_card_payload(card)[1].address


class KioskClient:
    """A browser paired with a kiosk: the credential cookie, and the CSRF token the page carries."""

    def __init__(self, credential: str | None) -> None:
        self.client = Client(enforce_csrf_checks=True)
        if credential is not None:
            self.client.cookies["evote_kiosk"] = credential
        page = self.client.get("/kiosk/")
        match = CSRF_RE.search(page.content.decode())
        self.csrf = match.group(1) if match else ""
        if not self.csrf:  # not paired: the pairing page still sets the CSRF cookie through its form
            token = self.client.cookies.get("csrftoken")
            self.csrf = token.value if token is not None else ""

    def get(self, path: str) -> Any:
        return self.client.get(path)

    def post_json(self, path: str, data: Any, *, csrf: bool = True) -> Any:
        import json

        headers = {"X-CSRFToken": self.csrf} if csrf else {}
        return self.client.post(path, data=json.dumps(data), content_type="application/json", headers=headers)

    def post_raw(self, path: str, raw: bytes, *, csrf: bool = True) -> Any:
        headers = {"X-CSRFToken": self.csrf} if csrf else {}
        return self.client.post(path, data=raw, content_type="application/json", headers=headers)

    def check(self, election: str, address: str, chain: str | None = None) -> Any:
        data: dict[str, Any] = {"election": election, "address": address}
        if chain is not None:
            data["chain"] = chain
        return self.post_json("/kiosk/api/token-check", data)

    def vote(self, raw: bytes) -> Any:
        return self.post_raw("/kiosk/api/votes", raw)
