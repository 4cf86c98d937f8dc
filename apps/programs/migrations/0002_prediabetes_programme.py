"""Creates the first programme (SPEC §3) with its parameters as data.

The values are written out here, frozen as they were decided, so that later
changes to model defaults never alter what this migration creates.
"""

from datetime import date
from decimal import Decimal

from django.db import migrations

PREDIABETES = {
    "name": "Prediabetes — national implementation programme",
    "description": (
        "Outcome contracts for people with prediabetes (HbA1c 42–47 mmol/mol): "
        "providers are paid per prepatient whose HbA1c is below 42 mmol/mol "
        "after 24 months."
    ),
    "start_date": date(2026, 1, 1),
    "recruitment_months": 12,
    "priority_months": 6,
    "cap": 30_000,
    "programme_months": 24,
    "switch_months": 18,
    "followup_interval_months": 3,
    "findrisc_referral_threshold": 13,
    "inclusion_hba1c_min": Decimal("42"),
    "inclusion_hba1c_max": Decimal("47"),
    "seek_care_hba1c": Decimal("48"),
    "priority_bmi_above": Decimal("25"),
    "priority_age_min": 20,
    "priority_age_max": 60,
    "referral_valid_days": 90,
    "outcome_measure": "hba1c",
    "outcome_below": Decimal("42"),
    "outcome_unit": "mmol/mol",
    "outcome_window_days": 30,
    "payment_per_success": Decimal("47000.00"),
    "currency": "SEK",
    "floor_share": Decimal("0.10"),
    "ceiling_share": Decimal("0.80"),
    "min_attributed": 50,
    "budget_authorization": Decimal("1000000000.00"),
    "payments_from": date(2028, 1, 1),
    "payments_until": date(2029, 3, 31),
}


def create(apps, schema_editor):
    Programme = apps.get_model("programs", "Programme")
    Programme.objects.get_or_create(code="prediabetes-2026", defaults=PREDIABETES)


def remove(apps, schema_editor):
    apps.get_model("programs", "Programme").objects.filter(code="prediabetes-2026").delete()


class Migration(migrations.Migration):
    dependencies = [("programs", "0001_initial")]
    operations = [migrations.RunPython(create, remove)]
