"""Request and response shapes of the mobile API (they also generate the OpenAPI schema)."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from voting import pii

HEX_RE = r"^(?:[0-9a-f]{2})+$"
IDENT_RE = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"
# Separators allowed as the roll accepts them; the number itself is checked by voting.pii.normalise_phone.
PHONE_RE = r"^(\+82|0)1[016789][ .-]?[0-9]{3,4}[ .-]?[0-9]{4}$"


class ErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable error code, e.g. otp_invalid.")
    message = serializers.CharField(help_text="Human-readable message in the request's language.")
    detail = serializers.JSONField(help_text="Structured facts (object, list or empty object).")


class CandidateSerializer(serializers.Serializer):
    id = serializers.CharField()
    name = serializers.CharField()
    party = serializers.CharField(allow_blank=True)
    address = serializers.CharField(help_text="The candidate's ledger address (docs/protocol.md 10.1).")


class ElectionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The election's ledger id.")
    title = serializers.CharField()
    description = serializers.CharField(allow_blank=True)
    status = serializers.ChoiceField(choices=["scheduled", "open"])
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    kind = serializers.CharField()
    choices = serializers.IntegerField(help_text="Marks per ballot (k for approval, else 1).")
    chain = serializers.CharField(help_text="The ledger's chain id.")
    credential_key = serializers.CharField(help_text="RSA public key (SPKI DER, hex) from the ledger.")
    candidates = CandidateSerializer(many=True)


class OtpRequestSerializer(serializers.Serializer):
    election = serializers.RegexField(IDENT_RE, max_length=64, help_text="The election's ledger id.")
    phone = serializers.RegexField(PHONE_RE, max_length=32, help_text="Korean mobile number, e.g. 010-1234-5678.")
    birth_date = serializers.DateField(help_text="YYYY-MM-DD, the second factor.")

    def validate_phone(self, value: str) -> str:
        normalised = pii.normalise_phone(value)
        if normalised is None:
            raise serializers.ValidationError(_("Enter a Korean mobile number such as 010-1234-5678."))
        return normalised


class OtpChallengeSerializer(serializers.Serializer):
    challenge = serializers.CharField(help_text="Opaque; send it back with the code.")
    expires_in = serializers.IntegerField(help_text="Seconds the code stays valid.")


class OtpVerifySerializer(serializers.Serializer):
    challenge = serializers.RegexField(r"^[A-Za-z0-9_-]{1,128}$", max_length=128)
    code = serializers.RegexField(r"^[0-9]{1,16}$", max_length=16)


class SessionSerializer(serializers.Serializer):
    session = serializers.CharField(help_text="Bearer token for the credential request only.")
    expires_in = serializers.IntegerField()


class CredentialRequestSerializer(serializers.Serializer):
    blinded_msg = serializers.RegexField(HEX_RE, max_length=1024, help_text="RFC 9474 blinded message, hex.")

    def validate_blinded_msg(self, value: str) -> bytes:
        return bytes.fromhex(value)


class CredentialSerializer(serializers.Serializer):
    blind_sig = serializers.CharField(help_text="RFC 9474 blind signature, hex.")


class SubmitSerializer(serializers.Serializer):
    tx = serializers.DictField(help_text="A signed transaction (docs/protocol.md section 4), as a JSON object.")

    def validate_tx(self, value: dict[str, Any]) -> dict[str, Any]:
        return dict(value)


class SubmitResultSerializer(serializers.Serializer):
    tracking_code = serializers.CharField(help_text="The transaction id: look it up with votes/<tracking_code>.")
    status = serializers.ChoiceField(choices=["committed"])
    height = serializers.IntegerField(allow_null=True)


class VoteStatusSerializer(serializers.Serializer):
    tracking_code = serializers.CharField()
    status = serializers.ChoiceField(choices=["final", "pending", "rejected", "unknown"])
    height = serializers.IntegerField(allow_null=True)
    block_hash = serializers.CharField(allow_null=True)
    code = serializers.CharField(allow_blank=True, help_text="The ledger's rejection code, if rejected.")
