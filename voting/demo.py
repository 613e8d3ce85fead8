"""The demo election, seeded through the real services (``manage.py seed_demo``, run by ``manage.py demo``).

Everything is synthetic: the voters are "데모유권자 001" and so on, with made-up birth dates
and 010-0000-xxxx phone numbers. Each step checks what already exists, so running it again
changes nothing. The token cards of one station are written to ``cards-<station>.pdf``, the
only copy of those keys (demo only: whoever holds the file can vote with every card). The
cards of the other stations are decoded from their PDFs in memory only, where simulated
voters use a few of them; they are gone when the process exits. Passwords are fixed and
printed on purpose: the demo listens on 127.0.0.1 only.
"""

from __future__ import annotations

import csv
import io
import os
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.core.management import call_command
from django.utils import translation

from ledger.client import NodeClient
from ledger.core.crypto import PrivateKey
from ledger.core.tx import make_tx

from .access import OFFICIALS_GROUP, access_station_for_check_in
from .cards import get_pool_context, parse_card_payload
from .config import get_voting_settings
from .ledger_gateway import get_gateway
from .models import Election, ElectionRole, Kiosk, PollingStation, Region, TokenBatch, VoterRollEntry
from .services.checkin import check_in_voter
from .services.elections import ElectionDraft, create_election, open_election, schedule_election
from .services.roll import import_roll
from .services.stations import create_station, grant_role, register_kiosk
from .services.tokens import issue_tokens

Log = Callable[[str], None]
Clock = Callable[[], datetime]

ELECTION_TITLE = "2026 경기도 주민투표 (demo)"
ELECTION_DESCRIPTION = "데모용 가상 주민투표입니다. 유권자와 표는 모두 가상 데이터입니다. (Demo referendum: synthetic data.)"
PROVINCE = "gyeonggi"
VOTERS = 200
CARDS_STATION = "suwon-1"  # its cards PDF is written out; the poll worker works here
KIOSK_LABEL = "booth-1"
VOTE_TIMEOUT_S = 30.0
CARDS_PER_PAGE = 10


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


OFFICIAL = DemoLogin("official", "demo-official-2026", "election official (creates and runs elections)")
POLL_WORKER = DemoLogin("pollworker", "demo-pollworker-2026", f"poll worker, checks voters in at {CARDS_STATION}")
OBSERVER = DemoLogin("observer", "demo-observer-2026", "observer (turnout and results)")
LOGINS = (OFFICIAL, POLL_WORKER, OBSERVER)


@dataclass(frozen=True)
class DemoStation:
    code: str
    name: str
    region: str
    address: str
    checkins: int  # voters the demo checks in
    votes: int  # of whom this many cast their vote (at most one page of cards)


STATIONS = (
    DemoStation("suwon-1", "행궁동 행정복지센터", "suwon", "경기도 수원시 팔달구", 9, 6),
    DemoStation("seongnam-1", "정자1동 행정복지센터", "seongnam", "경기도 성남시 분당구", 7, 5),
    DemoStation("goyang-1", "백석1동 행정복지센터", "goyang", "경기도 고양시 일산동구", 6, 4),
    DemoStation("yongin-1", "풍덕천1동 행정복지센터", "yongin", "경기도 용인시 수지구", 8, 5),
)
# Simulated voters choose yes / no / abstain with these weights (fixed seed: the same demo each time).
CHOICE_WEIGHTS = (55, 35, 10)


@dataclass
class DemoSummary:
    election_id: int
    ledger_id: str
    title: str
    cards_pdf: str = ""
    kiosk_credential_file: str = ""
    used_cards: str = ""
    checked_in: int = 0
    votes: int = 0
    mobile_phone: str = ""  # a roll entry still free to vote by phone, for trying /m/
    mobile_birth_date: str = ""


# --- users, stations, election ------------------------------------------------------------------


def ensure_demo_users() -> dict[str, AbstractBaseUser]:
    """The three demo accounts, with their printed passwords (reset on every run)."""
    users = get_user_model()
    call_command("voting_official", OFFICIAL.username, password=OFFICIAL.password, stdout=io.StringIO())
    result = {OFFICIAL.username: users.objects.get(username=OFFICIAL.username)}
    for login in (POLL_WORKER, OBSERVER):
        user, _created = users.objects.get_or_create(username=login.username)
        user.set_password(login.password)
        user.save()
        result[login.username] = user
    # The official group comes from a data migration; make sure the demo official is in it.
    result[OFFICIAL.username].groups.add(Group.objects.get(name=OFFICIALS_GROUP))  # type: ignore[attr-defined]
    return result


def ensure_stations(official: AbstractBaseUser, now: datetime) -> list[PollingStation]:
    stations = []
    for spec in STATIONS:
        station = PollingStation.objects.filter(code=spec.code).first()
        if station is None:
            region = Region.objects.get(code=spec.region)
            station = create_station(official, code=spec.code, name=spec.name, region=region, address=spec.address,
                                     now=now)
        stations.append(station)
    return stations


def ensure_election(official: AbstractBaseUser, now: datetime) -> Election:
    election = Election.objects.filter(title=ELECTION_TITLE).order_by("pk").first()
    if election is not None:
        return election
    draft = ElectionDraft(
        title=ELECTION_TITLE, description=ELECTION_DESCRIPTION, kind=Election.Kind.YES_NO_ABSTAIN,
        opens_at=now - timedelta(minutes=5), closes_at=now + timedelta(days=30),
        region=Region.objects.get(code=PROVINCE), mobile_voting=True,
    )
    return create_election(official, draft, now)


def build_roll_csv(stations: list[PollingStation]) -> bytes:
    """A synthetic roll of VOTERS voters spread evenly over ``stations`` (clearly fake names and phones)."""
    rng = random.Random(2026)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["roll_number", "name", "birth_date", "station", "phone"])
    for number in range(1, VOTERS + 1):
        birth = date(1940, 1, 1) + timedelta(days=rng.randrange(365 * 66))
        station = stations[(number - 1) % len(stations)]
        writer.writerow([f"DEMO-{number:04d}", f"데모유권자 {number:03d}", birth.isoformat(), station.code,
                         f"010-0000-{number:04d}"])
    return out.getvalue().encode("utf-8")


# --- tokens and simulated voters ------------------------------------------------------------------


def read_card_keys(pdf: bytes, page: int) -> list[PrivateKey]:
    """Decode the QR codes of one page of a cards PDF, as a kiosk scanner would (keys stay in memory)."""
    try:
        import pypdfium2
        import zxingcpp
    except ImportError as exc:  # both are in requirements-dev.txt, which run.py installs
        raise RuntimeError(
            "simulating voters needs pypdfium2 and zxing-cpp (pip install -r requirements-dev.txt)") from exc
    document = pypdfium2.PdfDocument(pdf)
    try:
        image = document[page].render(scale=2.0).to_pil()
    finally:
        document.close()
    found = zxingcpp.read_barcodes(image, formats=zxingcpp.BarcodeFormat.QRCode)
    row_height = image.height / 5
    ordered = sorted(found, key=lambda r: (int(r.position.top_left.y // row_height), r.position.top_left.x))
    return [parse_card_payload(result.text)[1] for result in ordered]


def write_private_file(path: Path, data: bytes) -> None:
    """Create or replace ``path`` readable by its owner only (it holds keys or credentials)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as handle:
        handle.write(data)


def ensure_kiosks(official: AbstractBaseUser, election: Election, stations: list[PollingStation], now: datetime,
                  out_dir: Path, log: Log) -> None:
    """One booth per station; the credential of the cards station's booth is saved for trying the kiosk."""
    for station in stations:
        if Kiosk.objects.filter(station=station, revoked_at__isnull=True).exists():
            continue
        registration = register_kiosk(official, election, station, label=KIOSK_LABEL, now=now)
        if station.code == CARDS_STATION:
            path = out_dir / f"kiosk-{station.code}.txt"
            write_private_file(path, (registration.credential + "\n").encode())
            log(f"kiosk credential of {station.code} written to {path}")


def issue_missing_tokens(official: AbstractBaseUser, election: Election, stations: list[PollingStation],
                         clock: Clock, out_dir: Path, summary: DemoSummary, log: Log) -> dict[str, list[PrivateKey]]:
    """Issue the cards of every station without them; return the keys the simulated voters will use."""
    missing = [s for s in stations
               if not TokenBatch.objects.filter(election=election, station=s, state=TokenBatch.State.ISSUED).exists()]
    keys: dict[str, list[PrivateKey]] = {}
    if not missing:
        return keys
    with get_pool_context().Pool(min(get_voting_settings().issuance_workers, 4)) as pool:
        for station in missing:
            cards = issue_tokens(official, election, station, now=clock(), pool=pool)
            pages = (cards.batch.count + CARDS_PER_PAGE - 1) // CARDS_PER_PAGE
            if station.code == CARDS_STATION:
                path = out_dir / f"cards-{station.code}.pdf"
                write_private_file(path, cards.pdf)
                # The demo's voters use the last page, so the first pages are fresh for trying the kiosk.
                keys[station.code] = read_card_keys(cards.pdf, pages - 1)[::-1]
                used = next(spec.votes for spec in STATIONS if spec.code == CARDS_STATION)
                summary.used_cards = f"{used} cards on page {pages}"
                log(f"issued {cards.batch.count} tokens for {station.code}; their cards are in {path}")
            else:
                keys[station.code] = read_card_keys(cards.pdf, 0)
                log(f"issued {cards.batch.count} tokens for {station.code} (cards kept in memory only)")
    return keys


def check_in_voters(users: dict[str, AbstractBaseUser], election: Election, stations: list[PollingStation],
                    clock: Clock, log: Log) -> int:
    """Check in the planned number of voters per station (the poll worker at the cards station)."""
    done = 0
    for spec, station in zip(STATIONS, stations):
        actor = users[POLL_WORKER.username if spec.code == CARDS_STATION else OFFICIAL.username]
        access_station_for_check_in(actor, election, station.pk)
        entries = VoterRollEntry.objects.filter(election=election, station=station).order_by("roll_number")
        for entry in entries[: spec.checkins]:
            if entry.status == VoterRollEntry.Status.ELIGIBLE:
                check_in_voter(actor, election, station, entry.pk, now=clock())
                done += 1
        log(f"checked in {spec.checkins} voters at {station.code}")
    return done


def cast_votes(election: Election, keys: dict[str, list[PrivateKey]], log: Log) -> int:
    """Each simulated voter signs a transfer of its token's unit to a choice and submits it to a node."""
    rng = random.Random(election.ledger_id)
    candidates = list(election.candidates.all())
    chain = get_gateway().chain_id
    txs = []
    for spec in STATIONS:
        for key in keys.get(spec.code, [])[: spec.votes]:
            choice = rng.choices(candidates, weights=CHOICE_WEIGHTS[: len(candidates)])[0]
            txs.append(make_tx(key, chain=chain, contract="vote", type="transfer",
                               payload={"election": election.ledger_id, "to": choice.ledger_address}))
    if not txs:
        return 0
    statuses = NodeClient.from_settings().commit_many(txs, VOTE_TIMEOUT_S)
    failed = [s for s in statuses if s.status != "committed"]
    if failed:
        raise RuntimeError(f"{len(failed)} demo votes were not committed: {failed[0].status} {failed[0].code}")
    log(f"cast {len(txs)} votes")
    return len(txs)


# --- the whole seed -------------------------------------------------------------------------------


def seed_demo(out_dir: Path, clock: Clock, log: Log) -> DemoSummary:
    """Bring the demo to "voting open, some votes cast" from whatever state it is in."""
    with translation.override("ko"):
        users = ensure_demo_users()
        official = users[OFFICIAL.username]
        stations = ensure_stations(official, clock())
        election = ensure_election(official, clock())
        summary = DemoSummary(election.pk, election.ledger_id, election.title)
        if not VoterRollEntry.objects.filter(election=election).exists():
            import_roll(official, election, file_name="demo-roll.csv", data=build_roll_csv(stations), now=clock())
            log(f"imported a roll of {VOTERS} synthetic voters")
        schedule_election(official, election, clock())
        ensure_kiosks(official, election, stations, clock(), out_dir, log)
        keys = issue_missing_tokens(official, election, stations, clock, out_dir, summary, log)
        open_election(official, election, clock())
        for login, role, station in ((POLL_WORKER, ElectionRole.Role.POLL_WORKER, stations[0]),
                                     (OBSERVER, ElectionRole.Role.OBSERVER, None)):
            grant_role(official, election, username=login.username, role=role, station=station, now=clock())
        if keys:  # only the run that issued the cards holds keys to vote with
            summary.checked_in = check_in_voters(users, election, stations, clock, log)
            summary.votes = cast_votes(election, keys, log)
        cards = out_dir / f"cards-{CARDS_STATION}.pdf"
        summary.cards_pdf = str(cards) if cards.exists() else ""
        kiosk = out_dir / f"kiosk-{CARDS_STATION}.txt"
        summary.kiosk_credential_file = str(kiosk) if kiosk.exists() else ""
        free = (VoterRollEntry.objects.filter(election=election, status=VoterRollEntry.Status.ELIGIBLE)
                .order_by("-roll_number").first())
        if free is not None:  # the synthetic phone number is derived from the roll number (build_roll_csv)
            summary.mobile_phone = f"010-0000-{free.roll_number.removeprefix('DEMO-')}"
            summary.mobile_birth_date = free.birth_date.isoformat()
    return summary
