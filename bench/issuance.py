"""Benchmark: voter-roll import and token-card issuance (keys, ledger mint, QR, PDF) at scale.

Runs against a fresh SQLite database in a temporary directory and, by default, a real
one-node ledger started with ``make_localnet`` + ``run_node`` (``--ledger inprocess`` uses
the real state machine in this process instead). Prints one JSON object on stdout;
progress goes to stderr.

    .venv/bin/python bench/issuance.py [--rows 100000] [--stations 20] [--workers N]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000, help="voter roll rows (default 100000)")
    parser.add_argument("--stations", type=int, default=20, help="polling stations the voters spread over")
    parser.add_argument("--workers", type=int, default=0, help="card worker processes (0 = one per core)")
    parser.add_argument("--ledger", choices=("node", "inprocess"), default="node")
    return parser.parse_args()


def setup_django(directory: Path, workers: int) -> None:
    os.environ["DATABASE_URL"] = f"sqlite:///{directory / 'web.sqlite3'}"
    os.environ.setdefault("DJANGO_ENV", "test")
    os.environ["DJANGO_SETTINGS_MODULE"] = "config.settings"
    if workers:
        os.environ["VOTING_ISSUANCE_WORKERS"] = str(workers)
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", "--noinput", verbosity=0)


def log(message: str) -> None:
    print(f"[bench] {message}", file=sys.stderr, flush=True)


def main() -> None:
    args = parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-issuance-") as temp:
        directory = Path(temp)
        setup_django(directory, args.workers)
        print(json.dumps(run(args, directory), indent=2))


def install_ledger(kind: str, directory: Path) -> object:
    from ledger.client import NodeClient
    from ledger.core.crypto import PrivateKey
    from voting.ledger_gateway import LedgerGateway, NodeClientTransport, set_gateway

    if kind == "inprocess":
        from tests.voting.inprocess_ledger import InProcessTransport

        key = PrivateKey.generate()
        set_gateway(LedgerGateway(InProcessTransport(key), key, timeout_s=120))
        return None
    from tests.voting.ledger_node import start_ledger_node

    log("starting a one-node ledger (make_localnet + run_node)")
    node = start_ledger_node(directory / "net")
    key = PrivateKey.from_pem(node.authority_key_file.read_bytes())
    set_gateway(LedgerGateway(NodeClientTransport(NodeClient([node.url], timeout_s=30)), key, timeout_s=300))
    return node


def run(args: argparse.Namespace, directory: Path) -> dict[str, object]:
    from django.contrib.auth.models import Group, User
    from django.utils import timezone

    from tests.voting.factories import make_election, make_kiosk, make_station, roll_rows, to_csv
    from voting.access import OFFICIALS_GROUP
    from voting.cards import get_pool_context
    from voting.config import get_voting_settings
    from voting.models import Region
    from voting.selectors import get_roll_stations
    from voting.services.elections import schedule_election
    from voting.services.roll import import_roll
    from voting.services.tokens import issue_tokens

    node = install_ledger(args.ledger, directory)
    try:
        user = User.objects.create_user("bench")
        user.groups.add(Group.objects.get(name=OFFICIALS_GROUP))
        regions = list(Region.objects.filter(parent__isnull=False))
        codes = []
        for index in range(args.stations):
            station = make_station(f"bench-{index:03d}", regions[index % len(regions)])
            make_kiosk(station, user)
            codes.append(station.code)
        now = timezone.now()
        election = make_election(user, regions[0], now)
        schedule_election(user, election, now)
        data = to_csv(roll_rows(args.rows, codes))
        log(f"importing {args.rows} roll rows ({len(data) // 1024} KiB CSV)")
        started = time.perf_counter()
        report = import_roll(user, election, file_name="bench.csv", data=data, now=now)
        roll_import_s = time.perf_counter() - started
        workers = get_voting_settings().issuance_workers
        log(f"imported {report.imported} rows in {roll_import_s:.1f}s; issuing cards with {workers} workers")
        tokens, pdf_bytes = 0, 0
        started = time.perf_counter()
        with get_pool_context().Pool(workers) as pool:
            for station in get_roll_stations(election):
                cards = issue_tokens(user, election, station, now=now, pool=pool)
                tokens += cards.batch.count
                pdf_bytes += len(cards.pdf)
                log(f"  {station.code}: {cards.batch.count} cards, {len(cards.pdf) // 1024} KiB PDF "
                    f"({tokens} total, {time.perf_counter() - started:.1f}s)")
        tokens_s = time.perf_counter() - started
    finally:
        if node is not None:
            node.stop()  # type: ignore[attr-defined]
    return {
        "roll_rows": report.imported,
        "roll_import_s": round(roll_import_s, 2),
        "roll_rows_per_s": round(report.imported / roll_import_s),
        "tokens": tokens,
        "tokens_s": round(tokens_s, 2),
        "tokens_per_s": round(tokens / tokens_s),
        "pdf_mib": round(pdf_bytes / 2**20, 1),
        "config": {"stations": args.stations, "workers": workers, "cpus": os.cpu_count(), "ledger": args.ledger,
                   "database": "sqlite", "mint_batch": 1000},
    }


if __name__ == "__main__":
    main()
