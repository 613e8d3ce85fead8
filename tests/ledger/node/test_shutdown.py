"""The consensus loop's wait for work must never lose a cancellation.

On Python 3.11, ``asyncio.wait_for`` runs the awaited coroutine in an inner task; when that
task has just taken an item off the queue as the outer task is cancelled, ``wait_for``
returns the item and the cancellation is gone (CPython gh-86296, fixed in 3.12). The node's
consensus loop waited on its inbox that way, so ``Node._shutdown`` could cancel it, lose the
cancellation and then wait for it forever: bench/campaign.py found a node whose database had
failed still up hours later, out of consensus, never restarted. ``next_items`` waits with
``asyncio.timeout``, which keeps the cancellation.

The probe is deterministic: the item is put on the queue and the task is cancelled after a
fixed number of event-loop turns, so every interleaving of "item arrived" and "cancel
requested" is tried. ``test_the_probe_catches_the_3_11_wait_for_bug`` shows the probe is
able to fail: it finds the lost cancellation in the old pattern.
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from ledger.node.runtime import next_items

Waiter = Callable[[asyncio.Queue[str], float | None, int], Awaitable[list[str]]]


async def old_pattern(inbox: asyncio.Queue[str], timeout_s: float | None, limit: int) -> list[str]:
    """What the consensus loop did before (kept here only to show the probe detects the bug)."""
    items = []
    try:
        items.append(await asyncio.wait_for(inbox.get(), timeout_s))
    except TimeoutError:
        pass
    while len(items) < limit and not inbox.empty():
        items.append(inbox.get_nowait())
    return items


async def cancel_after_item(wait: Waiter, turns: int) -> tuple[bool, str, int]:
    """(cancel accepted, how the task ended, items left in the queue)."""
    inbox: asyncio.Queue[str] = asyncio.Queue()
    task = asyncio.create_task(wait(inbox, 10.0, 8))
    for _ in range(2):
        await asyncio.sleep(0)  # the task is now waiting on the queue
    inbox.put_nowait("frame")
    for _ in range(turns):
        await asyncio.sleep(0)
    accepted = task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        return accepted, "cancelled", inbox.qsize()
    return accepted, "returned", inbox.qsize()


def probe(wait: Waiter) -> list[tuple[bool, str, int]]:
    async def run() -> list[tuple[bool, str, int]]:
        return [await cancel_after_item(wait, turns) for turns in range(8)]
    return asyncio.run(run())


def test_a_cancel_that_reaches_the_wait_always_cancels_it() -> None:
    outcomes = probe(next_items)
    for turns, (accepted, ended, left) in enumerate(outcomes):
        if accepted:  # the task was still running: it must end cancelled, the item left queued
            assert (ended, left) == ("cancelled", 1), f"after {turns} turns: {ended}, {left} left"
        else:  # it had already finished with the item
            assert (ended, left) == ("returned", 0), f"after {turns} turns: {ended}, {left} left"
    assert any(accepted for accepted, _, _ in outcomes), "the probe never hit a running wait"


@pytest.mark.skipif(sys.version_info >= (3, 12), reason="CPython fixed wait_for in 3.12 (gh-86296)")
def test_the_probe_catches_the_3_11_wait_for_bug() -> None:
    lost = [turns for turns, (accepted, ended, _) in enumerate(probe(old_pattern)) if accepted and ended == "returned"]
    assert lost, "the probe no longer reproduces the lost cancellation it guards against"


def test_next_items_waits_times_out_and_batches() -> None:
    async def run() -> dict[str, Any]:
        inbox: asyncio.Queue[str] = asyncio.Queue()
        empty = await next_items(inbox, 0.01, 4)
        for n in range(6):
            inbox.put_nowait(f"m{n}")
        first = await next_items(inbox, None, 4)
        second = await next_items(inbox, 0.01, 4)
        later = asyncio.get_running_loop().call_later(0.02, inbox.put_nowait, "late")
        waited = await next_items(inbox, 5.0, 4)
        later.cancel()
        return {"empty": empty, "first": first, "second": second, "waited": waited}

    assert asyncio.run(run()) == {"empty": [], "first": ["m0", "m1", "m2", "m3"], "second": ["m4", "m5"],
                                  "waited": ["late"]}
