"""Tree pages: the list of trees, a node's page, a subtree browser, and the manager's node settings."""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.contrib.auth import get_user_model
from django.contrib.auth.decorators import login_required
from django.db.models import Count
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.template import TemplateDoesNotExist
from django.template.loader import get_template
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from ..errors import CommunityError, InvalidCommunityInput, NotAManager
from ..models import Community, CommunityManager, Membership, Proposal
from ..services import tree
from ..services.members import current_member
from .common import add_service_errors, node_context, posted, render_error
from .forms import ManagerForm, MoveForm, NodeForm, SettingsForm, WeightForm

MAX_BROWSER_NODES = 2000
POLLS_FRAGMENT = "communities/node_polls.html"


def community_index(request: HttpRequest) -> HttpResponse:
    """Every tree, the signed-in member's nodes, and the nodes the signed-in user manages."""
    member = current_member(request)
    mine = (Community.objects.filter(memberships__member=member).order_by("path") if member else [])
    return render(request, "communities/index.html", {
        "roots": Community.objects.filter(parent__isnull=True).order_by("name"),
        "my_nodes": mine, "member": member,
        "managed": tree.get_managed_roots(request.user), "can_create_roots": tree.can_create_roots(request.user),
    })


def community_detail(request: HttpRequest, community_id: int) -> HttpResponse:
    """A node: its children with member counts, members in the subtree, proposals, polls."""
    try:
        community = tree.access_community(community_id)
    except CommunityError as exc:
        return render_error(request, exc)
    children = community.children.annotate(direct_members=Count("memberships")).order_by("name")
    subtree_members = (Membership.objects.filter(community__path__startswith=community.path)
                       .values("member").distinct().count())
    proposals = (Proposal.objects.filter(community=community).select_related("author")
                 .exclude(status=Proposal.Status.WITHDRAWN)[:50])
    return render(request, "communities/node.html", node_context(
        request, community, children=children, subtree_members=subtree_members,
        direct_members=community.memberships.count(), proposals=proposals, polls_include=_polls_include(),
    ))


def _polls_include() -> str | None:
    """The polls app's fragment for a node page (communities/node_polls.html), once it exists."""
    try:
        get_template(POLLS_FRAGMENT)
    except TemplateDoesNotExist:
        return None
    return POLLS_FRAGMENT


def community_tree(request: HttpRequest, community_id: int) -> HttpResponse:
    """The whole subtree below a node as nested lists (capped, deeper parts via node pages)."""
    try:
        community = tree.access_community(community_id)
    except CommunityError as exc:
        return render_error(request, exc)
    nodes = list(tree.subtree(community).only("pk", "parent_id", "name", "depth")[:MAX_BROWSER_NODES + 1])
    truncated = len(nodes) > MAX_BROWSER_NODES
    return render(request, "communities/tree.html", node_context(
        request, community, outline=_outline(community, nodes[:MAX_BROWSER_NODES]), truncated=truncated))


def _outline(root: Community, nodes: list[Community]) -> list[dict[str, Any]]:
    """Nested [{node, children}] for the template's recursive include."""
    entries = {node.pk: {"node": node, "children": []} for node in nodes}
    for node in nodes:
        if node.pk != root.pk and node.parent_id in entries:
            entries[node.parent_id]["children"].append(entries[node.pk])
    return [entries[root.pk]]


@login_required
def community_create_root(request: HttpRequest) -> HttpResponse:
    if not tree.can_create_roots(request.user):
        return render_error(request, NotAManager())
    form = NodeForm(posted(request))
    if request.method == "POST" and form.is_valid():
        try:
            node = tree.create_community(request.user, parent=None, **form.cleaned_data)
        except CommunityError as exc:
            add_service_errors(form, exc)
        else:
            return redirect("communities:manage", community_id=node.pk)
    return render(request, "communities/create_root.html", {"form": form}, status=400 if form.errors else 200)


@login_required
def community_manage(request: HttpRequest, community_id: int) -> HttpResponse:
    """Node settings, new child nodes, managers, moving and deleting (each form posts here with `action`)."""
    try:
        community = tree.access_managed_community(request.user, community_id)
    except CommunityError as exc:
        return render_error(request, exc)
    action = request.POST.get("action") if request.method == "POST" else None
    forms = {
        "settings": SettingsForm(posted(request) if action == "settings" else None, initial={
            "name": community.name, "name_en": community.name_en,
            "endorsement_threshold": community.endorsement_threshold,
            "proposals_become_polls": community.proposals_become_polls}),
        "child": NodeForm(posted(request) if action == "child" else None, prefix="child"),
        "weights": WeightForm(posted(request) if action == "weights" else None, initial={
            "weighted_voting": community.weighted_voting, "weight_rule": community.weight_rule}),
        "manager": ManagerForm(posted(request) if action == "manager" else None),
        "move": MoveForm(posted(request) if action == "move" else None),
    }
    form = forms.get(action or "")
    if form is not None and form.is_valid():
        try:
            done = _apply(request, community, action or "", form.cleaned_data)
        except CommunityError as exc:
            add_service_errors(form, exc)
        else:
            messages.success(request, done)
            return redirect("communities:manage", community_id=community.pk)
    managers = CommunityManager.objects.filter(community_id__in=tree.get_path_ids(community)).select_related(
        "user", "community")
    return render(request, "communities/manage.html", node_context(
        request, community, forms=forms, managers=managers, children=community.children.order_by("name"),
    ), status=400 if form is not None and form.errors else 200)


def _apply(request: HttpRequest, community: Community, action: str, data: dict[str, Any]) -> str:
    """Run one manager action through its service; returns the success message."""
    if action == "settings":
        tree.update_community(request.user, community, **data)
        return _("Settings saved.")
    if action == "weights":
        tree.update_community(request.user, community, **data)
        return _("Weighting rule saved.")
    if action == "child":
        child = tree.create_community(request.user, parent=community, **data)
        return _("Node %(name)s added.") % {"name": child.name}
    if action == "manager":
        user = get_user_model().objects.filter(username=data["username"], is_active=True).first()
        if user is None:
            raise InvalidCommunityInput(detail={"errors": {"username": [_("No active user with this name.")]}})
        tree.grant_manager(request.user, community, user)
        return _("%(user)s now manages this node.") % {"user": user.get_username()}
    new_parent = tree.access_community(data["new_parent"])
    tree.move_community(request.user, community, new_parent)
    return _("Node moved under %(name)s.") % {"name": new_parent.name}


@require_POST
@login_required
def community_delete(request: HttpRequest, community_id: int) -> HttpResponse:
    try:
        community = tree.access_community(community_id)
        parent_id = community.parent_id
        tree.delete_community(request.user, community)
    except CommunityError as exc:
        return render_error(request, exc)
    messages.success(request, _("Node deleted."))
    return redirect("communities:detail", community_id=parent_id) if parent_id else redirect("communities:index")


@require_POST
@login_required
def manager_revoke(request: HttpRequest, community_id: int, manager_id: int) -> HttpResponse:
    try:
        community = tree.access_managed_community(request.user, community_id)
        manager = CommunityManager.objects.filter(pk=manager_id, community=community).first()
        if manager is None:
            raise NotAManager(detail={"manager": manager_id})
        tree.revoke_manager(request.user, manager)
    except CommunityError as exc:
        return render_error(request, exc)
    messages.success(request, _("Manager removed."))
    return redirect("communities:manage", community_id=community_id)
