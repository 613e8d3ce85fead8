"""Live statistics of community polls, derived from committed ledger blocks and nothing else.

Why from the ledger only: an observer can recompute every figure shown here from public
block data (the ``poll`` contract's create / register / enrol / cast transactions), so the
dashboard cannot say something the ledger does not. The engine is pure Python (no Django):
the follower feeds it block entries as the nodes serve them (``GET /v1/blocks``), the
benchmark and the tests feed it the same dicts.

Why it is incremental: a block only adds. Each poll keeps, per unit of its community tree,
the *subtree* figures (the unit's own plus all its descendants'): eligible voters and weight,
ballots and weight cast, weighted per-option totals and, for ranked polls, the weight of
every distinct ranking. A block's additions are summed per unit first and then carried up
the tree once (deepest units first), so a block costs the units it touched and their
ancestors, never a rescan of earlier ballots. Results (winners, ties, runoff rounds) are
recomputed only for units whose figures changed, by ``ledger.core.polls.tally`` itself, fed
one aggregated pseudo-ballot per option (or per distinct ranking): every method is linear in
the ballot weights, so this gives the tally of the subtree's real ballots, and the dashboard,
the verifier and the ledger count with one implementation.

Eligible voters: when the poll's units carry ``eligible`` (the members counted per unit at
publication, docs/protocol.md 16.2), a unit's eligible figure is the subtree sum of those
counts, so turnout is ballots over members, not over voters registered (who, registered
right before casting, would read 100%). Polls without published counts fall back to the
registered voters. Eligible *weight* is known only for equal-weight polls (one per member);
a weighted poll's eligible weight is the registered voters' weight, since the ledger learns
a member's weight only when the member is registered.

A committed block only holds transactions that applied (ledger.core.machine), so the engine
trusts the transactions it is given and does not re-validate them.
"""

from __future__ import annotations

from array import array
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ledger.core import polls
from ledger.core.crypto import address_of

CONTRACT = "poll"
RANKED = "ranked"


@dataclass
class Figures:
    """Additive figures of one unit (or of one block's delta at a unit)."""

    eligible: int = 0
    eligible_weight: int = 0
    ballots: int = 0
    weight: int = 0
    totals: dict[str, int] = field(default_factory=dict)
    rankings: dict[tuple[str, ...], int] = field(default_factory=dict)  # ranked: weight per distinct ranking

    def add(self, other: Figures) -> None:
        self.eligible += other.eligible
        self.eligible_weight += other.eligible_weight
        self.ballots += other.ballots
        self.weight += other.weight
        for key, value in other.totals.items():
            self.totals[key] = self.totals.get(key, 0) + value
        for ranking, value in other.rankings.items():
            self.rankings[ranking] = self.rankings.get(ranking, 0) + value

    def add_ballot(self, method: str, weight: int, ballot: Any) -> None:
        """Count one committed ballot (already validated by the contract)."""
        self.ballots += 1
        self.weight += weight
        totals = self.totals
        if method == "single" or method == "yna":
            totals[ballot] = totals.get(ballot, 0) + weight
        elif method == "multi":
            for option in ballot:
                totals[option] = totals.get(option, 0) + weight
        elif method == "score":
            for option, score in ballot.items():
                totals[option] = totals.get(option, 0) + weight * score
        else:  # ranked: first preferences for display, the whole ranking for the runoff
            totals[ballot[0]] = totals.get(ballot[0], 0) + weight
            ranking = tuple(ballot)
            self.rankings[ranking] = self.rankings.get(ranking, 0) + weight


@dataclass
class Series:
    """Turnout of one unit over time: one point per block that changed it (block time ms, ballots, weight)."""

    times: array[int] = field(default_factory=lambda: array("q"))
    ballots: array[int] = field(default_factory=lambda: array("q"))
    weight: array[int] = field(default_factory=lambda: array("q"))

    def append(self, time: int, ballots: int, weight: int) -> None:
        self.times.append(time)
        self.ballots.append(ballots)
        self.weight.append(weight)

    def points(self, limit: int = 0) -> list[list[int]]:
        """``[time, ballots, weight]`` points; with ``limit``, an even sample of them that keeps the last one."""
        count = len(self.times)
        indexes: Iterable[int] = range(count)
        if limit and count > limit:
            step = count / limit
            indexes = sorted({min(count - 1, int(i * step)) for i in range(limit)} | {count - 1})
        return [[self.times[i], self.ballots[i], self.weight[i]] for i in indexes]


class PollStats:
    """Everything the ledger says about one poll, kept as roll-ups per unit."""

    def __init__(self, poll_id: str, payload: Mapping[str, Any], height: int, time: int) -> None:
        self.poll_id = poll_id
        self.record = dict(payload)  # the create payload: what polls.tally needs (method, options, ...)
        self.title = str(payload["title"])
        self.method = str(payload["method"])
        self.options = [str(option["id"]) for option in payload["options"]]
        self.option_names = {str(option["id"]): str(option["name"]) for option in payload["options"]}
        self.weights = str(payload["weights"])
        self.anonymous = "credential_key" in payload
        self.opens_at, self.closes_at = int(payload["opens_at"]), int(payload["closes_at"])
        self.status = "created"
        self.created_height = self.height = height
        self.time = time
        self.eligible_published = "eligible" in payload["units"][0]
        self.parent: dict[str, str | None] = {}
        self.names: dict[str, str] = {}
        self.children: dict[str, list[str]] = {}
        self.figures: dict[str, Figures] = {}
        self.series: dict[str, Series] = {}
        self.voters: dict[str, tuple[str, int]] = {}  # address -> (unit, weight)
        self._delta: dict[str, Figures] = {}
        self._results: dict[str, dict[str, Any]] = {}
        self._stale: set[str] = set()
        self.changed_units: set[str] = set()  # since the follower last pushed (all, at creation)
        self._add_units(payload["units"])

    def _add_units(self, units: Iterable[Mapping[str, Any]]) -> None:
        """Grow the tree (``create``, then ``add_units`` before opening); published eligible counts are added."""
        added = []
        for unit in units:
            uid = str(unit["id"])
            self.parent[uid] = unit["parent"]
            self.names[uid] = str(unit["name"])
            self.children.setdefault(uid, [])
            self.figures[uid] = Figures()
            added.append(uid)
            if self.eligible_published and unit.get("eligible"):
                own = self._pending(uid)
                own.eligible += int(unit["eligible"])
                if self.weights == "equal":
                    own.eligible_weight += int(unit["eligible"])
        for uid in added:
            parent = self.parent[uid]
            if parent is not None:
                self.children[parent].append(uid)
        self.root = next(uid for uid, parent in self.parent.items() if parent is None)
        self.depth = self._depths()
        self.order = sorted(self.parent, key=lambda uid: (self.depth[uid], uid))  # root first, then level by level
        self._stale.update(added)
        self.changed_units.update(added)

    def _depths(self) -> dict[str, int]:
        depth = {self.root: 0}
        stack = [self.root]
        while stack:
            uid = stack.pop()
            for child in self.children[uid]:
                depth[child] = depth[uid] + 1
                stack.append(child)
        return depth

    # --- ingest -------------------------------------------------------------------------------

    def _pending(self, unit: str) -> Figures:
        delta = self._delta.get(unit)
        if delta is None:
            delta = self._delta[unit] = Figures()
        return delta

    def apply(self, tx_type: str, payload: Mapping[str, Any], signer_hex: str) -> None:
        """One committed transaction of this poll; figures change at ``end_block``."""
        if tx_type == "register":
            for voter in payload["voters"]:
                self._add_voter(str(voter["address"]), str(voter["unit"]), int(voter["weight"]))
        elif tx_type == "enrol":
            self._add_voter(str(payload["address"]), self.root, 1)
        elif tx_type == "cast":
            unit, weight = self.voters[address_of(bytes.fromhex(signer_hex))]
            self._pending(unit).add_ballot(self.method, weight, payload["ballot"])
        elif tx_type == "add_units":
            self._add_units(payload["units"])
            self.record["units"] = [*self.record["units"], *payload["units"]]
        elif tx_type == "open":
            self.status = "open"
        elif tx_type == "close":
            self.status = "closed"

    def _add_voter(self, address: str, unit: str, weight: int) -> None:
        self.voters[address] = (unit, weight)
        delta = self._pending(unit)
        if not self.eligible_published:
            delta.eligible += 1
            delta.eligible_weight += weight
        elif self.weights != "equal":
            delta.eligible_weight += weight

    def end_block(self, height: int, time: int) -> bool:
        """Carry this block's additions up the tree; True when any figure (or the status) changed."""
        status_before = self.status
        if self.status == "open" and time >= self.closes_at:
            self.status = "closed"  # what the contract does at the first transaction after closes_at
        if not self._delta:
            changed = self.status != status_before
            if changed:
                self.height, self.time = height, time
            return changed
        pending, self._delta = self._delta, {}
        touched = set(pending)
        for uid in list(pending):
            parent = self.parent[uid]
            while parent is not None and parent not in touched:
                touched.add(parent)
                parent = self.parent[parent]
        for uid in sorted(touched, key=self.depth.__getitem__, reverse=True):
            delta = pending.get(uid)
            if delta is None:
                continue
            figures = self.figures[uid]
            figures.add(delta)
            if delta.ballots:
                self.series.setdefault(uid, Series()).append(time, figures.ballots, figures.weight)
            parent = self.parent[uid]
            if parent is not None:
                above = pending.get(parent)
                if above is None:
                    pending[parent] = delta  # the first child's delta is reused, not copied
                else:
                    above.add(delta)
        self._stale |= touched
        self.height, self.time = height, time
        self.changed_units |= touched
        return True

    # --- results ------------------------------------------------------------------------------

    def result(self, unit: str) -> dict[str, Any]:
        """``ledger.core.polls.tally`` of the unit's subtree, recomputed only after its figures changed."""
        if unit in self._stale or unit not in self._results:
            self._results[unit] = compute_unit_result(self.record, self.figures[unit])
            self._stale.discard(unit)
        return self._results[unit]

    def refresh(self) -> int:
        """Recompute every stale unit's result (all roll-ups current); returns how many were recomputed."""
        stale = list(self._stale)
        for unit in stale:
            self.result(unit)
        return len(stale)


def compute_unit_result(record: Mapping[str, Any], figures: Figures) -> dict[str, Any]:
    """The tally of the ballots summed in ``figures``, by the ledger's own counting code.

    Each method is linear in ballot weight, so one pseudo-ballot per option (weight = that
    option's weighted total) or per distinct ranking (weight = its summed weight) yields the
    same totals, winners, ties and runoff rounds as the individual ballots. ``ballots`` and
    ``weight`` are then set from the real counts.
    """
    method = record["method"]
    root = "_"
    pseudo: list[tuple[str, int, Any]]
    if method == RANKED:
        pseudo = [(root, weight, list(ranking)) for ranking, weight in sorted(figures.rankings.items()) if weight]
    elif method == "multi":
        pseudo = [(root, total, [option]) for option, total in sorted(figures.totals.items()) if total]
    elif method == "score":
        ids = [option["id"] for option in record["options"]]
        pseudo = [(root, total, {other: int(other == option) for other in ids})
                  for option, total in sorted(figures.totals.items()) if total]
    else:
        pseudo = [(root, total, option) for option, total in sorted(figures.totals.items()) if total]
    result = dict(polls.tally(record, pseudo))
    result["ballots"] = figures.ballots
    result["weight"] = figures.weight
    return result


class StatsEngine:
    """Every poll on one chain, fed committed block entries in height order."""

    def __init__(self) -> None:
        self.polls: dict[str, PollStats] = {}
        self.height = 0
        self.time = 0

    def apply_block(self, entry: Mapping[str, Any]) -> set[str]:
        """Apply one ``/v1/blocks`` entry (or ``{"block": {"header", "txs"}}``); returns the polls it changed."""
        block = entry["block"]
        header = block["header"]
        height, time = int(header["height"]), int(header["time"])
        if height != self.height + 1:
            raise ValueError(f"block {height} does not follow {self.height}")
        touched: set[str] = set()
        for tx in block["txs"]:
            if tx["contract"] != CONTRACT:
                continue
            payload = tx["payload"]
            poll_id = str(payload["poll"])
            if tx["type"] == "create":
                self.polls[poll_id] = PollStats(poll_id, payload, height, time)
                touched.add(poll_id)
                continue
            stats = self.polls.get(poll_id)
            if stats is not None:
                stats.apply(tx["type"], payload, tx["signer"])
                touched.add(poll_id)
        changed = set()
        for poll_id, stats in self.polls.items():
            if (poll_id in touched or stats.status == "open") and stats.end_block(height, time):
                changed.add(poll_id)
            elif poll_id in touched:  # created in this block, nothing counted yet
                changed.add(poll_id)
        self.height, self.time = height, time
        return changed
