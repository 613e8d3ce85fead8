"""The public node runs without Django and without a database: check it in a clean interpreter."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.publicnode.conftest import FinishedChain
from tests.publicnode.replay import ReplayNode

pytestmark = [pytest.mark.network]
ROOT = Path(__file__).resolve().parent.parent.parent
PROGRAM = """
import json, sys
from publicnode.__main__ import main
code = main(sys.argv[1:])
loaded = sorted({m.split('.')[0] for m in sys.modules} & {'django', 'rest_framework', 'aiohttp', 'channels', 'psycopg'})
print(json.dumps({"code": code, "loaded": loaded}))
"""


def test_a_check_round_loads_no_django_and_no_database_driver(finished: FinishedChain, tmp_path: Path) -> None:
    node = ReplayNode("solo", finished.genesis, finished.status, finished.entries)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO", "DATABASE"))}
    try:
        result = subprocess.run([sys.executable, "-c", PROGRAM, "--node", node.url, "--data", str(tmp_path / "pn"),
                                 "--check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60,
                                check=False)
    finally:
        node.close()
    report = json.loads(result.stdout.splitlines()[-1])
    assert report == {"code": 0, "loaded": []}, result.stderr
    assert sorted(p.name for p in (tmp_path / "pn").iterdir()) == [
        "blocks.jsonl", "checkpoints.jsonl", "crosscheck.json", "genesis.json"]  # no alarm, no alarms.jsonl
