"""Token issuance per station: the one download of the printed cards."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .. import lifecycle
from ..access import Capability
from ..errors import VotingError
from ..models import Election, PollingStation, TokenBatch
from ..selectors import get_roll_stations
from ..services.tokens import issue_tokens
from .common import base_context, election_view, get_now


@election_view(Capability.MANAGE)
def tokens(request: HttpRequest, election: Election) -> HttpResponse:
    batches = {b.station_id: b for b in TokenBatch.objects.filter(election=election)}
    stations = [(station, batches.get(station.pk)) for station in get_roll_stations(election)]
    issued = [batch for _, batch in stations if batch is not None and batch.state == TokenBatch.State.ISSUED]
    return render(request, "voting/tokens.html", base_context(
        request, election, stations=stations, can_issue=lifecycle.is_allowed(election.status, "issue_tokens"),
        total_voters=sum(station.voters for station, _ in stations), total_cards=sum(b.count for b in issued),
    ))


@require_POST
@election_view(Capability.MANAGE)
def issue(request: HttpRequest, election: Election, station_id: int) -> HttpResponse:
    station = get_object_or_404(PollingStation, pk=station_id)
    try:
        cards = issue_tokens(request.user, election, station, now=get_now())
    except VotingError as exc:
        messages.error(request, exc.message)
        return redirect("voting:tokens", election_id=election.pk)
    response = HttpResponse(cards.pdf, content_type="application/pdf")
    response["Content-Disposition"] = f'attachment; filename="{cards.file_name}"'
    response["Cache-Control"] = "no-store"
    # Lets the page (forms.js) notice the download finished and reload to show the issued batch.
    response.set_cookie("voting_download", str(station.pk), max_age=60, samesite="Strict")
    return response
