"""Polling stations (global), kiosks per station, and the election's team (roles)."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..access import Capability, can_create_elections
from ..errors import AccessDenied, VotingError
from ..forms import KioskForm, RoleForm, StationForm
from ..models import Election, ElectionRole, Kiosk, PollingStation
from ..selectors import get_roll_stations
from ..services.stations import create_station, grant_role, register_kiosk, revoke_kiosk
from .common import posted, add_service_errors, base_context, election_view, get_now, render_error


@login_required
def stations(request: HttpRequest) -> HttpResponse:
    if not can_create_elections(request.user):
        return render_error(request, AccessDenied(detail={"capability": "manage_stations"}))
    form = StationForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            station = create_station(request.user, now=get_now(), **form.cleaned_data)
        except VotingError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Station %(code)s added.") % {"code": station.code})
            return redirect("voting:stations")
    listing = PollingStation.objects.select_related("region").order_by("region_id", "code")
    return render(request, "voting/stations.html", {"form": form, "stations": listing},
                  status=400 if request.method == "POST" else 200)


@election_view(Capability.MANAGE)
def kiosks(request: HttpRequest, election: Election) -> HttpResponse:
    roll_stations = PollingStation.objects.filter(pk__in=get_roll_stations(election).values("pk"))
    form = KioskForm(posted(request), stations=roll_stations)
    credential = None
    if request.method == "POST" and form.is_valid():
        try:
            registration = register_kiosk(request.user, election, form.cleaned_data["station"],
                                          label=form.cleaned_data["label"], now=get_now())
        except VotingError as exc:
            add_service_errors(form, exc)
        else:
            credential = registration
            form = KioskForm(stations=roll_stations)
    listing = Kiosk.objects.filter(station__in=roll_stations).select_related("station")
    return render(request, "voting/kiosks.html", base_context(
        request, election, form=form, kiosks=listing, registration=credential, has_stations=roll_stations.exists(),
    ), status=400 if form.errors else 200)


@require_POST
@election_view(Capability.MANAGE)
def kiosk_revoke(request: HttpRequest, election: Election, kiosk_id: int) -> HttpResponse:
    kiosk = get_object_or_404(Kiosk, pk=kiosk_id)
    revoke_kiosk(request.user, election, kiosk, get_now())
    messages.success(request, _("Kiosk %(label)s revoked.") % {"label": kiosk.label})
    return redirect("voting:kiosks", election_id=election.pk)


@election_view(Capability.MANAGE)
def team(request: HttpRequest, election: Election) -> HttpResponse:
    form = RoleForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            grant_role(request.user, election, now=get_now(), **form.cleaned_data)
        except VotingError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("Role granted."))
            return redirect("voting:team", election_id=election.pk)
    roles = ElectionRole.objects.filter(election=election).select_related("user", "station").order_by("role")
    return render(request, "voting/team.html", base_context(request, election, form=form, roles=roles),
                  status=400 if form.errors else 200)
