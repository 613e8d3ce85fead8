#!/usr/bin/env python3
"""Reference client for mobile voting: the whole phone flow against the API, from the command line or Python.

It needs only the standard library and ``cryptography`` and shares no code with the server,
so it is also an independent check of docs/protocol.md (sections 1, 3, 4, 10.1, 10.10, 10.11):

1. ``GET elections/``                      election, chain id, candidates, RSA credential key;
   the chosen candidates are checked and the ballot payload built *before* any code is
   requested, so a mistake costs nothing (a credential is issued once per voter);
2. ``POST otp/request`` / ``otp/verify``  SMS code -> device session (bearer token);
3. make a fresh P-256 token key; blind ``["EVOTE-CREDENTIAL-V1", chain, election, address]``
   (RFC 9474 RSABSSA-SHA384-PSS-Randomized); ``POST credential`` with the session; unblind
   and verify the signature locally; forget the session;
4. ``POST mint`` a ``mint_credential`` tx signed by the token key, with no session;
5. ``POST vote`` the ``transfer`` to the chosen candidate(s); print the tracking code.
   Mint and vote are signed once; after a network error or a 503 the same bytes are resent
   (a committed transaction answers with the same tracking code).

Usage::

    python clients/evote_mobile.py --server http://127.0.0.1:8000 elections
    python clients/evote_mobile.py --server URL vote --election e1a2b3c4d5 --phone 010-1234-5678 \\
        --birth-date 1980-01-31 --candidate c1 [--otp-file var/sms] [--mint-delay 30]
    python clients/evote_mobile.py --server URL status <tracking code>

The token private key lives only in this process. The server learns the session and the
blinded message, never the address; the mint and the vote carry no session.
"""

from __future__ import annotations

import argparse
import getpass
import hashlib
import json
import math
import random
import re
import secrets
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

API = "/api/v1/mobile/"
P256_ORDER = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551
TX_TAG = b"EVOTE-TX-V1:"
CANDIDATE_TAG = b"EVOTE-CANDIDATE-V1:"
CREDENTIAL_TAG = "EVOTE-CREDENTIAL-V1"
PREFIX_SIZE = 32
SALT_SIZE = 48  # SHA-384 output: RSABSSA-SHA384-PSS
MOBILE_STATION = "mobile"


# --- errors and transport ----------------------------------------------------------------------


class ClientError(Exception):
    """A refusal by the server ({code, message, detail}) or a local check that failed."""

    def __init__(self, code: str, message: str = "", detail: Any = None, status: int = 0) -> None:
        super().__init__(f"{code}: {message}" if message else code)
        self.code, self.message, self.detail, self.status = code, message, detail or {}, status


class Transport(Protocol):
    def __call__(self, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> tuple[int, Any]:
        """Send one request; return (HTTP status, decoded JSON body)."""
        ...


class HttpTransport:
    """JSON over HTTP(S) with urllib; no cookies are ever kept or sent."""

    def __init__(self, base_url: str, timeout_s: float = 60.0) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout_s = timeout_s

    def __call__(self, method: str, path: str, body: dict[str, Any] | None, headers: dict[str, str]) -> tuple[int, Any]:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers={
            "Accept": "application/json", **({"Content-Type": "application/json"} if data else {}), **headers,
        })
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as exc:
            raw = exc.read()
            try:
                return exc.code, json.loads(raw)
            except ValueError:
                return exc.code, {"code": "http_error", "message": raw[:200].decode(errors="replace"), "detail": {}}
        except (urllib.error.URLError, OSError) as exc:
            raise ClientError("network_error", str(exc)) from exc


# --- encoding, keys, transactions (protocol 1, 3, 4) --------------------------------------------------


def canonical(value: Any) -> bytes:
    """Canonical JSON (protocol 1): sorted keys, no whitespace, UTF-8; enough for the values sent here."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, separators=(",", ":")).encode()


class TokenKey:
    """The vote token: a fresh P-256 key made on this device; the private half never leaves it."""

    def __init__(self) -> None:
        self._key: ec.EllipticCurvePrivateKey | None = ec.generate_private_key(ec.SECP256R1())
        self.public_key = self._key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.address = hashlib.sha256(self.public_key).digest()[:20].hex()

    def sign(self, message: bytes) -> bytes:
        """ECDSA-P256-SHA256 as raw r||s with low S (protocol 3)."""
        if self._key is None:
            raise ClientError("key_forgotten", "the token key was already forgotten")
        r, s = decode_dss_signature(self._key.sign(message, ec.ECDSA(hashes.SHA256())))
        if s > (P256_ORDER - 1) // 2:
            s = P256_ORDER - s
        return r.to_bytes(32, "big") + s.to_bytes(32, "big")

    def forget(self) -> None:
        self._key = None


def build_tx(key: TokenKey, *, chain: str, tx_type: str, payload: dict[str, Any], nonce: int = 0) -> tuple[dict[str, Any], str]:
    """A signed vote-contract transaction and its id (the tracking code), protocol 4."""
    body = {"v": 1, "chain": chain, "contract": "vote", "type": tx_type, "payload": payload,
            "signer": key.public_key.hex(), "nonce": nonce}
    tx_id = hashlib.sha256(canonical(body)).digest()
    return {**body, "sig": key.sign(TX_TAG + tx_id).hex()}, tx_id.hex()


def candidate_address(election: str, candidate: str) -> str:
    return hashlib.sha256(CANDIDATE_TAG + canonical([election, candidate])).digest()[:20].hex()


# --- RSA blind signatures, client side (RFC 9474 RSABSSA-SHA384-PSS-Randomized) ------------------------


def _mgf1(seed: bytes, length: int) -> bytes:
    output = b""
    counter = 0
    while len(output) < length:
        output += hashlib.sha384(seed + counter.to_bytes(4, "big")).digest()
        counter += 1
    return output[:length]


def emsa_pss_encode(message: bytes, em_bits: int, salt: bytes) -> bytes:
    """RFC 8017 9.1.1 with SHA-384 / MGF1-SHA-384."""
    em_len = (em_bits + 7) // 8
    m_hash = hashlib.sha384(message).digest()
    h = hashlib.sha384(b"\x00" * 8 + m_hash + salt).digest()
    db = b"\x00" * (em_len - len(salt) - len(h) - 2) + b"\x01" + salt
    masked = bytearray(x ^ y for x, y in zip(db, _mgf1(h, em_len - len(h) - 1)))
    masked[0] &= 0xFF >> (8 * em_len - em_bits)
    return bytes(masked) + h + b"\xbc"


@dataclass
class BlindingState:
    """What the device keeps between blinding and finalising (never sent anywhere)."""

    public_key: rsa.RSAPublicKey
    input_msg: bytes
    inv: int
    blinded_msg: bytes


def load_credential_key(spki_hex: str) -> rsa.RSAPublicKey:
    key = serialization.load_der_public_key(bytes.fromhex(spki_hex))
    if not isinstance(key, rsa.RSAPublicKey) or key.public_numbers().e != 65537 or not 2048 <= key.key_size <= 4096:
        raise ClientError("credential_key_invalid", "the election's credential key is not a 2048..4096-bit RSA key")
    return key


def blind(public_key: rsa.RSAPublicKey, message: bytes, *, prefix: bytes | None = None, salt: bytes | None = None,
          r: int | None = None) -> BlindingState:
    """Prepare (random 32-byte prefix) and Blind (RFC 9474 4.1, 4.2); prefix, salt and r are for test vectors only."""
    numbers = public_key.public_numbers()
    n, e = numbers.n, numbers.e
    size = (n.bit_length() + 7) // 8
    input_msg = (prefix if prefix is not None else secrets.token_bytes(PREFIX_SIZE)) + message
    salt = salt if salt is not None else secrets.token_bytes(SALT_SIZE)
    m = int.from_bytes(emsa_pss_encode(input_msg, n.bit_length() - 1, salt), "big")
    if math.gcd(m, n) != 1:
        raise ClientError("blinding_failed", "encoded message not coprime with n")
    while r is None or math.gcd(r, n) != 1:
        r = secrets.randbelow(n - 1) + 1
    blinded = (m * pow(r, e, n)) % n
    return BlindingState(public_key, input_msg, pow(r, -1, n), blinded.to_bytes(size, "big"))


def finalize(state: BlindingState, blind_sig: bytes) -> bytes:
    """Finalize (RFC 9474 4.4): unblind, verify as RSASSA-PSS, return the credential prefix || sig."""
    n = state.public_key.public_numbers().n
    size = (n.bit_length() + 7) // 8
    if len(blind_sig) != size or int.from_bytes(blind_sig, "big") >= n:
        raise ClientError("credential_invalid", "the blind signature has the wrong size")
    signature = (int.from_bytes(blind_sig, "big") * state.inv % n).to_bytes(size, "big")
    try:
        state.public_key.verify(signature, state.input_msg,
                                padding.PSS(mgf=padding.MGF1(hashes.SHA384()), salt_length=SALT_SIZE), hashes.SHA384())
    except InvalidSignature as exc:
        raise ClientError("credential_invalid", "the authority's signature does not verify") from exc
    return state.input_msg[:PREFIX_SIZE] + signature


# --- the API --------------------------------------------------------------------------------------------


@dataclass
class Credential:
    """A redeemable vote credential and the token key it names."""

    election: dict[str, Any]
    key: TokenKey
    credential: bytes
    blinded_msg: bytes = field(repr=False, default=b"")  # kept only so tests can check the server saw nothing else


@dataclass(frozen=True)
class Receipt:
    address: str
    mint_tracking_code: str
    vote_tracking_code: str
    height: int | None


class MobileVotingClient:
    """The phone's side of the protocol, over any Transport (HTTP by default)."""

    def __init__(self, server_url: str = "", *, transport: Transport | None = None) -> None:
        if transport is None and not server_url:
            raise ValueError("give a server URL or a transport")
        self.transport: Transport = transport or HttpTransport(server_url)

    def _call(self, method: str, endpoint: str, body: dict[str, Any] | None = None,
              headers: dict[str, str] | None = None) -> Any:
        status, data = self.transport(method, API + endpoint, body, headers or {})
        if status >= 400:
            data = data if isinstance(data, dict) else {}
            raise ClientError(str(data.get("code", "http_error")), str(data.get("message", "")), data.get("detail"), status)
        return data

    def list_elections(self) -> list[dict[str, Any]]:
        elections = self._call("GET", "elections/")
        for election in elections:  # never trust the server's candidate addresses: derive them
            for candidate in election["candidates"]:
                if candidate["address"] != candidate_address(election["id"], candidate["id"]):
                    raise ClientError("candidate_address_mismatch", candidate["id"])
        return list(elections)

    def get_election(self, election_id: str) -> dict[str, Any]:
        for election in self.list_elections():
            if election["id"] == election_id:
                return election
        raise ClientError("election_not_found", election_id)

    def request_code(self, election_id: str, phone: str, birth_date: str) -> str:
        return str(self._call("POST", "otp/request", {"election": election_id, "phone": phone,
                                                      "birth_date": birth_date})["challenge"])

    def verify_code(self, challenge: str, code: str) -> str:
        return str(self._call("POST", "otp/verify", {"challenge": challenge, "code": code})["session"])

    def obtain_credential(self, election: dict[str, Any], session: str) -> Credential:
        """Make the token key, blind its credential message, get it signed with the session, unblind."""
        public_key = load_credential_key(election["credential_key"])
        key = TokenKey()
        message = canonical([CREDENTIAL_TAG, election["chain"], election["id"], key.address])
        state = blind(public_key, message)
        answer = self._call("POST", "credential", {"blinded_msg": state.blinded_msg.hex()},
                            {"Authorization": f"Bearer {session}"})
        return Credential(election, key, finalize(state, bytes.fromhex(answer["blind_sig"])), state.blinded_msg)

    def mint(self, credential: Credential) -> dict[str, Any]:
        """Redeem the credential: the token mints its own vote unit at the ``mobile`` station (no session)."""
        election = credential.election
        tx, _ = build_tx(credential.key, chain=election["chain"], tx_type="mint_credential", payload={
            "election": election["id"], "station": MOBILE_STATION, "address": credential.key.address,
            "credential": credential.credential.hex(),
        })
        return dict(self._call("POST", "mint", {"tx": tx}))

    def vote(self, credential: Credential, candidate_ids: Sequence[str]) -> dict[str, Any]:
        """Transfer the unit(s) to the candidate(s): one address for single choice, a sorted list for approval."""
        return self.cast(credential, build_ballot(credential.election, candidate_ids))

    def cast(self, credential: Credential, to: Any) -> dict[str, Any]:
        """Send the ``transfer`` of a ballot payload made by ``build_ballot`` (no session)."""
        election = credential.election
        tx, _ = build_tx(credential.key, chain=election["chain"], tx_type="transfer",
                         payload={"election": election["id"], "to": to})
        return dict(self._call("POST", "vote", {"tx": tx}))

    def status(self, tracking_code: str) -> dict[str, Any]:
        return dict(self._call("GET", f"votes/{tracking_code}"))

    def vote_flow(self, election_id: str, phone: str, birth_date: str, candidate_ids: Sequence[str],
                  read_code: Callable[[], str], *, mint_delay_s: float = 0.0, retries: int = 4,
                  backoff_s: float = 1.0) -> Receipt:
        """The whole flow; ``mint_delay_s`` waits a random 0..N seconds before minting (timing unlinkability).

        The election and the ballot are checked before the code is requested: once the
        credential is issued the voter cannot get another one, so a typo in a candidate must
        fail while nothing has happened yet. Mint and vote are signed once and the same bytes
        are resent on a network error or 503 (a committed transaction answers with its
        tracking code again), up to ``retries`` times.
        """
        election = self.get_election(election_id)
        if election.get("status") != "open":
            raise ClientError("election_not_open", f"{election_id} is {election.get('status')}")
        to = build_ballot(election, candidate_ids)
        challenge = self.request_code(election_id, phone, birth_date)
        session = self.verify_code(challenge, read_code())
        credential = self.obtain_credential(election, session)
        del session  # the session is never used again, and never sent with the mint or the vote
        if mint_delay_s > 0:
            time.sleep(random.SystemRandom().uniform(0, mint_delay_s))
        mint_tx, mint_id = build_tx(credential.key, chain=election["chain"], tx_type="mint_credential", payload={
            "election": election["id"], "station": MOBILE_STATION, "address": credential.key.address,
            "credential": credential.credential.hex(),
        })
        minted = self.submit("mint", mint_tx, retries=retries, backoff_s=backoff_s)
        vote_tx, vote_id = build_tx(credential.key, chain=election["chain"], tx_type="transfer",
                                    payload={"election": election["id"], "to": to})
        credential.key.forget()
        voted = self.submit("vote", vote_tx, retries=retries, backoff_s=backoff_s)
        if (minted["tracking_code"], voted["tracking_code"]) != (mint_id, vote_id):
            raise ClientError("tracking_code_mismatch", "the server answered for another transaction")
        return Receipt(credential.key.address, mint_id, vote_id, voted.get("height"))

    def submit(self, endpoint: str, tx: dict[str, Any], *, retries: int = 4, backoff_s: float = 1.0) -> dict[str, Any]:
        """POST one signed transaction, resending the same bytes after a network error or a 502..504."""
        attempt = 0
        while True:
            try:
                return dict(self._call("POST", endpoint, {"tx": tx}))
            except ClientError as exc:
                if attempt >= retries or not is_retryable(exc):
                    raise
            time.sleep(backoff_s * 2**attempt)
            attempt += 1


def is_retryable(error: ClientError) -> bool:
    """A failure after which resending the same transaction is safe and may succeed."""
    return error.code == "network_error" or error.status in (502, 503, 504)


def build_ballot(election: dict[str, Any], candidate_ids: Sequence[str]) -> Any:
    """The transfer's ``to`` (protocol 10.7): a candidate address, or a sorted list of at most k for approval."""
    known = {c["id"] for c in election["candidates"]}
    unknown = [cid for cid in candidate_ids if cid not in known]
    if unknown:
        raise ClientError("wrong_candidate", "unknown candidate: " + ", ".join(unknown)
                          + " (choose from " + ", ".join(sorted(known)) + ")")
    marks = sorted({candidate_address(election["id"], cid) for cid in candidate_ids})
    if election["choices"] == 1:
        if len(marks) != 1:
            raise ClientError("wrong_candidate", "choose exactly one candidate")
        return marks[0]
    if len(marks) > election["choices"] or len(marks) != len(candidate_ids):
        raise ClientError("wrong_candidate", f"choose up to {election['choices']} different candidates")
    return marks


# --- reading the code -----------------------------------------------------------------------------------


_SEPARATORS = re.compile(r"[\s\-.()]")
_CODE = re.compile(r"(?<!\d)\d{7,16}(?!\d)")


def normalise_phone(raw: str) -> str:
    text = _SEPARATORS.sub("", raw.strip())
    return "0" + text[3:] if text.startswith("+82") else text


def extract_code(text: str) -> str:
    found = _CODE.findall(text)
    if not found:
        raise ClientError("otp_not_found", "no code in the message")
    return str(found[-1])


class OtpFileReader:
    """Reads the code from the development file SMS backend's directory (newest message to this phone)."""

    def __init__(self, directory: Path, phone: str, timeout_s: float = 30.0) -> None:
        self.directory, self.phone, self.timeout_s = Path(directory), normalise_phone(phone), timeout_s
        self.seen = set(self.directory.glob("*.sms")) if self.directory.exists() else set()

    def __call__(self) -> str:
        deadline = time.monotonic() + self.timeout_s
        while time.monotonic() < deadline:
            fresh = sorted(set(self.directory.glob("*.sms")) - self.seen) if self.directory.exists() else []
            for path in reversed(fresh):
                text = path.read_text(encoding="utf-8")
                if text.startswith(f"To: {self.phone}\n"):
                    return extract_code(text.split("\n\n", 1)[-1])
            time.sleep(0.1)
        raise ClientError("otp_not_found", f"no SMS for this phone in {self.directory}")


# --- command line -----------------------------------------------------------------------------------------


def resolve_candidates(election: dict[str, Any], wanted: Sequence[str]) -> list[str]:
    """Accept candidate ids (c1) or exact names."""
    by_name = {c["name"]: c["id"] for c in election["candidates"]}
    return [by_name.get(item, item) for item in wanted]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description="Vote by phone against the e-voting mobile API.")
    parser.add_argument("--server", required=True, help="base URL of the web app, e.g. http://127.0.0.1:8000")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("elections", help="list the elections offering mobile voting")
    vote = commands.add_parser("vote", help="verify by SMS code, get an anonymous credential and vote")
    vote.add_argument("--election", required=True, help="the election's ledger id")
    vote.add_argument("--phone", required=True)
    vote.add_argument("--birth-date", required=True, help="YYYY-MM-DD")
    vote.add_argument("--candidate", action="append", required=True, help="candidate id or name (repeat for approval)")
    vote.add_argument("--otp-file", type=Path, help="directory of the file SMS backend to read the code from")
    vote.add_argument("--mint-delay", type=float, default=0.0, help="wait a random 0..N seconds before minting")
    status = commands.add_parser("status", help="where a tracking code stands on the ledger")
    status.add_argument("tracking_code")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    client = MobileVotingClient(args.server)
    try:
        if args.command == "elections":
            print(json.dumps(client.list_elections(), ensure_ascii=False, indent=2))
        elif args.command == "status":
            print(json.dumps(client.status(args.tracking_code), indent=2))
        else:
            election = client.get_election(args.election)
            reader: Callable[[], str] = (
                OtpFileReader(args.otp_file, args.phone) if args.otp_file
                else (lambda: getpass.getpass("Code from the SMS: ").strip())
            )
            receipt = client.vote_flow(args.election, args.phone, args.birth_date,
                                       resolve_candidates(election, args.candidate), reader,
                                       mint_delay_s=args.mint_delay)
            print(json.dumps({"tracking_code": receipt.vote_tracking_code, "height": receipt.height,
                              "mint_tracking_code": receipt.mint_tracking_code}, indent=2))
    except ClientError as exc:
        print(f"error: {exc.code}: {exc.message}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
