from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.programs.models import Programme

pytestmark = pytest.mark.django_db


@pytest.fixture
def prediabetes() -> Programme:
    return Programme.objects.get(code="prediabetes-2026")


def test_the_migration_creates_the_prediabetes_programme_with_every_spec_number(
    prediabetes: Programme,
) -> None:
    p = prediabetes
    assert p.start_date == date(2026, 1, 1)
    assert p.recruitment_months == 12
    assert p.recruitment_end == date(2027, 1, 1)
    assert p.cap == 30_000
    assert p.priority_months == 6
    assert p.priority_end == date(2026, 7, 1)
    assert p.findrisc_referral_threshold == 13
    assert (p.inclusion_hba1c_min, p.inclusion_hba1c_max) == (Decimal("42"), Decimal("47"))
    assert p.seek_care_hba1c == Decimal("48")
    assert p.programme_months == 24
    assert p.followup_interval_months == 3
    assert p.outcome_criteria == [{
        "measure": "hba1c", "unit": "mmol/mol", "sources": ["lab"], "aggregate": "closest",
        "compare": "value", "op": "lt", "threshold": "42"}]
    assert p.outcome_disqualifiers == [{
        "measure": "hba1c", "unit": "mmol/mol", "sources": ["lab"], "op": "ge",
        "threshold": "48", "reason": "developed_diabetes"}]
    assert (p.outcome_measure, p.outcome_below, p.outcome_unit) == (
        "hba1c", Decimal("42"), "mmol/mol")
    assert p.outcome_window_days == 30
    assert p.payment_per_success == Decimal("47000.00")
    assert p.currency == "SEK"
    assert p.floor_share == Decimal("0.10")
    assert p.ceiling_share == Decimal("0.80")
    assert p.min_attributed == 50
    assert p.switch_months == 18
    assert p.budget_authorization == Decimal("1000000000.00")
    assert (p.priority_bmi_above, p.priority_age_min, p.priority_age_max) == (
        Decimal("25"), 20, 60)
    assert (p.payments_from, p.payments_until) == (date(2028, 1, 1), date(2029, 3, 31))
    assert p.followup_measures == ["hba1c", "triglycerides", "cholesterol_total", "ldl", "hdl",
                                   "bmi", "findrisc"]
    assert (p.followup_grace_days, p.reminder_days_before) == (30, 14)


def test_the_budget_leaves_the_evaluator_about_13_msek(prediabetes: Programme) -> None:
    # 21,000 payable outcomes at 47,000 each = 987 MSEK; the rest is the evaluator's.
    assert prediabetes.max_paid_count == 21_000
    assert prediabetes.max_outcome_payments == Decimal("987000000.00")
    assert prediabetes.evaluator_share == Decimal("13000000.00")


def test_model_defaults_match_the_migrated_programme(prediabetes: Programme) -> None:
    fresh = Programme(code="other", name="Other")
    for field in Programme._meta.concrete_fields:
        if field.name in {"id", "code", "name", "description", "created_at", "updated_at"}:
            continue
        assert getattr(fresh, field.name) == getattr(prediabetes, field.name), field.name


@pytest.mark.parametrize("changes", [
    {"cap": 0},
    {"floor_share": Decimal("0.9"), "ceiling_share": Decimal("0.8")},
    {"inclusion_hba1c_min": Decimal("48")},
    {"inclusion_hba1c_max": Decimal("48")},
    {"priority_months": 13},
    {"switch_months": 25},
    {"priority_age_min": 61},
    {"payment_per_success": Decimal("-1")},
    {"payments_until": date(2027, 12, 31)},
])
def test_the_database_refuses_inconsistent_parameters(changes: dict) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Programme.objects.create(code="bad", name="Bad", **changes)


def test_caseworkers_see_and_edit_the_programme_in_the_admin(
    caseworker_client, prediabetes: Programme
) -> None:
    url = f"/admin/programs/programme/{prediabetes.pk}/change/"
    page = caseworker_client.get(url)
    assert page.status_code == 200
    assert b'name="cap"' in page.content
    saved = caseworker_client.post(url, {**_form_data(prediabetes), "cap": "25000"})
    assert saved.status_code == 302, saved.content
    prediabetes.refresh_from_db()
    assert prediabetes.cap == 25_000


def _form_data(programme: Programme) -> dict[str, str]:
    import json

    from django.forms.models import model_to_dict

    data = model_to_dict(programme)
    return {key: json.dumps(value) if isinstance(value, list) else str(value)
            for key, value in data.items() if key != "id" and value is not None}
