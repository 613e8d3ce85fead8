"""The poll worker's screen: choose the station, look a voter up, confirm the ID, check in."""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _

from ..access import Capability, access_station_for_check_in, list_check_in_stations
from ..errors import VoterNotFound, VotingError
from ..forms import CheckInForm, LookupForm
from ..models import Election, VoterRollEntry
from ..selectors import find_voters
from ..services.checkin import check_in_voter
from .common import posted, add_service_errors, base_context, election_view, get_now


@election_view(Capability.CHECK_IN)
def choose_station(request: HttpRequest, election: Election) -> HttpResponse:
    stations = list(list_check_in_stations(request.user, election))
    if len(stations) == 1:
        return redirect("voting:check_in", election_id=election.pk, station_id=stations[0].pk)
    return render(request, "voting/checkin_stations.html", base_context(request, election, stations=stations))


@election_view(Capability.CHECK_IN)
def lookup(request: HttpRequest, election: Election, station_id: int) -> HttpResponse:
    station = access_station_for_check_in(request.user, election, station_id)
    form = LookupForm(request.GET or None)
    voters = None
    if form.is_bound and form.is_valid():
        voters = find_voters(election, **form.cleaned_data)
    return render(request, "voting/checkin_lookup.html", base_context(
        request, election, station=station, form=form, voters=voters,
    ))


@election_view(Capability.CHECK_IN)
def confirm(request: HttpRequest, election: Election, station_id: int, entry_id: int) -> HttpResponse:
    station = access_station_for_check_in(request.user, election, station_id)
    entry = VoterRollEntry.objects.filter(election=election, pk=entry_id).select_related("station").first()
    if entry is None:
        raise VoterNotFound(detail={"entry": entry_id})
    form = CheckInForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            check_in_voter(request.user, election, station, entry.pk, now=get_now(),
                           national_id=form.cleaned_data["national_id"])
        except VotingError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _(
                "%(name)s is checked in. Let the voter draw one card at random from the box."
            ) % {"name": entry.name})
            return redirect("voting:check_in", election_id=election.pk, station_id=station.pk)
    return render(request, "voting/checkin_confirm.html", base_context(
        request, election, station=station, entry=entry, form=form,
    ), status=400 if form.errors else 200)
