"""Election, check-in and token services: refusals with stable codes, idempotent repeats, nothing half-written."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User

from voting.errors import (
    AccessDenied,
    EarlyCloseNotConfirmed,
    ElectionWrongStatus,
    InvalidElection,
    LedgerUnavailable,
    NationalIdMismatch,
    NoVotersAtStation,
    ScheduleNotReached,
    SetupIncomplete,
    TokensAlreadyIssued,
    VoterAlreadyCheckedIn,
    VoterHasMobileCredential,
    WrongStation,
)
from voting.models import CheckIn, Election, OfficialAction, PollingStation, Region, TokenBatch, VoterRollEntry
from voting.services.checkin import check_in_voter
from voting.services.elections import (
    CandidateDraft,
    close_election,
    open_election,
    schedule_election,
    update_election,
)
from voting.services.roll import import_roll
from voting.services.tokens import issue_tokens

from voting.ledger_gateway import get_gateway

from .factories import make_draft, make_election, make_kiosk, roll_rows, to_csv
from .inprocess_ledger import InProcessTransport

pytestmark = pytest.mark.django_db


def ready_to_open(official: User, election: Election, station: PollingStation, now: datetime, voters: int = 3) -> None:
    schedule_election(official, election, now)
    import_roll(official, election, file_name="r.csv", data=to_csv(roll_rows(voters, [station.code])), now=now)
    make_kiosk(station, official)
    issue_tokens(official, election, station, now=now)


def test_create_election_requires_the_officials_group(outsider: User, suwon: Region, now: datetime) -> None:
    with pytest.raises(AccessDenied):
        make_election(outsider, suwon, now)


def test_invalid_draft_lists_every_field(official: User, suwon: Region, now: datetime) -> None:
    draft = make_draft(suwon, now, title=" ", closes_at=now - timedelta(days=1), candidates=())
    with pytest.raises(InvalidElection) as info:
        make_election(official, suwon, now, **{k: getattr(draft, k) for k in ("title", "closes_at", "candidates")})
    assert set(info.value.detail["errors"]) == {"title", "closes_at", "candidates"}
    assert not Election.objects.exists()


def test_yes_no_abstain_gets_its_three_options(official: User, suwon: Region, now: datetime) -> None:
    election = make_election(official, suwon, now, kind="yes_no_abstain", candidates=())
    assert election.candidates.count() == 3


def test_approval_election_is_scheduled_with_k_units_per_token_on_the_ledger(official: User, suwon: Region, now: datetime, transport: InProcessTransport) -> None:
    candidates = tuple(CandidateDraft(f"Candidate {i}", "") for i in range(4))
    election = make_election(official, suwon, now, kind="approval", max_choices=2, candidates=candidates)
    schedule_election(official, election, now)
    record = get_gateway().get_election(election.ledger_id)
    assert Election.objects.get(pk=election.pk).status == "scheduled"
    assert record is not None and record["choices"] == 2


def test_single_choice_election_is_scheduled_with_one_unit_per_token(official: User, election: Election, now: datetime, transport: InProcessTransport) -> None:
    schedule_election(official, election, now)
    record = get_gateway().get_election(election.ledger_id)
    assert record is not None and record["choices"] == 1


def test_scheduling_twice_is_a_no_op_and_freezes_the_draft(official: User, election: Election, suwon: Region, now: datetime, transport: InProcessTransport) -> None:
    schedule_election(official, election, now)
    schedule_election(official, election, now)
    assert OfficialAction.objects.filter(election=election, action="election_schedule").count() == 1
    with pytest.raises(ElectionWrongStatus):
        update_election(official, election, make_draft(suwon, now, title="changed"), now)


def test_ledger_outage_leaves_the_election_unchanged(official: User, election: Election, now: datetime, transport: InProcessTransport) -> None:
    transport.offline = True
    with pytest.raises(LedgerUnavailable):
        schedule_election(official, election, now)
    assert Election.objects.get(pk=election.pk).status == "draft"
    transport.offline = False
    assert schedule_election(official, election, now).status == "scheduled"


def test_open_is_blocked_until_the_checklist_is_complete(official: User, election: Election, station: PollingStation, now: datetime, transport: InProcessTransport) -> None:
    schedule_election(official, election, now)
    import_roll(official, election, file_name="r.csv", data=to_csv(roll_rows(2, ["suwon-1"])), now=now)
    with pytest.raises(SetupIncomplete) as info:
        open_election(official, election, now)
    assert info.value.detail["missing"] == ["tokens", "kiosks"]


def test_open_respects_the_schedule_and_repeats_are_no_ops(official: User, suwon: Region, station: PollingStation, now: datetime, transport: InProcessTransport) -> None:
    election = make_election(official, suwon, now, opens_at=now + timedelta(hours=1))
    ready_to_open(official, election, station, now)
    with pytest.raises(ScheduleNotReached):
        open_election(official, election, now)
    later = now + timedelta(hours=1, minutes=1)
    transport.clock_ms = int(later.timestamp() * 1000)
    open_election(official, election, later)
    open_election(official, election, later)
    assert OfficialAction.objects.filter(election=election, action="election_open").count() == 1


def test_early_close_needs_confirmation(official: User, election: Election, station: PollingStation, now: datetime, transport: InProcessTransport) -> None:
    ready_to_open(official, election, station, now)
    open_election(official, election, now)
    with pytest.raises(EarlyCloseNotConfirmed):
        close_election(official, election, now)
    close_election(official, election, now, confirm_early=True)
    close_election(official, election, now, confirm_early=True)
    assert Election.objects.get(pk=election.pk).status == "closed"


def test_tokens_are_issued_once_per_station_and_never_store_keys(official: User, election: Election, station: PollingStation, now: datetime, transport: InProcessTransport) -> None:
    ready_to_open(official, election, station, now)
    batch = TokenBatch.objects.get()
    assert batch.count == 3 and len(batch.addresses) == 3 and len(batch.mint_tx_ids) == 1
    with pytest.raises(TokensAlreadyIssued):
        issue_tokens(official, election, station, now=now)
    assert transport.query("vote", "tally", {"election": election.ledger_id})["stations"]["suwon-1"]["minted"] == 3
    stored = repr(list(TokenBatch.objects.values())) + repr(list(OfficialAction.objects.values()))
    assert "EV1~" not in stored


def test_failed_mint_leaves_no_batch_so_it_can_be_retried(official: User, election: Election, station: PollingStation, now: datetime, transport: InProcessTransport) -> None:
    schedule_election(official, election, now)
    import_roll(official, election, file_name="r.csv", data=to_csv(roll_rows(2, ["suwon-1"])), now=now)
    transport.offline = True
    with pytest.raises(LedgerUnavailable):
        issue_tokens(official, election, station, now=now)
    assert not TokenBatch.objects.exists()
    transport.offline = False
    assert issue_tokens(official, election, station, now=now).batch.count == 2


def test_no_tokens_for_a_station_without_voters(official: User, election: Election, station2: PollingStation, now: datetime, transport: InProcessTransport) -> None:
    schedule_election(official, election, now)
    with pytest.raises(NoVotersAtStation):
        issue_tokens(official, election, station2, now=now)


@pytest.fixture
def opened(official: User, election: Election, station: PollingStation, now: datetime, transport: InProcessTransport) -> Election:
    ready_to_open(official, election, station, now)
    return open_election(official, election, now)


def test_check_in_records_an_anonymous_id_on_the_ledger(official: User, opened: Election, station: PollingStation, now: datetime, transport: InProcessTransport) -> None:
    entry = VoterRollEntry.objects.filter(election=opened).first()
    assert entry is not None
    checkin = check_in_voter(official, opened, station, entry.pk, now=now)
    assert checkin.ledger_state == "committed" and len(checkin.ledger_checkin_id) == 64
    tx = [t for t in transport.committed if t.type == "checkin"][0]
    assert tx.payload == {"election": opened.ledger_id, "station": "suwon-1", "checkin": checkin.ledger_checkin_id}
    assert entry.roll_number not in repr(tx.to_dict()) and entry.name not in repr(tx.to_dict())
    assert not {f.name for f in CheckIn._meta.get_fields()} & {"token", "address", "token_batch"}


def test_second_check_in_is_refused(official: User, opened: Election, station: PollingStation, now: datetime) -> None:
    entry = VoterRollEntry.objects.filter(election=opened).first()
    assert entry is not None
    check_in_voter(official, opened, station, entry.pk, now=now)
    with pytest.raises(VoterAlreadyCheckedIn):
        check_in_voter(official, opened, station, entry.pk, now=now)
    assert CheckIn.objects.count() == 1


def test_voter_with_mobile_credential_is_refused(official: User, opened: Election, station: PollingStation, now: datetime) -> None:
    entry = VoterRollEntry.objects.filter(election=opened).first()
    assert entry is not None
    VoterRollEntry.objects.filter(pk=entry.pk).update(status="credential_issued")
    with pytest.raises(VoterHasMobileCredential):
        check_in_voter(official, opened, station, entry.pk, now=now)


def test_voter_of_another_station_is_refused(official: User, opened: Election, station2: PollingStation, now: datetime) -> None:
    entry = VoterRollEntry.objects.filter(election=opened).first()
    assert entry is not None
    with pytest.raises(WrongStation):
        check_in_voter(official, opened, station2, entry.pk, now=now)


def test_typed_id_number_must_match_the_roll(official: User, opened: Election, station: PollingStation, now: datetime) -> None:
    entry = VoterRollEntry.objects.get(election=opened, roll_number="R0000001")
    with pytest.raises(NationalIdMismatch):
        check_in_voter(official, opened, station, entry.pk, now=now, national_id="510202-2000009")
    assert VoterRollEntry.objects.get(pk=entry.pk).status == "eligible"
    check_in_voter(official, opened, station, entry.pk, now=now, national_id="510202-2000001")


def test_ledger_outage_undoes_the_check_in(official: User, opened: Election, station: PollingStation, now: datetime, transport: InProcessTransport) -> None:
    entry = VoterRollEntry.objects.filter(election=opened).first()
    assert entry is not None
    transport.offline = True
    with pytest.raises(LedgerUnavailable):
        check_in_voter(official, opened, station, entry.pk, now=now)
    assert VoterRollEntry.objects.get(pk=entry.pk).status == "eligible"
    assert not CheckIn.objects.exists()
    transport.offline = False
    check_in_voter(official, opened, station, entry.pk, now=now)


def test_check_in_before_opening_is_refused(official: User, election: Election, station: PollingStation, now: datetime, transport: InProcessTransport) -> None:
    ready_to_open(official, election, station, now)
    entry = VoterRollEntry.objects.filter(election=election).first()
    assert entry is not None
    with pytest.raises(ElectionWrongStatus):
        check_in_voter(official, election, station, entry.pk, now=now)


def test_check_in_queries_do_not_grow_with_the_roll(
    official: User, election: Election, station: PollingStation, now: datetime, transport: InProcessTransport,
    django_assert_max_num_queries: object,
) -> None:
    ready_to_open(official, election, station, now, voters=200)
    open_election(official, election, now)
    entry = VoterRollEntry.objects.filter(election=election).last()
    assert entry is not None
    # the check-in's own queries (12 before) + 4 constant ones for its signed audit record (the actor's role, locking the
    # log head, the insert, moving the head); none of them depends on the roll's size.
    with django_assert_max_num_queries(15):  # type: ignore[operator]
        check_in_voter(official, election, station, entry.pk, now=now)
