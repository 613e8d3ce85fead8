"""One round of the public node: statuses, sync with verification, cross-check of every node.

Each round asks every node for its status, fetches the blocks above the verified head from
one node (rotating; the next node if one serves invalid data), verifies each block with
``ledger.core`` before keeping it, then compares every node's blocks above the height it was
last cross-checked at with the verified copy, spot-checks a few older heights (a node that
rewrites history is caught even where it agreed before) and its status head, and appends a
checkpoint. Every problem becomes a typed alarm naming the node, height and field.
"""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from ledger.core.encoding import decode
from ledger.core.errors import LedgerError
from ledger.core.genesis import Genesis

from .alarms import Alarm, AlarmLog
from .chain import VerifyFailure
from .client import PAGE_LIMIT, NodeApi
from .entries import Entry, EntryInvalid, holds_same_block, locate_against, read_entry, split_page
from .errors import NodeUnreachable
from .store import Store, now_iso

DEFAULT_SPOT_CHECKS = 3
Rejected = tuple[int, bytes, "Entry | None", "EntryInvalid | VerifyFailure"]  # height, raw entry, decoded, why
DEFAULT_BEHIND_BLOCKS = 5


@dataclass
class NodeView:
    """What the dashboard shows about one node after a round."""

    url: str
    node_id: str | None = None
    reachable: bool = False
    height: int | None = None
    head_hash: str | None = None
    agreeing: bool | None = None
    crosschecked: int = 0
    error: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "node_id": self.node_id, "reachable": self.reachable, "height": self.height,
                "head_hash": self.head_hash, "agreeing": self.agreeing, "crosschecked": self.crosschecked,
                "error": self.error}


@dataclass
class RoundResult:
    round: int
    fetched: int
    height: int
    reachable: int
    alarms: list[Alarm] = field(default_factory=list)

    @property
    def has_errors(self) -> bool:
        return any(a.severity == "error" for a in self.alarms)


class Follower:
    def __init__(self, store: Store, apis: list[NodeApi], genesis: Genesis, alarms: AlarmLog, *,
                 spot_checks: int = DEFAULT_SPOT_CHECKS, behind_blocks: int = DEFAULT_BEHIND_BLOCKS,
                 seed: int | None = None) -> None:
        self.store = store
        self.apis = apis
        self.genesis = genesis
        self.alarms = alarms
        self.spot_checks = spot_checks
        self.behind_blocks = behind_blocks
        self.random = random.Random(seed)
        self.chain, self.blocks = store.load(genesis)  # StoreInvalid if the copy on disk was changed
        self.crosschecked = {url: min(mark, self.chain.height) for url, mark in store.crosschecked().items()}
        self.views = {api.url: NodeView(api.url) for api in apis}
        self.round = 0
        self.last_round_at: str | None = None
        previous = store.checkpoints(limit=1)
        self.checkpointed = int(previous[-1]["height"]) if previous else 0
        self._flagged: set[str] = set()

    # --- one round ----------------------------------------------------------------------------------

    def run_round(self) -> RoundResult:
        self.alarms.start_round()
        self._flagged = set()
        statuses = self._statuses()
        live = [api for api in self.apis if statuses.get(api.url) is not None]
        fetched = self._sync(live, statuses)
        for api in live:
            status = statuses[api.url]
            if status is not None and api.url not in self._flagged:
                self._crosscheck(api, status)
        self.store.save_crosschecked(self.crosschecked)
        for api in self.apis:
            view = self.views[api.url]
            view.crosschecked = self.crosschecked.get(api.url, 0)
            view.agreeing = None if not view.reachable else api.url not in self._flagged
        self._checkpoint(live)
        self.round += 1
        self.last_round_at = now_iso()
        return RoundResult(self.round, fetched, self.chain.height, len(live), list(self.alarms.current))

    def _alarm(self, code: str, api: NodeApi, message: str, **fields: Any) -> None:
        if code not in ("node_unreachable", "node_behind"):
            self._flagged.add(api.url)
        self.views[api.url].error = f"{code}: {message}"
        self.alarms.raise_alarm(Alarm(code, api.label, message, url=api.url, **fields))

    def _statuses(self) -> dict[str, dict[str, Any] | None]:
        def ask(api: NodeApi) -> dict[str, Any] | NodeUnreachable:
            try:
                return api.status()
            except NodeUnreachable as exc:
                return exc

        with ThreadPoolExecutor(max_workers=min(16, len(self.apis))) as pool:
            answers = list(pool.map(ask, self.apis))
        result: dict[str, dict[str, Any] | None] = {}
        for api, answer in zip(self.apis, answers):
            view = self.views[api.url]
            view.node_id, view.error = api.node_id, ""
            if isinstance(answer, NodeUnreachable):
                view.reachable = False
                self._alarm("node_unreachable", api, answer.message)
                result[api.url] = None
                continue
            view.reachable, view.height = True, answer["height"]
            view.head_hash = answer.get("head_hash") if isinstance(answer.get("head_hash"), str) else None
            if answer.get("genesis_hash") != self.genesis.hash.hex() or answer.get("chain") != self.genesis.chain:
                self._alarm("genesis_mismatch", api, "the node runs another genesis than the trust root",
                            detail={"genesis_hash": str(answer.get("genesis_hash")), "chain": str(answer.get("chain")),
                                    "expected": self.genesis.hash.hex()})
                result[api.url] = None
                continue
            result[api.url] = answer
        return result

    # --- fetching -----------------------------------------------------------------------------------

    def _fetch(self, api: NodeApi, start: int, upto: int) -> list[bytes]:
        """Raw entries from ``start``: one page, or one by one up to the first that does not decode."""
        page = split_page(api.block_page(start, min(PAGE_LIMIT, upto - start + 1)))
        if page is not None:
            return page[: upto - start + 1]
        raws: list[bytes] = []
        for height in range(start, min(upto, start + PAGE_LIMIT - 1) + 1):
            raw = api.block(height)
            raws.append(raw)
            if not _decodes(raw):
                break  # this one is broken: the caller reports it
        return raws

    def _sync(self, live: list[NodeApi], statuses: dict[str, dict[str, Any] | None]) -> int:
        fetched = 0
        offset = self.round % len(live) if live else 0
        bad: list[tuple[NodeApi, Rejected]] = []
        for api in live[offset:] + live[:offset]:
            status = statuses[api.url] or {}
            target = status.get("persisted_height", status.get("height"))
            target = target if type(target) is int else 0
            try:
                while self.chain.height < target:
                    raws = self._fetch(api, self.chain.height + 1, target)
                    if not raws:
                        break
                    accepted, rejected = self._accept(raws)
                    self.blocks.append(accepted)
                    fetched += len(accepted)
                    if rejected is not None:
                        bad.append((api, rejected))
                        break
                    self.crosschecked[api.url] = self.chain.height
            except NodeUnreachable as exc:
                self._alarm("node_unreachable", api, exc.message)
        for api, (height, raw, entry, problem) in bad:
            self._report_bad(api, height, raw, entry, problem, agreed=False)
        return fetched

    def _accept(self, raws: list[bytes]) -> tuple[list[bytes], Rejected | None]:
        """Verify and keep entries in order, up to the first that fails."""
        accepted: list[bytes] = []
        for raw in raws:
            height = self.chain.height + 1
            try:
                entry = read_entry(raw, height)
            except EntryInvalid as exc:
                return accepted, (height, raw, None, exc)
            failure = self.chain.extend(entry.block, entry.cert)
            if failure is not None:
                return accepted, (height, raw, entry, failure)
            accepted.append(raw)
        return accepted, None

    # --- reporting ----------------------------------------------------------------------------------

    def _report_bad(self, api: NodeApi, height: int, raw: bytes, entry: Entry | None,
                    problem: EntryInvalid | VerifyFailure, *, agreed: bool) -> None:
        """An entry that failed decoding or verification; located against the verified copy if we have one."""
        reference = self.blocks.entry(height) if height <= self.chain.height else None
        location = locate_against(raw, reference)
        block_hash = entry.hash if entry is not None else None
        if isinstance(problem, EntryInvalid):
            code = "chain_rewritten" if agreed else "invalid_block"
            self._alarm(code, api, problem.message, height=height, field=problem.field, tx_index=problem.tx_index,
                        reason=problem.reason, location=location or problem.field, block_hash=block_hash)
            return
        code = "certificate_invalid" if problem.is_certificate else "invalid_block"
        detail = dict(problem.detail)
        if problem.is_certificate and entry is not None and "validator" in detail:
            ids = [validator for validator, _ in entry.cert.signatures]
            if detail["validator"] in ids:
                location = f"cert.sigs[{ids.index(detail['validator'])}]"
        if problem.is_certificate and location is None:
            location = "cert"
        self._alarm(code, api, problem.message, height=height, field=problem.field, tx_index=problem.tx_index,
                    reason=problem.code, location=location, block_hash=block_hash, detail=detail)

    # --- cross-checking -----------------------------------------------------------------------------

    def _crosscheck(self, api: NodeApi, status: dict[str, Any]) -> None:
        their = status.get("persisted_height", status["height"])
        their = their if type(their) is int else status["height"]
        upto = min(their, self.chain.height)
        mark = self.crosschecked.get(api.url, 0)
        try:
            height = mark + 1
            while height <= upto:
                raws = self._fetch(api, height, upto)
                if not raws:
                    break
                for raw in raws:
                    if not self._compare(api, height, raw, agreed=False):
                        self.crosschecked[api.url] = height - 1  # agreed up to there; compared again next round
                        return
                    height += 1
                self.crosschecked[api.url] = height - 1
            self._check_status_head(api, status)
            checked = self.crosschecked.get(api.url, 0)
            older = min(mark, upto)  # heights it agreed on before this round and still holds
            for spot in sorted(self.random.sample(range(1, older + 1), min(self.spot_checks, older))):
                if spot <= checked and not self._compare(api, spot, api.block(spot), agreed=True):
                    return
        except NodeUnreachable as exc:
            self._alarm("node_unreachable", api, exc.message)
            return
        if status["height"] + self.behind_blocks < self.chain.height:
            self._alarm("node_behind", api, f"the node is at height {status['height']}, the verified head is "
                        f"{self.chain.height}", height=status["height"])

    def _check_status_head(self, api: NodeApi, status: dict[str, Any]) -> None:
        height = status["height"]
        ours = self.chain.hash_at(height) if type(height) is int else None
        if ours is not None and status.get("head_hash") != ours.hex():
            self._alarm("node_diverged", api, "the node's status names another head block at this height",
                        height=height, field="head_hash", location="status.head_hash",
                        block_hash=str(status.get("head_hash")), detail={"verified_hash": ours.hex()})

    def _compare(self, api: NodeApi, height: int, raw: bytes, *, agreed: bool) -> bool:
        """Does the node's entry at ``height`` hold our verified block with a valid certificate?"""
        if holds_same_block(raw, self.blocks.raw(height), height, self.genesis):
            return True
        ours = self.blocks.entry(height)
        try:
            entry = read_entry(raw, height)
        except EntryInvalid as exc:
            self._report_bad(api, height, raw, None, exc, agreed=agreed)
            return False
        if entry.block_value != ours.block_value:
            certified = self.chain.check_certificate(entry.cert, entry.block) is None
            message = ("the node serves a different block, with a valid certificate: conflicting commits"
                       if certified else "the node serves a different block than the verified chain")
            self._alarm("chain_rewritten" if agreed else "node_diverged", api, message, height=height,
                        block_hash=entry.hash, field="block", location=locate_against(raw, ours),
                        detail={"verified_hash": ours.hash, "certified": certified})
            return False
        if entry.cert_value != ours.cert_value:
            failure = self.chain.check_certificate(entry.cert, entry.block)
            if failure is not None:
                self._report_bad(api, height, raw, entry, failure, agreed=agreed)
                return False
        return True

    # --- checkpoints --------------------------------------------------------------------------------

    def _checkpoint(self, live: list[NodeApi]) -> None:
        height = self.chain.height
        if height == 0 or height <= self.checkpointed:
            return
        agreeing = sorted(api.label for api in live
                          if api.url not in self._flagged and self.crosschecked.get(api.url, 0) >= height)
        self.store.append_checkpoint({
            "height": height, "block_hash": self.chain.head_hash.hex(),
            "state_root": self.chain.state_roots[-1].hex(), "verified_at": now_iso(),
            "nodes_agreeing": agreeing,
        })
        self.checkpointed = height

    # --- the dashboard's view -----------------------------------------------------------------------

    def snapshot(self) -> dict[str, Any]:
        checkpoints = self.store.checkpoints(limit=20)
        current = [a.to_dict() for a in self.alarms.current]
        return {
            "chain": self.genesis.chain, "genesis_hash": self.genesis.hash.hex(),
            "height": self.chain.height, "head_hash": self.chain.head_hash.hex() if self.chain.height else None,
            "round": self.round, "last_round_at": self.last_round_at,
            "ok": not any(a["severity"] == "error" for a in current),
            "nodes": [self.views[api.url].to_dict() for api in self.apis],
            "last_checkpoint": checkpoints[-1] if checkpoints else None,
            "checkpoints": list(reversed(checkpoints)),
            "alarms": current, "alarm_history": self.alarms.history(limit=50),
            "generated_at": now_iso(),
        }


def _decodes(raw: bytes) -> bool:
    try:
        decode(raw)
    except LedgerError:
        return False
    return True
