"""The community poll API (``/api/v1/communities/polls/...``) used by the poll page's script.

Two kinds of endpoint, kept apart on purpose:
- with the member's sign-in (cookie session + CSRF token): ``cast`` for open polls (the server
  registers the member's address, then relays) and ``credential`` for anonymous polls (one blind
  signature per member per poll);
- without it: ``enrol`` and ``anonymous-cast`` of anonymous polls. These refuse any request that
  carries the session cookie (the page sends them with ``credentials: "omit"``), so the server
  never sees the member and the anonymous address in the same request.
"""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import BaseAuthentication, CSRFCheck
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import JSONParser
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ledger.core.contracts.poll import MAX_OPTIONS
from voting.ledger_gateway import CommitOutcome, get_gateway

from .models import Member, Poll
from .errors import MemberSignInRequired
from .poll_errors import PollNotFound, PollSessionNotAllowed
from .services import poll_voting
from .services.members import current_member
from .services.polls import access_poll

TAG = "communities"
HEX_RE = r"^(?:[0-9a-f]{2})+$"
POLL_PATH = OpenApiParameter("poll", str, OpenApiParameter.PATH, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$")


def get_now() -> Any:
    """The clock seam of the poll API (tests move time by patching this)."""
    from django.utils import timezone

    return timezone.now()


# --- shapes -------------------------------------------------------------------------------------


class PollErrorSerializer(serializers.Serializer):
    code = serializers.CharField(help_text="Stable error code, e.g. poll_not_open.")
    message = serializers.CharField()
    detail = serializers.JSONField()


class PollOptionSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The option's ledger id.")
    name = serializers.CharField()


class PollSerializer(serializers.Serializer):
    id = serializers.CharField(help_text="The poll's ledger id.")
    chain = serializers.CharField(help_text="The ledger's chain id (signed into every transaction).")
    title = serializers.CharField()
    method = serializers.ChoiceField(choices=Poll.Method.values)
    # Text, not an enum: another "status" enum in the schema would collide in drf-spectacular's naming.
    status = serializers.CharField(help_text="draft | scheduled | open | closed | published")
    opens_at = serializers.DateTimeField()
    closes_at = serializers.DateTimeField()
    choices = serializers.IntegerField(allow_null=True, help_text="k for multi: at most k marks.")
    score_max = serializers.IntegerField(allow_null=True)
    anonymous = serializers.BooleanField()
    credential_key = serializers.CharField(allow_blank=True, help_text="RSA SPKI DER hex (anonymous polls).")
    options = PollOptionSerializer(many=True, max_length=MAX_OPTIONS)


class PollSubmitSerializer(serializers.Serializer):
    tx = serializers.DictField(help_text="A signed poll transaction (docs/protocol.md section 4), as JSON.")


class PollSubmitResultSerializer(serializers.Serializer):
    tracking_code = serializers.CharField(help_text="The transaction id: look it up on /track/.")
    status = serializers.CharField(help_text='Always "committed": the answer comes once the block is final.')
    height = serializers.IntegerField(allow_null=True)


class PollCredentialRequestSerializer(serializers.Serializer):
    blinded_msg = serializers.RegexField(HEX_RE, max_length=1024, help_text="RFC 9474 blinded message, hex.")


class PollCredentialSerializer(serializers.Serializer):
    blind_sig = serializers.CharField(help_text="RFC 9474 blind signature, hex.")


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(PollErrorSerializer) for code in (400, *statuses)}


# --- authentication -----------------------------------------------------------------------------


class MemberSessionAuthentication(BaseAuthentication):
    """The community member's cookie session (communities.services.members), with Django's CSRF check."""

    def authenticate(self, request: Request) -> tuple[AnonymousUser, Member] | None:
        member = current_member(request._request)
        if member is None:
            return None
        check = CSRFCheck(lambda _request: None)  # type: ignore[arg-type]
        check.process_request(request._request)
        reason = check.process_view(request._request, None, (), {})  # type: ignore[arg-type]
        if reason:
            raise PermissionDenied(f"CSRF failed: {reason}")
        return AnonymousUser(), member

    def authenticate_header(self, request: Request) -> str:
        return "Session"


class MemberSessionScheme(OpenApiAuthenticationExtension):
    target_class = "communities.api_polls.MemberSessionAuthentication"
    name = "memberSession"

    def get_security_definition(self, auto_schema: Any) -> dict[str, Any]:
        return {"type": "apiKey", "in": "cookie", "name": settings.SESSION_COOKIE_NAME,
                "description": "The community member's sign-in session; unsafe methods also need the CSRF token."}


class PollApiView(APIView):
    authentication_classes: list[type] = []
    parser_classes = [JSONParser]


class MemberPollApiView(PollApiView):
    authentication_classes = [MemberSessionAuthentication]

    def get_member(self, request: Request) -> Member:
        if not isinstance(request.auth, Member):
            raise MemberSignInRequired()
        return request.auth


class AnonymousPollApiView(PollApiView):
    """Must arrive without the member's session cookie, or the server could join member and address."""

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        if settings.SESSION_COOKIE_NAME in request.COOKIES or request.META.get("HTTP_AUTHORIZATION"):
            raise PollSessionNotAllowed()
        super().initial(request, *args, **kwargs)


def receipt(outcome: CommitOutcome) -> Response:
    return Response({"tracking_code": outcome.tx_id, "status": "committed", "height": outcome.height})


# --- endpoints ----------------------------------------------------------------------------------


class PollDetailApi(PollApiView):
    @extend_schema(tags=[TAG], summary="A poll's ballot: options, method, chain and (anonymous) credential key",
                   parameters=[POLL_PATH], responses={200: PollSerializer, **errors(404, 503)})
    def get(self, request: Request, poll: str) -> Response:
        found = access_poll(poll)
        if found.status == Poll.Status.DRAFT:  # drafts are the managers' own, shown on their pages only
            raise PollNotFound(detail={"poll": poll[:64]})
        return Response(describe_poll(found))


def describe_poll(poll: Poll) -> dict[str, Any]:
    published = poll.status != Poll.Status.DRAFT
    return {
        "id": poll.ledger_id, "chain": get_gateway().chain_id if published else "", "title": poll.title,
        "method": poll.method, "status": poll.status, "opens_at": poll.opens_at, "closes_at": poll.closes_at,
        "choices": poll.max_choices, "score_max": poll.score_max, "anonymous": poll.anonymous,
        "credential_key": poll_voting.get_poll_credential_key_hex(poll) if poll.anonymous and published else "",
        "options": [{"id": o.key, "name": o.name} for o in poll.options.all()],
    }


class CastApi(MemberPollApiView):
    @extend_schema(tags=[TAG], summary="Register the signed-in member's address and relay the signed cast",
                   parameters=[POLL_PATH], request=PollSubmitSerializer,
                   responses={200: PollSubmitResultSerializer, **errors(401, 403, 404, 409, 503)})
    def post(self, request: Request, poll: str) -> Response:
        body = PollSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        member = self.get_member(request)
        return receipt(poll_voting.cast_registered(member, access_poll(poll), body.validated_data["tx"], get_now()))


class CredentialApi(MemberPollApiView):
    @extend_schema(tags=[TAG], summary="Blind-sign the member's credential request (anonymous polls, once)",
                   parameters=[POLL_PATH], request=PollCredentialRequestSerializer,
                   responses={200: PollCredentialSerializer, **errors(401, 403, 404, 409, 503)})
    def post(self, request: Request, poll: str) -> Response:
        body = PollCredentialRequestSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        member = self.get_member(request)
        blinded = bytes.fromhex(body.validated_data["blinded_msg"])
        blind_sig = poll_voting.issue_poll_credential(member, access_poll(poll), blinded, get_now())
        return Response({"blind_sig": blind_sig.hex()})


class EnrolApi(AnonymousPollApiView):
    @extend_schema(tags=[TAG], summary="Relay an anonymous poll's enrol transaction (no session)",
                   parameters=[POLL_PATH], request=PollSubmitSerializer,
                   responses={200: PollSubmitResultSerializer, **errors(404, 409, 503)})
    def post(self, request: Request, poll: str) -> Response:
        body = PollSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return receipt(poll_voting.relay_anonymous(access_poll(poll), body.validated_data["tx"], "enrol", get_now()))


class AnonymousCastApi(AnonymousPollApiView):
    @extend_schema(tags=[TAG], summary="Relay an anonymous poll's cast transaction (no session)",
                   parameters=[POLL_PATH], request=PollSubmitSerializer,
                   responses={200: PollSubmitResultSerializer, **errors(404, 409, 503)})
    def post(self, request: Request, poll: str) -> Response:
        body = PollSubmitSerializer(data=request.data)
        body.is_valid(raise_exception=True)
        return receipt(poll_voting.relay_anonymous(access_poll(poll), body.validated_data["tx"], "cast", get_now()))
