"""Elections may offer mobile voting (SMS one-time code + anonymous blind-signed credential)."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("voting", "0002_gyeonggi_regions_and_groups")]

    operations = [
        migrations.AddField(
            model_name="election",
            name="mobile_voting",
            field=models.BooleanField(default=False, verbose_name="mobile voting"),
        ),
    ]
