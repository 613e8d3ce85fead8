"""Open and close community polls on schedule: once, or every N seconds until stopped."""

from __future__ import annotations

import time
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from communities.errors import CommunityError
from communities.services.polls import advance_schedules
from voting.errors import VotingError


class Command(BaseCommand):
    help = ("Open every published poll whose opening time has come and close every open poll past its closing "
            "time (the ledger refuses late ballots on its own either way).")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--every", type=float, default=0.0,
                            help="repeat every this many seconds until interrupted (default: run once)")

    def handle(self, *args: Any, **options: Any) -> None:
        while True:
            try:
                for ledger_id, action in advance_schedules(timezone.now()):
                    self.stdout.write(f"{action} {ledger_id}")
            except (CommunityError, VotingError) as exc:  # e.g. no ledger node answered: try again next round
                self.stderr.write(f"{exc.code}: {exc.message}")
                if not options["every"]:
                    raise SystemExit(1) from exc
            if not options["every"]:
                return
            time.sleep(options["every"])
