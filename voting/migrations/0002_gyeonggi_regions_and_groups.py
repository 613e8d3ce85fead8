"""Seed the region tree (Gyeonggi province > its 31 cities and counties) and the officials' group."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

from django.db import migrations

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "gyeonggi_municipalities.csv"
PROVINCE_CODE = "gyeonggi"
OFFICIALS_GROUP = "election_officials"


def seed(apps: Any, schema_editor: Any) -> None:
    Region = apps.get_model("voting", "Region")
    Group = apps.get_model("auth", "Group")
    province, _ = Region.objects.get_or_create(
        code=PROVINCE_CODE, defaults={"name_ko": "경기도", "name_en": "Gyeonggi Province", "kind": "province"}
    )
    with DATA_FILE.open(encoding="utf-8", newline="") as handle:
        for row in csv.DictReader(handle):
            Region.objects.get_or_create(
                code=row["code"],
                defaults={"name_ko": row["name_ko"], "name_en": row["name_en"], "kind": row["kind"], "parent": province},
            )
    Group.objects.get_or_create(name=OFFICIALS_GROUP)


def unseed(apps: Any, schema_editor: Any) -> None:
    """Reversible for development; regions in use are protected by their foreign keys."""
    Region = apps.get_model("voting", "Region")
    Region.objects.exclude(code=PROVINCE_CODE).filter(parent__code=PROVINCE_CODE).delete()
    Region.objects.filter(code=PROVINCE_CODE).delete()


class Migration(migrations.Migration):
    dependencies = [("voting", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(seed, unseed)]
