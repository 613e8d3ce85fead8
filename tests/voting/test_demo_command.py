"""``manage.py demo`` as a user runs it: a real process tree on free ports, stopped by SIGTERM.

Everything lives in a temporary ``--dir`` (never the project's var/). The test waits for
the banner, checks the web app, the ledger status page, the seeded election and the votes
in a node's tally, then sends SIGTERM and checks that the nodes and the web server are gone.
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings

from voting.demo import ELECTION_TITLE, STATIONS

pytestmark = [
    pytest.mark.network,
    pytest.mark.timeout(120),
    pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads the process tree from /proc"),
]
NODES = 4
BANNER_END = "Ctrl-C stops everything."
START_TIMEOUT_S = 60


def is_free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def is_listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def free_port_range(count: int) -> int:
    """A base port with ``count`` consecutive free ports after it."""
    for _ in range(200):
        base = random.randrange(20_000, 60_000 - count)
        if all(is_free(base + offset) for offset in range(count)):
            return base
    raise RuntimeError("no free port range found")


def descendants(pid: int) -> set[int]:
    """Every process below ``pid`` (Linux /proc)."""
    found: set[int] = set()
    pending = [pid]
    while pending:
        current = pending.pop()
        for task in Path(f"/proc/{current}/task").glob("*"):
            try:
                children = (task / "children").read_text().split()
            except OSError:
                continue
            for child in map(int, children):
                if child not in found:
                    found.add(child)
                    pending.append(child)
    return found


def is_alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        assert response.status == 200
        return json.loads(response.read())


class OutputReader:
    """Collects the demo's output in a thread so the pipe never fills up."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.lines: list[str] = []
        self.thread = threading.Thread(target=self._read, args=(process,), daemon=True)
        self.thread.start()

    def _read(self, process: subprocess.Popen[str]) -> None:
        assert process.stdout is not None
        for line in process.stdout:
            self.lines.append(line.rstrip("\n"))

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


def wait_for_banner(process: subprocess.Popen[str], output: OutputReader) -> None:
    deadline = time.monotonic() + START_TIMEOUT_S
    while BANNER_END not in output.text:
        if process.poll() is not None:
            pytest.fail(f"demo exited with {process.returncode} before the banner:\n{output.text}")
        if time.monotonic() > deadline:
            pytest.fail(f"no banner after {START_TIMEOUT_S}s:\n{output.text}")
        time.sleep(0.2)


def test_demo_starts_nodes_seeds_votes_serves_web_and_stops_everything_on_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "demo-state"
    web_port, base_port = free_port_range(1), free_port_range(NODES)
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "DATABASE_URL": f"sqlite:///{state / 'web.sqlite3'}"}
    command = [sys.executable, str(settings.BASE_DIR / "manage.py"), "demo", "--dir", str(state),
               "--nodes", str(NODES), "--port", str(web_port), "--base-port", str(base_port)]
    process = subprocess.Popen(command, cwd=settings.BASE_DIR, env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = OutputReader(process)
    children: set[int] = set()
    try:
        wait_for_banner(process, output)
        children = descendants(process.pid)
        assert len(children) >= NODES + 1, f"expected {NODES} nodes and the web server, found {children}"
        commands = [Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0") for pid in children if is_alive(pid)]
        assert [b"poll_schedule", b"--every", b"30"] in [c[2:5] for c in commands], commands  # polls follow schedule
        web = f"http://127.0.0.1:{web_port}"
        assert f"{web}/ledger/status/" in output.text
        ledger_id = re.search(r"ledger id (\w+)", output.text)
        assert ledger_id is not None, output.text

        with urllib.request.urlopen(web + "/", timeout=10) as response:
            assert response.status == 200
        network = get_json(web + "/ledger/status/?format=json")
        assert [node["state"] for node in network["nodes"]] == ["ok"] * NODES
        assert {node["url"] for node in network["nodes"]} == {
            f"http://127.0.0.1:{base_port + i}" for i in range(NODES)
        }

        with sqlite3.connect(state / "web.sqlite3") as db:
            rows = db.execute("SELECT title, status, ledger_id FROM voting_election").fetchall()
        assert rows == [(ELECTION_TITLE, "open", ledger_id.group(1))]

        args = urllib.parse.urlencode({"args": json.dumps({"election": ledger_id.group(1)})})
        last_node = f"http://127.0.0.1:{base_port + NODES - 1}"
        tally = get_json(f"{last_node}/v1/query/vote/tally?{args}")["result"]
        votes = sum(spec.votes for spec in STATIONS)
        assert tally["status"] == "open"
        assert tally["totals"]["spent"] == votes
        assert tally["totals"]["checkins"] == sum(spec.checkins for spec in STATIONS)
        assert sum(tally["candidates"].values()) == votes

        cards = state / "demo" / "cards-suwon-1.pdf"
        assert cards.read_bytes().startswith(b"%PDF")
        assert cards.stat().st_mode & 0o777 == 0o600

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0, output.text
        output.thread.join(timeout=5)
        assert "the web app and all nodes are stopped" in output.text
        deadline = time.monotonic() + 5
        while any(is_alive(pid) for pid in children) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert [pid for pid in children if is_alive(pid)] == []
        assert not any(is_listening(port) for port in [web_port, *range(base_port, base_port + NODES)])
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        for pid in children:
            if is_alive(pid):
                os.kill(pid, signal.SIGKILL)
