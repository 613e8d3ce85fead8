"""Django registration for the voting app."""

from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class VotingConfig(AppConfig):
    """App config; BigAutoField so append-only tables never run out of ids."""

    name = "voting"
    default_auto_field = "django.db.models.BigAutoField"
    verbose_name = _("Voting")

    def ready(self) -> None:
        from . import checks  # noqa: F401  (registers the system checks)
