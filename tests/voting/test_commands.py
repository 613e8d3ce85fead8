"""Management commands: roll import with progress and problem report, official accounts."""

from __future__ import annotations

from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import User
from django.core.management import CommandError, call_command

from voting.access import can_create_elections
from voting.models import Election, PollingStation, VoterRollEntry

from .factories import roll_rows, to_csv

pytestmark = pytest.mark.django_db


def test_import_roll_command_shows_progress_and_imports(official: User, election: Election, station: PollingStation, tmp_path: Path) -> None:
    path = tmp_path / "roll.csv"
    path.write_bytes(to_csv(roll_rows(7, ["suwon-1"])))
    out, err = StringIO(), StringIO()
    call_command("import_roll", str(election.pk), str(path), "--user", "official", stdout=out, stderr=err)
    assert "imported 7 voters" in out.getvalue()
    assert "validate" in err.getvalue() and "100.0%" in err.getvalue()
    assert VoterRollEntry.objects.count() == 7


def test_import_roll_command_lists_every_problem(official: User, election: Election, station: PollingStation, tmp_path: Path) -> None:
    path = tmp_path / "roll.csv"
    path.write_bytes(to_csv([("R1", "", "1980-01-01", "suwon-1", "", ""), ("R2", "Kim", "bad", "suwon-1", "", "")]))
    err = StringIO()
    with pytest.raises(CommandError):
        call_command("import_roll", str(election.pk), str(path), "--user", "official", stdout=StringIO(), stderr=err)
    assert "line 2, column name" in err.getvalue() and "line 3, column birth_date" in err.getvalue()
    assert not VoterRollEntry.objects.exists()


def test_voting_official_creates_an_official(db: object) -> None:
    call_command("voting_official", "kim", "--password", "a long enough pass phrase", stdout=StringIO())
    assert can_create_elections(User.objects.get(username="kim"))


def test_issue_tokens_command_writes_private_pdfs(official: User, election: Election, station: PollingStation,
                                                  tmp_path: Path, transport: object) -> None:
    from django.utils import timezone

    from voting.services.elections import schedule_election
    from voting.services.roll import import_roll

    schedule_election(official, election, timezone.now())
    import_roll(official, election, file_name="r.csv", data=to_csv(roll_rows(3, ["suwon-1"])), now=timezone.now())
    out = StringIO()
    call_command("issue_tokens", str(election.pk), "--out", str(tmp_path / "cards"), "--user", "official",
                 stdout=out, stderr=StringIO())
    (pdf,) = (tmp_path / "cards").iterdir()
    assert pdf.read_bytes().startswith(b"%PDF") and pdf.stat().st_mode & 0o777 == 0o600
    assert "issued 3 cards" in out.getvalue()
