"""manage.py prune_mobile_records: delete expired one-time-code challenges and device sessions (run from cron)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandParser
from django.utils import timezone

from mobile_api.services.housekeeping import prune_expired


class Command(BaseCommand):
    help = "Delete expired SMS code challenges and device sessions (data minimisation)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--grace-minutes", type=int, default=10, help="keep rows this long after expiry")

    def handle(self, *args: Any, **options: Any) -> None:
        pruned = prune_expired(timezone.now(), grace=timedelta(minutes=options["grace_minutes"]))
        self.stdout.write(f"deleted {pruned.challenges} challenges and {pruned.sessions} sessions")
