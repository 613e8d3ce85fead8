"""The baseline of bench/network.py: a bare DRF endpoint that only validates a vote (no ledger).

``POST /v1/txs`` takes the same signed vote transaction the nodes take, checks its shape with
a DRF serializer and its P-256 signature, and answers 202 with the transaction id. Nothing
is stored and nothing is forwarded: it is the cost of the web tier alone. Served by uvicorn
(ASGI, one asyncio process per worker), through the project's settings and middleware:

    DJANGO_SETTINGS_MODULE=config.settings uvicorn bench._drf_baseline:application --workers 4
"""

from __future__ import annotations

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.urls import path  # noqa: E402
from rest_framework import serializers, status  # noqa: E402
from rest_framework.permissions import AllowAny  # noqa: E402
from rest_framework.request import Request  # noqa: E402
from rest_framework.response import Response  # noqa: E402
from rest_framework.views import APIView  # noqa: E402

from ledger.core.errors import LedgerError  # noqa: E402
from ledger.core.tx import Transaction  # noqa: E402

HEX = r"^[0-9a-f]+\Z"


class VotePayloadSerializer(serializers.Serializer):  # type: ignore[type-arg]
    election = serializers.RegexField(r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}\Z")
    to = serializers.RegexField(r"^[0-9a-f]{40}\Z")


class VoteTxSerializer(serializers.Serializer):  # type: ignore[type-arg]
    chain = serializers.CharField(max_length=64)
    contract = serializers.ChoiceField(["vote"])
    type = serializers.ChoiceField(["transfer"])
    payload = VotePayloadSerializer()
    signer = serializers.RegexField(HEX, min_length=66, max_length=130)
    nonce = serializers.IntegerField(min_value=0)
    sig = serializers.RegexField(HEX, min_length=128, max_length=128)
    v = serializers.IntegerField(min_value=1)

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        try:
            tx = Transaction.from_dict(self.initial_data)
            tx.verify_signature()
        except LedgerError as exc:
            raise serializers.ValidationError({"code": exc.code, "message": exc.message}) from exc
        attrs["id"] = tx.id_hex
        return attrs


class ValidateVoteApi(APIView):
    authentication_classes: list[Any] = []
    permission_classes = [AllowAny]

    def post(self, request: Request) -> Response:
        serializer = VoteTxSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        return Response({"id": serializer.validated_data["id"], "status": "valid"}, status=status.HTTP_202_ACCEPTED)


urlpatterns = [path("v1/txs", ValidateVoteApi.as_view())]
settings.ROOT_URLCONF = __name__
application = get_asgi_application()
