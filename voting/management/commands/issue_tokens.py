"""Issue the token cards of one or every station of an election into PDF files (the only copy of the keys)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from voting.cards import get_pool_context
from voting.config import get_voting_settings
from voting.errors import VotingError
from voting.models import Election, PollingStation
from voting.selectors import get_roll_stations
from voting.services.tokens import issue_tokens

from ..progress import ProgressBar


class Command(BaseCommand):
    help = "Generate, mint and write the printable token cards (PDF, mode 0600) per polling station."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("election", type=int, help="election id")
        parser.add_argument("--out", type=Path, required=True, help="directory for the PDF files")
        parser.add_argument("--station", action="append", default=[], help="station code (repeatable); default all")
        parser.add_argument("--user", required=True, help="user name recorded as the issuing official")

    def handle(self, *args: Any, **options: Any) -> None:
        election = Election.objects.filter(pk=options["election"]).first()
        user = get_user_model().objects.filter(username=options["user"]).first()
        if election is None or user is None:
            raise CommandError("unknown election or user")
        stations = list(get_roll_stations(election))
        if options["station"]:
            stations = [s for s in stations if s.code in set(options["station"])]
        out: Path = options["out"]
        out.mkdir(parents=True, exist_ok=True)
        total = sum(s.eligible for s in stations)
        issued = 0
        bar = ProgressBar(self.stderr._out)
        with get_pool_context().Pool(get_voting_settings().issuance_workers) as pool:
            for station in stations:
                issued = self._issue(user, election, station, out, pool, bar, issued, total)
        bar.finish()
        self.stdout.write(self.style.SUCCESS(f"issued {issued} cards into {out}"))

    def _issue(self, user: Any, election: Election, station: PollingStation, out: Path, pool: Any,
               bar: ProgressBar, issued: int, total: int) -> int:
        try:
            cards = issue_tokens(user, election, station, now=timezone.now(), pool=pool,
                                 on_card=lambda n: bar("cards", issued + n, total) if n % 100 == 0 else None)
        except VotingError as exc:
            self.stderr.write(f"\n{station.code}: {exc.message}")
            return issued
        path = out / cards.file_name
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(cards.pdf)
        bar("cards", issued + cards.batch.count, total)
        return issued + cards.batch.count
