"""The 31 cities and counties of Gyeonggi province (ledger/data), named validators of the demo."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent / "data" / "gyeonggi_municipalities.csv"


@dataclass(frozen=True)
class Municipality:
    code: str  # "suwon": used as the validator id
    name_ko: str
    name_en: str
    kind: str  # city | county


@cache
def get_municipalities() -> tuple[Municipality, ...]:
    with DATA_FILE.open(encoding="utf-8", newline="") as handle:
        return tuple(
            Municipality(row["code"].strip(), row["name_ko"].strip(), row["name_en"].strip(), row["kind"].strip())
            for row in csv.DictReader(handle)
        )
