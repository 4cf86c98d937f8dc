"""The back-office at national scale: the caseworkers' queue of self-reported inclusion
samples awaiting verification, newest first, without reading every sample."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("registry", "0006_inclusion_sample_any_measure")]
    operations = [
        migrations.AddIndex(
            model_name="inclusionsample",
            index=models.Index(
                condition=models.Q(("source", "self"), ("verified_at__isnull", True)),
                fields=["id"], name="inclusion_awaiting")),
    ]
