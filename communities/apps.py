"""Django registration for the communities app."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class CommunitiesConfig(AppConfig):
    """App config; BigAutoField so append-only tables never run out of ids."""

    name = "communities"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Communities")
