"""The audit log as officials read it: translated action names and details as label: value pairs.

Records keep machine-readable details (ids, counts, transaction ids); this module only
presents them. Unknown actions and keys are shown as recorded, so nothing is ever hidden.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from django.contrib.auth import get_user_model
from django.utils.functional import Promise
from django.utils.translation import gettext, gettext_lazy as _

from ..models import ElectionRole, OfficialAction

ACTION_LABELS: dict[str, Promise] = {
    "election_created": _("Election created"),
    "election_updated": _("Election edited"),
    "election_schedule": _("Election scheduled on the ledger"),
    "election_open": _("Voting opened"),
    "election_close": _("Voting closed"),
    "election_tally": _("Votes counted"),
    "election_publish": _("Results published"),
    "roll_imported": _("Voter roll imported"),
    "roll_rejected": _("Voter roll rejected"),
    "roll_cleared": _("Voter roll removed"),
    "station_created": _("Polling station added"),
    "kiosk_registered": _("Kiosk registered"),
    "kiosk_revoked": _("Kiosk revoked"),
    "role_granted": _("Role granted"),
    "tokens_issued": _("Token cards issued"),
    "voter_checked_in": _("Voter checked in"),
    "staff_locked_out": _("Staff sign-in locked after failed attempts"),
    "staff_unlocked": _("Staff sign-in lock lifted"),
    "log_key_rotated": _("Audit-log key replaced"),
}

DETAIL_LABELS: dict[str, Promise] = {
    "title": _("Title"),
    "user": _("User"),
    "role": _("Role"),
    "station": _("Polling station"),
    "code": _("Code"),
    "region": _("Region"),
    "kiosk": _("Kiosk"),
    "count": _("Cards issued"),
    "rows": _("Rows"),
    "problems": _("Problems"),
    "votes": _("Votes cast"),
    "early": _("Before the scheduled time"),
    "file_sha256": _("File SHA-256"),
    "ledger_election": _("Ledger id"),
    "ledger_tx": _("Ledger transaction"),
    "mint_txs": _("Ledger transactions"),
    "failures": _("Failed sign-ins"),
    "lock_s": _("Locked for (seconds)"),
    "new_key_fingerprint": _("New key fingerprint"),
    "new_public_key": _("New public key"),
    "old_public_key": _("Previous public key"),
    "reason": _("Reason"),
}

# Values that are identifiers or digests: shown in monospace and never translated.
CODE_KEYS = frozenset({"station", "code", "file_sha256", "ledger_tx", "mint_txs", "ledger_election",
                       "new_key_fingerprint", "new_public_key", "old_public_key", "reason"})


@dataclass(frozen=True)
class DetailItem:
    key: str
    label: str
    values: list[str]
    is_code: bool = False


@dataclass
class AuditRow:
    action: OfficialAction
    label: str
    details: list[DetailItem] = field(default_factory=list)


def _format_value(key: str, value: Any, usernames: dict[int, str]) -> list[str]:
    if value is None:
        return [gettext("all polling stations") if key == "station" else "–"]
    if isinstance(value, bool):
        return [gettext("yes") if value else gettext("no")]
    if key == "user" and isinstance(value, int):
        return [usernames.get(value, f"#{value}")]
    if key == "role":
        try:
            return [str(ElectionRole.Role(value).label)]
        except ValueError:
            return [str(value)]
    if key == "kiosk" and isinstance(value, int):
        return [f"#{value}"]
    if isinstance(value, (list, tuple)):
        return [str(item) for item in value]
    if isinstance(value, dict):
        return [f"{k}: {v}" for k, v in value.items()]
    return [str(value)]


def describe_actions(actions: Iterable[OfficialAction]) -> list[AuditRow]:
    """One row per record, with the action's name and its details in a readable order."""
    actions = list(actions)
    user_ids = {a.detail.get("user") for a in actions if isinstance(a.detail, dict)}
    user_ids = {pk for pk in user_ids if isinstance(pk, int)}
    usernames: dict[int, str] = {}
    if user_ids:
        model = get_user_model()
        usernames = {user.pk: user.get_username() for user in model.objects.filter(pk__in=user_ids)}
    order = list(DETAIL_LABELS)
    rows = []
    for action in actions:
        detail = action.detail if isinstance(action.detail, dict) else {"detail": action.detail}
        keys = sorted(detail, key=lambda k: (order.index(k) if k in order else len(order), k))
        items = []
        for key in keys:
            values = _format_value(key, detail[key], usernames)
            label = str(DETAIL_LABELS.get(key, key))
            items.append(DetailItem(key, label, values, key in CODE_KEYS))
        rows.append(AuditRow(action, str(ACTION_LABELS.get(action.action, action.action)), items))
    return rows
