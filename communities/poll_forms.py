"""The managers' poll form: it parses and types the input; communities.services.polls decides what is valid."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from voting.forms import DATETIME_FORMAT, DateTimeLocalInput

from .models import Poll
from .services.polls import PollDraft

INPUT_FORMATS = [DATETIME_FORMAT, "%Y-%m-%d %H:%M"]


class PollForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    description = forms.CharField(label=_("Description"), required=False, max_length=5000,
                                  widget=forms.Textarea(attrs={"rows": 3}))
    method = forms.ChoiceField(label=_("Voting method"), choices=Poll.Method.choices)
    options = forms.CharField(
        label=_("Options, one per line"), required=False, max_length=20000, widget=forms.Textarea(attrs={"rows": 5}),
        help_text=_("Ignored for yes / no / abstain, whose options are fixed."),
    )
    max_choices = forms.IntegerField(label=_("Multiple choice: at most k marks"), min_value=1, max_value=100,
                                     required=False)
    score_max = forms.IntegerField(label=_("Score voting: highest score"), min_value=1, max_value=100,
                                   required=False)
    opens_at = forms.DateTimeField(label=_("Opens"), widget=DateTimeLocalInput(), input_formats=INPUT_FORMATS)
    closes_at = forms.DateTimeField(label=_("Closes"), widget=DateTimeLocalInput(), input_formats=INPUT_FORMATS)
    anonymous = forms.BooleanField(
        label=_("Anonymous"), required=False,
        help_text=_("Members get a blind-signed credential, so the server cannot tell who cast which ballot. "
                    "Results are then counted for the whole community only, not per node."),
    )
    live_results = forms.BooleanField(label=_("Show results while the poll is open"), required=False)
    weighted = forms.BooleanField(
        label=_("Weighted by forecast accuracy"), required=False,
        help_text=_("Only in communities that opted in: weight = 1 + correct forecasts in resolved prediction polls."),
    )
    prediction = forms.BooleanField(
        label=_("Prediction poll"), required=False,
        help_text=_("Resolved later with the actual outcome; correct forecasts add weight in weighted polls."),
    )

    @classmethod
    def initial_from(cls, poll: Poll) -> dict[str, Any]:
        return {
            "title": poll.title, "description": poll.description, "method": poll.method,
            "options": "\n".join(o.name for o in poll.options.all()) if poll.method != Poll.Method.YNA else "",
            "max_choices": poll.max_choices, "score_max": poll.score_max, "opens_at": poll.opens_at,
            "closes_at": poll.closes_at, "anonymous": poll.anonymous, "live_results": poll.live_results,
            "weighted": poll.weighted, "prediction": poll.prediction,
        }

    def to_draft(self) -> PollDraft:
        data = self.cleaned_data
        return PollDraft(
            title=data["title"], description=data.get("description", ""), method=data["method"],
            options=tuple(line for line in data.get("options", "").splitlines() if line.strip()),
            max_choices=data.get("max_choices"), score_max=data.get("score_max"),
            opens_at=data["opens_at"], closes_at=data["closes_at"], anonymous=bool(data.get("anonymous")),
            live_results=bool(data.get("live_results")), weighted=bool(data.get("weighted")),
            prediction=bool(data.get("prediction")),
        )
