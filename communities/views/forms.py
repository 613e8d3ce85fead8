"""Forms of the community pages; they parse only, the services validate and decide."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _


class NodeForm(forms.Form):
    slug = forms.CharField(label=_("Short name (for links and roll files)"), max_length=50,
                           help_text=_("Lowercase letters, digits, '-' or '_'."))
    name = forms.CharField(label=_("Name"), max_length=200)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)


class SettingsForm(forms.Form):
    name = forms.CharField(label=_("Name"), max_length=200)
    name_en = forms.CharField(label=_("English name"), max_length=200, required=False)
    endorsement_threshold = forms.IntegerField(label=_("Endorsements needed"), min_value=1)
    proposals_become_polls = forms.BooleanField(
        label=_("Proposals that reach the threshold here become polls instead of going up"), required=False)


class WeightForm(forms.Form):
    weighted_voting = forms.BooleanField(label=_("Allow weighted voting in this tree"), required=False)
    weight_rule = forms.CharField(label=_("Published weight rule"), widget=forms.Textarea(attrs={"rows": 3}),
                                  max_length=2000, required=False)


class MoveForm(forms.Form):
    new_parent = forms.IntegerField(label=_("Number of the new parent node"), min_value=1)


class ManagerForm(forms.Form):
    username = forms.CharField(label=_("User name"), max_length=150)


class InvitationForm(forms.Form):
    max_uses = forms.IntegerField(label=_("How many people may use the link"), min_value=1, initial=50)
    valid_days = forms.IntegerField(label=_("Valid for (days)"), min_value=1, initial=14)


class RollForm(forms.Form):
    file = forms.FileField(label=_("Roll file (CSV, UTF-8)"),
                           help_text=_("Columns: name,phone,node. node is the path of short names below this node, "
                                       "for example jangan or jangan/yeonmu; empty means this node."))


class JoinForm(forms.Form):
    display_name = forms.CharField(label=_("Your name as other members will see it"), max_length=100)


class PhoneForm(forms.Form):
    phone = forms.CharField(label=_("Mobile phone number"), max_length=20,
                            widget=forms.TextInput(attrs={"autocomplete": "tel", "inputmode": "tel"}))


class CodeForm(forms.Form):
    code = forms.CharField(label=_("Code from the text message"), max_length=12,
                           widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}))
    display_name = forms.CharField(label=_("Your name (only when joining for the first time)"), max_length=100,
                                   required=False)


class ProposalForm(forms.Form):
    title = forms.CharField(label=_("Title"), max_length=200)
    body = forms.CharField(label=_("What do you propose, and why?"), widget=forms.Textarea(attrs={"rows": 8}),
                           max_length=10000)
