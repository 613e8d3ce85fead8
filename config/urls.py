"""Root URL map: admin, language switch, OpenAPI schema and the home page; apps add theirs."""

from django.contrib import admin
from django.urls import URLPattern, URLResolver, include, path
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView

from voting.signin import GuardedAdminAuthenticationForm

from .health import health

# The admin's sign-in is throttled and locked like the officials' (voting.signin).
admin.site.login_form = GuardedAdminAuthenticationForm

# No Swagger/Redoc page: both load their UI from a CDN, which the deployment may not reach.
urlpatterns: list[URLPattern | URLResolver] = [
    path("", TemplateView.as_view(template_name="home.html"), name="home"),
    path("health/", health, name="health"),
    path("admin/", admin.site.urls),
    path("i18n/", include("django.conf.urls.i18n")),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path("", include("voting.urls")),
    path("ledger/", include("ledger.urls")),
    path("", include("kiosk.urls")),
    path("", include("mobile_api.urls")),
    path("", include("audit.urls")),
]
