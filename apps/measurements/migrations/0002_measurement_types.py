"""The platform's measurement types and accepted units (SPEC §3.2, §6).

The values are frozen here (a migration must give the same rows whenever it
runs); later changes are made as data by caseworkers or by new migrations,
never by editing this one's effect.
"""

from decimal import Decimal

from django.db import migrations

# (code, LOINC, canonical unit, decimal places, plausible min, max, derived,
#  ((accepted unit, subtract, multiply), ...))
TYPES = (
    ("hba1c", "59261-8", "mmol/mol", 1, "15", "195", False, (("%", "2.15", "10.929"),)),
    ("triglycerides", "14927-8", "mmol/L", 2, "0.1", "50", False, (("mg/dL", "0", "0.01129"),)),
    ("cholesterol_total", "14647-2", "mmol/L", 2, "1", "20", False,
     (("mg/dL", "0", "0.02586"),)),
    ("ldl", "22748-8", "mmol/L", 2, "0.1", "15", False, (("mg/dL", "0", "0.02586"),)),
    ("hdl", "14646-4", "mmol/L", 2, "0.1", "5", False, (("mg/dL", "0", "0.02586"),)),
    ("weight", "29463-7", "kg", 1, "25", "350", False, (("g", "0", "0.001"),)),
    ("height", "8302-2", "cm", 1, "100", "250", False, (("m", "0", "100"),)),
    ("bmi", "39156-5", "kg/m2", 1, "10", "80", True, ()),
    ("waist", "8280-0", "cm", 1, "40", "250", False, ()),
    ("findrisc", "", "score", 0, "0", "26", False, ()),
    ("bp_systolic", "8480-6", "mm[Hg]", 0, "60", "260", False, (("mmHg", "0", "1"),)),
    ("bp_diastolic", "8462-4", "mm[Hg]", 0, "30", "160", False, (("mmHg", "0", "1"),)),
)

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
    MeasurementType = apps.get_model("measurements", "MeasurementType")
    AcceptedUnit = apps.get_model("measurements", "AcceptedUnit")
    for code, loinc, unit, places, low, high, derived, conversions in TYPES:
        name_sv, name_en = NAMES[code]
        kind, _ = MeasurementType.objects.update_or_create(
            code=code,
            defaults=dict(
                name_sv=name_sv, name_en=name_en, loinc=loinc, canonical_unit=unit,
                decimal_places=places, plausible_min=Decimal(low),
                plausible_max=Decimal(high), derived=derived,
            ),
        )
        for accepted, subtract, multiply in conversions:
            AcceptedUnit.objects.update_or_create(
                type=kind, unit=accepted,
                defaults=dict(subtract=Decimal(subtract), multiply=Decimal(multiply)),
            )


class Migration(migrations.Migration):
    dependencies = [("measurements", "0001_initial")]
    operations = [migrations.RunPython(create, migrations.RunPython.noop)]
