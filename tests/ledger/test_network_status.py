"""The side-by-side node overview: agreement, nodes behind, divergence, unreachable nodes."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from ledger import views
from ledger.errors import NodeUnavailable
from ledger.network import BEHIND, DIVERGED, DOWN, OK, get_network_overview

GENESIS = "g" * 64


class StubClient:
    """NodeClient's read methods over canned answers: heads and the hash of block 5 per node."""

    def __init__(self, nodes: dict[str, Any]) -> None:
        self.nodes = nodes

    def statuses(self) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for url, node in self.nodes.items():
            if node is None:
                result[url] = NodeUnavailable(detail={"nodes": {url: "ConnectionRefusedError"}})
            else:
                result[url] = {"node_id": node["id"], "chain": "c", "genesis_hash": GENESIS, "height": node["height"],
                               "head_hash": node["hashes"][node["height"]], "last_commit_wall": 1_795_000_000_000,
                               "round": 0, "step": "propose", "mempool_size": 0, "peers_connected": 2,
                               "peers": {"a": {}, "b": {}, "c": {}}}
        return result

    def block(self, height: int, *, url: str) -> dict[str, Any]:
        return {"hash": self.nodes[url]["hashes"][height]}


def _node(node_id: str, height: int, fork_at: int | None = None) -> dict[str, Any]:
    return {"id": node_id, "height": height,
            "hashes": {h: ("x" if fork_at is not None and h >= fork_at else "a") * 63 + str(h) for h in range(1, 9)}}


def test_overview_flags_divergence_and_lag() -> None:
    client = StubClient({
        "http://n1": _node("suwon", 7),
        "http://n2": _node("seongnam", 5),
        "http://n3": _node("anyang", 7, fork_at=4),
        "http://n4": _node("osan", 6),
        "http://n5": None,
    })
    overview = get_network_overview(client)  # type: ignore[arg-type]
    states = {view.node_id or view.url: view.state for view in overview.nodes}
    assert states == {"suwon": OK, "seongnam": BEHIND, "anyang": DIVERGED, "osan": BEHIND, "http://n5": DOWN}
    assert (overview.common_height, overview.max_height, overview.diverged) == (5, 7, ["anyang"])
    assert overview.to_dict()["nodes"][0]["last_commit"].startswith("2026-")


def test_overview_when_every_node_agrees() -> None:
    overview = get_network_overview(StubClient({"http://n1": _node("a", 3), "http://n2": _node("b", 3)}))  # type: ignore[arg-type]
    assert [v.state for v in overview.nodes] == [OK, OK] and not overview.diverged


@pytest.mark.django_db
def test_status_page_highlights_the_diverged_node(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    stub = StubClient({"http://n1": _node("suwon", 6), "http://n2": _node("seongnam", 6, fork_at=6),
                       "http://n3": _node("anyang", 6)})
    monkeypatch.setattr(views.NodeClient, "from_settings", classmethod(lambda cls: stub))
    page = client.get("/ledger/status/", HTTP_ACCEPT_LANGUAGE="en").content.decode()
    assert 'class="state-diverged"' in page and "DIVERGED" in page and "seongnam" in page
    data = client.get("/ledger/status/?format=json").json()
    assert data["diverged"] == ["seongnam"] and data["common_height"] == 6


NAMES = {"suwon": "수원시", "seongnam": "성남시", "anyang": "안양시", "osan": "오산시"}


class NamedStubClient(StubClient):
    """Statuses as a real node reports them: the genesis validators with names, and peers with URLs."""

    def statuses(self) -> dict[str, Any]:
        result = super().statuses()
        urls = {node["id"]: url for url, node in self.nodes.items() if node is not None}
        urls["osan"] = "http://n4"
        for status in result.values():
            if isinstance(status, dict):
                status["validators"] = [{"id": i, "name": n, "power": 1} for i, n in NAMES.items()]
                status["peers"] = {i: {"url": u} for i, u in urls.items() if i != status["node_id"]}
        return result


@pytest.mark.django_db
def test_status_page_names_nodes_in_korean_and_keeps_divergence(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    stub = NamedStubClient({"http://n1": _node("suwon", 6), "http://n2": _node("seongnam", 6, fork_at=6),
                            "http://n3": _node("anyang", 6), "http://n4": None})
    monkeypatch.setattr(views.NodeClient, "from_settings", classmethod(lambda cls: stub))
    page = client.get("/ledger/status/", HTTP_ACCEPT_LANGUAGE="ko").content.decode()
    for name in ("수원시", "성남시", "안양시", "오산시"):  # 오산시 is down: named from the others' peer lists
        assert f'<span class="node-name">{name}</span>' in page
    assert 'class="state-diverged"' in page and "분기됨" in page
    assert "높이 6에서 분기 발생: 성남시 노드가" in page
    nav = page[page.index('<nav class="site-nav"'):page.index("</nav>")]
    assert "원장 노드" in nav and "로그인" in nav
    data = client.get("/ledger/status/?format=json").json()
    assert [node["name"] for node in data["nodes"]] == ["수원시", "성남시", "안양시", "오산시"]
    assert data["diverged"] == ["seongnam"]


def test_node_names_come_from_validators_and_peer_urls() -> None:
    statuses = {"http://a/": {"node_id": "suwon", "validators": [{"id": "suwon", "name": "수원시"},
                                                              {"id": "osan", "name": "오산시"}],
                              "peers": {"osan": {"url": "http://b/"}}},
                "http://b": NodeUnavailable(detail={})}
    names, ids = views.get_node_names(statuses)
    assert names == {"suwon": "수원시", "osan": "오산시"}
    assert ids == {"http://a": "suwon", "http://b": "osan"}
