"""Anonymous polls (blind credential, enrol, cast) and reward-based weights, over the real poll contract."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from communities import ledger as poll_ledger
from communities.models import Poll, PollRegistration
from communities.poll_errors import (
    PollBlindedMessageInvalid,
    PollCredentialAlreadyIssued,
    PollNotEligible,
    PollTxRejected,
    PredictionInvalid,
)
from communities.services import polls as poll_services
from communities.services import weights
from communities.services.poll_voting import (
    cast_registered,
    issue_poll_credential,
    relay_anonymous,
)
from ledger.core.crypto import PrivateKey
from tests.voting.inprocess_ledger import InProcessTransport
from voting.ledger_gateway import get_gateway

from .poll_support import (
    build_world,
    cast_tx,
    enrol_tx,
    finish_credential,
    in_process_ledger,
    keys_of,
    open_poll,
    prepare_anonymous,
)


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def transport(settings: Any, tmp_path: Path) -> Iterator[InProcessTransport]:
    with in_process_ledger(settings, tmp_path) as transport:
        yield transport


# --- anonymous polls ---------------------------------------------------------------------------


def test_anonymous_vote_enrols_at_the_root_and_the_server_keeps_no_address(
    db: Any, transport: InProcessTransport, now: datetime, tmp_path: Path
) -> None:
    world = build_world()
    kim = world.add_member("kim", world.jangan)
    poll = open_poll(world, "ranked", now, anonymous=True)
    record = poll_ledger.get_poll(get_gateway(), poll.ledger_id)
    assert record is not None and record["credential_key"]
    key_file = tmp_path / "keys" / f"poll.{poll.ledger_id}.pem"
    assert key_file.stat().st_mode & 0o777 == 0o600

    voter = prepare_anonymous(poll)
    blind_sig = issue_poll_credential(kim, poll, voter.blinded_msg, now)
    assert issue_poll_credential(kim, poll, voter.blinded_msg, now) == blind_sig  # a retry: the same bytes
    credential = finish_credential(poll, voter, blind_sig)
    relay_anonymous(poll, enrol_tx(poll, voter, credential), "enrol", now)
    k = keys_of(poll)
    receipt = relay_anonymous(poll, cast_tx(voter.key, poll, [k["B"], k["A"]]), "cast", now)
    assert len(receipt.tx_id) == 64

    registration = PollRegistration.objects.get(poll=poll, member=kim)
    assert registration.address == "" and registration.blinded_sha256
    stored = {str(v) for v in PollRegistration.objects.values_list(*[f.name for f in PollRegistration._meta.fields])}
    assert not any(voter.key.address in value for value in stored)
    voter_record = poll_ledger.get_voter(get_gateway(), poll.ledger_id, voter.key.address)
    assert voter_record == {"status": "cast", "unit": f"c{world.root.pk}", "weight": 1}


def test_a_second_credential_for_the_same_member_is_refused(
    db: Any, transport: InProcessTransport, now: datetime
) -> None:
    world = build_world()
    kim = world.add_member("kim", world.suwon)
    poll = open_poll(world, "single", now, anonymous=True)
    issue_poll_credential(kim, poll, prepare_anonymous(poll).blinded_msg, now)
    with pytest.raises(PollCredentialAlreadyIssued):
        issue_poll_credential(kim, poll, prepare_anonymous(poll).blinded_msg, now)
    with pytest.raises(PollBlindedMessageInvalid):
        issue_poll_credential(kim, poll, b"\x00" * 3, now)
    outsider = world.add_member("outsider")
    with pytest.raises(PollNotEligible):
        issue_poll_credential(outsider, poll, prepare_anonymous(poll).blinded_msg, now)


def test_one_credential_enrols_one_address_only(db: Any, transport: InProcessTransport, now: datetime) -> None:
    world = build_world()
    kim = world.add_member("kim", world.suwon)
    poll = open_poll(world, "single", now, anonymous=True)
    voter = prepare_anonymous(poll)
    credential = finish_credential(poll, voter, issue_poll_credential(kim, poll, voter.blinded_msg, now))
    relay_anonymous(poll, enrol_tx(poll, voter, credential), "enrol", now)
    thief = prepare_anonymous(poll)  # a second key presenting the same credential
    with pytest.raises(PollTxRejected) as caught:
        relay_anonymous(poll, enrol_tx(poll, thief, credential), "enrol", now)
    assert caught.value.code in {"credential_invalid", "credential_already_used"}
    assert poll_ledger.get_poll(get_gateway(), poll.ledger_id)["counts"]["registered"] == 1  # type: ignore[index]


# --- prediction polls and weights ----------------------------------------------------------------


def test_resolved_forecasts_weigh_votes_and_anyone_can_recompute_the_weights(
    db: Any, transport: InProcessTransport, now: datetime
) -> None:
    world = build_world(weighted=True)
    for name in ("kim", "park", "lee", "choi", "jung"):
        world.add_member(name, world.suwon if name in ("kim", "lee") else world.seongnam)
    prediction = open_poll(world, "single", now, options=("Rain", "Sun"), prediction=True)
    p = keys_of(prediction)
    addresses = {}
    for name, guess in (("kim", "Rain"), ("park", "Rain"), ("lee", "Sun")):
        key = PrivateKey.generate()
        addresses[name] = key.address
        cast_registered(world.members[name], prediction, cast_tx(key, prediction, p[guess]), now)
    with pytest.raises(PredictionInvalid):  # only once closed
        poll_services.resolve_prediction(world.manager, prediction, p["Rain"], now)
    poll_services.close_poll(world.manager, prediction, now)
    with pytest.raises(PredictionInvalid):
        poll_services.resolve_prediction(world.manager, prediction, "o9", now)
    poll_services.resolve_prediction(world.manager, prediction, p["Rain"], now)
    with pytest.raises(PredictionInvalid):
        poll_services.resolve_prediction(world.manager, prediction, p["Sun"], now)
    outcome = poll_ledger.get_anchor(get_gateway(), f"poll-outcome:{prediction.ledger_id}")
    assert outcome is not None
    assert outcome["hash"] == weights.outcome_commitment(get_gateway().chain_id, prediction.ledger_id, p["Rain"])

    weighted = open_poll(world, "single", now, options=("X", "Y"), weighted=True)
    assert prediction.ledger_id in weighted.weight_rule
    w = keys_of(weighted)
    for name, choice in (("kim", "X"), ("park", "X"), ("lee", "Y"), ("choi", "Y"), ("jung", "Y")):
        cast_registered(world.members[name], weighted, cast_tx(PrivateKey.generate(), weighted, w[choice]), now)
    poll_services.close_poll(world.manager, weighted, now)
    result = poll_services.publish_results(world.manager, weighted, now).results["result"]
    # One head, one vote: Y 3 - 2. Weighted (kim and park forecast right, weight 2): X 4 - 3.
    assert result["totals"] == {w["X"]: 4, w["Y"]: 3} and result["winners"] == [w["X"]]

    record = poll_ledger.get_poll(get_gateway(), weighted.ledger_id)
    assert record is not None and record["weights"] == "registered" and record["weight_rule"] == weighted.weight_rule
    weighted.refresh_from_db()
    basis = poll_services.build_poll_weights_basis(weighted)
    anchored = poll_ledger.get_anchor(get_gateway(), f"poll-weights:{weighted.ledger_id}")
    assert anchored is not None and anchored["hash"] == weights.basis_sha256(basis) == weighted.weights_basis_sha256
    # The observer's recount: prediction ballots from the ledger's cast transactions only.
    ledger_ballots: dict[str, dict[str, Any]] = {}
    for tx in transport.iter_transactions("poll", "cast"):
        ledger_ballots.setdefault(tx.payload["poll"], {})[tx.sender] = tx.payload["ballot"]
    recomputed = weights.recompute_weights(basis, ledger_ballots)
    registered = {}
    for tx in transport.iter_transactions("poll", "register"):
        if tx.payload["poll"] == weighted.ledger_id:
            registered.update({v["address"]: v["weight"] for v in tx.payload["voters"]})
    assert recomputed == registered and sorted(registered.values()) == [1, 1, 1, 2, 2]
    from django.test import Client
    from django.urls import reverse

    served = Client().get(reverse("communities:poll_weights_basis", kwargs={"poll": weighted.ledger_id}))
    assert served.status_code == 200 and weights.basis_sha256(served.json()) == anchored["hash"]


def test_prediction_resolution_needs_a_manager(db: Any, transport: InProcessTransport, now: datetime) -> None:
    from django.contrib.auth.models import User

    from communities.poll_errors import PollManagerRequired

    world = build_world()
    poll = open_poll(world, "yna", now, options=(), prediction=True)
    poll_services.close_poll(world.manager, poll, now)
    with pytest.raises(PollManagerRequired):
        poll_services.resolve_prediction(User.objects.create_user("nobody"), poll, "yes", now)
    assert Poll.objects.get(pk=poll.pk).resolved_option == ""


@pytest.mark.parametrize(("correct", "weight"), [(0, 1), (1, 2), (8, 9), (9, 10), (50, 10)])
def test_weight_rule_is_one_plus_correct_forecasts_capped(correct: int, weight: int) -> None:
    assert weights.compute_weight(correct) == weight


def test_weight_rule_counts_only_matching_ballots_of_listed_polls() -> None:
    from hypothesis import given
    from hypothesis import strategies as st

    @given(st.dictionaries(st.sampled_from(["p1", "p2", "p3", "p4"]), st.sampled_from(["a", "b"])),
           st.dictionaries(st.sampled_from(["p1", "p2", "p3", "p5"]), st.sampled_from(["a", "b"])))
    def check(outcomes: dict[str, str], ballots: dict[str, str]) -> None:
        resolutions = [weights.Resolution(p, o) for p, o in sorted(outcomes.items())]
        expected = sum(1 for p, o in outcomes.items() if ballots.get(p) == o)
        assert weights.compute_correct_forecasts(resolutions, ballots) == expected
        assert 1 <= weights.compute_weight(expected) <= weights.WEIGHT_CAP

    check()


def test_weight_rule_text_fits_the_ledger_limit_with_the_most_polls_counted() -> None:
    counted = weights.select_counted_polls([weights.Resolution(f"poll-{i:016x}", "o1") for i in range(50)])
    assert len(counted) == weights.MAX_COUNTED_POLLS and counted[-1].poll == f"poll-{49:016x}"
    assert len(weights.build_weight_rule(counted)) <= 2000
