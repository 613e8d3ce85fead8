"""Django registration for the mobile_api app."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class MobileApiConfig(AppConfig):
    """App config; BigAutoField so append-only tables never run out of ids."""

    name = "mobile_api"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Mobile API")

    def ready(self) -> None:
        from . import checks, schema  # noqa: F401  (register the system checks and the OpenAPI extension)
