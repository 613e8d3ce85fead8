"""Root URL map: admin, language switch, OpenAPI schema and the home page; apps add theirs."""

from django.contrib import admin
from django.core.exceptions import SuspiciousOperation
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.urls import URLPattern, URLResolver, include, path
from django.utils.translation import gettext
from django.views.defaults import bad_request, page_not_found
from django.views.generic import TemplateView
from drf_spectacular.views import SpectacularAPIView

from voting.signin import GuardedAdminAuthenticationForm

from .api_errors import build_error_body, describe_request_error
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
    path("", include("communities.urls")),
]

# URL prefixes whose clients parse JSON: an unrouted path there gets the typed error, not HTML.
API_PREFIXES = ("/api/", "/kiosk/api/")


def api_not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    """404 for an unrouted URL: the typed JSON error under an API prefix, Django's page elsewhere."""
    if request.path.startswith(API_PREFIXES):
        return JsonResponse(build_error_body("not_found", gettext("Not found."), {"path": request.path[:200]}),
                            status=404)
    return page_not_found(request, exception)


def api_bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """400 raised by Django itself (e.g. a body over DATA_UPLOAD_MAX_MEMORY_SIZE): typed JSON under an API prefix."""
    if request.path.startswith(API_PREFIXES) and isinstance(exception, SuspiciousOperation):
        status, body = describe_request_error(exception)
        return JsonResponse(body, status=status)
    return bad_request(request, exception)


handler404 = api_not_found
handler400 = api_bad_request
