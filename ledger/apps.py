"""Django registration for the ledger app."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class LedgerConfig(AppConfig):
    """App config; BigAutoField so append-only tables never run out of ids."""

    name = "ledger"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Ledger")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
