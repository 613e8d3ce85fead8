"""The community tree: create, rename, move, delete nodes; who manages what; subtree and ancestor reads.

`Community.path` ("/1/5/12/") is derived from `parent` and rewritten here, inside one
transaction with the moved subtree's rows locked, so readers never see a half-moved subtree
and every subtree query is an indexed prefix match. Structural changes (move, delete, grant
manager) belong to the level above the node: a manager of a node manages its whole subtree,
so a manager of node X can rename X and create children under it, but only a manager of X's
parent (or a superuser, for roots) can move or delete X.
"""

from __future__ import annotations

import re
from typing import Any

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db import IntegrityError, transaction
from django.db.models import F, ProtectedError, QuerySet, Value
from django.db.models.functions import Concat, Substr
from django.utils.translation import gettext as _

from ..errors import (
    CommunityNotEmpty,
    CommunityNotFound,
    InvalidCommunityInput,
    MoveCreatesCycle,
    NotAManager,
    SlugTaken,
)
from ..models import Community, CommunityManager

User = AbstractBaseUser | AnonymousUser
SLUG_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,49}\Z")
MAX_NAME_LENGTH = 200
MAX_DEPTH = 20  # deep enough for any real organisation; bounds the path column and the ancestor list
MAX_THRESHOLD = 1_000_000


# --- reads --------------------------------------------------------------------------------------


def unit_id(community: Community) -> str:
    """The node's stable ledger IDENT in poll `units` ("c" + primary key: survives renames and moves)."""
    return f"c{community.pk}"


def get_path_ids(community: Community) -> list[int]:
    """Primary keys from the root down to the node itself, read from the materialised path."""
    return [int(part) for part in community.path.strip("/").split("/")]


def subtree(community: Community) -> QuerySet[Community]:
    """The node and every node below it, in path order (one indexed prefix query)."""
    return Community.objects.filter(path__startswith=community.path).order_by("path")


def ancestors(community: Community) -> list[Community]:
    """The nodes above this one, root first (the node itself not included)."""
    ids = get_path_ids(community)[:-1]
    by_id = Community.objects.in_bulk(ids)
    return [by_id[pk] for pk in ids if pk in by_id]


def get_root(community: Community) -> Community:
    return community if community.parent_id is None else Community.objects.get(pk=get_path_ids(community)[0])


def is_descendant_or_self(node: Community, of: Community) -> bool:
    return node.path.startswith(of.path)


def build_poll_units(community: Community) -> list[dict[str, Any]]:
    """The poll contract's `units` for a poll scoped to this subtree: the scope node is the single root."""
    units = []
    for node in subtree(community).only("pk", "parent_id", "name", "path"):
        parent = None if node.pk == community.pk else f"c{node.parent_id}"
        units.append({"id": unit_id(node), "parent": parent, "name": node.name})
    return units


# --- permissions --------------------------------------------------------------------------------


def is_superuser(user: User) -> bool:
    return bool(user.is_authenticated and getattr(user, "is_superuser", False))


def can_create_roots(user: User) -> bool:
    """New trees are created by superusers or holders of the model permission communities.add_community."""
    return bool(user.is_authenticated and (is_superuser(user) or user.has_perm("communities.add_community")))


def is_manager(user: User, community: Community) -> bool:
    """True when the user manages this node or any node above it (or is a superuser)."""
    if not user.is_authenticated:
        return False
    if is_superuser(user):
        return True
    return CommunityManager.objects.filter(user=user, community_id__in=get_path_ids(community)).exists()


def validate_manager(user: User, community: Community) -> None:
    if not is_manager(user, community):
        raise NotAManager(detail={"community": community.pk})


def validate_structure_rights(user: User, community: Community) -> None:
    """Moving or deleting a node is decided one level up: by a manager of its parent (roots: superusers)."""
    if community.parent_id is None:
        if not can_create_roots(user):
            raise NotAManager(detail={"community": community.pk})
        return
    validate_manager(user, Community.objects.get(pk=community.parent_id))


def get_managed_roots(user: User) -> QuerySet[Community]:
    """The nodes the user was made manager of (their subtrees are what the user manages)."""
    if is_superuser(user):
        return Community.objects.filter(parent__isnull=True)
    if not user.is_authenticated:
        return Community.objects.none()
    return Community.objects.filter(managers__user=user).order_by("path")


def access_community(community_id: int) -> Community:
    """The node or CommunityNotFound (nodes are public: names and structure are not secret)."""
    community = Community.objects.filter(pk=community_id).first()
    if community is None:
        raise CommunityNotFound(detail={"community": community_id})
    return community


def access_managed_community(user: User, community_id: int) -> Community:
    """The node if the user manages it (directly or through an ancestor), else NotAManager."""
    community = access_community(community_id)
    validate_manager(user, community)
    return community


# --- validation ---------------------------------------------------------------------------------


def validate_node_fields(*, slug: str | None = None, name: str | None = None, name_en: str | None = None,
                         endorsement_threshold: int | None = None, weight_rule: str | None = None) -> None:
    """Raise InvalidCommunityInput with every bad field at once (None = field not being set)."""
    errors: dict[str, list[str]] = {}
    if slug is not None and not SLUG_RE.match(slug):
        errors["slug"] = [_("Use 1-50 lowercase letters, digits, '-' or '_', starting with a letter or digit.")]
    if name is not None and not (0 < len(name.strip()) <= MAX_NAME_LENGTH):
        errors["name"] = [_("Enter a name of at most %(n)d characters.") % {"n": MAX_NAME_LENGTH}]
    if name_en is not None and len(name_en) > MAX_NAME_LENGTH:
        errors["name_en"] = [_("Enter a name of at most %(n)d characters.") % {"n": MAX_NAME_LENGTH}]
    if endorsement_threshold is not None and not (1 <= endorsement_threshold <= MAX_THRESHOLD):
        errors["endorsement_threshold"] = [_("Enter a number from 1 to %(n)d.") % {"n": MAX_THRESHOLD}]
    if weight_rule is not None and len(weight_rule) > 2000:
        errors["weight_rule"] = [_("The published rule may have at most 2000 characters.")]
    if errors:
        raise InvalidCommunityInput(detail={"errors": errors})


def _validate_slug_free(parent: Community | None, slug: str, exclude_pk: int | None = None) -> None:
    siblings = Community.objects.filter(parent=parent, slug=slug)
    if exclude_pk is not None:
        siblings = siblings.exclude(pk=exclude_pk)
    if siblings.exists():
        raise SlugTaken(detail={"slug": slug})


# --- writes -------------------------------------------------------------------------------------


def create_community(by_user: User, *, parent: Community | None, slug: str, name: str, name_en: str = "",
                     endorsement_threshold: int = 10, proposals_become_polls: bool = False,
                     weighted_voting: bool = False, weight_rule: str = "") -> Community:
    """A new root (superusers / add_community permission) or a child of a node the user manages."""
    if parent is None:
        if not can_create_roots(by_user):
            raise NotAManager(detail={"community": None})
    else:
        validate_manager(by_user, parent)
        if parent.depth + 1 >= MAX_DEPTH:
            raise InvalidCommunityInput(detail={"errors": {"parent": [_("The tree is too deep.")]}})
    validate_node_fields(slug=slug, name=name, name_en=name_en, endorsement_threshold=endorsement_threshold,
                         weight_rule=weight_rule)
    _validate_slug_free(parent, slug)
    try:
        with transaction.atomic():
            node = Community.objects.create(
                parent=parent, slug=slug, name=name.strip(), name_en=name_en.strip(), path="/",
                depth=0 if parent is None else parent.depth + 1, endorsement_threshold=endorsement_threshold,
                proposals_become_polls=proposals_become_polls,
                # Weighting is opt-in per tree: only a root carries it.
                weighted_voting=weighted_voting and parent is None, weight_rule=weight_rule if parent is None else "",
            )
            node.path = f"{parent.path if parent else '/'}{node.pk}/"
            node.save(update_fields=["path"])
    except IntegrityError as exc:  # a concurrent create took the slug between the check and the insert
        raise SlugTaken(detail={"slug": slug}) from exc
    return node


def update_community(by_user: User, community: Community, **fields: Any) -> Community:
    """Rename a node or change its settings (name, name_en, threshold, poll/weight options)."""
    validate_manager(by_user, community)
    allowed = {"name", "name_en", "endorsement_threshold", "proposals_become_polls", "weighted_voting", "weight_rule"}
    unknown = set(fields) - allowed
    if unknown:
        raise InvalidCommunityInput(detail={"errors": {name: [_("Unknown field.")] for name in sorted(unknown)}})
    validate_node_fields(name=fields.get("name"), name_en=fields.get("name_en"),
                         endorsement_threshold=fields.get("endorsement_threshold"),
                         weight_rule=fields.get("weight_rule"))
    if community.parent_id is not None and (fields.get("weighted_voting") or fields.get("weight_rule")):
        raise InvalidCommunityInput(detail={"errors": {"weighted_voting": [
            _("Weighted voting is chosen once for a whole tree, on its root node.")]}})
    for name, value in fields.items():
        setattr(community, name, value.strip() if isinstance(value, str) and name != "weight_rule" else value)
    community.save(update_fields=list(fields))
    return community


def move_community(by_user: User, community: Community, new_parent: Community) -> Community:
    """Re-hang a node (and its subtree) under another node; refuses cycles; paths rewritten atomically."""
    validate_structure_rights(by_user, community)
    validate_manager(by_user, new_parent)
    with transaction.atomic():
        # Lock the moved subtree and the target, then re-read both: a concurrent move cannot interleave.
        node = Community.objects.select_for_update().get(pk=community.pk)
        target = Community.objects.select_for_update().get(pk=new_parent.pk)
        if is_descendant_or_self(target, node):
            raise MoveCreatesCycle(detail={"community": node.pk, "new_parent": target.pk})
        list(Community.objects.select_for_update().filter(path__startswith=node.path).values_list("pk"))
        _validate_slug_free(target, node.slug, exclude_pk=node.pk)
        old_path, new_path = node.path, f"{target.path}{node.pk}/"
        depth_delta = target.depth + 1 - node.depth
        deepest = subtree(node).order_by("-depth").values_list("depth", flat=True).first() or node.depth
        if deepest + depth_delta >= MAX_DEPTH:
            raise InvalidCommunityInput(detail={"errors": {"parent": [_("The tree would become too deep.")]}})
        Community.objects.filter(pk=node.pk).update(parent=target)
        Community.objects.filter(path__startswith=old_path).update(
            path=Concat(Value(new_path), Substr("path", len(old_path) + 1)),
            depth=F("depth") + depth_delta,
        )
    community.refresh_from_db()
    return community


def delete_community(by_user: User, community: Community) -> None:
    """Delete a node that has no children, members, proposals or polls (history is never dropped)."""
    validate_structure_rights(by_user, community)
    with transaction.atomic():
        if (community.children.exists() or community.memberships.exists() or community.proposals.exists()):
            raise CommunityNotEmpty(detail={"community": community.pk})
        try:
            CommunityManager.objects.filter(community=community).delete()
            community.invitations.all().delete()
            community.delete()
        except ProtectedError as exc:  # polls (and anything added later) protect their node
            raise CommunityNotEmpty(detail={"community": community.pk}) from exc


def grant_manager(by_user: User, community: Community, user: AbstractBaseUser) -> CommunityManager:
    """Make `user` a manager of the node; granted by a manager of the node or of a node above it."""
    validate_manager(by_user, community)
    manager, _created = CommunityManager.objects.get_or_create(user=user, community=community)
    return manager


def revoke_manager(by_user: User, manager: CommunityManager) -> None:
    """Remove a manager role; any manager of the node (or above it) may do it."""
    validate_manager(by_user, manager.community)
    manager.delete()
