"""The community tree service: create, rename, move (cycles refused, paths rewritten), delete, permissions."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.db import transaction
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from communities.errors import (
    CommunityNotEmpty,
    InvalidCommunityInput,
    MoveCreatesCycle,
    NotAManager,
    SlugTaken,
)
from communities.models import Community
from communities.services import tree

from .tree_factory import build_province, make_manager, make_member, make_node, make_superuser, make_user

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin():
    return make_superuser()


@pytest.fixture
def nodes(admin):
    return build_province(admin)


def test_create_sets_path_and_depth(nodes):
    province, suwon, jangan = nodes["gyeonggi"], nodes["suwon"], nodes["jangan"]
    assert province.path == f"/{province.pk}/" and province.depth == 0
    assert suwon.path == f"/{province.pk}/{suwon.pk}/" and suwon.depth == 1
    assert jangan.path == f"{suwon.path}{jangan.pk}/" and jangan.depth == 2


def test_roots_need_superuser_or_add_permission():
    user = make_user("plain")
    with pytest.raises(NotAManager):
        make_node(user, None, "club")
    user.user_permissions.add(Permission.objects.get(codename="add_community"))
    user = type(user).objects.get(pk=user.pk)  # permissions are cached per instance
    assert make_node(user, None, "club").parent is None


def test_slug_must_be_ident_safe_and_unique_among_siblings(admin, nodes):
    with pytest.raises(InvalidCommunityInput) as info:
        make_node(admin, nodes["suwon"], "Bad Slug!")
    assert "slug" in info.value.detail["errors"]
    with pytest.raises(SlugTaken):
        make_node(admin, nodes["gyeonggi"], "suwon")
    # the same short name under another parent is fine, and so is a root with a child's slug
    assert make_node(admin, nodes["seongnam"], "jangan").parent == nodes["seongnam"]
    with pytest.raises(SlugTaken):
        make_node(admin, None, "gyeonggi")
    assert make_node(admin, None, "suwon").depth == 0


def test_manager_of_parent_manages_children_not_the_reverse(nodes):
    city_manager, district_manager = make_user("city"), make_user("district")
    make_manager(city_manager, nodes["suwon"])
    make_manager(district_manager, nodes["jangan"])
    assert tree.is_manager(city_manager, nodes["jangan"])
    assert tree.is_manager(city_manager, nodes["suwon"])
    assert not tree.is_manager(city_manager, nodes["gyeonggi"])
    assert not tree.is_manager(city_manager, nodes["seongnam"])
    assert tree.is_manager(district_manager, nodes["jangan"])
    assert not tree.is_manager(district_manager, nodes["suwon"])
    # and the services enforce it, not only a predicate
    assert make_node(city_manager, nodes["jangan"], "yeonmu").depth == 3
    with pytest.raises(NotAManager):
        make_node(district_manager, nodes["suwon"], "gwonseon")
    with pytest.raises(NotAManager):
        tree.update_community(district_manager, nodes["suwon"], name="x")
    with pytest.raises(NotAManager):
        tree.grant_manager(district_manager, nodes["suwon"], make_user("other"))


def test_rename_keeps_unit_id_and_path(admin, nodes):
    suwon = nodes["suwon"]
    before = (tree.unit_id(suwon), suwon.path)
    tree.update_community(admin, suwon, name="수원특례시", name_en="Suwon")
    suwon.refresh_from_db()
    assert suwon.name == "수원특례시" and (tree.unit_id(suwon), suwon.path) == before


def test_weighted_voting_only_on_a_root(admin, nodes):
    with pytest.raises(InvalidCommunityInput):
        tree.update_community(admin, nodes["suwon"], weighted_voting=True)
    tree.update_community(admin, nodes["gyeonggi"], weighted_voting=True, weight_rule="1 + accurate forecasts")
    nodes["gyeonggi"].refresh_from_db()
    assert nodes["gyeonggi"].weighted_voting


def test_move_rewrites_the_whole_subtree(admin, nodes):
    leaf = make_node(admin, nodes["jangan"], "yeonmu")
    tree.move_community(admin, nodes["jangan"], nodes["seongnam"])
    for node in (nodes["jangan"], leaf):
        node.refresh_from_db()
    seongnam = nodes["seongnam"]
    assert nodes["jangan"].parent_id == seongnam.pk
    assert nodes["jangan"].path == f"{seongnam.path}{nodes['jangan'].pk}/" and nodes["jangan"].depth == 2
    assert leaf.path == f"{nodes['jangan'].path}{leaf.pk}/" and leaf.depth == 3
    assert list(tree.subtree(nodes["suwon"])) == [nodes["suwon"]]
    assert [n.pk for n in tree.ancestors(leaf)] == [nodes["gyeonggi"].pk, seongnam.pk, nodes["jangan"].pk]


def test_move_refuses_cycles_and_changes_nothing(admin, nodes):
    before = dict(Community.objects.values_list("pk", "path"))
    with pytest.raises(MoveCreatesCycle):
        tree.move_community(admin, nodes["suwon"], nodes["jangan"])
    with pytest.raises(MoveCreatesCycle):
        tree.move_community(admin, nodes["suwon"], nodes["suwon"])
    assert dict(Community.objects.values_list("pk", "path")) == before


def test_move_refuses_a_slug_clash_at_the_target(admin, nodes):
    make_node(admin, nodes["seongnam"], "jangan")
    with pytest.raises(SlugTaken):
        tree.move_community(admin, nodes["jangan"], nodes["seongnam"])


def test_move_needs_rights_over_the_old_parent_and_the_new_one(nodes):
    district_manager, city_manager = make_user("district"), make_user("city")
    make_manager(district_manager, nodes["jangan"])
    make_manager(city_manager, nodes["suwon"])
    with pytest.raises(NotAManager):  # may manage jangan, but moving it is decided one level up
        tree.move_community(district_manager, nodes["jangan"], nodes["jangan"])
    with pytest.raises(NotAManager):  # does not manage the target
        tree.move_community(city_manager, nodes["jangan"], nodes["seongnam"])


def test_delete_only_empty_nodes(admin, nodes):
    with pytest.raises(CommunityNotEmpty):
        tree.delete_community(admin, nodes["suwon"])  # has a child
    make_member(nodes["jangan"])
    with pytest.raises(CommunityNotEmpty):
        tree.delete_community(admin, nodes["jangan"])  # has a member
    tree.delete_community(admin, nodes["seongnam"])
    assert not Community.objects.filter(slug="seongnam").exists()


def test_delete_needs_a_manager_above(nodes):
    manager = make_user("m")
    make_manager(manager, nodes["seongnam"])
    with pytest.raises(NotAManager):
        tree.delete_community(manager, nodes["seongnam"])


def test_poll_units_describe_the_subtree_with_one_root(nodes):
    units = tree.build_poll_units(nodes["suwon"])
    assert units == [
        {"id": f"c{nodes['suwon'].pk}", "parent": None, "name": "수원시"},
        {"id": f"c{nodes['jangan'].pk}", "parent": f"c{nodes['suwon'].pk}", "name": "장안구"},
    ]


# --- property: any sequence of moves keeps paths consistent with parents ----------------------------


def _expected_paths(parents: dict[int, int | None]) -> dict[int, str]:
    def path(pk: int) -> str:
        parent = parents[pk]
        return f"/{pk}/" if parent is None else f"{path(parent)}{pk}/"
    return {pk: path(pk) for pk in parents}


trees = st.integers(min_value=2, max_value=12).flatmap(
    lambda n: st.tuples(st.just(n), st.tuples(*[st.integers(0, i - 1) for i in range(1, n)]))
)
moves = st.lists(st.tuples(st.integers(0, 11), st.integers(0, 11)), max_size=12)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(shape=trees, steps=moves)
def test_random_moves_keep_paths_consistent(admin, shape, steps):
    n, parent_index = shape
    with transaction.atomic():
        root = make_node(admin, None, "prop-root")
        created = [root] + [None] * (n - 1)
        for i in range(1, n):
            created[i] = make_node(admin, created[parent_index[i - 1]], f"n{i}")
        parents = {c.pk: c.parent_id for c in created}
        for node_i, target_i in steps:
            node, target = created[node_i % n], created[target_i % n]
            node.refresh_from_db()
            target.refresh_from_db()
            in_subtree = target.pk == node.pk or node.pk in _ancestor_ids(parents, target.pk)
            if in_subtree:
                with pytest.raises(MoveCreatesCycle):
                    tree.move_community(admin, node, target)
            else:
                tree.move_community(admin, node, target)
                parents[node.pk] = target.pk
            stored = dict(Community.objects.filter(pk__in=parents).values_list("pk", "path"))
            assert stored == _expected_paths(parents)
            depths = dict(Community.objects.filter(pk__in=parents).values_list("pk", "depth"))
            assert depths == {pk: path.count("/") - 2 for pk, path in stored.items()}
        transaction.set_rollback(True)


def _ancestor_ids(parents: dict[int, int | None], pk: int) -> set[int]:
    seen: set[int] = set()
    current = parents[pk]
    while current is not None:
        seen.add(current)
        current = parents[current]
    return seen
