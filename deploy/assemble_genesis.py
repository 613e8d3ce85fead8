#!/usr/bin/env python3
"""Assemble a genesis file from the public keys the municipalities and the commission handed over.

Why a separate script: ``make_localnet`` creates every key on one machine, which is right for a
test network only. In a real ceremony each operator runs ``manage.py ledger_keygen`` on its own
node machine and hands over only the printed public key; the coordinator writes those into a
plan file and this script turns the plan into the byte-exact genesis every node must share.

Plan (JSON)::

    {"chain": "gyeonggi-2026",
     "validators": [{"id": "suwon", "name": "수원시", "pubkey": "04…"}, …],
     "authorities": [{"id": "nec-gyeonggi", "name": "경기도선거관리위원회", "pubkey": "04…"}],
     "params": {}}

``power`` (default 1) may be given per validator. The contract pins are the SHA-256 of this
checkout's contract sources, so run it from the release every node will run.

Usage::

    python deploy/assemble_genesis.py plan.json --out genesis.json [--time MS]

It prints the genesis hash: compare it out of band with every operator before starting a node.
Needs no Django and no database (ledger.core only).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from ledger.core import contracts  # noqa: E402
from ledger.core.errors import LedgerError  # noqa: E402
from ledger.core.genesis import GENESIS_VERSION, Genesis  # noqa: E402

PLAN_KEYS = frozenset({"chain", "validators", "authorities", "params"})


class PlanError(Exception):
    """The plan file cannot become a genesis; the message says which field and why."""


def build_genesis(plan: Any, *, now_ms: int) -> Genesis:
    """A validated Genesis from a plan; raises PlanError naming the problem (writes nothing)."""
    if not isinstance(plan, dict) or not {"chain", "validators"} <= plan.keys() or plan.keys() - PLAN_KEYS:
        raise PlanError(f"the plan must be an object with chain, validators and optionally authorities, params "
                        f"(got keys {sorted(plan) if isinstance(plan, dict) else type(plan).__name__})")
    validators = plan["validators"]
    if not isinstance(validators, list) or not all(isinstance(v, dict) for v in validators):
        raise PlanError("validators must be a list of objects with id, name, pubkey")
    data = {
        "v": GENESIS_VERSION,
        "chain": plan["chain"],
        "time": now_ms,
        "validators": [{"power": 1, **v} for v in validators],
        "authorities": plan.get("authorities", []),
        "contracts": [{"id": cid, "source_sha256": contracts.contract_source_sha256(cid)}
                      for cid in contracts.registered_ids()],
        "params": plan.get("params", {}),
    }
    try:
        return Genesis.from_dict(data)
    except LedgerError as exc:
        raise PlanError(f"invalid plan ({exc.code}): {exc.message} {exc.detail or ''}".rstrip()) from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("plan", type=Path, help="JSON plan: chain, validators, authorities, params")
    parser.add_argument("--out", type=Path, required=True, help="genesis file to create (never overwritten)")
    parser.add_argument("--time", type=int, help="genesis time in ms since the epoch (default: now)")
    args = parser.parse_args(argv)
    try:
        plan = json.loads(args.plan.read_text(encoding="utf-8"))
        genesis = build_genesis(plan, now_ms=args.time if args.time is not None else int(time.time() * 1000))
    except (OSError, ValueError, PlanError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.out.exists():
        print(f"error: {args.out} exists; a genesis is never overwritten", file=sys.stderr)
        return 2
    args.out.write_bytes(genesis.to_bytes() + b"\n")  # the format ledger.services.read_genesis_file reads
    print(f"wrote {args.out}")
    print(f"genesis hash: {genesis.hash.hex()}")
    print(f"validators:   {', '.join(v.id for v in genesis.validators)} (tolerates {genesis.max_faulty()} faulty)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
