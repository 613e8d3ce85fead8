"""A whole election through the services against the real vote contract (in-process ledger)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import User

from ledger.core.tx import make_tx
from voting.cards import parse_card_payload
from voting.models import Election, OfficialAction, PollingStation, TokenBatch, VoterRollEntry
from voting.services.checkin import check_in_voter
from voting.services.elections import (
    close_election,
    open_election,
    publish_results,
    schedule_election,
    tally_election,
)
from voting.services.roll import import_roll
from voting.services.tokens import issue_tokens
from voting.selectors import get_results, get_turnout

from .factories import make_kiosk, roll_rows, to_csv
from .inprocess_ledger import InProcessTransport
from .pdf_text import extract_qr_payloads

pytestmark = pytest.mark.django_db


def test_full_election_counts_votes_per_candidate_and_station(
    official: User, election: Election, station: PollingStation, station2: PollingStation,
    transport: InProcessTransport, now: datetime,
) -> None:
    schedule_election(official, election, now)
    import_roll(official, election, file_name="roll.csv", data=to_csv(roll_rows(6, ["suwon-1", "yongin-1"])), now=now)
    make_kiosk(station, official)
    make_kiosk(station2, official)
    cards = {s.code: issue_tokens(official, election, s, now=now) for s in (station, station2)}
    open_election(official, election, now)
    voter = VoterRollEntry.objects.filter(election=election, station=station).first()
    assert voter is not None
    check_in_voter(official, election, station, voter.pk, now=now)

    payloads = extract_qr_payloads(cards["suwon-1"].pdf)
    assert len(payloads) == 3
    candidates = list(election.candidates.all())
    for text, candidate in zip(payloads, [candidates[0], candidates[0], candidates[1]]):
        _payload, key = parse_card_payload(text)
        tx = make_tx(key, chain=transport.get_chain_id(), contract="vote", type="transfer",
                     payload={"election": election.ledger_id, "to": candidate.ledger_address})
        assert transport.commit([tx], 5)[0].committed

    turnout = get_turnout(election, ledger_counts=transport.query("vote", "tally", {"election": election.ledger_id})["stations"])
    assert turnout["totals"] == {"voters": 6, "checked_in": 1, "mobile": 0, "votes": 3, "percent": 16.7}

    close_election(official, election, now, confirm_early=True)
    tally_election(official, election, now)
    publish_results(official, election, now)
    results = get_results(election)
    assert results is not None
    assert [c["votes"] for c in results["candidates"]] == [2, 1]
    assert results["stations"][0]["code"] == "suwon-1"
    assert results["stations"][0]["votes"] == {"c1": 2, "c2": 1}
    assert election.status == "published"
    actions = list(OfficialAction.objects.filter(election=election).values_list("action", flat=True))
    assert "tokens_issued" in actions and "election_publish" in actions
    batch = TokenBatch.objects.get(election=election, station=station)
    assert batch.addresses == sorted(batch.addresses)
