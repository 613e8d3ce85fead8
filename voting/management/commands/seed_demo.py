"""Seed the demo election into the configured web database and ledger (idempotent; run by ``demo``)."""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from ledger.errors import LedgerServiceError
from voting.demo import seed_demo
from voting.errors import VotingError

SUMMARY_FILE = "summary.json"


class Command(BaseCommand):
    help = ("Create the demo users, stations and election, issue its tokens, open it and simulate a few voters, "
            "through the real services and the ledger nodes of LEDGER_NODE_URLS. Safe to run again.")

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", type=Path, required=True,
                            help="directory for the cards PDF, the kiosk credential and summary.json")

    def handle(self, *args: Any, **options: Any) -> None:
        out: Path = options["out"].resolve()
        out.mkdir(parents=True, exist_ok=True)
        try:
            summary = seed_demo(out, timezone.now, self._log)
        except KeyboardInterrupt:  # the services have undone their unfinished step
            self.stderr.write("seeding interrupted")
            sys.exit(130)
        except (VotingError, LedgerServiceError) as exc:
            raise CommandError(f"seeding the demo failed: {exc.code}: {exc.message} {exc.detail or ''} "
                               "(if this persists, start the demo over with --reset)") from exc
        except RuntimeError as exc:
            raise CommandError(f"seeding the demo failed: {exc}") from exc
        path = out / SUMMARY_FILE
        previous = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        data = asdict(summary)
        # Which cards the simulated voters used is known only to the run that issued them.
        if not data["used_cards"] and previous.get("election_id") == data["election_id"]:
            data["used_cards"] = previous.get("used_cards", "")
        path.write_text(json.dumps(data, ensure_ascii=False, indent=2) + "\n", encoding="utf-8")
        self._log(f"demo election {summary.election_id} ({summary.ledger_id}) is open"
                  + (f"; {summary.checked_in} check-ins and {summary.votes} votes simulated" if summary.votes else ""))

    def _log(self, message: str) -> None:
        self.stdout.write(f"[{time.strftime('%H:%M:%S')}] {message}")
        self.stdout.flush()
