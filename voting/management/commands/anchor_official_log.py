"""Publish the officials' audit log head on the ledger now (normally done every few records and on open/close/publish)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from voting.audit_log_anchor import anchor_head
from voting.errors import VotingError


class Command(BaseCommand):
    help = "Anchor the officials' audit log head (and the audit-log key fingerprint) on the ledger."

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            anchor = anchor_head()
        except VotingError as exc:
            raise CommandError(f"not anchored: {exc.message}") from exc
        if anchor is None:
            self.stdout.write("the officials' log is empty; nothing to anchor")
        else:
            self.stdout.write(f"head {anchor.log_seq} anchored as anchor {anchor.anchor_seq}")
