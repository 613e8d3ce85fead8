"""Load and fault campaign on a 4-node network, each node on its own PostgreSQL database.

    .venv/bin/python bench/campaign.py [--minutes 30] [--rate 200] [--burst-rate 1000 --burst-seconds 60]
                                       [--report FILE]

Needs PostgreSQL on 127.0.0.1:5432 (user postgres, trust auth) for three nodes and Debian's
/usr/lib/postgresql/15/bin (initdb, pg_ctl) for the private server of the fourth. Sustained
mixed kiosk and mobile votes at ``--rate`` votes/s with a ``--burst-seconds`` burst at
``--burst-rate``, submitted as pre-signed transactions to the node HTTP API (what the web
tier relays to), while one node is killed (SIGKILL) and restarted, one is partitioned and
healed, and one node's PostgreSQL server is stopped and started. Method and figures:
docs/campaign.md.

Prints one JSON report (config, results, pass/fail per check) on stdout, and writes it to
``--report`` too; progress goes to stderr. Exits 1 when any correctness check fails, 2 when
the campaign could not run.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("DEBUG", "false")

import django  # noqa: E402

django.setup()

from bench._campaign import CampaignConfig, dumps, run_campaign  # noqa: E402
from bench._campaign_pg import (  # noqa: E402
    SHARED_SERVER,
    private_server_possible,
    server_reachable,
)
from bench._netutil import log  # noqa: E402


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    defaults = CampaignConfig()
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--minutes", type=float, default=defaults.minutes, help="load duration")
    p.add_argument("--rate", type=float, default=defaults.rate, help="votes/s offered outside the burst")
    p.add_argument("--burst-rate", type=float, default=defaults.burst_rate, help="votes/s offered in the burst")
    p.add_argument("--burst-seconds", type=float, default=defaults.burst_seconds)
    p.add_argument("--mobile-share", type=float, default=defaults.mobile_share,
                   help="share of mobile votes (credential mint + transfer); the rest are kiosk votes")
    p.add_argument("--outage", type=float, default=defaults.outage_s,
                   help="seconds a killed node stays down, a partition lasts, the database is down")
    p.add_argument("--seed", type=int, default=defaults.seed)
    p.add_argument("--report", type=Path, default=None, help="also write the JSON report here")
    p.add_argument("--dir", default=None, help="keep node homes and logs here (default: a temporary directory)")
    p.add_argument("--keep-databases", action="store_true")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if not server_reachable(SHARED_SERVER):
        log(f"no PostgreSQL at {SHARED_SERVER}: the campaign needs it (see docs/campaign.md)")
        return 2
    why = private_server_possible()
    if why:
        log(f"cannot start a private PostgreSQL server: {why}")
        return 2
    config = CampaignConfig(minutes=args.minutes, rate=args.rate, burst_rate=args.burst_rate,
                            burst_seconds=args.burst_seconds, mobile_share=args.mobile_share, outage_s=args.outage,
                            seed=args.seed, directory=args.dir, keep_databases=args.keep_databases)
    report = run_campaign(config, log)
    text = dumps(report)
    if args.report:
        args.report.write_text(text + "\n")
    print(text)
    failed = [name for name, check in report["checks"].items() if not check["pass"]]
    if failed:
        log(f"FAILED checks: {', '.join(failed)}")
        return 1
    log("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
