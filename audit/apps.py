"""Django registration for the audit app."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AuditConfig(AppConfig):
    """App config; BigAutoField so append-only tables never run out of ids."""

    name = "audit"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Audit")
