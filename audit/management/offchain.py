"""Off-chain parts of an audit bundle from the voting app: station names and regions, published results.

Read from the officials' database (the web app's), never from a node: a node holds only the
chain. Missing tables (a node database) simply mean "no off-chain data".
"""

from __future__ import annotations

from typing import Any

from django.db import DatabaseError


def offchain_records(*, using: str = "default") -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """(metadata records, published result records) for every election of the voting app."""
    from voting.models import Election, PollingStation  # noqa: PLC0415 - optional app data

    try:
        stations = {s.code: {"name": s.name, "region": s.region.name_en or s.region.name_ko,
                             "region_code": s.region.code}
                    for s in PollingStation.objects.using(using).select_related("region")}
        elections = list(Election.objects.using(using).select_related("tally").order_by("pk"))
    except DatabaseError:
        return [], []
    metadata, results = [], []
    for election in elections:
        metadata.append({"election": election.ledger_id, "title": election.title, "stations": stations,
                         "status": election.status})
        tally = getattr(election, "tally", None)
        if tally is not None and isinstance(tally.ledger_tally, dict) and tally.ledger_tally:
            results.append({"election": election.ledger_id, "result": tally.ledger_tally,
                            "ledger_height": tally.ledger_height, "taken_at": tally.taken_at.isoformat()})
    return metadata, results
