"""The measurement types of the programmes beyond prediabetes (PROGRAMMES.md), and
weight in pounds. Frozen values: this migration reads no live code.

Unit factors get ten decimals, so that a pound (0.45359237 kg) is stored exactly.
"""

from decimal import Decimal

from django.db import migrations, models

# code, LOINC, canonical unit, decimals, plausible from, plausible to, derived, conversions
TYPES = (
    ("steps", "41950-7", "steps/d", 0, "0", "100000", False, ()),
    ("tug", "", "s", 1, "3", "120", False, ()),
    ("ucla3", "", "score", 0, "3", "9", False, ()),
    ("short_fes_i", "", "score", 0, "7", "28", False, ()),
    ("fall_history", "", "score", 0, "0", "1", False, ()),
)
NAMES = {
    "steps": ("Steg per dag", "Steps per day"),
    "tug": ("Timed Up and Go", "Timed Up and Go"),
    "ucla3": ("Ensamhetspoäng (UCLA-3)", "Loneliness score (UCLA-3)"),
    "short_fes_i": ("Oro för att falla (Short FES-I)", "Concern about falling (Short FES-I)"),
    "fall_history": ("Fall de senaste 12 månaderna", "Fall in the last 12 months"),
}
# (type, unit, subtract, multiply) added to types that exist already.
CONVERSIONS = (("weight", "lb", "0", "0.45359237"),)


def create(apps, schema_editor):
    MeasurementType = apps.get_model("measurements", "MeasurementType")
    AcceptedUnit = apps.get_model("measurements", "AcceptedUnit")
    for code, loinc, unit, places, low, high, derived, conversions in TYPES:
        name_sv, name_en = NAMES[code]
        kind, _ = MeasurementType.objects.update_or_create(
            code=code,
            defaults=dict(name_sv=name_sv, name_en=name_en, loinc=loinc, canonical_unit=unit,
                          decimal_places=places, plausible_min=Decimal(low),
                          plausible_max=Decimal(high), derived=derived),
        )
        for accepted, subtract, multiply in conversions:
            AcceptedUnit.objects.update_or_create(
                type=kind, unit=accepted,
                defaults=dict(subtract=Decimal(subtract), multiply=Decimal(multiply)))
    for code, accepted, subtract, multiply in CONVERSIONS:
        kind = MeasurementType.objects.filter(code=code).first()
        if kind is not None:
            AcceptedUnit.objects.update_or_create(
                type=kind, unit=accepted,
                defaults=dict(subtract=Decimal(subtract), multiply=Decimal(multiply)))


def remove(apps, schema_editor):
    MeasurementType = apps.get_model("measurements", "MeasurementType")
    AcceptedUnit = apps.get_model("measurements", "AcceptedUnit")
    MeasurementType.objects.filter(code__in=[row[0] for row in TYPES]).delete()
    for code, accepted, _subtract, _multiply in CONVERSIONS:
        AcceptedUnit.objects.filter(type__code=code, unit=accepted).delete()


class Migration(migrations.Migration):
    dependencies = [("measurements", "0003_followup_schedule")]

    operations = [
        migrations.AlterField(
            model_name="acceptedunit", name="multiply",
            field=models.DecimalField(decimal_places=10, default=1, max_digits=20,
                                      verbose_name="multiply by")),
        migrations.AlterField(
            model_name="acceptedunit", name="subtract",
            field=models.DecimalField(decimal_places=10, default=0, max_digits=20,
                                      verbose_name="subtract")),
        migrations.RunPython(create, remove),
    ]
