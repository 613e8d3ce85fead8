"""The trust root: the genesis given out of band, or one that every node serves identically."""

from __future__ import annotations

import hashlib
from pathlib import Path

from ledger.core.genesis import Genesis

from .alarms import Alarm, AlarmLog
from .client import NodeApi
from .errors import NodeUnreachable, UsageError
from .store import Store


class NoTrustRoot(Exception):
    """No genesis could be established: nodes disagree (``alarmed``) or none answered."""

    def __init__(self, message: str, *, alarmed: bool) -> None:
        super().__init__(message)
        self.alarmed = alarmed


def establish_genesis(store: Store, apis: list[NodeApi], alarms: AlarmLog, genesis_file: Path | None) -> Genesis:
    """``--genesis`` wins; else the genesis pinned in the directory; else all reachable nodes must agree."""
    if genesis_file is not None:
        try:
            data = genesis_file.read_bytes()
        except OSError as exc:
            raise UsageError(f"cannot read --genesis {genesis_file}: {exc.strerror}") from exc
        return store.pin_genesis(data[:-1] if data.endswith(b"\n") else data)  # canonical, one newline allowed
    stored = store.stored_genesis()
    if stored is not None:
        return store.pin_genesis(stored)
    served: dict[str, bytes] = {}
    for api in apis:
        try:
            served[api.url] = api.genesis()
        except NodeUnreachable as exc:
            alarms.raise_alarm(Alarm("node_unreachable", api.label, exc.message, url=api.url))
    if not served:
        raise NoTrustRoot("no node answered GET /v1/genesis", alarmed=False)
    if len(set(served.values())) > 1:
        hashes = {url: hashlib.sha256(data).hexdigest() for url, data in served.items()}
        for url, digest in hashes.items():
            alarms.raise_alarm(Alarm("genesis_mismatch", url, "the nodes serve different genesis documents; "
                                     "get the genesis out of band and pass --genesis", url=url,
                                     detail={"genesis_sha256": digest, "all": hashes}))
        raise NoTrustRoot("the nodes serve different genesis documents", alarmed=True)
    return store.pin_genesis(next(iter(served.values())))
