"""The platform's measurement types and accepted units (SPEC §3.2, §6).

Taken from ``apps.measurements.rules.DEFAULT_TYPES`` as they stand when this
migration is written; later changes are made as data by caseworkers or by new
migrations, never by editing this one's effect.
"""

from django.db import migrations

NAMES = {
    "hba1c": ("HbA1c", "HbA1c"),
    "triglycerides": ("Triglycerider", "Triglycerides"),
    "cholesterol_total": ("Totalkolesterol", "Total cholesterol"),
    "ldl": ("LDL-kolesterol", "LDL cholesterol"),
    "hdl": ("HDL-kolesterol", "HDL cholesterol"),
    "weight": ("Vikt", "Weight"),
    "height": ("Längd", "Height"),
    "bmi": ("BMI", "BMI"),
    "waist": ("Midjemått", "Waist circumference"),
    "findrisc": ("FINDRISC-poäng", "FINDRISC score"),
    "bp_systolic": ("Systoliskt blodtryck", "Systolic blood pressure"),
    "bp_diastolic": ("Diastoliskt blodtryck", "Diastolic blood pressure"),
}


def create(apps, schema_editor):
    from apps.measurements.rules import DEFAULT_TYPES, LOINC

    MeasurementType = apps.get_model("measurements", "MeasurementType")
    AcceptedUnit = apps.get_model("measurements", "AcceptedUnit")
    for spec in DEFAULT_TYPES:
        name_sv, name_en = NAMES[spec.code]
        kind, _ = MeasurementType.objects.update_or_create(
            code=spec.code,
            defaults=dict(
                name_sv=name_sv, name_en=name_en, loinc=LOINC.get(spec.code, ""),
                canonical_unit=spec.canonical_unit, decimal_places=spec.decimal_places,
                plausible_min=spec.plausible_min, plausible_max=spec.plausible_max,
                derived=bool(spec.derived_from),
            ),
        )
        for conversion in spec.conversions:
            AcceptedUnit.objects.update_or_create(
                type=kind, unit=conversion.unit,
                defaults=dict(subtract=conversion.subtract, multiply=conversion.multiply),
            )


class Migration(migrations.Migration):
    dependencies = [("measurements", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
