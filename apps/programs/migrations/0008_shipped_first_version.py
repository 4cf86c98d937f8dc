"""The first programme's definition, and the questionnaires, ship published with the
release.

Every enrollment keeps the version it joined under, so a programme is never without
one: the prediabetes programme's version 1 (``data/programmes/prediabetes-2026.json``,
SPEC §3) is published here, as the migration that created the programme row did. A
version shipped with a release has no drafting or publishing caseworker: the
release's review is its four eyes. Later versions are drafted and published in the
back-office by two caseworkers. Enrollments made before versions existed join it.
"""

import json
from pathlib import Path

from django.conf import settings
from django.db import migrations, models
from django.db.models import F, Q
from django.utils import timezone

FIRST = "prediabetes-2026"
DATA = Path(__file__).resolve().parents[3] / "data"
SHIPPED = DATA / "programmes" / f"{FIRST}.json"


def ship_questionnaires(apps):
    """The shipped questionnaires (``data/questionnaires``), published: reference data
    that definitions name, as the measurement types are."""
    Questionnaire = apps.get_model("programs", "Questionnaire")
    for path in sorted((DATA / "questionnaires").glob("*.json")):
        definition = json.loads(path.read_text("utf-8"))
        Questionnaire.objects.get_or_create(
            code=definition["code"], version=definition["version"],
            defaults={"definition": definition, "status": "published",
                      "published_at": timezone.now()})


def ship_first_version(apps, schema_editor):
    ship_questionnaires(apps)
    Programme = apps.get_model("programs", "Programme")
    ProgrammeVersion = apps.get_model("programs", "ProgrammeVersion")
    programme = Programme.objects.filter(code=FIRST).first()
    if programme is None or ProgrammeVersion.objects.filter(programme=programme).exists():
        return
    version = ProgrammeVersion.objects.create(
        programme=programme, version=1, definition=json.loads(SHIPPED.read_text("utf-8")),
        status="published", published_at=timezone.now())
    Prepatient = apps.get_model("registry", "Prepatient")
    Prepatient.objects.filter(programme=programme, programme_version=None).update(
        programme_version=version)


class Migration(migrations.Migration):
    dependencies = [
        ("programs", "0007_publish_permission"),
        ("registry", "0005_questionnaire_responses"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]
    operations = [
        migrations.RemoveConstraint(model_name="programmeversion",
                                    name="programme_version_four_eyes"),
        migrations.AlterField(
            model_name="programmeversion", name="created_by",
            field=models.ForeignKey(blank=True, null=True,
                                    on_delete=models.deletion.PROTECT, related_name="+",
                                    to=settings.AUTH_USER_MODEL, verbose_name="drafted by"),
        ),
        migrations.AddConstraint(
            model_name="programmeversion",
            constraint=models.CheckConstraint(
                condition=Q(status="draft", published_by__isnull=True,
                            published_at__isnull=True)
                | (Q(status="published", published_by__isnull=False,
                     published_at__isnull=False, created_by__isnull=False)
                   & ~Q(published_by=F("created_by")))
                | Q(status="published", created_by__isnull=True, published_by__isnull=True,
                    published_at__isnull=False),
                name="programme_version_four_eyes",
                violation_error_message="A version is published by another caseworker "
                                        "than the one who drafted it."),
        ),
        migrations.RunPython(ship_first_version, migrations.RunPython.noop),
    ]
