"""The continuous mode with ``--serve``: a read-only HTML dashboard and ``/status.json``, in two languages."""

from __future__ import annotations

import ast
import json
import re
import signal
import subprocess
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.core.encoding import encode
from publicnode import dashboard
from tests.ledger.node.support import wait_until
from tests.publicnode.conftest import FinishedChain
from tests.publicnode.replay import ReplayNode

pytestmark = [pytest.mark.network, pytest.mark.e2e]
ROOT = Path(__file__).resolve().parent.parent.parent


@pytest.fixture
def served(finished: FinishedChain, tmp_path: Path) -> Iterator[tuple[str, list[ReplayNode], list[str]]]:
    nodes = [ReplayNode(name, finished.genesis, finished.status, finished.entries) for name in ("a", "b")]
    process = subprocess.Popen([sys.executable, "-m", "publicnode", *[a for n in nodes for a in ("--node", n.url)],
                                "--data", str(tmp_path / "pn"), "--serve", "127.0.0.1:0", "--interval", "0.3"],
                               cwd=ROOT, stderr=subprocess.PIPE, text=True)
    lines: list[str] = []

    def read() -> None:
        assert process.stderr is not None
        lines.extend(iter(process.stderr.readline, ""))

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    try:
        found = wait_until(lambda: next((re.search(r"dashboard at (http://\S+/)", line) for line in lines
                                         if "dashboard at" in line), None), timeout=30, what="the dashboard")
        yield found.group(1).rstrip("/"), nodes, lines
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=30)
        reader.join(timeout=5)
        for node in nodes:
            node.close()
        assert code == 0, "".join(lines)


def get(url: str, **headers: str) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, dict(exc.headers), exc.read()


def status(base: str) -> dict[str, Any]:
    return json.loads(get(base + "/status.json")[2])  # type: ignore[no-any-return]


def test_dashboard_shows_nodes_checkpoints_and_then_an_alarm(
        finished: FinishedChain, served: tuple[str, list[ReplayNode], list[str]]) -> None:
    base, nodes, log = served
    first = wait_until(lambda: (s := status(base))["round"] >= 1 and s, timeout=30, what="a first round")
    assert first["ok"] is True and first["height"] == finished.height
    assert [(n["node_id"], n["reachable"], n["agreeing"]) for n in first["nodes"]] == [("a", True, True),
                                                                                        ("b", True, True)]
    assert first["last_checkpoint"]["height"] == finished.height
    assert sorted(first["last_checkpoint"]["nodes_agreeing"]) == ["a", "b"]

    code, headers, body = get(base + "/")
    page = body.decode()
    assert code == 200 and headers["Content-Type"].startswith("text/html")
    assert "<script" not in page and 'http-equiv="refresh"' in page
    assert "No alarm" in page and first["head_hash"] in page
    assert "default-src 'none'" in headers["Content-Security-Policy"]
    korean = get(base + "/", **{"Accept-Language": "ko-KR,ko;q=0.9"})[2].decode()
    assert "공개 노드" in korean and "경보 없음" in korean
    assert "Public node" in get(base + "/?lang=en", **{"Accept-Language": "ko"})[2].decode()

    # Node b starts serving a changed block 2: the next rounds put it on the page.
    entry = json.loads(finished.entries[1])
    entry["cert"]["sigs"][0]["sig"] = "0" * 128
    nodes[1].entries[1] = encode(entry)
    nodes[1].status = dict(nodes[1].status)
    later = wait_until(lambda: (s := status(base))["ok"] is False and s, timeout=30, what="the alarm")
    alarm = later["alarms"][0]
    assert (alarm["code"], alarm["node"], alarm["height"], alarm["location"]) == (
        "certificate_invalid", "b", 2, "cert.sigs[0]")
    assert [n["agreeing"] for n in later["nodes"]] == [True, False]
    page = get(base + "/")[2].decode()
    assert "certificate_invalid" in page and "ALARM" in page
    assert any("code=certificate_invalid node=b height=2" in line for line in log)


def test_dashboard_is_read_only_and_answers_unknown_paths_with_json_errors(
        served: tuple[str, list[ReplayNode], list[str]]) -> None:
    base, _, _ = served
    code, _, body = get(base + "/admin")
    assert code == 404 and json.loads(body)["code"] == "not_found"
    request = urllib.request.Request(base + "/status.json", data=b"{}", method="POST")
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(request, timeout=10)
    assert refused.value.code == 405 and json.loads(refused.value.read())["code"] == "method_not_allowed"


def test_every_dashboard_text_has_a_korean_translation() -> None:
    source = Path(dashboard.__file__).read_text(encoding="utf-8")
    texts = {node.args[0].value for node in ast.walk(ast.parse(source))
             if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "_"
             and node.args and isinstance(node.args[0], ast.Constant) and isinstance(node.args[0].value, str)}
    assert len(texts) > 20
    korean = dashboard.translator("ko")
    assert {text for text in texts if korean(text) == text} == set()
