"""Tampering with a finished election's stored data: the verifier detects every change and names the spot.

Seeded and reproducible. One bundle of a closed election (in-process ledger, real
signatures) is changed one byte at a time, both at the JSON value level (the line stays
canonical, so only the protocol's rules can catch it) and at the raw byte level, over every
field of block lines, headers, transactions and certificates. Each case must fail, at the
height of the changed line, and at the changed transaction or certificate when it was one.
Row-level tampering through a node database (deleted vote, forged transaction, reordered
blocks) is in test_export.py; truncation is here.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections import defaultdict
from typing import Any

import pytest

from ledger.core.encoding import encode

from .helpers import compress, election_content, finished_election, plain_lines, verify_bytes

SEED = 20261123
JSON_CASES = 700
RAW_CASES = 700
ECDSA_CASES = 25
HEX_DIGITS = "0123456789abcdef"


@pytest.fixture(scope="module")
def election() -> dict[str, Any]:
    genesis, chain, tally = finished_election()
    lines = plain_lines(election_content(genesis, chain, tally))
    places = []  # (line number, height, kind, tx index)
    for number, line in enumerate(lines):
        record = json.loads(line)
        if record.get("t") in ("block", "tx", "cert"):
            places.append((number, record["height"], record["t"], record.get("index")))
    return {"lines": lines, "places": places}


def leaf_paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    if isinstance(value, dict):
        return [p for key, item in value.items() for p in leaf_paths(item, (*prefix, key))]
    if isinstance(value, list):
        return [p for index, item in enumerate(value) for p in leaf_paths(item, (*prefix, index))]
    return [prefix]


def changed(value: Any, rng: random.Random) -> Any:
    """The same value with one character or digit changed (never equal to the original)."""
    if isinstance(value, int):
        return value + rng.choice([-1, 1, 2, 1000])
    if value is None:
        return "0" * 64
    if not value:
        return "x"
    position = rng.randrange(len(value))
    alphabet = HEX_DIGITS if all(ch in HEX_DIGITS for ch in value) else HEX_DIGITS + "xyz-_.AZ가"
    replacement = rng.choice([ch for ch in alphabet if ch != value[position]])
    return value[:position] + replacement + value[position + 1:]


def set_path(value: Any, path: tuple[Any, ...], new: Any) -> None:
    for step in path[:-1]:
        value = value[step]
    value[path[-1]] = new


def get_path(value: Any, path: tuple[Any, ...]) -> Any:
    for step in path:
        value = value[step]
    return value


def json_cases(election: dict[str, Any]) -> list[tuple[int, tuple[Any, ...]]]:
    """Every distinct field (paths with list positions generalised) at least once, then a random fill."""
    rng = random.Random(SEED)
    groups: dict[tuple[Any, ...], list[tuple[int, tuple[Any, ...]]]] = defaultdict(list)
    for number, _height, kind, _index in election["places"]:
        for path in leaf_paths(json.loads(election["lines"][number])):
            general = (kind, *("#" if isinstance(step, int) else step for step in path))
            groups[general].append((number, path))
    chosen = [rng.choice(items) for _, items in sorted(groups.items(), key=lambda kv: str(kv[0]))]
    everything = [case for items in groups.values() for case in items]
    chosen += rng.choices(everything, k=JSON_CASES - len(chosen))  # a field may be hit twice, changed differently
    return chosen


def expect_located(report: Any, place: tuple[int, int, str, int | None], field: str | None) -> None:
    """The failure is at the changed line's block; at its transaction; or at the certificate."""
    _number, height, kind, index = place
    failure = report.failure
    assert not report.ok and failure is not None
    assert failure.height == height, (failure, place)
    if kind == "tx":
        assert failure.tx_index == index, (failure, place)
    elif kind == "cert":
        assert failure.field == "certificate", (failure, place)
    elif field is not None:
        allowed = {field, "hash", "certificate"} | ({"proposer"} if field == "round" else set())
        assert failure.field in allowed, (failure, place, field)
    else:
        assert failure.tx_index is None, (failure, place)


def test_json_value_changes_are_all_detected_at_their_place(election: dict[str, Any]) -> None:
    rng = random.Random(SEED + 1)
    places = {place[0]: place for place in election["places"]}
    cases = json_cases(election)
    assert len(cases) == JSON_CASES
    kinds = set()
    for number, path in cases:
        record = json.loads(election["lines"][number])
        original = get_path(record, path)
        set_path(record, path, changed(original, rng))
        lines = list(election["lines"])
        lines[number] = encode(record) + b"\n"
        report = verify_bytes(compress(lines), workers=1)
        place = places[number]
        record_fields = {"t": "header", "height": "height", "hash": "hash"}  # the block line's own fields
        header_field = path[1] if place[2] == "block" and path[0] == "header" else (
            record_fields[path[0]] if place[2] == "block" else None)
        expect_located(report, place, header_field)
        kinds.add((place[2], path[0]))
    assert {("block", "header"), ("block", "hash"), ("tx", "tx"), ("tx", "id"), ("cert", "certificate")} <= kinds


def test_raw_byte_changes_are_all_detected_at_their_place(election: dict[str, Any]) -> None:
    rng = random.Random(SEED + 2)
    for _ in range(RAW_CASES):
        place = rng.choice(election["places"])
        number = place[0]
        line = bytearray(election["lines"][number])
        position = rng.randrange(len(line) - 1)  # not the newline itself
        line[position] = rng.choice([b for b in range(256) if b != line[position]])
        lines = list(election["lines"])
        lines[number] = bytes(line)
        report = verify_bytes(compress(lines), workers=1)
        expect_located(report, place, None if place[2] != "block" else report.failure and report.failure.field)


def test_the_pure_python_ecdsa_path_detects_the_same_changes(election: dict[str, Any]) -> None:
    rng = random.Random(SEED + 3)
    places = {place[0]: place for place in election["places"]}
    for number, path in rng.sample(json_cases(election), ECDSA_CASES):
        record = json.loads(election["lines"][number])
        set_path(record, path, changed(get_path(record, path), rng))
        lines = list(election["lines"])
        lines[number] = encode(record) + b"\n"
        data = compress(lines)
        fast, pure = verify_bytes(data, workers=1), verify_bytes(data, workers=1, impl="ecdsa")
        assert pure.failure is not None and fast.failure is not None
        assert pure.failure.to_dict() == fast.failure.to_dict()
        expect_located(pure, places[number], None if places[number][2] != "block" else pure.failure.field)


def test_the_untouched_bundle_passes_and_every_truncation_fails(election: dict[str, Any]) -> None:
    lines = election["lines"]
    assert verify_bytes(compress(lines), workers=1).ok
    for keep in range(1, len(lines)):
        report = verify_bytes(compress(lines[:keep]), workers=1)
        assert not report.ok and report.failure is not None, keep
        assert report.failure.code in {"bundle_truncated", "bundle_header_mismatch"}, (keep, report.failure)
    cut = compress(lines)[:-20]  # the gzip stream itself ends early
    report = verify_bytes(cut, workers=1)
    assert not report.ok and report.failure is not None and report.failure.code == "bundle_truncated"


def test_swapped_and_dropped_blocks_fail_at_the_first_displaced_height(election: dict[str, Any]) -> None:
    lines = election["lines"]
    spans: dict[int, list[int]] = defaultdict(list)
    for number, height, _kind, _index in election["places"]:
        spans[height].append(number)
    first, second = spans[3], spans[4]
    swapped = lines[:first[0]] + [lines[n] for n in second] + [lines[n] for n in first] + lines[second[-1] + 1:]
    report = verify_bytes(compress(swapped), workers=1)
    assert report.failure is not None and (report.failure.height, report.failure.field) == (3, "height")
    dropped = lines[:first[0]] + lines[first[-1] + 1:]
    report = verify_bytes(compress(dropped), workers=1)
    assert report.failure is not None and (report.failure.height, report.failure.field) == (3, "height")


def resealed(lines: list[bytes], trailer: dict[str, Any]) -> bytes:
    return encode({**trailer, "sha256": hashlib.sha256(b"".join(lines)).hexdigest()}) + b"\n"


def test_changes_outside_the_blocks_are_detected(election: dict[str, Any]) -> None:
    lines = election["lines"]
    by_kind = {json.loads(line)["t"]: number for number, line in enumerate(lines)}
    expectations = {"result": "result_mismatch", "trailer": "bundle_digest_mismatch",
                    "metadata": "bundle_digest_mismatch", "contract": "contract_source_mismatch"}
    for kind, code in expectations.items():
        record = json.loads(lines[by_kind[kind]])
        if kind == "result":
            record["result"]["candidates"]["alice"] += 1
        elif kind == "trailer":
            record["txs"] += 1
        elif kind == "metadata":
            record["stations"]["st-1"]["name"] = "Station uno"
        else:
            record["source"] += "\n"
        changed_lines = list(lines)
        changed_lines[by_kind[kind]] = encode(record) + b"\n"
        if kind in ("result", "contract"):  # a forger who also rewrites the trailer's digest
            changed_lines[-1] = resealed(changed_lines[:-1], json.loads(lines[-1]))
        report = verify_bytes(compress(changed_lines), workers=1)
        assert report.failure is not None and report.failure.code == code, (kind, report.failure)


def test_a_cut_stream_after_a_changed_block_reports_the_block_first(election: dict[str, Any]) -> None:
    """Reading ahead for the worker processes must not let a later read error jump the queue."""
    lines = list(election["lines"])
    number = next(place[0] for place in election["places"] if place[1] == 3 and place[2] == "tx")
    lines[number] = lines[number].replace(b'"nonce":0', b'"nonce":5')
    cut = compress(lines)[:-20]
    for workers in (1, 2):
        report = verify_bytes(cut, workers=workers)
        assert report.failure is not None
        assert (report.failure.height, report.failure.code) == (3, "tx_id_mismatch"), (workers, report.failure)
