"""REST API of the community tree, proposals and joining (/api/v1/communities/...); polls are in api_polls.py.

Two kinds of callers: members, identified by the community member session cookie
(communities.services.members.current_member), and managers, signed-in staff users (Django
session). Every unsafe request must carry Django's CSRF token whoever calls, because both
identities are cookies a foreign page could otherwise ride on (including a "login CSRF" that
would sign a victim's browser into an attacker's member account through the join endpoint).
"""

from __future__ import annotations

from typing import Any

from django.utils import timezone
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.authentication import CSRFCheck, SessionAuthentication
from rest_framework.exceptions import PermissionDenied
from rest_framework.parsers import JSONParser, MultiPartParser
from rest_framework.permissions import SAFE_METHODS
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from mobile_api.serializers import ErrorSerializer  # the one {"code", "message", "detail"} component

from .errors import InvalidCommunityInput, MemberSignInRequired
from .models import Community, Member, Membership, Proposal
from .services import members, proposals, roll, tree


class NodeSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    unit_id = serializers.CharField(help_text="The node's id in a poll's ledger `units`.")
    slug = serializers.CharField()
    name = serializers.CharField()
    name_en = serializers.CharField()
    depth = serializers.IntegerField()
    parent = serializers.IntegerField(source="parent_id", allow_null=True)


class NodeDetailSerializer(NodeSerializer):
    ancestors = NodeSerializer(many=True)
    children = NodeSerializer(many=True)
    members = serializers.IntegerField(help_text="Distinct members in the node's whole subtree.")
    endorsement_threshold = serializers.IntegerField()
    proposals_become_polls = serializers.BooleanField()
    weighted_voting = serializers.BooleanField()
    weight_rule = serializers.CharField()


class ProposalSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    community = serializers.IntegerField(source="community_id")
    title = serializers.CharField()
    body = serializers.CharField()
    # A plain string, not an enum component: "status" enums of several apps would collide in the schema.
    status = serializers.CharField(help_text="One of: " + ", ".join(Proposal.Status.values))
    endorsement_count = serializers.IntegerField()
    threshold = serializers.IntegerField()
    escalated_from = serializers.IntegerField(source="parent_proposal_id", allow_null=True)
    created_at = serializers.DateTimeField()


class ProposalDetailSerializer(ProposalSerializer):
    path = ProposalSerializer(many=True, help_text="Every step from the node it was posted in up to now.")
    poll = serializers.CharField(allow_null=True, help_text="Ledger id of the poll it became, if any.")


class ProposalInputSerializer(serializers.Serializer):
    title = serializers.CharField(max_length=200)
    body = serializers.CharField(max_length=10000)


class JoinInputSerializer(serializers.Serializer):
    token = serializers.CharField(max_length=100)
    display_name = serializers.CharField(max_length=100, required=False, allow_blank=True)


class JoinResultSerializer(serializers.Serializer):
    community = serializers.IntegerField()
    member = serializers.IntegerField()
    joined_via = serializers.CharField()


class RollResultSerializer(serializers.Serializer):
    rows = serializers.IntegerField()
    members_created = serializers.IntegerField()
    memberships_created = serializers.IntegerField()
    already_members = serializers.IntegerField()


def errors(*statuses: int) -> dict[int, OpenApiResponse]:
    return {code: OpenApiResponse(ErrorSerializer) for code in (400, *statuses)}


class CommunityApiView(APIView):
    """Staff users through Django's session; members through their own session; CSRF on every write."""

    authentication_classes = [SessionAuthentication]
    parser_classes = [JSONParser]

    def initial(self, request: Request, *args: Any, **kwargs: Any) -> None:
        super().initial(request, *args, **kwargs)
        if request.method not in SAFE_METHODS:
            check = CSRFCheck(lambda _request: None)  # type: ignore[arg-type]
            check.process_request(request._request)
            reason = check.process_view(request._request, None, (), {})  # type: ignore[arg-type]
            if reason:
                raise PermissionDenied(f"CSRF failed: {reason}")

    def get_member(self, request: Request) -> Member:
        member = members.current_member(request._request)
        if member is None:
            raise MemberSignInRequired()
        return member


def describe_proposal(proposal: Proposal) -> dict[str, Any]:
    path = proposals.get_proposal_path(proposal)
    poll = getattr(path[-1], "poll", None)
    return {**ProposalSerializer(proposal).data, "path": ProposalSerializer(path, many=True).data,
            "poll": getattr(poll, "ledger_id", None)}


class CommunityListApi(CommunityApiView):
    @extend_schema(responses={200: NodeSerializer(many=True)}, summary="The roots of every community tree")
    def get(self, request: Request) -> Response:
        roots = Community.objects.filter(parent__isnull=True).order_by("name")
        return Response(NodeSerializer(roots, many=True).data)


class CommunityDetailApi(CommunityApiView):
    @extend_schema(responses={200: NodeDetailSerializer, **errors(404)}, summary="A node with its children")
    def get(self, request: Request, community_id: int) -> Response:
        community = tree.access_community(community_id)
        data = NodeDetailSerializer({
            **{f: getattr(community, f) for f in ("pk", "unit_id", "slug", "name", "name_en", "depth", "parent_id",
                                                  "endorsement_threshold", "proposals_become_polls",
                                                  "weighted_voting", "weight_rule")},
            "ancestors": tree.ancestors(community), "children": list(community.children.order_by("name")),
            "members": Membership.objects.filter(community__path__startswith=community.path)
                                         .values("member").distinct().count(),
        }).data
        return Response(data)


class ProposalListApi(CommunityApiView):
    @extend_schema(responses={200: ProposalSerializer(many=True), **errors(404)}, summary="A node's agenda")
    def get(self, request: Request, community_id: int) -> Response:
        community = tree.access_community(community_id)
        listing = Proposal.objects.filter(community=community).order_by("-created_at", "-pk")[:200]
        return Response(ProposalSerializer(listing, many=True).data)

    @extend_schema(request=ProposalInputSerializer, responses={201: ProposalDetailSerializer, **errors(401, 403, 404)},
                   summary="Post a proposal (members of the node or of a node below it)")
    def post(self, request: Request, community_id: int) -> Response:
        community = tree.access_community(community_id)
        member = self.get_member(request)
        data = _validated(ProposalInputSerializer, request.data)
        proposal = proposals.post_proposal(member, community, title=data["title"], body=data["body"])
        return Response(describe_proposal(proposal), status=201)


class ProposalDetailApi(CommunityApiView):
    @extend_schema(responses={200: ProposalDetailSerializer, **errors(404)}, summary="A proposal and its path")
    def get(self, request: Request, proposal_id: int) -> Response:
        return Response(describe_proposal(proposals.access_proposal(proposal_id)))


class EndorseProposalApi(CommunityApiView):
    @extend_schema(request=None, responses={200: ProposalDetailSerializer, **errors(401, 403, 404, 409)},
                   summary="Endorse a proposal once")
    def post(self, request: Request, proposal_id: int) -> Response:
        proposal = proposals.access_proposal(proposal_id)
        proposal = proposals.endorse_proposal(self.get_member(request), proposal, timezone.now())
        return Response(describe_proposal(proposal))


class JoinApi(CommunityApiView):
    @extend_schema(request=JoinInputSerializer, responses={200: JoinResultSerializer, **errors(404, 410)},
                   summary="Join a node with an invitation token (signs the member in on this session)")
    def post(self, request: Request) -> Response:
        data = _validated(JoinInputSerializer, request.data)
        member = members.current_member(request._request)
        membership = members.accept_invitation(data["token"], member=member,
                                               display_name=data.get("display_name", ""), now=timezone.now())
        members.sign_in_member(request._request, membership.member)
        return Response({"community": membership.community_id, "member": membership.member_id,
                         "joined_via": membership.joined_via})


class RollImportApi(CommunityApiView):
    parser_classes = [MultiPartParser]

    @extend_schema(request={"multipart/form-data": {"type": "object", "properties": {
        "file": {"type": "string", "format": "binary"}}}},
        responses={200: RollResultSerializer, **errors(403, 404, 413)},
        summary="Import a roll CSV (name,phone,node) into a node's subtree; all or nothing")
    def post(self, request: Request, community_id: int) -> Response:
        community = tree.access_managed_community(request.user, community_id)
        upload = request.FILES.get("file")
        if upload is None:
            raise InvalidCommunityInput(detail={"errors": {"file": ["required"]}})
        if upload.size > roll.MAX_ROLL_BYTES:
            raise roll.RollTooLarge(detail={"max_bytes": roll.MAX_ROLL_BYTES})
        result = roll.import_roll(request.user, community, upload.read())
        return Response(RollResultSerializer(result).data)


def _validated(serializer_class: type[serializers.Serializer], data: Any) -> dict[str, Any]:
    serializer = serializer_class(data=data)
    serializer.is_valid(raise_exception=True)
    return dict(serializer.validated_data)
