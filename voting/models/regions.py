"""Where people vote: the region tree, polling stations and the kiosks registered to them."""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.utils import translation
from django.utils.translation import gettext_lazy as _

# Station codes go onto the ledger as station ids (ledger.core.tx.IDENT_RE, kept shorter).
STATION_CODE_VALIDATOR = RegexValidator(
    r"^[a-z0-9][a-z0-9-]{0,39}$",
    _("Use 1-40 lowercase letters, digits and hyphens, starting with a letter or digit."),
)


class Region(models.Model):
    """A node of the administrative tree: province > city/county > district (or any organisation)."""

    class Kind(models.TextChoices):
        PROVINCE = "province", _("Province")
        CITY = "city", _("City")
        COUNTY = "county", _("County")
        DISTRICT = "district", _("District")

    code = models.SlugField(_("code"), max_length=64, unique=True)
    name_ko = models.CharField(_("Korean name"), max_length=100)
    name_en = models.CharField(_("English name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    parent = models.ForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )

    class Meta:
        ordering = ["id"]
        verbose_name = _("region")
        verbose_name_plural = _("regions")

    def __str__(self) -> str:
        return self.name

    @property
    def name(self) -> str:
        """The name in the active language (Korean unless English is active)."""
        return self.name_en if (translation.get_language() or "ko").startswith("en") else self.name_ko


class PollingStation(models.Model):
    """A physical polling station in a region; its code is its id on the ledger."""

    code = models.CharField(_("code"), max_length=40, unique=True, validators=[STATION_CODE_VALIDATOR])
    name = models.CharField(_("name"), max_length=200)
    region = models.ForeignKey(Region, on_delete=models.PROTECT, related_name="stations", verbose_name=_("region"))
    address = models.CharField(_("address"), max_length=300, blank=True)

    class Meta:
        ordering = ["region_id", "code"]
        verbose_name = _("polling station")
        verbose_name_plural = _("polling stations")

    def __str__(self) -> str:
        return f"{self.name} ({self.code})"


class Kiosk(models.Model):
    """A booth device registered to one station; only the SHA-256 of its random credential is kept."""

    station = models.ForeignKey(PollingStation, on_delete=models.PROTECT, related_name="kiosks")
    label = models.CharField(_("label"), max_length=100)
    # A 256-bit random secret needs no slow hash: SHA-256 hex of it, compared in constant time.
    credential_sha256 = models.CharField(max_length=64, unique=True)
    registered_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="+")
    registered_at = models.DateTimeField()
    revoked_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["station_id", "label"]
        constraints = [models.UniqueConstraint(fields=["station", "label"], name="kiosk_label_unique_per_station")]
        verbose_name = _("kiosk")
        verbose_name_plural = _("kiosks")

    def __str__(self) -> str:
        return f"{self.station.code}/{self.label}"

    @property
    def is_active(self) -> bool:
        return self.revoked_at is None
