from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from apps.programs.models import Programme
from apps.programs.selectors import care_threshold, programme_terms, referral_score_threshold

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
    {"priority_months": 13},
    {"switch_months": 25},
    {"payment_per_success": Decimal("-1")},
    {"payments_until": date(2027, 12, 31)},
])
def test_the_database_refuses_inconsistent_parameters(changes: dict) -> None:
    with pytest.raises(IntegrityError), transaction.atomic():
        Programme.objects.create(code="bad", name="Bad", **changes)


def test_the_first_programme_s_rules_are_its_shipped_definition(prediabetes: Programme) -> None:
    terms = programme_terms(prediabetes)
    assert referral_score_threshold(terms) == 13
    assert [(check.condition.op, check.condition.threshold, check.effect)
            for check in terms.inclusion] == [
        ("ge", Decimal("42"), "require"), ("ge", Decimal("48"), "refer"),
        ("le", Decimal("47"), "require")]
    assert care_threshold(terms, "hba1c") == Decimal("48")
    assert [(c.subject, c.op, c.threshold) for c in terms.priority if c.subject != "priority_area"
            ] == [("bmi", "gt", Decimal("25")), ("age", "ge", Decimal("20")),
                  ("age", "le", Decimal("60"))]
    # The programme row carries the current version's figures.
    assert (prediabetes.cap, prediabetes.payment_per_success, prediabetes.min_attributed) == (
        terms.cap, terms.payment.per_success, terms.payment.min_attributed)


def test_caseworkers_see_the_programme_but_change_it_only_by_a_new_version(
    caseworker_client, prediabetes: Programme
) -> None:
    url = f"/admin/programs/programme/{prediabetes.pk}/change/"
    page = caseworker_client.get(url)
    assert page.status_code == 200
    assert b'name="cap"' not in page.content and b'name="payment_per_success"' not in page.content
    assert b'name="name"' in page.content
    saved = caseworker_client.post(url, {"name": "Prediabetes", "description": "",
                                         "cap": "25000", "payment_per_success": "1"})
    assert saved.status_code == 302, saved.content
    prediabetes.refresh_from_db()
    assert (prediabetes.name, prediabetes.cap, prediabetes.payment_per_success) == (
        "Prediabetes", 30_000, Decimal("47000.00"))
