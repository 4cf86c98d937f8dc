"""The chart figures, the overdue list and a provider's prepatients, computed in the database.

Data goes through the real services: enrollment with ``prepatient_enroll``,
values with ``measurements_record_batch`` as a laboratory reports them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.utils import translation
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.core import clock
from apps.measurements import selectors
from apps.measurements.models import AcceptedUnit, FollowUpDue, Measurement, MeasurementType
from apps.measurements.selectors import (
    ProviderCompliance,
    QuarterFigure,
    SeriesPoint,
    followups_overdue,
    is_overdue,
    provider_prepatients,
)
from apps.measurements.services import MeasurementInput, Reporter, measurements_record_batch
from apps.programs.models import Programme
from apps.providers.models import Provider
from apps.registry.models import ExclusionReason, Prepatient, PrepatientState
from apps.registry.services import (
    lifecycle_exclude,
    lifecycle_register_death,
    prepatient_enroll,
)
from prevention_engine import followup
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db

ENROLL_ON = date(2026, 8, 3)
LAB = Reporter.for_lab("x")
_references = itertools.count(1)

# One complete follow-up set (SPEC §3.2), canonical units.
FULL_SET = (("triglycerides", "1.50", "mmol/L"), ("cholesterol_total", "5.00", "mmol/L"),
            ("ldl", "3.00", "mmol/L"), ("hdl", "1.20", "mmol/L"), ("bmi", "27.0", "kg/m2"),
            ("findrisc", "12", "score"))


# --- Builders, shared with test_admin.py --------------------------------------------------


def enroll(make_candidate: Callable[..., Prepatient],
           provider: Provider | None = None) -> Prepatient:
    with clock.travel_to(ENROLL_ON):
        return prepatient_enroll(prepatient=make_candidate(),
                                 provider=provider or ProviderFactory())


def record(prepatient: Prepatient, taken_on: date, value: str, *, code: str = "hba1c",
           unit: str = "mmol/mol", corrects: str = "", reporter: Reporter = LAB,
           reported_on: date | None = None) -> str:
    """One value as the reporter sends it; returns its source reference."""
    reference = f"sample-{next(_references)}"
    with clock.travel_to(reported_on or taken_on):
        result = measurements_record_batch(
            items=[MeasurementInput(prepatient=prepatient.pseudonym, type=code,
                                    value=Decimal(value), unit=unit, taken_on=taken_on,
                                    source_reference=reference, corrects=corrects)],
            reporter=reporter,
        )
    assert result.committed, [item.errors for item in result.items]
    return reference


def full_set(prepatient: Prepatient, taken_on: date, hba1c: str = "44") -> None:
    """Every measure of a follow-up set, taken on one day, in one batch."""
    items = [MeasurementInput(prepatient=prepatient.pseudonym, type=code, value=Decimal(value),
                              unit=unit, taken_on=taken_on,
                              source_reference=f"set-{next(_references)}")
             for code, value, unit in (("hba1c", hba1c, "mmol/mol"), *FULL_SET)]
    with clock.travel_to(taken_on):
        result = measurements_record_batch(items=items, reporter=LAB)
    assert result.committed, [item.errors for item in result.items]


def hand_computed_programme(make_candidate: Callable[..., Prepatient]) -> list[Prepatient]:
    """Four prepatients enrolled on 2026-08-03 with known values per quarter.

    Quarter 0 (2026-08-03 – 2026-11-02), each prepatient's latest lab value:
      44, 45, 46 and 47 (p4's 43 of August is followed by 47 on 2026-11-02)
      → n 4, median 45.5, none below 42.
    Quarter 1 (2026-11-03 – 2027-02-02):
      p1 41 then 39 (latest counts: 39); p2 43 corrected to 41 (41); p3 42;
      p4 only a provider-reported 30 (not a lab value: not counted)
      → n 3, median 41, two below 42 (39 and 41; 42 is not below).
    Not counted anywhere: p1's lab value taken before enrollment.
    """
    p1, p2, p3, p4 = (enroll(make_candidate) for _ in range(4))
    record(p1, date(2026, 7, 20), "40", reported_on=date(2026, 8, 10))  # before enrollment
    record(p1, date(2026, 8, 10), "44")
    record(p2, date(2026, 8, 10), "45")
    record(p3, date(2026, 9, 1), "46")
    record(p4, date(2026, 8, 10), "43")
    record(p4, date(2026, 11, 2), "47")  # the last day of quarter 0
    record(p1, date(2026, 11, 3), "41")  # the first day of quarter 1
    record(p1, date(2026, 12, 1), "39")
    wrong = record(p2, date(2026, 12, 1), "43")
    record(p2, date(2026, 12, 1), "41", corrects=wrong, reported_on=date(2026, 12, 5))
    record(p3, date(2027, 1, 15), "42")
    record(p4, date(2026, 12, 1), "30", reporter=Reporter.for_provider(p4.current_provider))
    return [p1, p2, p3, p4]


# --- Quarters and the median --------------------------------------------------------------


def test_hba1c_by_quarter_gives_the_hand_computed_median_and_share_below(
    make_candidate: Callable[..., Prepatient], programme: Programme
) -> None:
    hand_computed_programme(make_candidate)

    figures = selectors.outcome_by_quarter(programme)

    assert figures == [
        QuarterFigure(quarter=0, n=4, median=Decimal("45.50"), below=0),
        QuarterFigure(quarter=1, n=3, median=Decimal("41.00"), below=2),
    ]
    assert figures[0].share_below == 0
    assert figures[1].share_below == pytest.approx(2 / 3)
    assert figures[1].months == (3, 6)


def test_a_quarter_is_three_whole_months_from_the_enrollment_day(
    make_candidate: Callable[..., Prepatient], programme: Programme
) -> None:
    prepatient = enroll(make_candidate)  # 2026-08-03
    for day, value in ((date(2026, 11, 2), "44"), (date(2026, 11, 3), "43"),
                       (date(2027, 2, 2), "42"), (date(2027, 2, 3), "41"),
                       (date(2028, 8, 3), "40")):
        record(prepatient, day, value)

    figures = {figure.quarter: figure.median for figure in selectors.outcome_by_quarter(programme)}

    assert figures == {0: Decimal("44.00"), 1: Decimal("42.00"), 2: Decimal("41.00"),
                       8: Decimal("40.00")}


def test_a_median_of_an_odd_count_is_the_middle_value(
    make_candidate: Callable[..., Prepatient], programme: Programme
) -> None:
    for value in ("47", "41", "44"):
        record(enroll(make_candidate), date(2026, 9, 1), value)

    [figure] = selectors.outcome_by_quarter(programme)

    assert (figure.n, figure.median, figure.below) == (3, Decimal("44.00"), 1)


def test_deceased_prepatients_are_left_out_of_the_quarters(
    make_candidate: Callable[..., Prepatient], programme: Programme
) -> None:
    alive, deceased = enroll(make_candidate), enroll(make_candidate)
    record(alive, date(2026, 9, 1), "44")
    record(deceased, date(2026, 9, 1), "40")
    with clock.travel_to(date(2026, 10, 1)):
        lifecycle_register_death(prepatient=deceased, on=date(2026, 9, 20), note="Registry",
                                 actor=None)

    assert selectors.outcome_by_quarter(programme) == [
        QuarterFigure(quarter=0, n=1, median=Decimal("44.00"), below=0)]


def test_a_measurement_type_is_found_by_its_code(programme: Programme) -> None:
    found = selectors.measurement_type_by_code(programme.outcome_measure)
    assert found is not None and found.code == programme.outcome_measure
    assert selectors.measurement_type_by_code("no-such-measure") is None


def test_no_values_give_no_quarters(programme: Programme) -> None:
    assert selectors.outcome_by_quarter(programme) == []


def test_the_quarters_take_a_bounded_number_of_queries(
    make_candidate: Callable[..., Prepatient], programme: Programme,
    django_assert_max_num_queries: Any,
) -> None:
    hand_computed_programme(make_candidate)
    with django_assert_max_num_queries(2):  # the grouped figures (+ the medians on SQLite)
        selectors.outcome_by_quarter(programme)


# --- Follow-up compliance per provider ----------------------------------------------------


def test_compliance_counts_completed_due_dates_among_those_already_due(
    make_candidate: Callable[..., Prepatient], programme: Programme
) -> None:
    # Due dates: baseline 2026-09-02 (window from enrollment), #1 2026-11-03, #2 2027-02-03.
    alpha = ProviderFactory(name="Alfa Hälsa")
    beta = ProviderFactory(name="Beta Vård")
    diligent, halfway = enroll(make_candidate, alpha), enroll(make_candidate, alpha)
    enroll(make_candidate, beta)  # idle: no values at all
    left = enroll(make_candidate, beta)
    deceased = enroll(make_candidate, beta)
    full_set(diligent, date(2026, 8, 20))
    full_set(diligent, date(2026, 10, 15))
    full_set(halfway, date(2026, 8, 25))
    with clock.travel_to(date(2026, 11, 10)):
        lifecycle_exclude(prepatient=left, reason=ExclusionReason.MISSED_FOLLOWUP,
                          on=date(2026, 9, 10))
        lifecycle_register_death(prepatient=deceased, on=date(2026, 10, 1), note="Registry",
                                 actor=None)

    figures = selectors.compliance_by_provider(programme, today=date(2026, 11, 10))

    assert figures == [
        # diligent 2 of 2, halfway 1 of 2
        ProviderCompliance(provider_id=alpha.pk, provider_name="Alfa Hälsa", due=4,
                           completed=3),
        # idle 0 of 2; left only the baseline (due before leaving); deceased not counted
        ProviderCompliance(provider_id=beta.pk, provider_name="Beta Vård", due=3, completed=0),
    ]
    assert figures[0].share == pytest.approx(0.75)
    assert figures[1].share == 0


def test_a_due_date_counts_only_once_it_has_passed(
    make_candidate: Callable[..., Prepatient], programme: Programme
) -> None:
    provider = ProviderFactory(name="Gamma")
    enroll(make_candidate, provider)

    assert selectors.compliance_by_provider(programme, today=date(2026, 9, 2)) == []
    [figure] = selectors.compliance_by_provider(programme, today=date(2026, 9, 3))
    assert (figure.due, figure.completed) == (1, 0)


# --- One prepatient's series --------------------------------------------------------------


def test_the_hba1c_series_is_the_current_values_oldest_first(
    make_candidate: Callable[..., Prepatient]
) -> None:
    prepatient = enroll(make_candidate)
    record(prepatient, date(2026, 11, 5), "43")
    wrong = record(prepatient, date(2026, 9, 1), "46")
    record(prepatient, date(2026, 9, 1), "45", corrects=wrong, reported_on=date(2026, 9, 2))
    record(prepatient, date(2026, 10, 1), "5.0", code="hdl", unit="mmol/L")
    provider = Reporter.for_provider(prepatient.current_provider)
    record(prepatient, date(2026, 12, 1), "42", reporter=provider)

    assert selectors.outcome_series(prepatient) == [
        SeriesPoint(taken_on=date(2026, 9, 1), value=Decimal("45.000"), source="lab"),
        SeriesPoint(taken_on=date(2026, 11, 5), value=Decimal("43.000"), source="lab"),
        SeriesPoint(taken_on=date(2026, 12, 1), value=Decimal("42.000"), source="provider"),
    ]


# --- The overdue list ---------------------------------------------------------------------


def test_overdue_matches_the_service_that_excludes_and_reminds(
    make_candidate: Callable[..., Prepatient]
) -> None:
    done, late = enroll(make_candidate), enroll(make_candidate)
    full_set(done, date(2026, 8, 20))
    today = date(2026, 11, 10)

    with clock.travel_to(today):
        mine = list(selectors.overdue(FollowUpDue.objects.all()).order_by("due_on", "pk"))
        service = list(followups_overdue(today=today))

    assert mine == service
    assert [(due.prepatient_id, due.index) for due in mine] == [
        (late.pk, 0), (done.pk, 1), (late.pk, 1)]


# --- "Overdue" in SQL is the engine's rule ----------------------------------------------

STATES = [PrepatientState.ACTIVE, PrepatientState.ACTIVE, PrepatientState.EXCLUDED,
          PrepatientState.COMPLETED, PrepatientState.DROPPED_OUT]
DAYS = st.dates(min_value=date(2026, 8, 1), max_value=date(2027, 3, 1))
COMPLETED_AT = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


@settings(max_examples=60, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_the_overdue_queryset_is_the_engine_rule_on_generated_dates(
    programme: Programme, data: Any
) -> None:
    dues: list[FollowUpDue] = []
    for _ in range(data.draw(st.integers(1, 4))):
        prepatient = Prepatient.objects.create(
            programme=programme, state=data.draw(st.sampled_from(STATES)),
            enrolled_on=ENROLL_ON, end_date=date(2028, 8, 3), consent_valid=True)
        days = data.draw(st.lists(DAYS, min_size=0, max_size=4, unique=True))
        for index, day in enumerate(sorted(days)):
            dues.append(FollowUpDue.objects.create(
                prepatient=prepatient, index=index, due_on=day, window_start=day,
                window_end=day, completed_at=COMPLETED_AT if data.draw(st.booleans()) else None))
    today = data.draw(st.one_of(DAYS, st.sampled_from([due.due_on for due in dues] or
                                                     [ENROLL_ON])))

    in_sql = selectors.overdue(FollowUpDue.objects.filter(pk__in=[due.pk for due in dues]),
                               today)
    by_rule = {due.pk for due in dues
               if due.prepatient.state == PrepatientState.ACTIVE
               and followup.overdue(due_on=due.due_on, complete=due.completed_at is not None,
                                    today=today)}
    assert set(in_sql.values_list("pk", flat=True)) == by_rule


# --- A provider's overdue prepatients (the API's filter) follow the engine's rule -------
# The filter (SQL) and each row's ``overdue`` agree with ``followup.overdue``.

VISIBLE = [PrepatientState.ACTIVE, PrepatientState.ACTIVE, PrepatientState.EXCLUDED,
           PrepatientState.COMPLETED]


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_the_overdue_filter_and_each_rows_overdue_follow_the_engine_rule(
    programme: Programme, data: Any
) -> None:
    provider = ProviderFactory()
    today = data.draw(DAYS)
    expected: dict[int, bool] = {}
    for _ in range(data.draw(st.integers(1, 4))):
        prepatient = Prepatient.objects.create(
            programme=programme, state=data.draw(st.sampled_from(VISIBLE)),
            enrolled_on=date(2026, 8, 3), end_date=date(2028, 8, 3), consent_valid=True,
            current_provider=provider)
        sets = [(day, data.draw(st.booleans())) for day in sorted(
            data.draw(st.lists(DAYS, max_size=4, unique=True)))]
        for index, (day, complete) in enumerate(sets):
            FollowUpDue.objects.create(prepatient=prepatient, index=index, due_on=day,
                                       window_start=day, window_end=day,
                                       completed_at=COMPLETED_AT if complete else None)
        expected[prepatient.pk] = prepatient.state == PrepatientState.ACTIVE and any(
            followup.overdue(due_on=day, complete=complete, today=today)
            for day, complete in sets)

    rows = list(provider_prepatients(provider, today=today))
    assert {row.pk: is_overdue(row, today=today) for row in rows} == expected
    assert set(provider_prepatients(provider, today=today, overdue=True)
               .values_list("pk", flat=True)) == {pk for pk, late in expected.items() if late}
    assert set(provider_prepatients(provider, today=today, overdue=False)
               .values_list("pk", flat=True)) == {pk for pk, late in expected.items()
                                                  if not late}


# --- Types ---------------------------------------------------------------------------------


def test_the_accepted_loinc_codes_and_units_come_from_the_types(
    programme: Programme, django_assert_num_queries: Any,
) -> None:
    glucose = MeasurementType.objects.create(
        code="glucose", name_sv="Glukos", name_en="Glucose", loinc="2345-7",
        canonical_unit="mmol/L", decimal_places=1, plausible_min=Decimal("1"),
        plausible_max=Decimal("40"))
    AcceptedUnit.objects.create(type=glucose, unit="mg/dL", multiply=Decimal("0.0555"))

    with django_assert_num_queries(2):  # the types, their units
        codes = selectors.accepted_loinc_codes()

    assert type(codes.loinc) is dict and type(codes.units) is dict
    # A type's own code implies no unit; a code of UNIT_LOINC implies one.
    assert codes.loinc["29463-7"] == ("weight", "")
    assert codes.loinc["2345-7"] == ("glucose", "")
    assert codes.loinc["59261-8"] == ("hba1c", "mmol/mol")
    assert codes.loinc["4548-4"] == ("hba1c", "%")
    # A derived type (BMI) is not reported, and a type without a LOINC code has none.
    assert "39156-5" not in codes.loinc
    assert "findrisc" not in {code for code, _unit in codes.loinc.values()}
    assert codes.units["hba1c"] == ("mmol/mol", "%")
    assert codes.units["glucose"] == ("mmol/L", "mg/dL")
    assert codes.units["findrisc"] == ("score",)
    assert set(codes.units) == set(MeasurementType.objects.values_list("code", flat=True))


def test_a_unit_loinc_code_of_a_type_that_does_not_exist_is_not_accepted(
    programme: Programme,
) -> None:
    MeasurementType.objects.filter(code="hba1c").delete()
    codes = selectors.accepted_loinc_codes()
    assert "59261-8" not in codes.loinc and "4548-4" not in codes.loinc
    assert "hba1c" not in codes.units


def test_measurement_type_names_are_in_the_active_language(
    programme: Programme, django_assert_num_queries: Any,
) -> None:
    with translation.override("sv"):
        assert selectors.measurement_type_names(["weight", "hdl", "unknown"]) == {
            "weight": "Vikt", "hdl": "HDL-kolesterol"}
    with translation.override("en"):
        names = selectors.measurement_type_names()
    assert names["weight"] == "Weight"
    assert set(names) == set(MeasurementType.objects.values_list("code", flat=True))
    with django_assert_num_queries(0):
        assert selectors.measurement_type_names([]) == {}


# --- One prepatient ---------------------------------------------------------------------------


def test_a_provider_sees_only_the_source_references_it_reported(
    enrolled: Prepatient, provider: Provider,
) -> None:
    own = record(enrolled, date(2026, 9, 1), "44", reporter=Reporter.for_provider(provider))
    lab = record(enrolled, date(2026, 9, 2), "45")
    record(enrolled, date(2026, 9, 3), "80", code="weight", unit="kg")

    shown = {m.source_reference: m.shown_source_reference
             for m in selectors.prepatient_history(enrolled, provider=provider)}
    assert shown[own] == own and shown[lab] is None and len(shown) == 3
    other = ProviderFactory()
    assert {m.shown_source_reference
            for m in selectors.prepatient_history(enrolled, provider=other)} == {None}
    only_hba1c = selectors.prepatient_history(enrolled, type_code="hba1c", provider=provider)
    assert {m.source_reference for m in only_hba1c} == {own, lab}
    # Without a provider the history is as before: no reference is decided for anyone.
    plain = list(selectors.prepatient_history(enrolled))
    assert len(plain) == 3 and not hasattr(plain[0], "shown_source_reference")


def test_a_providers_reporter_reference_is_the_one_its_values_are_stored_under(
    enrolled: Prepatient, provider: Provider,
) -> None:
    reference = selectors.provider_reporter_reference(provider)
    assert Reporter.for_provider(provider).reference == reference
    record(enrolled, date(2026, 9, 1), "44", reporter=Reporter.for_provider(provider))
    assert Measurement.objects.get(prepatient=enrolled).reporter == reference


def test_a_prepatients_values_due_dates_and_notices_for_the_export(
    enrolled: Prepatient, make_candidate: Callable[..., Prepatient],
) -> None:
    someone_else = enroll(make_candidate)
    record(someone_else, date(2026, 9, 1), "50")
    high = record(enrolled, date(2026, 9, 5), "49")
    wrong = record(enrolled, date(2026, 9, 1), "40")
    record(enrolled, date(2026, 9, 1), "41", corrects=wrong, reported_on=date(2026, 9, 6))

    values = list(selectors.measurements_of(enrolled))
    assert [(m.taken_on, m.source_reference) for m in values][-1] == (date(2026, 9, 5), high)
    assert [m.taken_on for m in values] == sorted(m.taken_on for m in values)
    assert [hasattr(m, "superseded_by") for m in values
            if m.type.code == "hba1c"] == [True, False, False]
    dues = list(selectors.followup_dues_of(enrolled))
    assert dues and [due.index for due in dues] == list(range(len(dues)))
    assert {due.prepatient_id for due in dues} == {enrolled.pk}
    notices = list(selectors.safety_notices_of(enrolled))
    assert [notice.measurement.source_reference for notice in notices] == [high]
