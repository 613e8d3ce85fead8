"""URLs of the mobile_api app (mounted at the site root by config/urls.py): API v1 and the page."""

from django.urls import URLPattern, URLResolver, path

from . import views

app_name = "mobile_api"

API = "api/v1/mobile/"

urlpatterns: list[URLPattern | URLResolver] = [
    path(API + "elections/", views.ElectionListApi.as_view(), name="elections"),
    path(API + "otp/request", views.RequestCodeApi.as_view(), name="otp_request"),
    path(API + "otp/verify", views.VerifyCodeApi.as_view(), name="otp_verify"),
    path(API + "credential", views.CredentialApi.as_view(), name="credential"),
    path(API + "mint", views.MintApi.as_view(), name="mint"),
    path(API + "vote", views.VoteApi.as_view(), name="vote"),
    # <path:> so that any text reaches the view and gets a JSON tracking_code_invalid, not an HTML 404.
    path(API + "votes/<path:tracking_code>", views.VoteStatusApi.as_view(), name="vote_status"),
    path("m/", views.mobile_page, name="page"),
]
