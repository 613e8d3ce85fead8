"""deploy/assemble_genesis.py: public keys in, the byte-exact genesis out; bad plans refused, nothing written."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path
from types import ModuleType

import pytest
from django.conf import settings
from hypothesis import given
from hypothesis import strategies as st

from ledger.core.crypto import PrivateKey
from ledger.core.genesis import Genesis
from ledger.localnet import compute_contract_pins
from ledger.services import read_genesis_file

SCRIPT = Path(settings.BASE_DIR) / "deploy" / "assemble_genesis.py"
KEYS = [PrivateKey.from_secret(bytes([i + 1]) * 32).public_key.hex() for i in range(5)]


def load_script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("assemble_genesis", SCRIPT)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules.setdefault("assemble_genesis", module)
    spec.loader.exec_module(module)
    return module


assemble = load_script()


def plan(count: int = 4) -> dict[str, object]:
    return {"chain": "gyeonggi-2026",
            "validators": [{"id": f"city{i}", "name": f"시{i}", "pubkey": KEYS[i]} for i in range(count)],
            "authorities": [{"id": "nec", "name": "선관위", "pubkey": KEYS[4]}]}


def test_writes_a_genesis_the_node_reads_with_this_checkout_pins(tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plan.json").write_text(json.dumps(plan()), encoding="utf-8")
    assert assemble.main([str(tmp_path / "plan.json"), "--out", str(tmp_path / "g.json"), "--time", "1000"]) == 0
    genesis = read_genesis_file(tmp_path / "g.json")
    assert genesis.contracts == compute_contract_pins() and genesis.time == 1000
    assert [v.power for v in genesis.validators] == [1] * 4 and genesis.max_faulty() == 1
    assert f"genesis hash: {genesis.hash.hex()}" in capsys.readouterr().out


def test_never_overwrites_a_genesis(tmp_path: Path) -> None:
    (tmp_path / "plan.json").write_text(json.dumps(plan()), encoding="utf-8")
    (tmp_path / "g.json").write_text("old")
    assert assemble.main([str(tmp_path / "plan.json"), "--out", str(tmp_path / "g.json")]) == 2
    assert (tmp_path / "g.json").read_text() == "old"


BAD_PLANS = [
    ("no validators", {"chain": "c", "validators": []}),
    ("bad key", {**plan(1), "validators": [{"id": "a", "name": "a", "pubkey": "04zz"}]}),
    ("duplicate key", {**plan(1), "validators": [{"id": "a", "name": "a", "pubkey": KEYS[0]},
                                                  {"id": "b", "name": "b", "pubkey": KEYS[0]}]}),
    ("unknown field", {**plan(1), "consensus": {}}),
    ("bad chain", {**plan(1), "chain": "has space"}),
    ("unknown param", {**plan(1), "params": {"nope": 1}}),
    ("not an object", ["chain"]),
]


@pytest.mark.parametrize(("why", "bad"), BAD_PLANS, ids=[why for why, _ in BAD_PLANS])
def test_bad_plans_are_refused_with_a_message_and_write_nothing(why: str, bad: object, tmp_path: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "plan.json").write_text(json.dumps(bad), encoding="utf-8")
    assert assemble.main([str(tmp_path / "plan.json"), "--out", str(tmp_path / "g.json")]) == 2
    assert not (tmp_path / "g.json").exists() and capsys.readouterr().err.startswith("error: ")


@given(st.integers(1, 4), st.integers(0, 2**52))
def test_output_round_trips_through_the_core_parser(count: int, now_ms: int) -> None:
    genesis = assemble.build_genesis(plan(count), now_ms=now_ms)
    assert Genesis.from_bytes(genesis.to_bytes()) == genesis
    assert [v.pubkey.hex() for v in genesis.validators] == KEYS[:count]
