"""The officials' audit log against the ledger: publishing its head (``system.anchor``) and full verification.

Why anchor: a signed chain in our own database stops an official who can edit rows but not
read the key file; someone who holds both could rewrite the chain and re-sign it. Once a
head hash is on the replicated ledger, run by municipalities that do not trust each other,
a rewrite of any record up to that head no longer matches. The key's fingerprint goes on
the ledger too (label ``officials-log-key``), one anchor per key in the order the chain hands
over from one to the next, so a swapped key, or a hand-over the ledger never saw, is visible. Records
after the newest anchor are protected by the signature alone; anchors are published every
few records and on open, close and publish, which keeps that window short.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from django.db.models import F, Q
from django.utils import timezone

from ledger.core.tx import make_tx

from . import audit_log
from .errors import LedgerRejected, LedgerUnavailable
from .ledger_gateway import LedgerGateway, get_gateway
from .models import OfficialAction, OfficialLogAnchor, OfficialLogHead

logger = logging.getLogger("voting.audit")
SYSTEM_CONTRACT = "system"


# --- reading the log -------------------------------------------------------------------------


def get_head() -> tuple[int, str]:
    head = OfficialLogHead.objects.filter(pk=1).first()
    return (-1, "") if head is None else (head.seq, head.record_hash)


def iter_records(*, chunk: int = 2000) -> Iterator[audit_log.LogRecord]:
    """Every row, chained ones by seq, then any unsealed ones, with the columns the body must match."""
    rows = OfficialAction.objects.order_by(F("seq").asc(nulls_last=True), "id").values_list(
        "id", "seq", "prev_hash", "body", "record_hash", "signature", "action", "actor_id", "election_id",
        "detail", "created_at",
    )
    for row_id, seq, prev, body, digest, signature, action, actor_id, election_id, detail, at in rows.iterator(chunk):
        columns = {"action": action, "actor_id": actor_id, "election_id": election_id, "detail": detail,
                   "at": audit_log.format_time(at)}
        yield audit_log.LogRecord(seq, prev, body, digest, signature, columns, row_id)


def get_key_history(current: bytes, *, match_bodies: bool = False) -> list[tuple[bytes, int | None]]:
    """Every key of the log, oldest first, with the seq of the record that handed over to it (None: no record did).

    Derived from the signed bodies of the hand-over records: the first hand-over's outgoing
    key, then each incoming key, then the key file if no hand-over names it last. So
    ``verify_chain`` checks each hand-over where it stands, and that the chain ends on the key
    file. The action column only selects the rows; ``match_bodies`` also searches the bodies
    (a full scan, which verification pays anyway), so a hand-over whose column was changed is
    still followed and reported as ``column_mismatch`` at its own record.
    """
    selection = Q(action=audit_log.ROTATION_ACTION)
    if match_bodies:
        selection |= Q(body__contains=f'"action":"{audit_log.ROTATION_ACTION}"')
    rows = OfficialAction.objects.filter(selection, seq__isnull=False).order_by("seq").values_list("seq", "body")
    handovers = [(seq, keys) for seq, body in rows if (keys := audit_log.read_handover(body)) is not None]
    history: list[tuple[bytes, int | None]] = [(handovers[0][1][0], None)] if handovers else []
    history += [(new, seq) for seq, (_old, new) in handovers]
    if not history or history[-1][0] != current:
        history.append((current, None))
    return history


def get_chain_public_keys(current: bytes, *, match_bodies: bool = False) -> list[bytes]:
    return [key for key, _seq in get_key_history(current, match_bodies=match_bodies)]


# --- the ledger --------------------------------------------------------------------------------


def _query_anchor(gateway: LedgerGateway, label: str, seq: int | None = None) -> dict[str, Any] | None:
    args: dict[str, Any] = {"label": label} if seq is None else {"label": label, "seq": seq}
    result = gateway.transport.query(SYSTEM_CONTRACT, "anchor", args)
    return dict(result) if isinstance(result, dict) else None


def get_ledger_anchors(gateway: LedgerGateway, label: str = audit_log.LOG_LABEL) -> list[tuple[int, str]]:
    """Every anchor of ``label`` on the ledger, oldest first, as (anchor seq, hash)."""
    latest = _query_anchor(gateway, label)
    if latest is None:
        return []
    anchors = []
    for seq in range(int(latest["seq"]) + 1):
        item = _query_anchor(gateway, label, seq)
        if item is None:
            raise LedgerRejected(detail={"reason": "anchor_missing", "label": label, "seq": seq})
        anchors.append((seq, str(item["hash"])))
    return anchors


def _submit_anchor(gateway: LedgerGateway, label: str, digest: str) -> tuple[int, str]:
    """Append ``digest`` under ``label`` unless it is already the latest; one retry if another server raced us."""
    for _attempt in range(2):
        latest = _query_anchor(gateway, label)
        if latest is not None and latest.get("hash") == digest:
            return int(latest["seq"]), ""
        seq = 0 if latest is None else int(latest["seq"]) + 1
        tx = make_tx(gateway.authority_key, chain=gateway.chain_id, contract=SYSTEM_CONTRACT, type="anchor",
                     payload={"label": label, "seq": seq, "hash": digest})
        (outcome,) = gateway.transport.commit([tx], gateway.timeout_s)
        if outcome.committed or outcome.code == "tx_replayed":
            return seq, outcome.tx_id
        if outcome.code != "anchor_seq_invalid":
            break
    raise LedgerRejected(detail={"reason": outcome.code, "message": outcome.message, "label": label})


def _submit_key_anchors(gateway: LedgerGateway, fingerprints: list[str]) -> None:
    """Publish every key fingerprint the ledger lacks, in the chain's order (after a rotation, or a missed one).

    The usual case costs one query (the newest key anchor is the current key). Refuses when
    the ledger's key anchors are not a prefix of the chain's keys: publishing on would hide
    a swapped key behind a fresh anchor.
    """
    latest = _query_anchor(gateway, audit_log.KEY_LABEL)
    if latest is not None and latest.get("hash") == fingerprints[-1] and int(latest["seq"]) == len(fingerprints) - 1:
        return
    anchored = [digest for _seq, digest in get_ledger_anchors(gateway, audit_log.KEY_LABEL)]
    if anchored != fingerprints[:len(anchored)]:
        raise LedgerRejected(detail={"reason": "key_anchors_diverge", "label": audit_log.KEY_LABEL})
    for digest in fingerprints[len(anchored):]:
        _submit_anchor(gateway, audit_log.KEY_LABEL, digest)


def anchor_head(*, gateway: LedgerGateway | None = None, now: datetime | None = None) -> OfficialLogAnchor | None:
    """Publish the key fingerprints not yet anchored, then the current head, on the ledger; None when the log is empty.

    This is also the retry path: a rotation or head whose anchoring failed is published by
    the next call (every ``ANCHOR_EVERY`` records, on open/close/publish, ``anchor_official_log``).
    """
    seq, digest = get_head()
    if seq < 0:
        return None
    gateway = gateway or get_gateway()
    public_key = audit_log.get_signing_key().public_key
    _submit_key_anchors(gateway, [audit_log.compute_key_fingerprint(key) for key in get_chain_public_keys(public_key)])
    anchor_seq, tx_id = _submit_anchor(gateway, audit_log.LOG_LABEL, digest)
    anchor, _created = OfficialLogAnchor.objects.get_or_create(
        label=audit_log.LOG_LABEL, anchor_seq=anchor_seq,
        defaults={"log_seq": seq, "record_hash": digest, "tx_id": tx_id, "created_at": now or timezone.now()},
    )
    logger.info("officials' log head %s anchored on the ledger as anchor %s", seq, anchor_seq)
    return anchor


# --- verification --------------------------------------------------------------------------------


def verify_official_log(*, gateway: LedgerGateway | None = None, check_ledger: bool = True,
                        latest_anchor_only: bool = False) -> audit_log.Verification:
    """Chain, hashes, signatures, key hand-overs, columns and head; then the ledger's key fingerprints and anchors.

    ``latest_anchor_only`` checks just the newest anchor of each label (two ledger queries;
    the observer page uses it), the management command checks every one.
    """
    public_key = audit_log.get_signing_key(create=False).public_key if audit_log.get_key_path().exists() else b""
    if not public_key:
        result = audit_log.Verification()
        if OfficialAction.objects.exists():
            result.fail("key_missing", f"the audit-log key file {audit_log.get_key_path()} is missing", 0)
        return result
    keys = get_chain_public_keys(public_key, match_bodies=True)
    result = audit_log.verify_chain(iter_records(), keys, head=get_head())
    if not check_ledger or not result.ok:
        result.anchors_note = "ledger not consulted" if not check_ledger else result.anchors_note
        return result
    try:
        gateway = gateway or get_gateway()
        if latest_anchor_only:
            key_anchors, anchors = (_get_latest_anchor(gateway, label) for label in (audit_log.KEY_LABEL,
                                                                                    audit_log.LOG_LABEL))
        else:
            key_anchors, anchors = get_ledger_anchors(gateway, audit_log.KEY_LABEL), get_ledger_anchors(gateway)
    except (LedgerUnavailable, LedgerRejected) as exc:
        result.anchors_note = f"ledger anchors not checked: {exc.message}"
        return result
    if result.records and not key_anchors and anchors:
        return result.fail("key_mismatch", "the ledger holds log anchors but no audit-log key fingerprint", 0)
    if result.records:
        audit_log.check_key_anchors(result, key_anchors)
    audit_log.check_anchors(result, anchors)
    if result.ok and not anchors:
        result.note("no anchor on the ledger yet")
    return result


def _get_latest_anchor(gateway: LedgerGateway, label: str) -> list[tuple[int, str]]:
    latest = _query_anchor(gateway, label)
    return [] if latest is None else [(int(latest["seq"]), str(latest["hash"]))]
