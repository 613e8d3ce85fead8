"""CSV and JSON exports: contents from hand-made blocks, then the endpoints over a REAL ledger node."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.test import Client

from communities.models import Member, Membership
from communities.services.members import SESSION_KEY
from communities.stats import StatsEngine
from communities.stats_export import build_csv, build_export, build_snapshot
from ledger.core import polls
from tests.audit.conftest import node_urls  # noqa: F401  (fixture)
from tests.voting.conftest import ledger_node, node_gateway  # noqa: F401  (fixtures)
from tests.voting.ledger_node import LedgerNode
from voting.ledger_gateway import LedgerGateway

from .stats_polls import CLOSE_AT, OPEN_AT, PollCase, split_into_blocks
from .stats_world import StatsWorld, make_stats_world
from .tree_factory import make_user

UNITS = [{"id": "r", "parent": None, "name": "=HYPERLINK(\"x\")"}, {"id": "a", "parent": "r", "name": "수원시"},
         {"id": "b", "parent": "r", "name": "성남시"}]


def ranked_poll() -> PollCase:
    create = {"poll": "p1", "title": "t", "method": "ranked", "units": UNITS, "opens_at": OPEN_AT,
              "closes_at": CLOSE_AT, "weights": "equal", "options": [{"id": o, "name": o.upper()} for o in "xyz"]}
    ballots = [["x", "y"], ["y", "x"], ["z", "y"], ["y"], ["x"]]
    return PollCase(create, [(i, "a" if i < 3 else "b", 1) for i in range(6)], list(enumerate(ballots)))


def engine_for(case: PollCase) -> StatsEngine:
    engine = StatsEngine()
    for entry in split_into_blocks(case.all_txs(), [2, 4]):
        engine.apply_block(entry)
    return engine


def test_csv_has_a_row_per_unit_with_subtree_figures_and_totals() -> None:
    case = ranked_poll()
    stats = engine_for(case).polls["p1"]
    rows = list(csv.reader(io.StringIO(build_csv(stats, True))))
    assert rows[0][:9] == ["unit", "parent", "name", "depth", "eligible", "eligible_weight", "ballots", "weight",
                           "turnout_percent"]
    assert rows[0][9:] == ["total:x", "total:y", "total:z", "winners", "tie"]
    by_unit = {row[0]: row for row in rows[1:]}
    assert by_unit["r"][2].startswith("'=")  # a formula-looking name is neutralised
    assert by_unit["r"][4:9] == ["6", "6", "5", "5", "83.33"]
    expected = polls.tally(case.create, [("", 1, b) for _, b in case.ballots])
    assert by_unit["r"][9:12] == [str(expected["totals"][o]) for o in "xyz"]
    assert by_unit["r"][12] == " ".join(expected["winners"])
    assert by_unit["a"][2] == "수원시" and by_unit["a"][6] == "3"


def test_hidden_results_leave_every_option_figure_out() -> None:
    stats = engine_for(ranked_poll()).polls["p1"]
    rows = list(csv.reader(io.StringIO(build_csv(stats, False))))
    assert all(cell == "" for row in rows[1:] for cell in row[9:])
    export = build_export(stats, False)
    assert all(unit["result"] is None for unit in export["units"])
    assert all(unit["result"] is None for unit in build_snapshot(stats, False)["units"])


def test_json_export_holds_the_runoff_rounds_and_the_series() -> None:
    case = ranked_poll()
    stats = engine_for(case).polls["p1"]
    export = build_export(stats, True)
    root = next(unit for unit in export["units"] if unit["id"] == "r")
    expected = polls.tally(case.create, [("", 1, b) for _, b in case.ballots])
    assert root["result"]["rounds"] == expected["rounds"] and root["result"]["winners"] == expected["winners"]
    assert root["series"][-1][1:] == [5, 5] and export["series_fields"] == ["time_ms", "ballots", "weight"]
    assert [unit["id"] for unit in build_export(stats, True, "b")["units"]] == ["b"]


# --- the endpoints, over a real node --------------------------------------------------------------

@pytest.fixture
def world(node_urls: Any, ledger_node: LedgerNode, node_gateway: LedgerGateway) -> StatsWorld:  # noqa: F811
    node_urls(ledger_node.url)
    world = make_stats_world(node_gateway, live_results=True)
    jangan = world.nodes["jangan"].unit_id
    node_gateway.transport.commit([world.cast(node_gateway, world.voters[jangan][0], "park")], 20)
    return world


def member_client(world: StatsWorld, slug: str = "jangan") -> Client:
    member = Member.objects.create(display_name="reader")
    Membership.objects.create(member=member, community=world.nodes[slug], joined_via="invite")
    client = Client()
    session = client.session
    session[SESSION_KEY] = member.pk
    session.save()
    return client


@pytest.mark.django_db(transaction=True)
@pytest.mark.network
def test_export_endpoints_serve_files_to_members_and_refuse_others(world: StatsWorld) -> None:
    ledger_id = world.poll.ledger_id
    base = f"/communities/polls/{ledger_id}/stats"
    client = member_client(world)
    response = client.get(base + ".csv")
    assert response.status_code == 200 and response["Content-Type"] == "text/csv; charset=utf-8"
    assert response["Content-Disposition"] == f'attachment; filename="poll-{ledger_id}-statistics.csv"'
    text = response.content.decode("utf-8")
    assert text.startswith("\ufeff")
    rows = {row[0]: row for row in csv.reader(io.StringIO(text.lstrip("\ufeff")))}
    root = world.nodes["gyeonggi"].unit_id
    assert rows[root][4:9] == ["4", "4", "1", "1", "25.00"] and rows[root][9:11] == ["1", "0"]
    response = client.get(base + ".json")
    assert response["Content-Type"] == "application/json"
    assert response["Content-Disposition"] == f'attachment; filename="poll-{ledger_id}-statistics.json"'
    data = json.loads(response.content)
    assert data["poll"] == ledger_id and len(data["units"]) == 4
    one = client.get(base + ".json", {"unit": world.nodes["suwon"].unit_id})
    assert [unit["ballots"] for unit in json.loads(one.content)["units"]] == [1]
    missing = client.get(base + ".json", {"unit": "nope"})
    assert missing.status_code == 404 and json.loads(missing.content)["code"] == "unit_not_found"
    page = client.get(base + "/")
    assert page.status_code == 200 and b'data-socket="/ws/communities/polls/' in page.content
    anonymous = Client().get(base + ".csv")
    assert anonymous.status_code == 401 and json.loads(anonymous.content)["code"] == "stats_sign_in_required"
    outsider = Client()
    outsider.force_login(make_user("csv-outsider"))
    refused = outsider.get(base + ".json")
    assert refused.status_code == 404 and json.loads(refused.content)["code"] == "stats_not_visible"
    assert outsider.get(base + "/").status_code == 404
