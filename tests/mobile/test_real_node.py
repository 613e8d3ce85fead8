"""The mobile flow against a real one-node ledger network (NodeClient transport, consensus, HTTP)."""

from __future__ import annotations

from datetime import datetime

import pytest
from django.contrib.auth.models import User

from clients.evote_mobile import ClientError, build_ballot, build_tx
from voting.ledger_gateway import LedgerGateway
from voting.models import PollingStation, Region

from .harness import build_mobile_election, make_client, read_last_code

pytestmark = [pytest.mark.django_db, pytest.mark.network, pytest.mark.slow]


def test_a_phone_vote_is_final_on_a_real_node_and_replays_are_idempotent_or_refused(
    official: User, suwon: Region, station: PollingStation, node_gateway: LedgerGateway, now: datetime,
) -> None:
    mobile = build_mobile_election(official, suwon, station, now, voters=2)
    client = make_client()
    voter = mobile.voters[0]
    election = client.get_election(mobile.election.ledger_id)
    challenge = client.request_code(election["id"], voter.phone, voter.birth_date)
    credential = client.obtain_credential(election, client.verify_code(challenge, read_last_code(voter.phone)))
    minted = client.mint(credential)
    assert client.mint(credential)["tracking_code"] == minted["tracking_code"]  # resent after a lost answer
    vote_tx, vote_id = build_tx(credential.key, chain=election["chain"], tx_type="transfer",
                                payload={"election": election["id"], "to": build_ballot(election, ["c1"])})
    voted = client.submit("vote", vote_tx)
    again = client.submit("vote", vote_tx)  # the same signed bytes, as the phone resends them after a reload
    assert voted["tracking_code"] == again["tracking_code"] == vote_id and again["height"] == voted["height"]
    with pytest.raises(ClientError) as refused:
        client.vote(credential, ["c2"])
    assert refused.value.code == "token_already_spent"
    assert client.status(voted["tracking_code"])["status"] == "final"
    tally = node_gateway.get_tally(election["id"])
    assert tally["candidates"] == {"c1": 1, "c2": 0}
    assert tally["stations"]["mobile"] == {"registered": 2, "minted": 1, "checkins": 0, "spent": 1}
