"""Key ceremony: hand the officials' audit log over to a new signing key and retire the old one.

The old key signs a ``log_key_rotated`` record naming the new public key and its
fingerprint; the new key (0600, beside the old one, never printed or stored in the database)
then replaces the old file, which is deleted; finally the new fingerprint and the head are
anchored on the ledger. Exit 0: done; 1: refused, nothing changed; 2: rotated, but the
ledger did not take the anchor yet (the next anchor publishes it).
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from voting.access import OFFICIALS_GROUP
from voting.audit_log import AuditLogKeyError
from voting.audit_log_anchor import anchor_head
from voting.errors import VotingError
from voting.services.audit import rotate_log_key

REASONS = ("scheduled", "staff_change", "suspected_compromise")


class Command(BaseCommand):
    help = "Rotate the officials' audit-log key: the old key signs a hand-over to a new key, then is deleted."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--by", required=True, metavar="USERNAME",
                            help="the superuser or election official running the ceremony (recorded as the actor)")
        parser.add_argument("--reason", choices=REASONS, default="scheduled", help="recorded in the hand-over record")

    def handle(self, *args: Any, **options: Any) -> None:
        actor = self._get_actor(options["by"])
        try:
            rotation = rotate_log_key(actor, timezone.now(), reason=options["reason"])
        except AuditLogKeyError as exc:
            raise CommandError(f"{exc.code}: {exc.message}") from exc
        self.stdout.write(f"record {rotation.record.seq}: the audit-log key {rotation.old_fingerprint[:16]}… handed "
                          f"over to {rotation.new_fingerprint} (the old private key is deleted)")
        try:
            anchor = anchor_head()
        except VotingError as exc:
            raise CommandError(
                f"{exc.code}: the new key fingerprint is not on the ledger yet ({exc.message}); the rotation stands, "
                "and the next anchor (manage.py anchor_official_log, or the log's own every 25 records) publishes it",
                returncode=2,
            ) from exc
        if anchor is not None:
            self.stdout.write(f"new key fingerprint and head {anchor.log_seq} anchored on the ledger")

    @staticmethod
    def _get_actor(username: str) -> Any:
        actor = get_user_model().objects.filter(username=username, is_active=True).first()
        if actor is None or not (actor.is_superuser or actor.groups.filter(name=OFFICIALS_GROUP).exists()):
            raise CommandError(f"actor_not_allowed: {username!r} is not an active superuser or election official")
        return actor
