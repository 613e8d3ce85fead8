"""Routes of the communities app (namespace "communities"); polls and statistics add theirs below."""

from django.urls import URLPattern, URLResolver, include, path

from . import api
from .views import members, proposals, tree

app_name = "communities"

urlpatterns: list[URLPattern | URLResolver] = [
    path("communities/", tree.community_index, name="index"),
    path("communities/new/", tree.community_create_root, name="create_root"),
    path("communities/<int:community_id>/", tree.community_detail, name="detail"),
    path("communities/<int:community_id>/tree/", tree.community_tree, name="tree"),
    path("communities/<int:community_id>/manage/", tree.community_manage, name="manage"),
    path("communities/<int:community_id>/delete/", tree.community_delete, name="delete"),
    path("communities/<int:community_id>/managers/<int:manager_id>/revoke/", tree.manager_revoke,
         name="manager_revoke"),
    path("communities/<int:community_id>/members/", members.member_list, name="members"),
    path("communities/<int:community_id>/invitations/", members.invitations, name="invitations"),
    path("communities/<int:community_id>/invitations/<int:invitation_id>/revoke/", members.invitation_revoke,
         name="invitation_revoke"),
    path("communities/<int:community_id>/roll/", members.roll_import, name="roll_import"),
    path("communities/<int:community_id>/proposals/new/", proposals.proposal_create, name="proposal_create"),
    path("communities/proposals/<int:proposal_id>/", proposals.proposal_detail, name="proposal_detail"),
    path("communities/proposals/<int:proposal_id>/endorse/", proposals.proposal_endorse, name="proposal_endorse"),
    path("communities/proposals/<int:proposal_id>/withdraw/", proposals.proposal_withdraw, name="proposal_withdraw"),
    path("communities/proposals/<int:proposal_id>/convert/", proposals.proposal_convert, name="proposal_convert"),
    path("communities/join/<str:token>/", members.join, name="join"),
    path("communities/sign-in/", members.member_sign_in, name="member_sign_in"),
    path("communities/sign-out/", members.member_sign_out, name="member_sign_out"),
    # API (communities/api.py): tree, proposals, joining
    path("api/v1/communities/", api.CommunityListApi.as_view(), name="api_list"),
    path("api/v1/communities/<int:community_id>/", api.CommunityDetailApi.as_view(), name="api_detail"),
    path("api/v1/communities/<int:community_id>/proposals/", api.ProposalListApi.as_view(), name="api_proposals"),
    path("api/v1/communities/<int:community_id>/roll/", api.RollImportApi.as_view(), name="api_roll"),
    path("api/v1/communities/proposals/<int:proposal_id>/", api.ProposalDetailApi.as_view(),
         name="api_proposal_detail"),
    path("api/v1/communities/proposals/<int:proposal_id>/endorse/", api.EndorseProposalApi.as_view(),
         name="api_proposal_endorse"),
    path("api/v1/communities/join/", api.JoinApi.as_view(), name="api_join"),
    # polls (H2b)
    path("", include("communities.poll_urls")),
    # live statistics and exports (H3: communities/views/stats.py)
    path("", include("communities.views.stats")),
]
