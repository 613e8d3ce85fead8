"""Routes of community polls (pages and the /api/v1/communities/ poll API); communities/urls.py includes them."""

from django.urls import URLPattern, URLResolver, path

from . import api_polls
from .views import polls as pages

API = "api/v1/communities/polls/<str:poll>/"

urlpatterns: list[URLPattern | URLResolver] = [
    path("communities/<int:community_id>/polls/", pages.poll_list, name="poll_list"),
    path("communities/<int:community_id>/polls/new", pages.poll_create, name="poll_create"),
    path("communities/polls/<str:poll>/", pages.poll_detail, name="poll_detail"),
    path("communities/polls/<str:poll>/edit", pages.poll_edit, name="poll_edit"),
    path("communities/polls/<str:poll>/action", pages.poll_action, name="poll_action"),
    path("communities/polls/<str:poll>/results", pages.poll_results, name="poll_results"),
    path("communities/polls/<str:poll>/weights.json", pages.poll_weights_basis, name="poll_weights_basis"),
    path("communities/polls/<str:poll>/receipt/<str:tracking_code>", pages.poll_receipt, name="poll_receipt"),
    path(API, api_polls.PollDetailApi.as_view(), name="poll_api_detail"),
    path(API + "cast", api_polls.CastApi.as_view(), name="poll_api_cast"),
    path(API + "credential", api_polls.CredentialApi.as_view(), name="poll_api_credential"),
    path(API + "enrol", api_polls.EnrolApi.as_view(), name="poll_api_enrol"),
    path(API + "anonymous-cast", api_polls.AnonymousCastApi.as_view(), name="poll_api_anonymous_cast"),
]
