"""The node's HTTP API (aiohttp); documented in docs/node-api.md.

Every error is JSON ``{"code", "message", "detail"}`` with a 4xx status for bad input
(5xx only for an unavailable service or a bug). Handlers parse, call the node, render.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from django.db import DatabaseError

from ledger.core.encoding import decode, encode
from ledger.core.errors import (
    CryptoError,
    EncodingError,
    LedgerError,
    TxRejected,
    UnknownContract,
    UnknownElection,
)

from .. import bundle, selectors
from ..errors import BadRequest, LedgerServiceError
from .mempool import COMMITTED, REJECTED

if TYPE_CHECKING:
    from .runtime import Node

logger = logging.getLogger(__name__)

MAX_BATCH_TXS = 1000
MAX_BODY_BYTES = 32 * 1024 * 1024
MAX_WAIT_MS = 60_000
DEFAULT_PAGE_BLOCKS = 100
_TX_ID_RE = re.compile(r"^[0-9a-f]{64}\Z")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")
NODE_KEY: web.AppKey[Node] = web.AppKey("node")
JSON = "application/json"


# --- errors -------------------------------------------------------------------------------------


def error_response(status: int, code: str, message: str, detail: dict[str, Any] | None = None) -> web.Response:
    body = json.dumps({"code": code, "message": message, "detail": detail or {}}, ensure_ascii=False, default=str)
    return web.Response(status=status, text=body, content_type=JSON)


def status_for(exc: LedgerError | LedgerServiceError) -> int:
    if isinstance(exc, LedgerServiceError):
        return exc.http_status
    if isinstance(exc, (UnknownContract, UnknownElection)):
        return 404
    if isinstance(exc, (EncodingError, CryptoError)):
        return 400
    if isinstance(exc, TxRejected):
        return 422
    return 400


_HTTP_CODES = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large", 400: "bad_request"}


@web.middleware
async def error_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    try:
        return await handler(request)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        return error_response(exc.status, _HTTP_CODES.get(exc.status, f"http_{exc.status}"), exc.reason)
    except (LedgerError, LedgerServiceError) as exc:
        return error_response(status_for(exc), exc.code, exc.message, dict(exc.detail))
    except DatabaseError as exc:
        # The node's own database is down or restarting (a block write failing the same way stops the
        # node, and its supervisor restarts it): retryable, so clients fail over instead of seeing a 500.
        logger.warning("database unavailable for %s %s: %s", request.method, request.path, exc)
        return error_response(503, "database_unavailable", "this node cannot read its database; try another node")


def _int_param(request: web.Request, name: str, default: int, minimum: int, maximum: int) -> int:
    raw = request.query.get(name)
    if raw is None or raw == "":
        return default
    if not re.fullmatch(r"[0-9]{1,16}", raw) or not minimum <= int(raw) <= maximum:
        raise BadRequest(f"{name} must be an integer in [{minimum}, {maximum}]", detail={"field": name})
    return int(raw)


def _node(request: web.Request) -> Node:
    return request.app[NODE_KEY]


def _json(data: Any, status: int = 200) -> web.Response:
    return web.Response(status=status, text=json.dumps(data, ensure_ascii=False), content_type=JSON)


def _isolated_response(node: Node) -> web.Response | None:
    """503 ``node_isolated`` when this node cannot reach a quorum: its view may be stale (Node.is_isolated)."""
    if not node.is_isolated():
        return None
    return error_response(503, "node_isolated", "the node is cut off from a quorum of validators, so its data "
                          "may be out of date; retry shortly or use another node",
                          {"connected_power": node.connected_power(), "quorum_power": node.genesis.quorum_power()})


# --- transactions -------------------------------------------------------------------------------


async def post_txs(request: web.Request) -> web.Response:
    """One canonical transaction, or {"txs": [...]} with up to 1000 of them."""
    if not _node(request).participating:
        # Still catching up: checked against an old state, a valid vote could be refused for
        # good (unknown_election). 503 makes clients fail over to another node instead.
        return error_response(503, "node_starting", "the node is syncing; retry shortly or use another node")
    isolated = _isolated_response(_node(request))
    if isolated is not None:
        # Admission would check against a state that may lag the network (a vote for an election
        # created meanwhile would be refused for good), and nothing admitted here can commit until
        # the node reconnects: 503 makes the gateway fail over at once instead of waiting.
        return isolated
    body = await request.read()
    if not body:
        raise BadRequest("the body must be a canonical transaction or {\"txs\": [...]}")
    parsed = decode(body)
    if type(parsed) is dict and set(parsed) == {"txs"}:
        items = parsed["txs"]
        if type(items) is not list or not 1 <= len(items) <= MAX_BATCH_TXS:
            raise BadRequest(f"txs must be a list of 1 to {MAX_BATCH_TXS} transactions", detail={"field": "txs"})
        admissions = await _node(request).submit([encode(item) for item in items])
        results = [a.to_dict() for a in admissions]
        accepted = sum(1 for a in admissions if a.status != REJECTED)
        return _json({"results": results, "accepted": accepted, "rejected": len(results) - accepted})
    admission = (await _node(request).submit([body]))[0]
    if admission.status == REJECTED and admission.error is not None:
        error = admission.error
        return error_response(status_for(error), error.code, error.message,
                              {**{k: str(v) if not isinstance(v, (int, str)) else v for k, v in error.detail.items()},
                               "id": admission.tx_id})
    return _json(admission.to_dict(), status=202 if admission.new else 200)


async def get_tx(request: web.Request) -> web.Response:
    tx_id = request.match_info["tx_id"].lower()
    if not _TX_ID_RE.match(tx_id):
        raise BadRequest("a transaction id is 64 hex digits", detail={"field": "id"})
    wait_ms = _int_param(request, "wait_ms", 0, 0, MAX_WAIT_MS)
    status = await _node(request).wait_for_tx(bytes.fromhex(tx_id), wait_ms)
    if status["status"] != COMMITTED:
        # Committed is final whatever happened since; "unknown" or "pending" from a node that
        # cannot see new blocks would be a stale answer passed off as current.
        isolated = _isolated_response(_node(request))
        if isolated is not None:
            return isolated
    return _json(status)


# --- chain ----------------------------------------------------------------------------------------


async def get_status(request: web.Request) -> web.Response:
    return _json(_node(request).status())


async def get_genesis(request: web.Request) -> web.Response:
    return web.Response(body=_node(request).genesis.to_bytes(), content_type=JSON)


async def get_blocks(request: web.Request) -> web.Response:
    node = _node(request)
    start = _int_param(request, "from", 1, 1, 2**53 - 1)
    limit = _int_param(request, "limit", DEFAULT_PAGE_BLOCKS, 1, selectors.MAX_BLOCKS_PER_PAGE)
    entries = await node.in_db_read(selectors.get_block_entries, start, limit)
    body = b'{"blocks":[' + b",".join(entries) + b'],"height":' + str(node.persisted_height).encode() + b"}"
    return web.Response(body=body, content_type=JSON)


async def get_block(request: web.Request) -> web.Response:
    raw = request.match_info["height"]
    if not re.fullmatch(r"[0-9]{1,16}", raw) or int(raw) < 1:
        raise BadRequest("height must be a positive integer", detail={"field": "height"})
    body = await _node(request).in_db_read(selectors.get_block_entry, int(raw))
    return web.Response(body=body, content_type=JSON)


async def get_bundle(request: web.Request) -> web.StreamResponse:
    """The audit bundle (docs/audit-bundle.md), streamed: gzip JSON Lines up to the head at the request."""
    node = _node(request)
    upto = _int_param(request, "upto", 2**53 - 1, 0, 2**53 - 1)
    genesis, height, head_hash, contracts = await node.in_db_read(lambda: bundle.stored_prologue(upto=upto))
    content = bundle.BundleContent(genesis=genesis, head_height=height, head_hash=head_hash, contracts=contracts,
                                   blocks=(), exporter=f"node {node.node_id} GET /v1/bundle")
    response = web.StreamResponse(headers={
        "Content-Type": bundle.CONTENT_TYPE,
        "Content-Disposition": f'attachment; filename="{node.genesis.chain}-{height}.evote-bundle.jsonl.gz"',
    })
    await response.prepare(request)
    stream = bundle.BundleStream()
    compressor = bundle.Compressor()
    await response.write(compressor.compress(stream.prologue(content)))
    next_height = 1
    while next_height <= height:
        page = await node.in_db_read(bundle.stored_block_page, next_height, height)
        if not page:
            break
        lines = [line for block in page for line in stream.block(block)]
        await response.write(await asyncio.get_running_loop().run_in_executor(None, compressor.compress, lines))
        next_height = page[-1].height + 1
    await response.write(compressor.compress(stream.epilogue((), ())) + compressor.flush())
    await response.write_eof()
    return response


async def get_query(request: web.Request) -> web.Response:
    contract, name = request.match_info["contract"], request.match_info["name"]
    if not _NAME_RE.match(contract) or not _NAME_RE.match(name):
        raise BadRequest("contract and query names are identifiers")
    args = _parse_args(request.query.get("args", "{}"))
    isolated = _isolated_response(_node(request))
    if isolated is not None:
        return isolated  # a tally or balance as of an unknown past height is not the current one
    # The core rejects missing or mistyped arguments with typed errors; anything else is a bug (500).
    result = await _node(request).query(contract, name, args)
    return web.Response(body=encode({"result": result}), content_type=JSON)


def _parse_args(raw: str) -> dict[str, Any]:
    try:
        args = json.loads(raw, parse_float=_refuse, parse_constant=_refuse)
        encode(args)  # the canonical rules: no booleans, safe integers, printable keys
    except (ValueError, LedgerError) as exc:
        raise BadRequest("args must be a JSON object of strings, integers, lists and objects",
                         detail={"field": "args"}) from exc
    if type(args) is not dict:
        raise BadRequest("args must be a JSON object", detail={"field": "args"})
    return args


def _refuse(text: str) -> Any:
    raise ValueError(f"{text} is not allowed")


async def get_metrics(request: web.Request) -> web.Response:
    return web.Response(text=_node(request).render_metrics(), content_type="text/plain", charset="utf-8",
                        headers={"X-Content-Type-Options": "nosniff"})


async def peer_socket(request: web.Request) -> web.StreamResponse:
    node = _node(request)
    if not node.participating or node.peers is None:
        return error_response(503, "node_starting", "the node is syncing; retry shortly")
    return await node.peers.handle_incoming(request)


def build_api(node: Node) -> web.Application:
    app = web.Application(middlewares=[error_middleware], client_max_size=MAX_BODY_BYTES)
    app[NODE_KEY] = node
    app.router.add_post("/v1/txs", post_txs)
    app.router.add_get("/v1/txs/{tx_id}", get_tx)
    app.router.add_get("/v1/status", get_status)
    app.router.add_get("/v1/genesis", get_genesis)
    app.router.add_get("/v1/blocks", get_blocks)
    app.router.add_get("/v1/blocks/{height}", get_block)
    app.router.add_get("/v1/query/{contract}/{name}", get_query)
    app.router.add_get("/v1/bundle", get_bundle)
    app.router.add_get("/v1/peer", peer_socket)
    app.router.add_get("/metrics", get_metrics)
    return app

