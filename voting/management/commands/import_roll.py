"""Import a voter roll file (CSV or XLSX) into an election, with a progress bar and the full problem report."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from voting.errors import RollFileInvalid, VotingError
from voting.models import Election, RollImport
from voting.services.roll import import_roll

from ..progress import ProgressBar


class Command(BaseCommand):
    help = "Import a voter roll file; a file with any bad row imports nothing and lists every problem."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("election", type=int, help="election id")
        parser.add_argument("file", type=Path, help="CSV (UTF-8 or CP949) or XLSX file")
        parser.add_argument("--user", required=True, help="user name recorded as the official who imported")

    def handle(self, *args: Any, **options: Any) -> None:
        election = Election.objects.filter(pk=options["election"]).first()
        if election is None:
            raise CommandError(f"no election {options['election']}")
        user = get_user_model().objects.filter(username=options["user"]).first()
        if user is None:
            raise CommandError(f"no user {options['user']}")
        path: Path = options["file"]
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise CommandError(f"cannot read {path}: {exc.strerror}") from exc
        bar = ProgressBar(self.stderr._out)
        try:
            report = import_roll(user, election, file_name=path.name, data=data, now=timezone.now(), progress=bar)
        except RollFileInvalid as exc:
            bar.finish()
            saved = RollImport.objects.filter(pk=exc.detail.get("import_id")).first()
            for problem in (saved.errors if saved else exc.detail.get("errors", [])):
                self.stderr.write(f"line {problem['line']}, column {problem['column'] or '-'}: {problem['message']}")
            raise CommandError(exc.message) from exc
        except VotingError as exc:
            bar.finish()
            raise CommandError(exc.message) from exc
        bar.finish()
        self.stdout.write(self.style.SUCCESS(f"imported {report.imported} voters in {report.duration_ms} ms"))
