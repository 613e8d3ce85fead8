"""URLs of the officials' UI (mounted at the site root by config/urls.py)."""

from django.contrib.auth import views as auth_views
from django.urls import path

from .signin import GuardedAuthenticationForm
from .views import checkin, elections, results, roll, stations, tokens

app_name = "voting"

urlpatterns = [
    path("accounts/sign-in/", auth_views.LoginView.as_view(template_name="voting/sign_in.html",
                                                          authentication_form=GuardedAuthenticationForm,
                                                          redirect_authenticated_user=True), name="sign_in"),
    path("accounts/sign-out/", auth_views.LogoutView.as_view(), name="sign_out"),
    path("elections/", elections.election_list, name="election_list"),
    path("elections/new/", elections.election_create, name="election_create"),
    path("elections/<int:election_id>/", elections.dashboard, name="dashboard"),
    path("elections/<int:election_id>/edit/", elections.election_edit, name="election_edit"),
    path("elections/<int:election_id>/do/<slug:action>/", elections.confirm_transition, name="confirm"),
    path("elections/<int:election_id>/audit/", elections.audit_log, name="audit_log"),
    path("elections/<int:election_id>/roll/", roll.roll, name="roll"),
    path("elections/<int:election_id>/roll/clear/", roll.roll_clear, name="roll_clear"),
    path("elections/<int:election_id>/roll/imports/<int:import_id>/", roll.roll_report, name="roll_report"),
    path("elections/<int:election_id>/roll/imports/<int:import_id>/problems.csv", roll.roll_report_csv,
         name="roll_report_csv"),
    path("elections/<int:election_id>/tokens/", tokens.tokens, name="tokens"),
    path("elections/<int:election_id>/tokens/<int:station_id>/issue/", tokens.issue, name="issue_tokens"),
    path("elections/<int:election_id>/kiosks/", stations.kiosks, name="kiosks"),
    path("elections/<int:election_id>/kiosks/<int:kiosk_id>/revoke/", stations.kiosk_revoke, name="kiosk_revoke"),
    path("elections/<int:election_id>/team/", stations.team, name="team"),
    path("elections/<int:election_id>/check-in/", checkin.choose_station, name="check_in_stations"),
    path("elections/<int:election_id>/check-in/<int:station_id>/", checkin.lookup, name="check_in"),
    path("elections/<int:election_id>/check-in/<int:station_id>/voters/<int:entry_id>/", checkin.confirm,
         name="check_in_confirm"),
    path("elections/<int:election_id>/turnout/", results.turnout, name="turnout"),
    path("elections/<int:election_id>/turnout.json", results.turnout_json, name="turnout_json"),
    path("elections/<int:election_id>/results/", results.results_page, name="results"),
    path("elections/<int:election_id>/results.<str:fmt>", results.results_export, name="results_export"),
    path("stations/", stations.stations, name="stations"),
]
