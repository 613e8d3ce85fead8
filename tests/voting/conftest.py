"""Fixtures for the voting tests: users with roles, stations, elections, and an in-process ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.contrib.auth.models import Group, User
from django.utils import timezone

from ledger.core.crypto import PrivateKey
from voting.access import OFFICIALS_GROUP
from voting.ledger_gateway import LedgerGateway, NodeClientTransport, set_gateway
from voting.models import Election, PollingStation, Region

from .factories import ensure_seed_data, make_election, make_station
from .inprocess_ledger import InProcessTransport
from .ledger_node import LedgerNode, start_ledger_node


@pytest.fixture
def now() -> datetime:
    return timezone.now()


@pytest.fixture
def transport() -> Iterator[InProcessTransport]:
    """The real vote contract in this process, installed as the gateway's ledger."""
    key = PrivateKey.generate()
    transport = InProcessTransport(key)
    set_gateway(LedgerGateway(transport, key, timeout_s=5))
    yield transport
    set_gateway(None)


@pytest.fixture
def official(db: Any) -> User:
    ensure_seed_data()
    user = User.objects.create_user("official", password="correct horse battery staple")
    user.groups.add(Group.objects.get(name=OFFICIALS_GROUP))
    return user


@pytest.fixture
def outsider(db: Any) -> User:
    return User.objects.create_user("outsider", password="correct horse battery staple")


@pytest.fixture
def suwon(db: Any) -> Region:
    ensure_seed_data()
    return Region.objects.get(code="suwon")


@pytest.fixture
def station(suwon: Region) -> PollingStation:
    return make_station("suwon-1", suwon)


@pytest.fixture
def station2(db: Any) -> PollingStation:
    ensure_seed_data()
    return make_station("yongin-1", Region.objects.get(code="yongin"))


@pytest.fixture
def election(official: User, suwon: Region, now: datetime) -> Election:
    return make_election(official, suwon, now)


@pytest.fixture
def opens_soon(now: datetime) -> tuple[datetime, datetime]:
    return now + timedelta(hours=1), now + timedelta(hours=10)


@pytest.fixture(scope="session")
def ledger_node(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LedgerNode]:
    """One real node (make_localnet + run_node) shared by every gateway test of the session."""
    node = start_ledger_node(tmp_path_factory.mktemp("voting-ledger"))
    try:
        yield node
    finally:
        node.stop()


@pytest.fixture
def node_gateway(ledger_node: LedgerNode) -> Iterator[LedgerGateway]:
    """The production gateway (NodeClient transport, authority key from the localnet) installed for a test."""
    from ledger.client import NodeClient

    key = PrivateKey.from_pem(ledger_node.authority_key_file.read_bytes())
    gateway = LedgerGateway(NodeClientTransport(NodeClient([ledger_node.url], timeout_s=5)), key, timeout_s=20)
    set_gateway(gateway)
    yield gateway
    set_gateway(None)
