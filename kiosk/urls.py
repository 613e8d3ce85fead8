"""URLs of the kiosk app (mounted at the site root by config/urls.py)."""

from django.urls import URLPattern, URLResolver, path

from . import api, views

app_name = "kiosk"

urlpatterns: list[URLPattern | URLResolver] = [
    path("kiosk/", views.booth, name="booth"),
    path("kiosk/pair/", views.pair, name="pair"),
    path("kiosk/unpair/", views.unpair, name="unpair"),
    path("kiosk/api/session", api.GetSessionApi.as_view(), name="api_session"),
    path("kiosk/api/token-check", api.CheckTokenApi.as_view(), name="api_token_check"),
    path("kiosk/api/votes", api.submit_vote_api, name="api_votes"),
    path("kiosk/api/votes/<str:tracking_code>", api.GetVoteStatusApi.as_view(), name="api_vote_status"),
    path("track/", views.track, name="track"),
    path("track/<str:tracking_code>/", views.track, name="track_code"),
    path("api/v1/track/<str:tracking_code>", api.TrackVoteApi.as_view(), name="api_track"),
]
