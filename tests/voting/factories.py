"""Builders for voting test data (plain functions, no factory library)."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta

from django.contrib.auth.models import Group, User
from django.utils import timezone

from voting.models import Election, Kiosk, PollingStation, Region
from voting.services.elections import CandidateDraft, ElectionDraft, create_election
from voting.services.stations import hash_kiosk_credential

HEADER = ("roll_number", "name", "birth_date", "station", "phone", "national_id")


def ensure_seed_data() -> None:
    """Re-run the data migration's seeding if a transactional test flushed the tables meanwhile."""
    import importlib

    from django.apps import apps

    if not Region.objects.filter(code="suwon").exists() or not Group.objects.filter(name="election_officials").exists():
        importlib.import_module("voting.migrations.0002_gyeonggi_regions_and_groups").seed(apps, None)


def make_station(code: str, region: Region, name: str = "") -> PollingStation:
    return PollingStation.objects.create(code=code, name=name or f"Station {code}", region=region)


def make_kiosk(station: PollingStation, user: User, label: str = "booth-1") -> Kiosk:
    return Kiosk.objects.create(
        station=station, label=label, credential_sha256=hash_kiosk_credential(f"{station.code}-{label}"),
        registered_by=user, registered_at=timezone.now(),
    )


def make_draft(region: Region, now: datetime, **overrides: object) -> ElectionDraft:
    values: dict[str, object] = {
        "title": "Gyeonggi governor 2026",
        "opens_at": now - timedelta(minutes=5),
        "closes_at": now + timedelta(hours=8),
        "region": region,
        "candidates": (CandidateDraft("Kim Minjun", "Party A"), CandidateDraft("Lee Seoyeon", "Party B")),
    }
    values.update(overrides)
    return ElectionDraft(**values)  # type: ignore[arg-type]


def make_election(user: User, region: Region, now: datetime, **overrides: object) -> Election:
    return create_election(user, make_draft(region, now, **overrides), now)


def roll_rows(count: int, stations: Sequence[str], start: int = 1) -> list[tuple[str, ...]]:
    """Valid roll rows: distinct roll numbers, IDs consistent with birth dates, phones."""
    rows = []
    for n in range(start, start + count):
        year, month, day = 1950 + n % 50, 1 + n % 12, 1 + n % 28
        national_id = f"{year % 100:02d}{month:02d}{day:02d}{1 + n % 2}{n % 1_000_000:06d}"
        rows.append((
            f"R{n:07d}", f"Voter {n}", f"{year}-{month:02d}-{day:02d}", stations[n % len(stations)],
            f"010-{n // 10000 % 10000:04d}-{n % 10000:04d}", national_id,
        ))
    return rows


def to_csv(rows: Iterable[Sequence[str]], header: Sequence[str] = HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    return buffer.getvalue().encode()
