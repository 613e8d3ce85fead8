"""Typed errors of the ledger core.

Every rejection the ledger can produce in normal operation is a subclass of
``LedgerError`` with a stable machine-readable ``code`` and structured
``detail``. The core knows nothing of HTTP; the web layers map codes to status.
"""

from __future__ import annotations

from typing import Any, ClassVar


class LedgerError(Exception):
    """Root of every expected ledger failure."""

    code: ClassVar[str] = "ledger_error"

    def __init__(self, message: str = "", **detail: Any) -> None:
        super().__init__(message or self.code)
        self.message = message or self.code
        self.detail: dict[str, Any] = detail

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "detail": self.detail}


# --- encoding -------------------------------------------------------------


class EncodingError(LedgerError):
    code = "encoding_invalid"


class NonCanonicalEncoding(EncodingError):
    code = "encoding_not_canonical"


class MalformedObject(EncodingError):
    """A decoded object has missing, extra or wrongly typed fields."""

    code = "malformed"


# --- keys and signatures --------------------------------------------------


class CryptoError(LedgerError):
    code = "crypto_error"


class InvalidPublicKey(CryptoError):
    code = "public_key_invalid"


class InvalidSignatureEncoding(CryptoError):
    code = "signature_malformed"


class HighSSignature(InvalidSignatureEncoding):
    code = "signature_high_s"


class BadSignature(CryptoError):
    code = "signature_invalid"


# --- RSA blind signatures (vote credentials, RFC 9474) ----------------------


class CredentialKeyInvalid(CryptoError):
    """A credential public key that is not RSA 2048..4096 bits, e = 65537, canonical DER."""

    code = "credential_key_invalid"


class BlindingFailed(CryptoError):
    """The client could not blind a message (bad salt or prefix, non-invertible value)."""

    code = "blinding_failed"


class BlindSigningFailed(CryptoError):
    """The signer refused a blinded message (wrong size, not below n) or produced a bad signature."""

    code = "blind_signing_failed"


class CredentialInvalid(CryptoError):
    """A finished blind signature (vote credential) that does not verify."""

    code = "credential_invalid"


# --- transactions and state -----------------------------------------------


class TxRejected(LedgerError):
    code = "tx_rejected"


class WrongChain(TxRejected):
    code = "wrong_chain"


class UnknownContract(TxRejected):
    code = "unknown_contract"


class UnknownTxType(TxRejected):
    code = "unknown_tx_type"


class ContractSourceMismatch(TxRejected):
    code = "contract_source_mismatch"


class TxReplayed(TxRejected):
    code = "tx_replayed"


class NotAuthorised(TxRejected):
    code = "not_authorised"


class UnknownElection(TxRejected):
    code = "unknown_election"


class ElectionExists(TxRejected):
    code = "election_exists"


class ElectionNotOpen(TxRejected):
    code = "election_not_open"


class ElectionClosed(TxRejected):
    code = "election_closed"


class WrongElectionState(TxRejected):
    code = "election_wrong_state"


class UnknownStation(TxRejected):
    code = "unknown_station"


class TokenNotMinted(TxRejected):
    code = "token_not_minted"


class TokenAlreadySpent(TxRejected):
    code = "token_already_spent"


class TokenAlreadyMinted(TxRejected):
    code = "token_already_minted"


class CredentialAlreadyUsed(TokenAlreadyMinted):
    """A vote credential (blind signature) that already minted a token."""

    code = "credential_already_used"


class CredentialKeyMissing(TxRejected):
    """A credential mint for an election created without a credential key."""

    code = "credential_key_missing"


class WrongStation(TxRejected):
    """Credential mints go to the mobile pseudo-station only, and nothing else goes there."""

    code = "station_wrong"


class MintLimitExceeded(TxRejected):
    code = "mint_limit_exceeded"


class WrongCandidate(TxRejected):
    code = "wrong_candidate"


class DuplicateCheckin(TxRejected):
    code = "checkin_duplicate"


class CheckinLimitExceeded(TxRejected):
    code = "checkin_limit_exceeded"


class InvalidEvidence(TxRejected):
    code = "evidence_invalid"


class AnchorSeqInvalid(TxRejected):
    """A ``system.anchor`` whose seq is not the previous anchor's seq + 1 for its label (first: 0)."""

    code = "anchor_seq_invalid"


# --- community polls (contract ``poll``) --------------------------------------


class UnitsInvalid(TxRejected):
    """A poll's community tree is not a tree: no single root, a missing parent, or a cycle."""

    code = "units_invalid"


class EligibleExceeded(TxRejected):
    """More voters registered in a unit (or enrolled in an anonymous poll) than the poll published as eligible."""

    code = "eligible_exceeded"


class UnknownPoll(TxRejected):
    code = "unknown_poll"


class PollExists(TxRejected):
    code = "poll_exists"


class PollNotOpen(TxRejected):
    code = "poll_not_open"


class PollClosed(TxRejected):
    code = "poll_closed"


class WrongPollState(TxRejected):
    code = "poll_wrong_state"


class PollAnonymous(TxRejected):
    """An anonymous poll (one with a credential key) takes voters through ``enrol`` only."""

    code = "poll_anonymous"


class UnknownUnit(TxRejected):
    code = "unknown_unit"


class VoterAlreadyRegistered(TxRejected):
    code = "voter_already_registered"


class VoterNotRegistered(TxRejected):
    code = "voter_not_registered"


class BallotAlreadyCast(TxRejected):
    code = "ballot_already_cast"


class BallotInvalid(TxRejected):
    """A ballot that does not have the exact form its poll's method prescribes."""

    code = "ballot_invalid"


# --- blocks and chains ----------------------------------------------------


class BlockInvalid(LedgerError):
    code = "block_invalid"


class CertificateInvalid(BlockInvalid):
    code = "certificate_invalid"


class GenesisInvalid(LedgerError):
    code = "genesis_invalid"
