"""``python -m publicnode --node URL [--node URL ...] --data DIR``: follow, verify and watch the nodes.

Exit codes (``--check`` runs one round): 0 every reachable node serves the verified chain
(warnings such as an unreachable node allowed); 1 an alarm: invalid data, divergence or a
genesis mismatch; 2 usage error, a data directory of another chain, or no node reachable.
"""

from __future__ import annotations

import argparse
import logging
import signal
import sys
import threading
from pathlib import Path
from types import FrameType

from .alarms import Alarm, AlarmLog
from .client import NodeApi
from .dashboard import Snapshot, serve
from .errors import StoreInvalid, UsageError
from .follower import DEFAULT_BEHIND_BLOCKS, DEFAULT_SPOT_CHECKS, Follower
from .store import Store
from .trust import NoTrustRoot, establish_genesis

EXIT_OK, EXIT_ALARM, EXIT_USAGE = 0, 1, 2
logger = logging.getLogger("publicnode")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m publicnode", description=__doc__.splitlines()[0])
    parser.add_argument("--node", action="append", required=True, metavar="URL",
                        help="a node's API base URL, e.g. http://127.0.0.1:7001 (repeat for every node)")
    parser.add_argument("--data", type=Path, required=True, metavar="DIR",
                        help="directory for the verified chain, checkpoints.jsonl and alarms.jsonl")
    parser.add_argument("--genesis", type=Path, metavar="FILE",
                        help="the trusted genesis (canonical JSON, obtained out of band); default: the one "
                             "every node serves, required to be identical on all of them")
    parser.add_argument("--interval", type=float, default=10.0, metavar="SECONDS", help="time between rounds")
    parser.add_argument("--check", action="store_true", help="run one round and exit with 0, 1 or 2")
    parser.add_argument("--serve", metavar="HOST:PORT", help="serve the dashboard and /status.json here")
    parser.add_argument("--spot-checks", type=int, default=DEFAULT_SPOT_CHECKS, metavar="N",
                        help="older heights re-fetched from each node per round (catches rewritten history)")
    parser.add_argument("--behind-blocks", type=int, default=DEFAULT_BEHIND_BLOCKS, metavar="N",
                        help="warn when a node's head is more than N blocks below the verified head")
    parser.add_argument("--timeout", type=float, default=10.0, metavar="SECONDS", help="per request")
    args = parser.parse_args(argv)
    if args.interval <= 0 or args.timeout <= 0 or args.spot_checks < 0 or args.behind_blocks < 0:
        parser.error("--interval and --timeout must be positive, --spot-checks and --behind-blocks not negative")
    if not all(url.startswith(("http://", "https://")) for url in args.node):
        parser.error("--node takes http:// or https:// URLs")
    if len(set(args.node)) != len(args.node):
        parser.error("each --node URL may be given once")
    if args.serve is not None:
        host, _, port = args.serve.rpartition(":")
        if not host or not port.isdigit() or not 0 <= int(port) <= 65535:
            parser.error("--serve takes HOST:PORT, e.g. 127.0.0.1:8800")
    return args


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    args = parse_args(argv)
    try:
        store = Store(args.data)
    except OSError as exc:
        logger.error("cannot use --data %s: %s", args.data, exc.strerror)
        return EXIT_USAGE
    alarms = AlarmLog(store.alarms_path)
    apis = [NodeApi(url, timeout_s=args.timeout) for url in args.node]
    try:
        genesis = establish_genesis(store, apis, alarms, args.genesis)
        follower = Follower(store, apis, genesis, alarms, spot_checks=args.spot_checks,
                            behind_blocks=args.behind_blocks)
    except NoTrustRoot as exc:
        logger.error("no trust root: %s", exc)
        return EXIT_ALARM if exc.alarmed else EXIT_USAGE
    except UsageError as exc:
        logger.error("%s", exc.message)
        return EXIT_USAGE
    except StoreInvalid as exc:
        detail = exc.detail
        alarms.raise_alarm(Alarm("local_store_invalid", "local", exc.message + f" ({store.blocks_path})",
                                 height=detail.get("height"), field=detail.get("field"),
                                 tx_index=detail.get("tx_index"), reason=detail.get("reason")))
        return EXIT_ALARM
    logger.info("following chain %s, genesis %s, %s blocks stored in %s", genesis.chain, genesis.hash.hex(),
                follower.chain.height, args.data)
    if args.check:
        return _check(follower)
    return _follow(follower, args)


def _round(follower: Follower) -> tuple[int, bool]:
    result = follower.run_round()
    errors = sum(1 for a in result.alarms if a.severity == "error")
    logger.info("round %s: verified height %s, fetched %s blocks, %s/%s nodes reachable, %s errors, %s warnings",
                result.round, result.height, result.fetched, result.reachable, len(follower.apis), errors,
                len(result.alarms) - errors)
    return result.reachable, result.has_errors


def _check(follower: Follower) -> int:
    reachable, has_errors = _round(follower)
    head = follower.chain.head_hash.hex() if follower.chain.height else "-"
    print(f"height {follower.chain.height} head {head} reachable {reachable}/{len(follower.apis)} "
          f"{'ALARM' if has_errors else 'ok'}")
    if has_errors or follower.alarms.has_errors(follower.alarms.raised):
        return EXIT_ALARM
    return EXIT_OK if reachable else EXIT_USAGE


def _follow(follower: Follower, args: argparse.Namespace) -> int:
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    snapshot = Snapshot()
    snapshot.set(follower.snapshot())
    server = None
    if args.serve is not None:
        host, _, port = args.serve.rpartition(":")
        server = serve(snapshot, host.strip("[]"), int(port))
        bound = server.server_address
        logger.info("dashboard at http://%s:%s/", bound[0], bound[1])
    try:
        while not stop.is_set():
            _round(follower)
            snapshot.set(follower.snapshot())
            stop.wait(args.interval)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
