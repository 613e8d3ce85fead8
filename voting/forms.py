"""Forms of the officials' UI: they parse and type the input; the services decide what is valid."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from .models import Election, ElectionRole, PollingStation, Region
from .services.elections import CandidateDraft, ElectionDraft

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
MAX_UPLOAD_BYTES = 64 * 1024 * 1024


class DateTimeLocalInput(forms.DateTimeInput):
    input_type = "datetime-local"

    def __init__(self, attrs: dict[str, Any] | None = None) -> None:
        super().__init__(attrs, format=DATETIME_FORMAT)


class ElectionForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, widget=forms.Textarea(attrs={"rows": 3}))
    kind = forms.ChoiceField(label=_("Ballot kind"), choices=Election.Kind.choices)
    max_choices = forms.IntegerField(
        label=_("Choices per voter (approval only)"), min_value=1, max_value=200, initial=1, required=False
    )
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.all(), empty_label=None)
    opens_at = forms.DateTimeField(
        label=_("Voting opens"), widget=DateTimeLocalInput(), input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M"]
    )
    closes_at = forms.DateTimeField(
        label=_("Voting closes"), widget=DateTimeLocalInput(), input_formats=[DATETIME_FORMAT, "%Y-%m-%d %H:%M"]
    )
    mobile_voting = forms.BooleanField(
        label=_("Offer mobile voting"), required=False,
        help_text=_("Voters with a phone number on the roll may vote by phone after an SMS code check, "
                    "with an anonymous credential. A voter who gets one cannot check in at a station."),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["region"].label_from_instance = lambda region: (  # type: ignore[attr-defined]
            region.name if region.parent_id is None else f"— {region.name}"
        )


class CandidateForm(forms.Form):
    name = forms.CharField(label=_("Candidate or option"), max_length=200, required=False)
    party = forms.CharField(label=_("Party or description"), max_length=200, required=False)


CandidateFormSet = forms.formset_factory(CandidateForm, extra=2, max_num=200, absolute_max=200)


def build_draft(form: ElectionForm, candidates: Any) -> ElectionDraft:
    """The service input from two valid forms."""
    data = form.cleaned_data
    return ElectionDraft(
        title=data["title"], description=data.get("description", ""), kind=data["kind"],
        max_choices=data.get("max_choices") or 1, region=data["region"], opens_at=data["opens_at"],
        closes_at=data["closes_at"], mobile_voting=bool(data.get("mobile_voting")),
        candidates=tuple(
            CandidateDraft(row.get("name", ""), row.get("party", "")) for row in candidates.cleaned_data if row
        ),
    )


class RollUploadForm(forms.Form):
    file = forms.FileField(
        label=_("Voter roll file (CSV or XLSX)"),
        help_text=_(
            "Columns: roll_number, name, birth_date (YYYY-MM-DD), station (code); optional phone, national_id. "
            "Korean headers are accepted."
        ),
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.xlsx,text/csv"}),
    )

    def clean_file(self) -> Any:
        upload = self.cleaned_data["file"]
        if upload.size > MAX_UPLOAD_BYTES:
            raise forms.ValidationError(_("The file is larger than 64 MB."))
        return upload


class StationForm(forms.Form):
    code = forms.CharField(label=_("Code"), max_length=40, help_text=_("e.g. suwon-01; it becomes the station's ledger id."))
    name = forms.CharField(label=_("Name"), max_length=200)
    region = forms.ModelChoiceField(label=_("Region"), queryset=Region.objects.all(), empty_label=None)
    address = forms.CharField(label=_("Address"), max_length=300, required=False)


class KioskForm(forms.Form):
    station = forms.ModelChoiceField(label=_("Polling station"), queryset=PollingStation.objects.none(), empty_label=None)
    label = forms.CharField(label=_("Label"), max_length=100, initial="booth-1")

    def __init__(self, *args: Any, stations: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if stations is not None:
            self.fields["station"].queryset = stations  # type: ignore[attr-defined]


class RoleForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)
    role = forms.ChoiceField(label=_("Role"), choices=ElectionRole.Role.choices)
    station = forms.ModelChoiceField(
        label=_("Station (poll workers only)"), queryset=PollingStation.objects.all(), required=False,
        empty_label=_("Any station"),
    )


class LookupForm(forms.Form):
    roll_number = forms.CharField(label=_("Roll number"), max_length=32, required=False)
    name = forms.CharField(label=_("Name"), max_length=100, required=False)
    birth_date = forms.DateField(
        label=_("Birth date"), required=False, widget=forms.DateInput(attrs={"type": "date"}, format="%Y-%m-%d")
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not data.get("roll_number") and not (data.get("name") and data.get("birth_date")):
            raise forms.ValidationError(_("Enter a roll number, or a name together with a birth date."))
        return data


class CheckInForm(forms.Form):
    id_confirmed = forms.BooleanField(label=_("I have checked the voter's photo ID against this entry."))
    national_id = forms.CharField(
        label=_("ID number (optional, compared with the roll)"), max_length=20, required=False,
        widget=forms.TextInput(attrs={"autocomplete": "off", "inputmode": "numeric"}),
    )


class CloseForm(forms.Form):
    confirm_early = forms.BooleanField(
        label=_("I confirm closing before the scheduled time."), required=False
    )
