"""``python -m verifier BUNDLE``: re-check an evote-bundle from genesis and print pass or fail.

Exit codes: 0 the bundle verified (warnings are printed, and fail only with ``--strict``);
1 the data is invalid (the first failure is located); 2 the bundle cannot be read, or usage;
3 the verifier itself failed (a bug: please report it with the traceback).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import traceback
from pathlib import Path
from typing import TextIO

from .engine import Report, verify_bundle
from .errors import BundleUnreadable

EXIT_PASS, EXIT_INVALID, EXIT_UNREADABLE, EXIT_BUG = 0, 1, 2, 3


class ProgressLine:
    """A throttled progress line on stderr: redrawn in place on a terminal, a line every 10 s otherwise."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self.last = self.started

    def __call__(self, height: int, head: int, txs: int) -> None:
        now = time.monotonic()
        if now - self.last < (0.25 if self.tty else 10.0) and height != head:
            return
        self.last = now
        share = f" {100 * height / head:5.1f}%" if head else ""
        rate = txs / max(now - self.started, 1e-9)
        text = f"block {height}/{head}{share}  {txs} txs  {rate:,.0f} txs/s"
        self.stream.write(f"\r{text}   " if self.tty else text + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.tty and self.last > self.started:
            self.stream.write("\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m verifier", description=__doc__.splitlines()[0])
    parser.add_argument("bundle", type=Path, help="an evote-bundle v1 file (.jsonl.gz)")
    parser.add_argument("--crypto", choices=["cryptography", "ecdsa"], default="cryptography",
                        help="signature implementation: OpenSSL via cryptography, or pure-Python ecdsa (slow)")
    parser.add_argument("--workers", type=int, default=usable_cpus(),
                        help="processes checking transactions (default: the number of CPUs this process may use)")
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument("--quiet", action="store_true", help="no progress line")
    parser.add_argument("--strict", action="store_true", help="warnings (e.g. votes above check-ins) fail too")
    args = parser.parse_args(argv)
    if args.workers < 1:
        parser.error("--workers must be at least 1")
    progress = None if args.quiet else ProgressLine(sys.stderr)
    started = time.monotonic()
    try:
        report = verify_bundle(args.bundle, impl=args.crypto, workers=args.workers, progress=progress)
    except BundleUnreadable as exc:
        print(f"CANNOT READ {args.bundle}: {exc.message}", file=sys.stderr)
        return EXIT_UNREADABLE
    except Exception:  # noqa: BLE001 - a bug must not look like "invalid data" (exit 1)
        traceback.print_exc()
        print("VERIFIER ERROR: this is a bug in the verifier, not a verdict on the bundle", file=sys.stderr)
        return EXIT_BUG
    finally:
        if progress is not None:
            progress.done()
    report.seconds = time.monotonic() - started
    report.cpu = cpu_seconds()
    if args.json:
        print(json.dumps(report.to_dict(), ensure_ascii=False, sort_keys=True))
    else:
        print_report(report, sys.stdout)
    if not report.ok:
        return EXIT_INVALID
    return EXIT_INVALID if args.strict and report.warnings else EXIT_PASS


def usable_cpus() -> int:
    """The CPUs this process may run on (a container or ``taskset`` can allow fewer than the machine has)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):  # not on Linux
        return os.cpu_count() or 1


def cpu_seconds() -> dict[str, float]:
    """CPU seconds of this process and of its finished workers (where the OS reports them)."""
    try:
        import resource  # noqa: PLC0415 - Unix only; the report simply lacks the figures elsewhere
    except ImportError:
        return {}
    own = resource.getrusage(resource.RUSAGE_SELF)
    workers = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"main": round(own.ru_utime + own.ru_stime, 2), "workers": round(workers.ru_utime + workers.ru_stime, 2)}


def print_report(report: Report, out: TextIO) -> None:
    out.write(f"chain {report.chain}  genesis {report.genesis_hash}\n")
    out.write(f"verified {report.height} blocks, {report.txs} transactions ({report.votes} votes) "
              f"in {report.seconds:.1f}s with {report.crypto}, {report.workers} worker(s)\n")
    for election, tally in sorted(report.tallies.items()):
        checked = " (matches the published result)" if election in report.results_checked else ""
        out.write(f"  {election} [{tally['status']}]: {json.dumps(tally['candidates'], ensure_ascii=False)}"
                  f"  totals {json.dumps(tally['totals'])}{checked}\n")
    for poll, entry in sorted(report.polls.items()):
        result = entry["result"]
        verdict = f"  passed={result['passed']}" if "passed" in result else ""
        if "eligible" in entry:
            share = "n/a" if entry["turnout"] is None else f"{entry['turnout']}%"
            verdict += f"  turnout {share} of {entry['eligible']} eligible"
        out.write(f"  poll {poll} [{entry['status']}, {entry['method']}]: {result['ballots']} ballots, weight "
                  f"{result['weight']}, totals {json.dumps(result['totals'], ensure_ascii=False)}, winners "
                  f"{json.dumps(result['winners'], ensure_ascii=False)}{' (tie)' if result['tie'] else ''}{verdict}\n")
    for finding in report.findings:
        where = " ".join(f"{k}={v}" for k, v in (("election", finding.election), ("station", finding.station)) if v)
        out.write(f"  {finding.level.upper()} {finding.code} {where}: {finding.message}\n")
    if report.ok:
        out.write(f"PASS: head {report.height} {report.head}; {len(report.warnings)} warning(s)\n")
        return
    f = report.failure
    assert f is not None  # noqa: S101 - a report that is not ok always has its failure
    parts = [f"height {f.height}" if f.height is not None else None,
             f"block {f.block}" if f.block else None,
             f"transaction {f.tx_index}" + (f" ({f.tx})" if f.tx else "") if f.tx_index is not None else None,
             f"field {f.field}" if f.field else None,
             f"bundle line {f.line}" if f.line else None]
    out.write(f"FAIL at {', '.join(p for p in parts if p)}: {f.code}: {f.message}\n")
    if f.detail:
        out.write(f"  detail: {json.dumps(f.detail, ensure_ascii=False, sort_keys=True)}\n")
    out.write(f"last good block: {report.height} {report.head or ''}\n")


if __name__ == "__main__":
    sys.exit(main())
