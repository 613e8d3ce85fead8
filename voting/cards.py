"""Vote-token cards: key pairs, the QR payload the kiosk reads, and the print-ready PDF sheet.

No Django import here: worker processes (one per core) import only this module, generate
the token keys, and return the QR images and public addresses. The private scalar of a
token leaves its worker only inside the QR image that goes into the PDF; it is never
returned as data, stored or logged.

QR payload (version 1), ``~``-separated ASCII, which a keyboard-wedge scanner can type:

    EV1~<chain id>~<election ledger id>~<private scalar, 32 bytes, base64url, no padding>~<check code>

The check code is ``XXXX-XXXX``: the first 40 bits of
SHA-256("EVOTE-CARD-CHECK-V1:" || address bytes) in RFC 4648 base32. It is printed under the
QR code, lets a voter compare the card with what the kiosk shows, and lets the kiosk
detect a mistyped scan (the code must match the key). Chain and election ids cannot
contain ``~`` (ledger.core.tx.IDENT_RE).
"""

from __future__ import annotations

import base64
import hashlib
import io
import multiprocessing
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from multiprocessing.pool import Pool

import qrcode
from PIL import Image
from qrcode.constants import ERROR_CORRECT_M

from ledger.core.crypto import PrivateKey
from ledger.core.errors import LedgerError
from ledger.core.tx import IDENT_RE

PAYLOAD_VERSION = "EV1"
SEPARATOR = "~"
CHECK_TAG = b"EVOTE-CARD-CHECK-V1:"
QR_MASK = 2  # a fixed mask makes QR generation ~7x faster; every mask is a valid code
QR_BORDER = 4
QR_PIXELS_PER_MODULE = 2
CHUNK = 200
_CHECK_RE = re.compile(r"^[A-Z2-7]{4}-[A-Z2-7]{4}\Z")
_SECRET_RE = re.compile(r"^[A-Za-z0-9_-]{43}\Z")


class CardPayloadInvalid(ValueError):
    """A scanned text is not a well-formed token card payload (the reason is in ``code``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class CardPayload:
    chain: str
    election: str
    secret: bytes
    check: str

    def to_text(self) -> str:
        secret = base64.urlsafe_b64encode(self.secret).rstrip(b"=").decode()
        return SEPARATOR.join((PAYLOAD_VERSION, self.chain, self.election, secret, self.check))


def compute_check_code(address: str) -> str:
    """Short human check code of a token address (40 bits, base32, XXXX-XXXX)."""
    digest = hashlib.sha256(CHECK_TAG + bytes.fromhex(address)).digest()[:5]
    text = base64.b32encode(digest).decode()
    return f"{text[:4]}-{text[4:]}"


def parse_card_payload(text: str) -> tuple[CardPayload, PrivateKey]:
    """Parse and check a scanned payload; return it with the token key (raise CardPayloadInvalid)."""
    parts = text.strip().split(SEPARATOR)
    if len(parts) != 5 or parts[0] != PAYLOAD_VERSION:
        raise CardPayloadInvalid("card_malformed", "not a vote token card")
    _, chain, election, secret_text, check = parts
    if not IDENT_RE.match(chain) or not IDENT_RE.match(election):
        raise CardPayloadInvalid("card_malformed", "bad chain or election id")
    if not _SECRET_RE.match(secret_text) or not _CHECK_RE.match(check):
        raise CardPayloadInvalid("card_malformed", "bad key or check code")
    secret = base64.urlsafe_b64decode(secret_text + "=")
    try:
        key = PrivateKey.from_secret(secret)
    except LedgerError as exc:
        raise CardPayloadInvalid("card_malformed", "key out of range") from exc
    if compute_check_code(key.address) != check:
        raise CardPayloadInvalid("card_check_mismatch", "check code does not match the key (misread scan?)")
    return CardPayload(chain, election, secret, check), key


# --- QR codes (worker side) -----------------------------------------------------------------


def choose_qr_version(chain: str, election: str) -> int:
    """Smallest QR version holding this election's payloads (all have the same length)."""
    sample = CardPayload(chain, election, b"\x01" * 32, "AAAA-AAAA").to_text()
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QR_BORDER)
    code.add_data(sample, optimize=0)
    code.make(fit=True)
    return int(code.version)


def render_qr(text: str, version: int) -> tuple[int, bytes]:
    """QR code of ``text`` as an 8-bit grey image (side, raw bytes), QR_PIXELS_PER_MODULE px per module."""
    code = qrcode.QRCode(version=version, error_correction=ERROR_CORRECT_M, border=QR_BORDER, mask_pattern=QR_MASK)
    code.add_data(text, optimize=0)
    code.make(fit=False)
    matrix = code.get_matrix()
    side = len(matrix)
    image = Image.frombytes("L", (side, side), bytes(0 if dark else 255 for row in matrix for dark in row))
    scaled = side * QR_PIXELS_PER_MODULE
    return scaled, image.resize((scaled, scaled), Image.Resampling.NEAREST).tobytes()


@dataclass(frozen=True)
class CardFace:
    """What the PDF needs of one card: public address, check code and the QR image (which holds the key)."""

    address: str
    check: str
    qr_side: int
    qr_pixels: bytes


@dataclass(frozen=True)
class ChunkJob:
    chain: str
    election: str
    count: int
    qr_version: int


def make_cards(job: ChunkJob) -> list[CardFace]:
    """Worker: generate ``job.count`` fresh token keys and their card faces."""
    faces = []
    for _ in range(job.count):
        key = PrivateKey.generate()
        address = key.address
        check = compute_check_code(address)
        text = CardPayload(job.chain, job.election, key.secret_bytes(), check).to_text()
        side, pixels = render_qr(text, job.qr_version)
        faces.append(CardFace(address, check, side, pixels))
    return faces


def iter_card_faces(
    chain: str, election: str, count: int, *, pool: Pool | None = None, workers: int = 1,
) -> Iterator[CardFace]:
    """Card faces for ``count`` new tokens, computed on ``workers`` processes (or the given pool)."""
    version = choose_qr_version(chain, election)
    jobs = [ChunkJob(chain, election, min(CHUNK, count - start), version) for start in range(0, count, CHUNK)]
    if pool is None and workers <= 1:
        for job in jobs:
            yield from make_cards(job)
        return
    own_pool = pool is None
    active = pool or get_pool_context().Pool(workers)
    try:
        for faces in active.imap(make_cards, jobs):
            yield from faces
    finally:
        if own_pool:
            active.close()
            active.join()


def get_pool_context() -> multiprocessing.context.BaseContext:
    """Spawned workers: safe in threaded servers, and they import only this Django-free module."""
    return multiprocessing.get_context("spawn")


# --- PDF (main process) -----------------------------------------------------------------------


@dataclass(frozen=True)
class SheetText:
    """The printed wording; the caller passes it translated."""

    election_title: str
    station_name: str
    heading: str
    instructions: tuple[str, ...]
    check_label: str
    footer: str  # "%(page)d" is replaced by the page number


def render_card_sheet(
    faces: Iterator[CardFace], text: SheetText, *, on_card: Callable[[int], None] | None = None
) -> tuple[bytes, list[str]]:
    """Lay the cards out 2 x 5 per A4 page with cut lines; return the PDF bytes and the addresses."""
    from .card_pdf import CardSheetWriter  # reportlab is needed only in the main process

    buffer = io.BytesIO()
    writer = CardSheetWriter(buffer, text)
    addresses = []
    for index, face in enumerate(faces):
        writer.draw(face)
        addresses.append(face.address)
        if on_card is not None:
            on_card(index + 1)
    writer.finish()
    return buffer.getvalue(), addresses
