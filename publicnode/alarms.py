"""Typed alarms: what went wrong, on which node, at which height, in which field.

An alarm is written once per process to the log (stderr, one ``ALARM key=value ...`` line,
easy to grep) and to ``DIR/alarms.jsonl`` (one JSON object per line, kept forever), and is
shown on the dashboard. Errors mean invalid data or divergence (``--check`` exits 1);
warnings mean a node is down or late, which is not evidence of tampering.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import dataclasses
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

logger = logging.getLogger("publicnode")

ERROR, WARNING = "error", "warning"

# code -> severity. The meaning of each code is in docs/public-node.md.
CODES: dict[str, str] = {
    "genesis_mismatch": ERROR,      # a node runs another genesis than the trust root, or nodes disagree on it
    "invalid_block": ERROR,         # a node served a block that fails verification (or undecodable data)
    "certificate_invalid": ERROR,   # a block's commit certificate does not verify against the genesis validators
    "node_diverged": ERROR,         # a node serves another block than the verified chain at some height
    "chain_rewritten": ERROR,       # a node now serves another block at a height it agreed on before
    "local_store_invalid": ERROR,   # our own stored copy no longer verifies (changed on disk)
    "node_unreachable": WARNING,    # no answer, timeout, HTTP error
    "node_behind": WARNING,         # the node's head is well below the verified head
}


@dataclass(frozen=True)
class Alarm:
    code: str
    node: str
    message: str
    height: int | None = None
    block_hash: str | None = None
    field: str | None = None
    tx_index: int | None = None
    reason: str | None = None        # the ledger.core error code behind it (signature_invalid, ...)
    location: str | None = None      # first differing spot against the verified copy (block.txs[2].sig)
    url: str | None = None
    detail: dict[str, Any] = dataclasses.field(default_factory=dict)
    time: str = dataclasses.field(default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds"))

    @property
    def severity(self) -> str:
        return CODES[self.code]

    @property
    def key(self) -> tuple[Any, ...]:
        """Same problem, same place: reported once per process, however many rounds see it."""
        return (self.code, self.node, self.height, self.field, self.tx_index, self.location, self.block_hash)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["severity"] = self.severity
        return data

    def log_line(self) -> str:
        parts = [f"ALARM {self.severity} code={self.code} node={_plain(self.node)}"]
        for name in ("height", "block_hash", "field", "tx_index", "reason", "location", "url"):
            value = getattr(self, name)
            if value is not None:
                parts.append(f"{name}={_plain(str(value))}")
        return " ".join(parts) + f" message={json.dumps(self.message, ensure_ascii=False)}"


def _plain(text: str) -> str:
    """Values a node can influence (key names in a location) are quoted unless plainly safe to grep."""
    return text if _PLAIN.fullmatch(text) else json.dumps(text, ensure_ascii=False)


_PLAIN = re.compile(r"[\w.\[\]:/@-]+")


class AlarmLog:
    """Every alarm of this process, deduplicated, appended to ``alarms.jsonl`` and logged."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._seen: set[tuple[Any, ...]] = set()
        self.raised: list[Alarm] = []       # this process, in order
        self.current: list[Alarm] = []      # seen in the latest round

    def start_round(self) -> None:
        with self._lock:
            self.current = []

    def raise_alarm(self, alarm: Alarm) -> None:
        if alarm.code not in CODES:
            raise ValueError(f"unknown alarm code {alarm.code}")
        with self._lock:
            self.current.append(alarm)
            if alarm.key in self._seen:
                return
            self._seen.add(alarm.key)
            self.raised.append(alarm)
            with self.path.open("a", encoding="utf-8") as handle:
                handle.write(json.dumps(alarm.to_dict(), ensure_ascii=False, sort_keys=True) + "\n")
        log = logger.error if alarm.severity == ERROR else logger.warning
        log("%s", alarm.log_line())

    def has_errors(self, alarms: list[Alarm] | None = None) -> bool:
        return any(a.severity == ERROR for a in (self.current if alarms is None else alarms))

    def history(self, limit: int = 200) -> list[dict[str, Any]]:
        """The newest alarms on disk (earlier runs included), newest first."""
        if not self.path.exists():
            return []
        lines = self.path.read_text(encoding="utf-8").splitlines()[-limit:]
        result = []
        for line in reversed(lines):
            try:
                result.append(json.loads(line))
            except ValueError:
                continue
        return result
