"""The mobile API (``/api/v1/mobile/``) and the mobile voting page (``/m/``).

Each view parses with a serializer, calls one service and renders; errors are the services'
typed exceptions, rendered as ``{code, message, detail}`` by config.api_errors. The clock is
``mobile_api.clock.get_now`` (one seam, so tests can move time).
"""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.exceptions import Throttled
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from voting.ledger_gateway import CommitOutcome

from . import clock
from . import serializers as s
from .authentication import DeviceSessionAuthentication, HasDeviceSession
from .errors import SessionNotAllowed
from .page import build_page_context, content_security_policy
from .services import ballots, credentials, otp
from .services.elections import list_mobile_elections
from .throttles import (
    CredentialClientThrottle,
    OtpClientThrottle,
    OtpPhoneThrottle,
    ReadClientThrottle,
    SubmitClientThrottle,
    VerifyClientThrottle,
)

TAG = "mobile"


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    """Every error status of an endpoint, documented with the one error body."""
    return {code: OpenApiResponse(s.ErrorSerializer) for code in (400, 429, *statuses)}


class MobileApiView(APIView):
    """No cookie-based authentication (nothing here may depend on a browser session), JSON only."""

    authentication_classes: list[type] = []
    parser_classes = [JSONParser]
    throttle_code = "rate_limited"

    def throttled(self, request: Request, wait: float | None) -> None:
        raise Throttled(wait=wait, code=self.throttle_code)


class AnonymousSubmissionView(MobileApiView):
    """Mint and vote: must arrive without the device session, or the server could join them."""

    throttle_classes = [SubmitClientThrottle]
    tx_type = ""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if request.META.get("HTTP_AUTHORIZATION"):
            raise SessionNotAllowed()
        super().initial(request, *args, **kwargs)

    def submit(self, request: Request) -> Response:
        body = s.SubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        outcome: CommitOutcome = ballots.submit_tx(body.validated_data["tx"], self.tx_type)
        return Response({"tracking_code": outcome.tx_id, "status": "committed", "height": outcome.height})


class ElectionListApi(MobileApiView):
    throttle_classes = [ReadClientThrottle]

    @extend_schema(tags=[TAG], summary="Elections offering mobile voting",
                   responses={200: s.ElectionSerializer(many=True), **errors(503)})
    def get(self, request: Request) -> Response:
        rows = []
        for item in list_mobile_elections():
            e = item.election
            rows.append({
                "id": e.ledger_id, "title": e.title, "description": e.description, "status": e.status,
                "opens_at": e.opens_at, "closes_at": e.closes_at, "kind": e.kind,
                "choices": e.max_choices if e.kind == "approval" else 1, "chain": item.chain,
                "credential_key": item.credential_key, "candidates": item.candidates,
            })
        return Response(s.ElectionSerializer(rows, many=True).data)


class RequestCodeApi(MobileApiView):
    throttle_classes = [OtpClientThrottle, OtpPhoneThrottle]
    throttle_code = "otp_rate_limited"

    @extend_schema(tags=[TAG], summary="Text a one-time code to the phone on the roll", request=s.OtpRequestSerializer,
                   responses={202: s.OtpChallengeSerializer, **errors(404, 409)})
    def post(self, request: Request) -> Response:
        body = s.OtpRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        data = body.validated_data
        issued = otp.request_code(election_id=data["election"], normalised_phone=data["phone"],
                                  birth_date=data["birth_date"], now=clock.get_now())
        return Response({"challenge": issued.challenge, "expires_in": issued.expires_in}, status=status.HTTP_202_ACCEPTED)


class VerifyCodeApi(MobileApiView):
    throttle_classes = [VerifyClientThrottle]
    throttle_code = "otp_rate_limited"

    @extend_schema(tags=[TAG], summary="Check the code; returns the device session", request=s.OtpVerifySerializer,
                   responses={200: s.SessionSerializer, **errors(403, 404, 409, 410)})
    def post(self, request: Request) -> Response:
        body = s.OtpVerifySerializer(data=request.data)
        body.is_valid(raise_exception=True)
        issued = otp.verify_code(challenge=body.validated_data["challenge"], code=body.validated_data["code"],
                                 now=clock.get_now())
        return Response({"session": issued.token, "expires_in": issued.expires_in})


class CredentialApi(MobileApiView):
    authentication_classes = [DeviceSessionAuthentication]
    permission_classes = [HasDeviceSession]
    throttle_classes = [CredentialClientThrottle]

    @extend_schema(tags=[TAG], summary="Blind-sign the device's blinded credential message (once per voter)",
                   request=s.CredentialRequestSerializer,
                   responses={200: s.CredentialSerializer, **errors(401, 409, 503)})
    def post(self, request: Request) -> Response:
        body = s.CredentialRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        blind_sig = credentials.issue_blind_signature(request.auth, body.validated_data["blinded_msg"], clock.get_now())
        return Response({"blind_sig": blind_sig.hex()})


class MintApi(AnonymousSubmissionView):
    tx_type = ballots.MINT_TYPE

    @extend_schema(tags=[TAG], summary="Submit the signed mint_credential transaction (no session)",
                   request=s.SubmitSerializer, responses={200: s.SubmitResultSerializer, **errors(404, 409, 503)})
    def post(self, request: Request) -> Response:
        return self.submit(request)


class VoteApi(AnonymousSubmissionView):
    tx_type = ballots.VOTE_TYPE

    @extend_schema(tags=[TAG], summary="Submit the signed transfer (the vote; no session)",
                   request=s.SubmitSerializer, responses={200: s.SubmitResultSerializer, **errors(404, 409, 503)})
    def post(self, request: Request) -> Response:
        return self.submit(request)


class VoteStatusApi(MobileApiView):
    throttle_classes = [ReadClientThrottle]

    @extend_schema(tags=[TAG], summary="Where a transaction stands on the ledger (never the candidate)",
                   parameters=[OpenApiParameter("tracking_code", str, OpenApiParameter.PATH, pattern="^[0-9a-f]{64}$")],
                   responses={200: s.VoteStatusSerializer, **errors(503)})
    def get(self, request: Request, tracking_code: str) -> Response:
        info = ballots.get_vote_status(tracking_code)
        return Response({
            "tracking_code": info.tx_id, "status": info.status,
            "height": info.height, "block_hash": info.block_hash, "code": info.code,
        })


def mobile_page(request: HttpRequest) -> HttpResponse:
    """The phone voting page: one ES module does the whole flow in the browser (strict CSP, no inline code)."""
    response = render(request, "mobile/vote.html", build_page_context())
    response["Content-Security-Policy"] = content_security_policy()
    response["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()"
    response["Cache-Control"] = "no-store"
    return response
