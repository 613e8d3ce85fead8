"""Voter roll upload and the import report (every bad row, downloadable as CSV)."""

from __future__ import annotations

import csv

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from .. import lifecycle
from ..access import Capability
from ..errors import RollFileInvalid, VotingError
from ..forms import RollUploadForm
from ..models import Election, RollImport, VoterRollEntry
from ..selectors import get_roll_stations
from ..services.roll import clear_roll, import_roll
from .common import posted, uploaded, add_service_errors, base_context, election_view, get_now, spreadsheet_safe

REPORT_ROWS_SHOWN = 500


@election_view(Capability.MANAGE)
def roll(request: HttpRequest, election: Election) -> HttpResponse:
    form = RollUploadForm(posted(request), uploaded(request))
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            report = import_roll(request.user, election, file_name=upload.name, data=upload.read(), now=get_now())
        except RollFileInvalid as exc:
            if "import_id" in exc.detail:
                return redirect("voting:roll_report", election_id=election.pk, import_id=exc.detail["import_id"])
            add_service_errors(form, exc)
        except VotingError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, _("%(count)d voters imported.") % {"count": report.imported})
            return redirect("voting:roll_report", election_id=election.pk, import_id=report.pk)
    return render(request, "voting/roll.html", base_context(
        request, election, form=form, stations=get_roll_stations(election),
        total=VoterRollEntry.objects.filter(election=election).count(),
        imports=RollImport.objects.filter(election=election)[:20],
        can_import=lifecycle.is_allowed(election.status, "import_roll"),
    ), status=400 if request.method == "POST" else 200)


@election_view(Capability.MANAGE)
def roll_report(request: HttpRequest, election: Election, import_id: int) -> HttpResponse:
    report = get_object_or_404(RollImport, pk=import_id, election=election)
    return render(request, "voting/roll_report.html", base_context(
        request, election, report=report, problems=report.errors[:REPORT_ROWS_SHOWN],
        hidden=max(0, report.error_count - REPORT_ROWS_SHOWN),
    ))


@election_view(Capability.MANAGE)
def roll_report_csv(request: HttpRequest, election: Election, import_id: int) -> HttpResponse:
    report = get_object_or_404(RollImport, pk=import_id, election=election)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="roll-problems-{report.pk}.csv"'
    response.write("\ufeff")  # BOM: Excel opens UTF-8 Korean text correctly
    writer = csv.writer(response)
    writer.writerow(["line", "column", "code", "message"])
    for problem in report.errors:
        # The column is the header cell as uploaded: text from the file, so never a live formula.
        writer.writerow([problem["line"], spreadsheet_safe(problem["column"]), problem["code"], problem["message"]])
    return response


@require_POST
@election_view(Capability.MANAGE)
def roll_clear(request: HttpRequest, election: Election) -> HttpResponse:
    removed = clear_roll(request.user, election, get_now())
    messages.success(request, _("%(count)d voters removed from the roll.") % {"count": removed})
    return redirect("voting:roll", election_id=election.pk)
