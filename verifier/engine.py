"""Verification of a whole bundle from genesis (docs/protocol.md 9.2-9.3, docs/audit-bundle.md).

Order per block, stopping at the first failure: the record layout, the header and its
position (``height``), every transaction line (canonical bytes, fields, stored id,
signature), then the rules of 9.2 in the protocol's order, re-execution, the state root,
the stored block hash, the commit certificate and the invariants of 10.9.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field as dataclass_field
from pathlib import Path
from typing import Any, BinaryIO

from . import canonical, signatures
from .bundle import BlockUnit, BundleReader, parse
from .contracts import Machine
from .errors import Invalid
from .merkle import merkle_root
from .pollcount import poll_report, polls
from .objects import Genesis, Header, Tx, certificate_checks, decode_genesis, decode_header
from .signatures import CryptoImpl
from .tally import Finding, check_invariants, compare_result, compute_tally, elections, reconcile
from .txcheck import TX_MARK, TxChecker

TAIL_KINDS = frozenset({"metadata", "result", "trailer"})
Progress = Callable[[int, int, int], None]  # (height, head height, transactions so far)


@dataclass
class Failure:
    code: str
    message: str
    height: int | None = None
    block: str | None = None
    field: str | None = None
    tx_index: int | None = None
    tx: str | None = None
    line: int | None = None
    detail: dict[str, Any] = dataclass_field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "height": self.height, "block": self.block,
                "field": self.field, "tx_index": self.tx_index, "tx": self.tx, "line": self.line,
                "detail": self.detail}


@dataclass
class Report:
    ok: bool = False
    chain: str | None = None
    genesis_hash: str | None = None
    height: int = 0
    head: str | None = None
    blocks: int = 0
    txs: int = 0
    votes: int = 0
    failure: Failure | None = None
    findings: list[Finding] = dataclass_field(default_factory=list)
    tallies: dict[str, Any] = dataclass_field(default_factory=dict)
    polls: dict[str, Any] = dataclass_field(default_factory=dict)
    results_checked: list[str] = dataclass_field(default_factory=list)
    crypto: str = ""
    workers: int = 1
    seconds: float = 0.0
    cpu: dict[str, float] = dataclass_field(default_factory=dict)

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.level == "warning"]

    def to_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "chain": self.chain, "genesis_hash": self.genesis_hash, "height": self.height,
                "head": self.head, "blocks": self.blocks, "txs": self.txs, "votes": self.votes,
                "failure": None if self.failure is None else self.failure.to_dict(),
                "warnings": len(self.warnings), "findings": [f.to_dict() for f in self.findings],
                "tallies": self.tallies, "polls": self.polls, "results_checked": self.results_checked, "crypto": self.crypto,
                "workers": self.workers, "seconds": round(self.seconds, 3), "cpu_seconds": self.cpu}


def _fail(report: Report, exc: Invalid, **where: Any) -> Report:
    detail = dict(exc.detail)
    place = {"height": detail.pop("height", None), "tx_index": detail.pop("tx_index", None),
             "tx": detail.pop("tx", None), "block": detail.pop("block", None), "line": detail.pop("line", None)}
    place.update({k: v for k, v in where.items() if v is not None and place.get(k) is None})
    report.failure = Failure(exc.code, exc.message, field=exc.field, detail=detail, **place)
    report.ok = False
    return report


class ChainState:
    """The verified head and the machine that re-executes the chain."""

    def __init__(self, genesis: Genesis, sources: dict[str, str], impl: CryptoImpl) -> None:
        self.genesis = genesis
        self.impl = impl
        self.machine = Machine(genesis, sources, impl)
        self.root = hashlib.sha256(b"EVOTE-STATE-V1:" + genesis.hash + self.machine.take_writes()).digest()
        self.height = 0
        self.head = genesis.hash
        self.time = genesis.time
        self.txs = 0
        self.votes = 0

    def verify_block(self, header: Header, txs: list[Tx], cert: Any, stored_hash: Any = None) -> None:
        """The rules of 9.2 after the transaction lines checked out; raises ``Invalid`` with its field."""
        g = self.genesis

        def bad(name: str, message: str) -> Invalid:
            return Invalid("block_invalid", message, field=name)

        if header.chain != g.chain:
            raise bad("chain", f"block of chain {header.chain}, not {g.chain}")
        if header.height != self.height + 1:
            raise bad("height", f"height {header.height} follows {self.height}")
        if header.prev != self.head.hex():
            raise bad("prev", "prev is not the hash of the previous block")
        if header.time <= self.time:
            raise bad("time", "block time does not increase")
        if header.proposer not in g.by_id:
            raise bad("proposer", f"{header.proposer} is not a validator")
        scheduled = g.validators[(header.height + header.round) % len(g.validators)].id
        if header.proposer != scheduled:
            raise bad("proposer", f"the proposer of height {header.height} round {header.round} is {scheduled}")
        if header.txs != len(txs):
            raise bad("txs", f"the header counts {header.txs} transactions, the block has {len(txs)}")
        if len(txs) > g.params["max_block_txs"]:
            raise bad("txs", "more transactions than max_block_txs")
        if header.tx_root != merkle_root([tx.id for tx in txs]).hex():
            raise bad("tx_root", "tx_root is not the Merkle root of the transaction ids")
        machine = self.machine
        machine.touched = set()
        for index, tx in enumerate(txs):
            try:
                machine.precheck(tx)
                machine.execute(tx, header.height, header.time)
            except Invalid as exc:
                raise Invalid(exc.code, exc.message, field="txs", tx_index=index, tx=tx.id.hex()) from exc
            if tx.type == "transfer":
                self.votes += 1
        root = machine.next_root(self.root)
        if header.state_root != root.hex():
            raise bad("state_root", "state_root differs from the root after re-execution")
        if stored_hash is not None and stored_hash != header.hash.hex():
            raise Invalid("block_hash_mismatch", "the stored block hash is not the SHA-256 of the stored header",
                          field="hash")
        self.check_certificate(header, cert)
        for election in sorted(machine.touched):
            check_invariants(machine, election)
        self.root, self.height, self.head, self.time = root, header.height, header.hash, header.time
        self.txs += len(txs)

    def check_certificate(self, header: Header, cert: Any) -> None:
        for key, sig, message in certificate_checks(cert, header, self.genesis):
            try:
                signatures.verify(key, sig, message, self.impl)
            except Invalid as exc:
                raise Invalid("certificate_invalid", f"a precommit signature fails: {exc.code}",
                              field="certificate") from exc


def verify_bundle(source: Path | BinaryIO, *, impl: CryptoImpl = "cryptography", workers: int = 1,
                  progress: Progress | None = None) -> Report:
    """Verify a bundle; ``BundleUnreadable`` only for files that are not a bundle at all."""
    report = Report(crypto=impl, workers=workers)
    reader = BundleReader(source)
    try:
        return _verify(reader, report, impl, workers, progress)
    finally:
        reader.close()


def _verify(reader: BundleReader, report: Report, impl: CryptoImpl, workers: int,
            progress: Progress | None) -> Report:
    lines = reader.lines()
    try:
        state, first_block = _prologue(reader, lines, report, impl)
    except Invalid as exc:
        return _fail(report, exc, height=0)
    claimed = reader.header.get("head_height")
    head_height = claimed if type(claimed) is int else 0
    checker = TxChecker(impl, workers)
    units = _units(reader, lines, first_block, head_height)
    try:
        for unit, checked in checker.run(units):
            try:
                _verify_unit(state, unit, checked)
            except Invalid as exc:
                report.height, report.head, report.txs = state.height, state.head.hex(), state.txs
                return _fail(report, exc, height=unit.height, line=unit.line)
            if progress is not None:
                progress(state.height, head_height, state.txs)
    except Invalid as exc:  # the stream broke while reading ahead
        report.height, report.head, report.txs = state.height, state.head.hex(), state.txs
        return _fail(report, exc, height=state.height + 1)
    finally:
        checker.close()
    report.height, report.head, report.txs, report.votes = state.height, state.head.hex(), state.txs, state.votes
    report.blocks = state.height
    try:
        _epilogue(reader, state, report)
    except Invalid as exc:
        return _fail(report, exc)
    report.ok = True
    return report


def _prologue(reader: BundleReader, lines: Iterator[tuple[int, bytes]], report: Report,
              impl: CryptoImpl) -> tuple[ChainState, tuple[int, bytes] | None]:
    """Header, genesis and contract sources; returns the state and the first line after them."""
    header = reader.header
    try:
        canonical.decode(reader.header_raw)
    except Invalid as exc:
        raise Invalid(exc.code, f"bundle header: {exc.message}", field="bundle_header") from exc
    number, raw = next(lines, (0, b""))
    if number == 0:
        raise Invalid("bundle_truncated", "the bundle ends after its header line", field="genesis")
    record = parse(raw)
    if type(record) is not dict or record.get("t") != "genesis" or record.keys() != {"t", "genesis"}:
        raise Invalid("bundle_record_invalid", "the second line must be the genesis record", field="genesis", line=number)
    canonical.decode(raw)
    genesis_raw = canonical.encode_unchecked(record["genesis"])
    genesis = decode_genesis(genesis_raw)
    report.chain, report.genesis_hash = genesis.chain, genesis.hash.hex()
    if header.get("chain") != genesis.chain or header.get("genesis_hash") != genesis.hash.hex():
        raise Invalid("bundle_header_mismatch", "the bundle header names another chain or genesis", field="bundle_header")
    sources: dict[str, str] = {}
    for number, raw in lines:
        record = parse(raw)
        if type(record) is not dict or record.get("t") != "contract":
            _check_sources(genesis, sources, report)
            return ChainState(genesis, sources, impl), (number, raw)
        try:
            canonical.decode(raw)
        except Invalid as exc:
            raise Invalid(exc.code, f"contract source line: {exc.message}", field="contracts", line=number) from exc
        if record.keys() != {"t", "id", "sha256", "source"} or type(record["source"]) is not str:
            raise Invalid("bundle_record_invalid", "a contract line has exactly t, id, sha256, source",
                          field="contracts", line=number)
        digest = hashlib.sha256(record["source"].encode("utf-8")).hexdigest()
        if digest != record["sha256"] or genesis.pins.get(record["id"]) != digest:
            raise Invalid("contract_source_mismatch",
                          f"the source of contract {str(record['id'])[:64]} does not hash to its genesis pin",
                          field="contracts", line=number, contract=record["id"])
        sources[record["id"]] = digest
    _check_sources(genesis, sources, report)
    return ChainState(genesis, sources, impl), None


def _check_sources(genesis: Genesis, sources: dict[str, str], report: Report) -> None:
    for contract in sorted(set(genesis.pins) - set(sources)):
        report.findings.append(Finding("warning", "contract_source_missing",
                                       f"the bundle has no source text for pinned contract {contract}"))


def _units(reader: BundleReader, lines: Iterator[tuple[int, bytes]], first: tuple[int, bytes] | None,
           head_height: int) -> Iterator[BlockUnit]:
    """Group lines into blocks; the first non-block line and everything after go to ``reader.tail``."""
    pending = first
    height = 0
    unit: BlockUnit | None = None

    def stream() -> Iterator[tuple[int, bytes]]:
        if pending is not None:
            yield pending
        yield from lines

    source = stream()
    while True:
        try:
            number, raw = next(source)
        except StopIteration:
            break
        except Invalid as exc:  # the stream itself broke: report it in order, after the blocks read
            if unit is not None:
                unit.error = exc
                yield unit
            elif height < head_height:
                yield BlockUnit(height + 1, 0, error=Invalid(exc.code, exc.message, field="header", **exc.detail))
            else:
                reader.tail.error = exc
            return
        if unit is not None and raw.startswith(b'{"height":') and TX_MARK in raw:
            unit.tx_lines.append(raw)  # judged in full by the workers
            continue
        record = parse(raw)
        kind = record.get("t") if type(record) is dict else None
        if unit is None:
            if kind == "block":
                height += 1
                unit = BlockUnit(height, number, raw, record)
                continue
            if kind not in TAIL_KINDS and height < head_height:
                code = "encoding_invalid" if record is None else "bundle_record_invalid"
                yield BlockUnit(height + 1, number, raw, None, error=Invalid(
                    code, f"line {number} should be the block line of block {height + 1}", field="header", line=number))
                return
            try:
                _read_tail(reader, (number, raw), source)
            except Invalid as exc:
                reader.tail.error = exc
            return
        if kind == "tx":
            unit.tx_lines.append(raw)
        elif kind == "cert":
            unit.cert_raw = raw
            yield unit
            unit = None
        else:
            header = unit.record.get("header") if type(unit.record) is dict else None
            declared = header.get("txs") if type(header) is dict else None
            name = "certificate" if declared == len(unit.tx_lines) else "txs"
            index = None if name == "certificate" else len(unit.tx_lines)
            unit.error = Invalid("encoding_invalid" if kind is None else "bundle_record_invalid",
                                 f"line {number} is not a transaction or certificate line of block {height}",
                                 field=name, tx_index=index, line=number)
            yield unit
            return
    if unit is not None:
        unit.error = Invalid("bundle_truncated", f"block {height} has no certificate line: the bundle is cut",
                             field="certificate")
        yield unit
        return
    reader.tail.error = Invalid("bundle_truncated", "the bundle ends without its trailer line", field="trailer")


def _read_tail(reader: BundleReader, first: tuple[int, bytes], lines: Iterator[tuple[int, bytes]]) -> None:
    tail = reader.tail
    pending: tuple[int, bytes] | None = first
    while pending is not None:
        number, raw = pending
        record = parse(raw)
        try:
            canonical.decode(raw)
        except Invalid as exc:
            tail.error = Invalid(exc.code, f"line {number}: {exc.message}", field="bundle", line=number)
            return
        if type(record) is not dict:
            tail.error = Invalid("bundle_record_invalid", f"line {number} is not a record", field="bundle", line=number)
            return
        if record.get("t") == "trailer":
            tail.trailer, tail.digest, tail.lines = record, reader.sha.hexdigest(), number - 1
            for extra, _ in lines:
                tail.error = Invalid("bundle_record_invalid", f"line {extra} follows the trailer", field="trailer",
                                     line=extra)
                return
            return
        tail.records.append((number, record))
        pending = next(lines, None)
    tail.error = Invalid("bundle_truncated", "the bundle ends without its trailer line", field="trailer")


def _verify_unit(state: ChainState, unit: BlockUnit, checked: Any) -> None:
    if unit.error is not None and unit.error.field == "header":
        raise unit.error
    try:
        block = canonical.decode(unit.raw)
    except Invalid as exc:
        raise Invalid(exc.code, f"block line: {exc.message}", field="header") from exc
    if type(block) is not dict or block.keys() != {"t", "hash", "header", "height"}:
        raise Invalid("bundle_record_invalid", "a block line has exactly t, hash, header, height", field="header")
    header = decode_header(block["header"], canonical.encode_unchecked(block["header"]))
    if header.height != unit.height or block["height"] != unit.height:
        raise Invalid("block_invalid", f"expected block {unit.height} here, found {header.height}", field="height",
                      block=header.hash.hex())
    where = {"block": header.hash.hex()}
    txs, first = checked.results()
    if first is not None:
        index, code, message, name = first
        claimed = parse(unit.tx_lines[index])
        tx_id = claimed.get("id") if type(claimed) is dict and type(claimed.get("id")) is str else None
        raise Invalid(code, f"transaction {index}: {message}", field=name, tx_index=index, tx=tx_id, **where)
    if unit.error is not None:
        raise Invalid(unit.error.code, unit.error.message, field=unit.error.field, **unit.error.detail, **where)
    try:
        cert_record = canonical.decode(unit.cert_raw or b"")
    except Invalid as exc:
        raise Invalid(exc.code, f"certificate line: {exc.message}", field="certificate", **where) from exc
    if type(cert_record) is not dict or cert_record.keys() != {"t", "certificate", "height"} \
            or cert_record["height"] != unit.height:
        raise Invalid("bundle_record_invalid", "a certificate line has exactly t, certificate, height of its block",
                      field="certificate", **where)
    try:
        state.verify_block(header, txs, cert_record["certificate"], stored_hash=block["hash"])
    except Invalid as exc:
        raise Invalid(exc.code, exc.message, field=exc.field, **{**exc.detail, **where}) from exc


def _epilogue(reader: BundleReader, state: ChainState, report: Report) -> None:
    """Trailer, bundle header claims, tallies, published results and reconciliation."""
    tail = reader.tail
    if tail.error is not None:
        raise tail.error
    trailer = tail.trailer or {}
    expected = {"t": "trailer", "lines": tail.lines, "blocks": state.height, "txs": state.txs, "sha256": tail.digest}
    if trailer != expected:
        wrong = sorted(k for k in expected.keys() | trailer.keys() if trailer.get(k) != expected.get(k))
        raise Invalid("bundle_digest_mismatch", f"the trailer disagrees with the bundle read: {', '.join(wrong)}",
                      field="trailer", line=tail.lines + 1)
    header = reader.header
    if header.get("head_height") != state.height or header.get("head_hash") != (
            state.head.hex() if state.height else None):
        raise Invalid("bundle_header_mismatch", "the bundle header names another head than the chain verified",
                      field="bundle_header", line=1)
    machine = state.machine
    for election in elections(machine):
        report.tallies[election] = compute_tally(machine, election)
        report.findings.extend(reconcile(machine, election))
    for poll in polls(machine):
        report.polls[poll] = poll_report(machine, poll)
    for number, record in tail.records:
        if record.get("t") == "result":
            _check_result(record, report, number)
        elif record.get("t") != "metadata":
            raise Invalid("bundle_record_invalid", f"unknown record kind {str(record.get('t'))[:40]}",
                          field="bundle", line=number)


def _check_result(record: dict[str, Any], report: Report, number: int) -> None:
    election = record.get("election")
    tally = report.tallies.get(election) if type(election) is str else None
    if tally is None:
        raise Invalid("result_mismatch", f"a published result names election {str(election)[:64]}, not on the chain",
                      field="result", line=number)
    published = record.get("result")
    differences = compare_result(tally, published if type(published) is dict else {})
    if type(published) is not dict or "candidates" not in published or differences:
        raise Invalid("result_mismatch", f"the published result of {election} differs from the ledger in: "
                      f"{', '.join(differences) or 'candidates'}", field="result", line=number, election=election)
    report.results_checked.append(str(election))
