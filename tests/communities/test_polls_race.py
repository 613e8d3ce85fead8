"""One registration and one credential per member per poll, under real concurrent transactions (PostgreSQL).

SQLite serialises writers, so there is no race to test there and these tests skip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from django.db import close_old_connections, connection
from django.utils import timezone

from communities.errors import CommunityError
from communities.models import PollRegistration
from communities.services.poll_voting import _claim_address, issue_poll_credential
from ledger.core.crypto import PrivateKey


from .poll_support import build_world, in_process_ledger, open_poll, prepare_anonymous

ATTEMPTS = 8


@pytest.fixture
def pg_world(transactional_db: Any, settings: Any, tmp_path: Path) -> Iterator[Any]:
    if connection.vendor != "postgresql":
        pytest.skip("needs PostgreSQL (SQLite serialises writers, so there is no race to test)")
    with in_process_ledger(settings, tmp_path):
        yield build_world()


def race(work: Callable[[int], Any]) -> list[str]:
    """Run work(0..ATTEMPTS-1) in threads released together; "ok" or the error code of each."""
    barrier = threading.Barrier(ATTEMPTS)
    outcomes: list[str] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        try:
            barrier.wait()
            work(index)
            result = "ok"
        except CommunityError as exc:
            result = exc.code
        finally:
            close_old_connections()
            connection.close()
        with lock:
            outcomes.append(result)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(ATTEMPTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return outcomes


def test_concurrent_keys_of_one_member_bind_exactly_one_address(pg_world: Any) -> None:
    now = timezone.now()
    kim = pg_world.add_member("kim", pg_world.suwon)
    poll = open_poll(pg_world, "single", now)
    addresses = [PrivateKey.generate().address for _ in range(ATTEMPTS)]
    snapshot = PollRegistration.objects.get(poll=poll, member=kim)  # written when the poll was published
    assert snapshot.unit == f"c{pg_world.suwon.pk}" and snapshot.address == ""
    outcomes = race(lambda i: _claim_address(poll, PollRegistration.objects.get(pk=snapshot.pk), addresses[i]))
    assert sorted(outcomes) == ["ok"] + ["poll_already_registered"] * (ATTEMPTS - 1)
    (registration,) = PollRegistration.objects.filter(poll=poll, member=kim)
    assert registration.address in addresses


def test_concurrent_credential_requests_of_one_member_get_one_signature(pg_world: Any) -> None:
    now = timezone.now()
    kim = pg_world.add_member("kim", pg_world.suwon)
    poll = open_poll(pg_world, "single", now, anonymous=True)
    requests = [prepare_anonymous(poll).blinded_msg for _ in range(ATTEMPTS)]
    outcomes = race(lambda i: issue_poll_credential(kim, poll, requests[i], now))
    assert sorted(outcomes) == ["ok"] + ["poll_credential_already_issued"] * (ATTEMPTS - 1)
    assert PollRegistration.objects.filter(poll=poll, member=kim).exclude(blinded_sha256="").count() == 1
