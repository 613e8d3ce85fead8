"""Member pages: join by invitation link (name or phone), SMS sign-in, and the manager's member pages."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..errors import CommunityError, SignInCodeUnknown
from ..models import Invitation, Membership
from ..services import members, roll, tree
from .common import add_service_errors, get_now, node_context, posted, render_error
from .forms import CodeForm, InvitationForm, JoinForm, PhoneForm, RollForm

# Session keys of the two-step SMS flow: the opaque challenge, and the invitation being used (if any).
CHALLENGE_KEY = "community_otp_challenge"
JOIN_TOKEN_KEY = "community_join_token"


def join(request: HttpRequest, token: str) -> HttpResponse:
    """An invitation link: join with a display name, or by verifying a phone number (form on the page)."""
    try:
        invitation = members.resolve_invitation(token, get_now())
    except CommunityError as exc:
        return render_error(request, exc)
    member = members.current_member(request)
    form = JoinForm(posted(request) if member is None else None)
    if request.method == "POST":
        try:
            if member is None and not form.is_valid():
                raise _FormInvalid()
            membership = members.accept_invitation(
                token, member=member, display_name=form.cleaned_data.get("display_name", "") if member is None else "",
                now=get_now())
        except _FormInvalid:
            pass
        except CommunityError as exc:
            add_service_errors(form, exc)
        else:
            members.sign_in_member(request, membership.member)
            messages.success(request, _("Welcome to %(name)s.") % {"name": invitation.community.name})
            return redirect("communities:detail", community_id=invitation.community_id)
    request.session[JOIN_TOKEN_KEY] = token  # the phone path continues on the sign-in page
    return render(request, "communities/join.html", node_context(
        request, invitation.community, form=form, phone_form=PhoneForm(), token=token,
    ), status=400 if form.errors else 200)


class _FormInvalid(Exception):
    """The form shows its own errors; nothing to call."""


def member_sign_in(request: HttpRequest) -> HttpResponse:
    """Step 1: phone number -> a code by SMS (same answer for unknown numbers). Step 2: the code."""
    joining = request.GET.get("join") == "1" and bool(request.session.get(JOIN_TOKEN_KEY))
    phone_form = PhoneForm(posted(request) if request.POST.get("step") == "phone" else None)
    code_form = CodeForm(posted(request) if request.POST.get("step") == "code" else None)
    if not joining:
        del code_form.fields["display_name"]  # a name is only asked of someone joining for the first time
    if phone_form.is_bound and phone_form.is_valid():
        try:
            issued = members.request_sign_in_code(
                phone_form.cleaned_data["phone"], now=get_now(),
                invitation_token=request.session.get(JOIN_TOKEN_KEY, "") if joining else "")
        except CommunityError as exc:
            add_service_errors(phone_form, exc)
        else:
            request.session[CHALLENGE_KEY] = issued.challenge
            messages.info(request, _("If this number belongs to a member, a code is on its way."))
            return redirect(request.get_full_path())
    if code_form.is_bound and code_form.is_valid():
        try:
            challenge = request.session.get(CHALLENGE_KEY)
            if not challenge:
                raise SignInCodeUnknown()
            member = members.verify_sign_in_code(
                challenge, code_form.cleaned_data["code"], now=get_now(),
                invitation_token=request.session.get(JOIN_TOKEN_KEY, "") if joining else "",
                display_name=code_form.cleaned_data.get("display_name", ""))
        except CommunityError as exc:
            add_service_errors(code_form, exc)
        else:
            request.session.pop(CHALLENGE_KEY, None)
            request.session.pop(JOIN_TOKEN_KEY, None)
            members.sign_in_member(request, member)
            messages.success(request, _("Signed in as %(name)s.") % {"name": member.display_name})
            return redirect("communities:index")
    awaiting_code = bool(request.session.get(CHALLENGE_KEY))
    return render(request, "communities/sign_in.html", {
        "phone_form": phone_form, "code_form": code_form, "awaiting_code": awaiting_code, "joining": joining,
    }, status=400 if phone_form.errors or code_form.errors else 200)


@require_POST
def member_sign_out(request: HttpRequest) -> HttpResponse:
    members.sign_out_member(request)
    request.session.pop(CHALLENGE_KEY, None)
    return redirect("communities:index")


@login_required
def invitations(request: HttpRequest, community_id: int) -> HttpResponse:
    """Create join links for a node and see / withdraw the existing ones; a new link is shown once."""
    try:
        community = tree.access_managed_community(request.user, community_id)
    except CommunityError as exc:
        return render_error(request, exc)
    form = InvitationForm(posted(request))
    link = None
    if request.method == "POST" and form.is_valid():
        try:
            _invitation, token = members.create_invitation(request.user, community, now=get_now(), **form.cleaned_data)
        except CommunityError as exc:
            add_service_errors(form, exc)
        else:
            link = request.build_absolute_uri(f"/communities/join/{token}/")
            form = InvitationForm()
    listing = Invitation.objects.filter(community=community).order_by("-created_at")[:100]
    return render(request, "communities/invitations.html", node_context(
        request, community, form=form, link=link, invitations=listing, now=get_now(),
    ), status=400 if form.errors else 200)


@require_POST
@login_required
def invitation_revoke(request: HttpRequest, community_id: int, invitation_id: int) -> HttpResponse:
    try:
        community = tree.access_managed_community(request.user, community_id)
        invitation = Invitation.objects.filter(pk=invitation_id, community=community).first()
        if invitation is not None:
            members.revoke_invitation(request.user, invitation, get_now())
    except CommunityError as exc:
        return render_error(request, exc)
    messages.success(request, _("Invitation withdrawn."))
    return redirect("communities:invitations", community_id=community_id)


@login_required
def roll_import(request: HttpRequest, community_id: int) -> HttpResponse:
    """Upload a roll file; all rows are checked first, and any bad row means nothing is imported."""
    try:
        community = tree.access_managed_community(request.user, community_id)
    except CommunityError as exc:
        return render_error(request, exc)
    form = RollForm(posted(request), request.FILES if request.method == "POST" else None)
    result, row_errors = None, []
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data["file"]
        try:
            if upload.size > roll.MAX_ROLL_BYTES:
                raise roll.RollTooLarge(detail={"max_bytes": roll.MAX_ROLL_BYTES})
            result = roll.import_roll(request.user, community, upload.read())
        except CommunityError as exc:
            form.add_error("file", str(exc.message))
            row_errors = [roll.describe_roll_error(e) for e in exc.detail.get("errors", [])]
    return render(request, "communities/roll.html", node_context(
        request, community, form=form, result=result, row_errors=row_errors,
        error_count=len(row_errors),
    ), status=400 if form.errors else 200)


@login_required
def member_list(request: HttpRequest, community_id: int) -> HttpResponse:
    """Members of the node's subtree (names and nodes only: phone numbers are not kept in clear)."""
    try:
        community = tree.access_managed_community(request.user, community_id)
    except CommunityError as exc:
        return render_error(request, exc)
    memberships = (Membership.objects.filter(community__path__startswith=community.path)
                   .select_related("member", "community").order_by("member__display_name", "pk"))
    page = Paginator(memberships, 100).get_page(request.GET.get("page"))
    return render(request, "communities/members.html", node_context(request, community, page=page))
