"""Shared set-up for the poll tests: a small community tree with members, a manager, voting helpers.

The tree (all names in the ledger ``units`` as "c<pk>"):

    gg (root, weighted voting opt-in as asked)
    ├── suwon
    │   └── jangan
    └── seongnam

Voters sign their own transactions here exactly as the browser does (a fresh P-256 key per
poll; anonymous polls blind/unblind with ledger.core.blindrsa like static/ledger/blindrsa.js).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.contrib.auth.models import User

from communities.models import Community, Member, Membership, Poll
from communities.services import polls as poll_services
from communities.services import tree
from communities.services.poll_voting import get_poll_credential_key_hex
from ledger.core import blindrsa
from ledger.core.contracts.poll import CREDENTIAL_VARIANT, credential_message
from ledger.core.crypto import PrivateKey
from ledger.core.tx import make_tx
from tests.voting.inprocess_ledger import InProcessTransport
from voting.ledger_gateway import LedgerGateway, get_gateway, set_gateway

MOBILE_TEST_SETTINGS = {
    "SMS_BACKEND": "mobile_api.sms.backends.locmem.SmsBackend",
    "OTP_HMAC_KEY": "test-otp-key-0123456789abcdef",
    "CREDENTIAL_KEY_BITS": 2048,
}


def mobile_settings(tmp_path: Path) -> dict[str, Any]:
    return {**MOBILE_TEST_SETTINGS, "SMS_FILE_PATH": tmp_path / "sms", "CREDENTIAL_KEY_DIR": tmp_path / "keys"}


@dataclass
class World:
    manager: User
    root: Community
    suwon: Community
    jangan: Community
    seongnam: Community
    members: dict[str, Member] = field(default_factory=dict)

    def add_member(self, name: str, *nodes: Community) -> Member:
        member = Member.objects.create(display_name=name)
        for node in nodes:
            Membership.objects.create(member=member, community=node, joined_via=Membership.JoinedVia.INVITE)
        self.members[name] = member
        return member


@contextmanager
def in_process_ledger(settings: Any, tmp_path: Path) -> Iterator[InProcessTransport]:
    """The poll services' ledger for one test: an in-process chain behind the gateway, and mobile settings for credentials."""
    settings.MOBILE = mobile_settings(tmp_path)
    key = PrivateKey.generate()
    transport = InProcessTransport(key)
    set_gateway(LedgerGateway(transport, key, timeout_s=5))
    try:
        yield transport
    finally:
        set_gateway(None)


def build_world(*, weighted: bool = False) -> World:
    manager = User.objects.create_superuser("poll-manager", password="correct horse battery staple")
    root = tree.create_community(manager, parent=None, slug="gg", name="경기", weighted_voting=weighted)
    suwon = tree.create_community(manager, parent=root, slug="suwon", name="수원")
    jangan = tree.create_community(manager, parent=suwon, slug="jangan", name="장안")
    seongnam = tree.create_community(manager, parent=root, slug="seongnam", name="성남")
    return World(manager, root, suwon, jangan, seongnam)


def draft(method: str, now: datetime, options: tuple[str, ...] = ("A", "B", "C"), **extra: Any) -> poll_services.PollDraft:
    return poll_services.PollDraft(title=f"{method} poll", method=method, options=options,
                                   opens_at=now - timedelta(minutes=1), closes_at=now + timedelta(hours=1), **extra)


def open_poll(world: World, method: str, now: datetime, scope: Community | None = None, **extra: Any) -> Poll:
    """Create, publish and open a poll scoped to ``scope`` (the root by default)."""
    poll = poll_services.create_poll(world.manager, scope or world.root, draft(method, now, **extra), now)
    poll_services.publish_poll(world.manager, poll, now)
    return poll_services.open_poll(world.manager, poll, now)


def keys_of(poll: Poll) -> dict[str, str]:
    """Option name -> ledger option id."""
    return {o.name: o.key for o in poll.options.all()}


def sign(key: PrivateKey, tx_type: str, payload: dict[str, Any]) -> dict[str, Any]:
    return make_tx(key, chain=get_gateway().chain_id, contract="poll", type=tx_type, payload=payload).to_dict()


def cast_tx(key: PrivateKey, poll: Poll, ballot: Any) -> dict[str, Any]:
    return sign(key, "cast", {"poll": poll.ledger_id, "ballot": ballot})


@dataclass
class AnonymousVoter:
    key: PrivateKey
    input_msg: bytes
    blinded_msg: bytes
    inv: bytes


def prepare_anonymous(poll: Poll) -> AnonymousVoter:
    """What the browser does before asking for the credential: key, message, blinding."""
    key = PrivateKey.generate()
    public = blindrsa.load_public_key(bytes.fromhex(get_poll_credential_key_hex(poll)))
    message = credential_message(get_gateway().chain_id, poll.ledger_id, key.address)
    input_msg = blindrsa.prepare(CREDENTIAL_VARIANT, message)
    blinded = blindrsa.blind(public, input_msg, CREDENTIAL_VARIANT)
    return AnonymousVoter(key, input_msg, blinded.blinded_msg, blinded.inv)


def finish_credential(poll: Poll, voter: AnonymousVoter, blind_sig: bytes) -> str:
    public = blindrsa.load_public_key(bytes.fromhex(get_poll_credential_key_hex(poll)))
    signature = blindrsa.finalize(public, voter.input_msg, blind_sig, voter.inv, CREDENTIAL_VARIANT)
    return (voter.input_msg[: blindrsa.PREFIX_SIZE] + signature).hex()


def enrol_tx(poll: Poll, voter: AnonymousVoter, credential: str) -> dict[str, Any]:
    payload = {"poll": poll.ledger_id, "address": voter.key.address, "credential": credential}
    return sign(voter.key, "enrol", payload)
