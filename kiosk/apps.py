"""Django registration for the kiosk app."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class KioskConfig(AppConfig):
    """App config; BigAutoField so append-only tables never run out of ids."""

    name = "kiosk"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Kiosk")
