"""The enrolled count of every programme from its prepatients: each one with an
enrollment date, whatever their state since (what enrollment counted against the
cap until now). Data only; the check on the cap is 0013's."""

from typing import Any

from django.db import migrations
from django.db.models import Count, OuterRef, Subquery
from django.db.models.functions import Coalesce


def backfill(apps: Any, schema_editor: Any) -> None:
    Programme = apps.get_model("programs", "Programme")
    Prepatient = apps.get_model("registry", "Prepatient")
    enrolled = (Prepatient.objects.filter(programme=OuterRef("pk"), enrolled_on__isnull=False)
                .order_by().values("programme").annotate(n=Count("pk")).values("n"))
    Programme.objects.update(enrolled_count=Coalesce(Subquery(enrolled), 0))
    over = [f"{code} ({count} enrolled, cap {cap})" for code, count, cap in
            Programme.objects.values_list("code", "enrolled_count", "cap")
            if count > cap]
    if over:
        raise RuntimeError(
            "More prepatients are enrolled than the cap allows in: " + ", ".join(over)
            + ". Publish a version whose cap is at least the enrolled count, then migrate.")


class Migration(migrations.Migration):

    dependencies = [
        ('programs', '0011_enrolled_count'),
        ('registry', '0001_initial'),
    ]

    operations = [
        migrations.RunPython(backfill, migrations.RunPython.noop, elidable=False),
    ]
