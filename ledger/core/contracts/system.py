"""The system contract: contract pins, equivocation evidence and log anchors.

``deploy`` pins a registered contract's source hash on chain (signed by a
genesis authority). ``evidence`` records two conflicting signed votes of one
validator for one height/round/kind; anyone holding a validator key may report
it, and the record stays on chain for observers. ``anchor`` publishes the head
of an off-chain hash-chained log (e.g. the officials' audit log) under a label,
one sequence number after another, so rewriting that log is detectable by anyone
holding the replicated ledger.
"""

from __future__ import annotations

import re
from typing import Any

from ..block import Vote
from ..encoding import read_int, read_str, require_keys
from ..errors import AnchorSeqInvalid, ContractSourceMismatch, InvalidEvidence, LedgerError, NotAuthorised, TxRejected
from ..state import ReadView
from ..tx import IDENT_RE
from .base import Contract, ExecContext, contract_source_sha256, register

_HEX64 = re.compile(r"^[0-9a-f]{64}\Z")
_DEPLOY_FIELDS = frozenset({"contract", "source_sha256"})
_EVIDENCE_FIELDS = frozenset({"votes"})
_ANCHOR_FIELDS = frozenset({"label", "seq", "hash"})


def contract_key(contract_id: str) -> str:
    return f"sys/contract/{contract_id}"


def evidence_key(validator: str, height: int, round: int, kind: str) -> str:
    return f"sys/evidence/{validator}/{height}/{round}/{kind}"


def _deploy(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _DEPLOY_FIELDS, "payload")
    contract_id = read_str(payload, "contract", pattern=IDENT_RE)
    source_hash = read_str(payload, "source_sha256", pattern=_HEX64)
    if not ctx.genesis.is_authority(ctx.tx.signer):
        raise NotAuthorised("only a genesis authority may deploy contracts")
    if ctx.state.get(contract_key(contract_id)) is not None:
        raise TxRejected("contract already deployed", contract=contract_id)
    if contract_source_sha256(contract_id) != source_hash:
        raise ContractSourceMismatch("this node's code for the contract has another source hash", contract=contract_id)
    ctx.state.put(contract_key(contract_id), source_hash)


def _evidence(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _EVIDENCE_FIELDS, "payload")
    raw = payload["votes"]
    if type(raw) is not list or len(raw) != 2:
        raise InvalidEvidence("evidence needs exactly two votes")
    reporter = [v for v in ctx.genesis.validators if v.pubkey == ctx.tx.signer]
    if not reporter:
        raise NotAuthorised("only validators report evidence")
    try:
        first, second = (Vote.from_dict(v) for v in raw)
        first.verify(ctx.genesis)
        second.verify(ctx.genesis)
    except LedgerError as exc:
        raise InvalidEvidence(f"evidence vote invalid: {exc.message}") from exc
    same_slot = (first.chain, first.validator, first.height, first.round, first.kind) == (
        second.chain,
        second.validator,
        second.height,
        second.round,
        second.kind,
    )
    if not same_slot or first.block == second.block or first.chain != ctx.genesis.chain:
        raise InvalidEvidence("the two votes do not conflict")
    key = evidence_key(first.validator, first.height, first.round, first.kind)
    if ctx.state.get(key) is not None:
        raise InvalidEvidence("evidence already recorded", key=key)
    ordered = sorted([first.to_dict(), second.to_dict()], key=lambda v: v["sig"])
    ctx.state.put(key, {"validator": first.validator, "height": first.height, "round": first.round,
                        "kind": first.kind, "votes": ordered, "reported_at": ctx.height})


def anchor_key(label: str, seq: int | None = None) -> str:
    """``system/a/<label>`` holds the latest anchor; ``system/a/<label>/<seq>`` each published hash."""
    return f"system/a/{label}" if seq is None else f"system/a/{label}/{seq}"


def _anchor(self: Contract, ctx: ExecContext, payload: dict[str, Any]) -> None:
    require_keys(payload, _ANCHOR_FIELDS, "payload")
    label = read_str(payload, "label", pattern=IDENT_RE)
    seq = read_int(payload, "seq")
    digest = read_str(payload, "hash", pattern=_HEX64)
    if not ctx.genesis.is_authority(ctx.tx.signer):
        raise NotAuthorised("only a genesis authority may anchor a log")
    latest = ctx.state.get(anchor_key(label))
    expected = 0 if latest is None else latest["seq"] + 1
    if seq != expected:
        raise AnchorSeqInvalid(f"the next anchor of {label} has seq {expected}", label=label, seq=seq, expected=expected)
    ctx.state.put(anchor_key(label), {"seq": seq, "hash": digest, "height": ctx.height})
    ctx.state.put(anchor_key(label, seq), digest)


def _q_anchor(self: Contract, view: ReadView, args: dict[str, Any]) -> Any:
    """The latest anchor of ``label`` ({seq, hash, height}), or with ``seq`` that anchor's hash; null if none."""
    label = read_str(args, "label", pattern=IDENT_RE)
    if "seq" not in args:
        return view.get(anchor_key(label))
    seq = read_int(args, "seq")
    digest = view.get(anchor_key(label, seq))
    return None if digest is None else {"label": label, "seq": seq, "hash": digest}


def _q_contracts(self: Contract, view: ReadView, args: dict[str, Any]) -> Any:
    return {key.removeprefix("sys/contract/"): value for key, value in view.scan("sys/contract/")}


def _q_evidence(self: Contract, view: ReadView, args: dict[str, Any]) -> Any:
    return [value for _, value in sorted(view.scan("sys/evidence/"))]


@register
class SystemContract(Contract):
    contract_id = "system"
    handlers = {"deploy": _deploy, "evidence": _evidence, "anchor": _anchor}
    queries = {"contracts": _q_contracts, "evidence": _q_evidence, "anchor": _q_anchor}
