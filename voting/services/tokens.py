"""Issuing vote tokens for a polling station: keys, ledger mint, and the one download of the printed cards.

One call does everything for a station and returns the PDF: fresh key pairs (one per
eligible voter) are generated in worker processes, the station is registered and every
address minted on the ledger (batches of at most 1000), and only then is the batch
recorded as issued. The PDF holds the only copy of the private keys; the database keeps
addresses, sorted so their order says nothing about the order of the printed cards. A
second request for the same station is refused (single-use download), and a concurrent
one is refused while the first is running.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from multiprocessing.pool import Pool

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from .. import lifecycle
from ..cards import SheetText, iter_card_faces, render_card_sheet
from ..config import get_voting_settings
from ..errors import NoVotersAtStation, TokenIssuanceInProgress, TokensAlreadyIssued
from ..ledger_gateway import get_gateway
from ..models import Election, PollingStation, TokenBatch, VoterRollEntry
from .audit import record_action

logger = logging.getLogger(__name__)
# A batch still "generating" after this long belongs to a crashed request and may be retaken.
STALE_GENERATION = timedelta(minutes=30)


@dataclass(frozen=True)
class IssuedCards:
    batch: TokenBatch
    pdf: bytes
    file_name: str


def get_sheet_text(election: Election, station: PollingStation) -> SheetText:
    return SheetText(
        election_title=election.title,
        station_name=f"{station.name} ({station.code})",
        heading=_("Vote token"),
        instructions=(
            _("Scan the QR code at the kiosk in the booth."),
            _("Valid for one vote in this election only."),
            _("Keep the card hidden; whoever holds it can vote."),
        ),
        check_label=_("Check code"),
        footer=_("%(title)s - %(station)s - page %%(page)d") % {"title": election.title, "station": station.code},
    )


def _claim_batch(actor: AbstractBaseUser, election: Election, station: PollingStation, now: datetime) -> TokenBatch:
    """Create the station's batch row as the lock; refuse if it was issued or is being generated."""
    try:
        with transaction.atomic():
            return TokenBatch.objects.create(election=election, station=station, started_by=actor, started_at=now)
    except IntegrityError:
        existing = TokenBatch.objects.get(election=election, station=station)
    if existing.state == TokenBatch.State.ISSUED:
        raise TokensAlreadyIssued(detail={"station": station.code, "downloaded_at": str(existing.downloaded_at)})
    if now - existing.started_at < STALE_GENERATION:
        raise TokenIssuanceInProgress(detail={"station": station.code})
    retaken = TokenBatch.objects.filter(pk=existing.pk, started_at=existing.started_at).update(
        started_by=actor, started_at=now
    )
    if not retaken:
        raise TokenIssuanceInProgress(detail={"station": station.code})
    existing.refresh_from_db()
    return existing


def issue_tokens(
    actor: AbstractBaseUser, election: Election, station: PollingStation, *, now: datetime,
    pool: Pool | None = None, on_card: Callable[[int], None] | None = None,
) -> IssuedCards:
    """Generate, mint and render the cards of ``station``; the returned PDF is the only copy of the keys."""
    lifecycle.validate_activity(election.status, "issue_tokens")
    count = VoterRollEntry.objects.filter(
        election=election, station=station, status=VoterRollEntry.Status.ELIGIBLE
    ).count()
    if count == 0:
        raise NoVotersAtStation(detail={"station": station.code})
    batch = _claim_batch(actor, election, station, now)
    try:
        gateway = get_gateway()
        faces = iter_card_faces(
            gateway.chain_id, election.ledger_id, count, pool=pool, workers=get_voting_settings().issuance_workers
        )
        pdf, addresses = render_card_sheet(faces, get_sheet_text(election, station), on_card=on_card)
        counters = (gateway.get_tally(election.ledger_id).get("stations") or {}).get(station.code) or {}
        # After a crash between mint and save, earlier (undelivered) mints still count against the limit.
        gateway.register_station(
            election=election.ledger_id, station=station.code, voters=int(counters.get("minted", 0)) + count
        )
        tx_ids = gateway.mint(election=election.ledger_id, station=station.code, addresses=addresses)
    except BaseException:
        TokenBatch.objects.filter(pk=batch.pk, state=TokenBatch.State.GENERATING).delete()
        raise
    with transaction.atomic():
        TokenBatch.objects.filter(pk=batch.pk).update(
            state=TokenBatch.State.ISSUED, count=count, addresses=sorted(addresses), mint_tx_ids=tx_ids,
            downloaded_at=now,
        )
        record_action(
            actor, "tokens_issued", now, election=election, station=station.code, count=count, mint_txs=tx_ids
        )
    batch.refresh_from_db()
    file_name = f"tokens-{election.ledger_id}-{station.code}.pdf"
    logger.info("issued %d tokens for %s/%s", count, election.ledger_id, station.code)
    return IssuedCards(batch, pdf, file_name)
