"""Every single-byte change to a real finished chain, served by one node, is caught and located.

The chain is the one the real 4-node network committed (``conftest.finished``), replayed by
two lightweight HTTP stand-ins (``replay.py``): an honest one and one serving a single entry
with one byte changed. Seeded and reproducible. Two kinds of change, sampled over every
field of every block entry (header, each transaction, certificate, ``hash``, ``height``):

- value level: one character or digit of one JSON value, so the entry stays canonical JSON
  and only the protocol's rules (hashes, signatures, certificate, re-execution) can catch it;
- raw level: any byte of the entry replaced by any other byte (syntax, UTF-8, keys too).

The changed node is the sync source in half of the cases (the block fails verification) and
only cross-checked in the other half (it differs from the verified copy). Every case must
raise an error alarm naming that node, the changed height and the changed spot, must not
accuse the honest node, and must leave the verified chain equal to the real one.
``committed_at`` is excluded: it is each node's own wall-clock note, covered by no hash or
signature (docs/public-node.md).
"""

from __future__ import annotations

import json
import random
import re
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ledger.core.encoding import encode
from publicnode.alarms import AlarmLog
from publicnode.client import NodeApi
from publicnode.follower import Follower
from publicnode.store import Store
from publicnode.trust import establish_genesis
from tests.publicnode.conftest import FinishedChain
from tests.publicnode.replay import ReplayNode

pytestmark = [pytest.mark.network, pytest.mark.e2e]
SEED = 20261123
VALUE_CASES = 500
RAW_CASES = 500
HEX = "0123456789abcdef"


@pytest.fixture(scope="module")
def replay(finished: FinishedChain) -> Iterator[tuple[ReplayNode, ReplayNode]]:
    honest = ReplayNode("honest", finished.genesis, finished.status, finished.entries)
    changed = ReplayNode("changed", finished.genesis, finished.status, finished.entries)
    try:
        yield honest, changed
    finally:
        honest.close()
        changed.close()


# --- an independent map from byte offsets to JSON members ----------------------------------------


def _join(path: str, key: str | int) -> str:
    return f"{path}[{key}]" if isinstance(key, int) else (f"{path}.{key}" if path else key)


def member_spans(value: Any) -> tuple[bytes, list[tuple[int, int, str]]]:
    """Canonical bytes of ``value`` and the (start, end, path) of every member, its key included."""
    out = bytearray()
    spans: list[tuple[int, int, str]] = []

    def emit(item: Any, path: str) -> None:
        if isinstance(item, dict):
            out.extend(b"{")
            for number, key in enumerate(sorted(item)):
                out.extend(b"," if number else b"")
                start = len(out)
                out.extend(json.dumps(key).encode() + b":")
                emit(item[key], _join(path, key))
                spans.append((start, len(out), _join(path, key)))
            out.extend(b"}")
        elif isinstance(item, list):
            out.extend(b"[")
            for number, element in enumerate(item):
                out.extend(b"," if number else b"")
                start = len(out)
                emit(element, _join(path, number))
                spans.append((start, len(out), _join(path, number)))
            out.extend(b"]")
        else:
            out.extend(json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode())

    emit(value, "")
    return bytes(out), spans


def innermost(spans: list[tuple[int, int, str]], offset: int) -> str:
    covering = [(end - start, path) for start, end, path in spans if start <= offset < end]
    return min(covering)[1] if covering else ""


def leaves(value: Any, path: str = "") -> list[tuple[str, Any]]:
    if isinstance(value, dict):
        return [leaf for key in sorted(value) for leaf in leaves(value[key], _join(path, key))]
    if isinstance(value, list):
        return [leaf for index, item in enumerate(value) for leaf in leaves(item, _join(path, index))]
    return [(path, value)]


def set_leaf(value: Any, path: str, new: Any) -> None:
    parts = re.findall(r"[^.\[\]]+|\[\d+\]", path)
    for part in parts[:-1]:
        value = value[int(part[1:-1])] if part.startswith("[") else value[part]
    last = parts[-1]
    if last.startswith("["):
        value[int(last[1:-1])] = new
    else:
        value[last] = new


def changed_value(old: Any, rng: random.Random) -> Any:
    """The same value with one character or digit changed."""
    if type(old) is int:
        digits = list(str(old))
        index = rng.randrange(len(digits))
        digits[index] = rng.choice([d for d in "0123456789" if d != digits[index]])
        new = int("".join(digits))
        return new if new != old else old + 1
    text = str(old)
    index = rng.randrange(len(text))
    pool = HEX + "G" if text[index] in HEX else "abcdefghijklmnopqrstuvwxyz-"
    return text[:index] + rng.choice([c for c in pool if c != text[index]]) + text[index + 1:]


def granule(path: str) -> str:
    """The spot an observer must be told: a header field, a transaction, the certificate, hash or height."""
    match = re.match(r"block\.header\.\w+|block\.txs\[\d+\]|block\.header|block\.txs|block|cert|hash|height", path)
    return match.group(0) if match else path


def located(location: str | None, expected: str) -> bool:
    """The alarm names the changed spot, or a part of the container whose punctuation was changed.

    A changed byte between members (a comma, a bracket of the entry itself) belongs to no
    member; naming either neighbour is right, so the entry's own punctuation accepts any part.
    """
    got, want = granule(location or ""), granule(expected)
    return want == "entry" or got == want or got.startswith((want + ".", want + "["))


# --- the cases ------------------------------------------------------------------------------------


def make_cases(entries: list[bytes]) -> list[tuple[str, int, bytes, str]]:
    """(kind, height, changed entry bytes, expected spot), seeded."""
    rng = random.Random(SEED)
    cases: list[tuple[str, int, bytes, str]] = []
    while len(cases) < VALUE_CASES:
        height = rng.randrange(1, len(entries) + 1)
        value = json.loads(entries[height - 1])
        path, old = rng.choice([leaf for leaf in leaves(value) if leaf[0] != "committed_at"])
        set_leaf(value, path, changed_value(old, rng))
        cases.append(("value", height, encode(value), path))
    while len(cases) < VALUE_CASES + RAW_CASES:
        height = rng.randrange(1, len(entries) + 1)
        raw = entries[height - 1]
        canonical, spans = member_spans(json.loads(raw))
        assert canonical == raw  # the independent map reads the served bytes exactly
        offset = rng.randrange(len(raw))
        spot = innermost(spans, offset)
        if spot == "committed_at":
            continue
        data = bytearray(raw)
        data[offset] = rng.choice([b for b in range(256) if b != raw[offset]])
        cases.append(("raw", height, bytes(data), spot or "entry"))
    return cases


def test_every_single_byte_change_is_detected_and_located(
        finished: FinishedChain, replay: tuple[ReplayNode, ReplayNode], tmp_path: Path) -> None:
    honest, changed = replay
    cases = make_cases(finished.entries)
    misses: list[str] = []
    codes: Counter[str] = Counter()
    spots: Counter[str] = Counter()
    for number, (kind, height, data, expected) in enumerate(cases):
        changed.reset()
        changed.entries[height - 1] = data
        order = [changed, honest] if number % 2 == 0 else [honest, changed]
        store = Store(tmp_path / f"case-{number}")
        alarms = AlarmLog(store.alarms_path)
        apis = [NodeApi(node.url, timeout_s=10) for node in order]
        follower = Follower(store, apis, establish_genesis(store, apis[:1] if order[0] is honest else apis[1:],
                                                           alarms, None), alarms, spot_checks=0)
        follower.run_round()
        errors = [a for a in alarms.raised if a.severity == "error"]
        hits = [a for a in errors if a.url == changed.url and a.height == height and located(a.location, expected)]
        wrongly = [a for a in errors if a.url != changed.url]
        if not hits or wrongly or follower.chain.head_hash.hex() != json.loads(finished.entries[-1])["hash"]:
            misses.append(f"case {number} ({kind}, height {height}, {expected}, source "
                          f"{order[0].node_id}): {[a.log_line() for a in alarms.raised]}")
            continue
        codes[hits[0].code] += 1
        spots[granule(expected).split("[")[0].split(".")[-1] if expected.startswith("block.header") else
              granule(expected).split("[")[0]] += 1
    print(f"\n{len(cases)} cases, {len(cases) - len(misses)} detected and located; codes {dict(codes)}; "
          f"spots {dict(spots)}")
    assert not misses, f"{len(misses)} of {len(cases)} missed:\n" + "\n".join(misses[:15])
    assert len(cases) >= 1000 and set(spots) >= {"block.txs", "cert", "hash", "height", "state_root", "prev"}
