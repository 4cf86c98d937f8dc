"""The forecast per provider: quarterly means, projections, expected payout and savings.

A small programme is built through the real services (enrollment, values as a
laboratory reports them, a correction, a death), and every figure is compared
with its hand computation.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.core import clock
from apps.measurements.models import FollowUpDue
from apps.measurements.services import MeasurementInput, Reporter, measurements_record_batch
from apps.programs.models import Programme
from apps.providers.models import Provider
from apps.registry.models import Prepatient
from apps.registry.services import lifecycle_register_death, listing_switch, prepatient_enroll
from apps.settlements.forecast import (
    QuarterMean,
    forecast_programme,
    mean_quarterly_change,
    pooled,
    quarter_since,
    quarterly_trend,
)
from tests.factories import ProviderFactory, UserFactory, version_publish

pytestmark = pytest.mark.django_db

D = Decimal
FEB = date(2026, 2, 2)  # enrolled: end 2028-02-02, decided by AS_OF
AUG = date(2026, 8, 3)  # enrolled: end 2028-08-03, pending on AS_OF
AS_OF = date(2028, 3, 15)
LAB = Reporter.for_lab("forecast-lab")
_references = itertools.count(1)


def enroll(make_candidate: Callable[..., Prepatient], provider: Provider, on: date, *,
           baseline: bool = True) -> Prepatient:
    with clock.travel_to(on):
        prepatient = prepatient_enroll(prepatient=make_candidate(), provider=provider)
    if baseline:  # the baseline set is complete (its completion is tested with measurements)
        FollowUpDue.objects.filter(prepatient=prepatient, index=0).update(
            completed_at=clock.now())
    return prepatient


def record(prepatient: Prepatient, taken_on: date, value: str, *, reporter: Reporter = LAB,
           corrects: str = "", reported_on: date | None = None) -> str:
    reference = f"forecast-{next(_references)}"
    with clock.travel_to(reported_on or taken_on):
        result = measurements_record_batch(
            items=[MeasurementInput(prepatient=prepatient.pseudonym, type="hba1c",
                                    value=D(value), unit="mmol/mol", taken_on=taken_on,
                                    source_reference=reference, corrects=corrects)],
            reporter=reporter)
    assert result.committed, [item.errors for item in result.items]
    return reference


@dataclass
class Built:
    programme: Programme
    a: Provider
    b: Provider
    people: dict[str, Prepatient]


@pytest.fixture
def built(make_candidate: Callable[..., Prepatient], programme: Programme) -> Built:
    """Provider A (5 attributed) and provider B (3 attributed); minimum 4 attributed.

    A: a1 (Feb) 45, 44, then 40 at 24 months → success; a2 (Feb) 46, 46, then 44 →
       failure; a3 (Aug) 44, 47 corrected to 43.5, 43 → pending; a4 (Aug) 46, 45 (and a
       provider-reported 30, not a lab value), 46 (and a lab 30 after AS_OF) →
       pending; a5 (Aug) no laboratory value → pending; c1 (Aug) no baseline →
       excluded, its 30 counts nowhere.
    B: b1 44, b3 43.5, b4 46.5 (Aug, quarter 0 only) → pending; d1 (Aug) 30, 30 →
       died 2027-01-10: excluded.
    """
    version_publish(programme, {"payment.min_attributed": 4})
    a = ProviderFactory(name="Provider A")
    b = ProviderFactory(name="Provider B")
    p: dict[str, Prepatient] = {}
    for name, provider, on in (("a1", a, FEB), ("a2", a, FEB), ("a3", a, AUG), ("a4", a, AUG),
                               ("a5", a, AUG), ("b1", b, AUG), ("b3", b, AUG), ("b4", b, AUG),
                               ("d1", b, AUG)):
        p[name] = enroll(make_candidate, provider, on)
    p["c1"] = enroll(make_candidate, a, AUG, baseline=False)

    record(p["a1"], date(2026, 2, 10), "45")  # quarter 0 (2026-02-02 – 2026-05-01)
    record(p["a1"], date(2026, 5, 10), "44")  # quarter 1
    record(p["a1"], date(2028, 2, 2), "40")  # quarter 8, the deciding sample
    record(p["a2"], date(2026, 2, 10), "46")
    record(p["a2"], date(2026, 5, 10), "46")
    record(p["a2"], date(2028, 2, 5), "44")
    record(p["a3"], date(2026, 8, 10), "44")  # quarter 0 (2026-08-03 – 2026-11-02)
    wrong = record(p["a3"], date(2026, 11, 10), "47")  # quarter 1, corrected below
    record(p["a3"], date(2026, 11, 10), "43.5", corrects=wrong, reported_on=date(2026, 11, 12))
    record(p["a3"], date(2027, 2, 10), "43")  # quarter 2: the latest value
    record(p["a4"], date(2026, 8, 10), "46")
    record(p["a4"], date(2026, 11, 10), "45")
    record(p["a4"], date(2026, 11, 20), "30", reporter=Reporter.for_provider(a))
    record(p["a4"], date(2027, 2, 10), "46")
    record(p["a4"], date(2028, 4, 1), "30")  # after AS_OF: not seen
    record(p["c1"], date(2026, 8, 10), "30")
    record(p["b1"], date(2026, 8, 10), "44")
    record(p["b3"], date(2026, 8, 10), "43.5")
    record(p["b4"], date(2026, 8, 10), "46.5")
    record(p["d1"], date(2026, 8, 10), "30")
    record(p["d1"], date(2026, 11, 10), "30")
    with clock.travel_to(date(2027, 1, 12)):
        lifecycle_register_death(prepatient=p["d1"], on=date(2027, 1, 10), note="Registered",
                                 actor=UserFactory())
    return Built(programme, a, b, p)


def means(trend: list[QuarterMean]) -> dict[int, tuple[int, Decimal]]:
    return {q.quarter: (q.values, q.total) for q in trend}


def test_quarterly_means_per_provider_are_computed_in_the_database(built: Built) -> None:
    with CaptureQueriesContext(connection) as queries:
        trend = quarterly_trend(built.programme, AS_OF)
    assert len(queries) == 2  # the outcome type, then one aggregate
    assert means(trend[built.a.pk]) == {
        0: (4, D("181")),  # 45 + 46 + 44 + 46 (c1's 30: no baseline)
        1: (4, D("178.5")),  # 44 + 46 + 43.5 (the correction, not 47) + 45 (not the provider's 30)
        2: (2, D("89")),  # 43 + 46
        8: (2, D("84")),  # 40 + 44
    }
    assert means(trend[built.b.pk]) == {0: (3, D("134"))}  # d1 died: left out
    a = {q.quarter: q.mean_rounded for q in trend[built.a.pk]}
    assert a == {0: D("45.25"), 1: D("44.63"), 2: D("44.50"), 8: D("42.00")}


def test_the_mean_quarterly_change_averages_consecutive_quarters() -> None:
    def quarter(number: int, mean: str) -> QuarterMean:
        return QuarterMean(number, 2, D(mean) * 2)

    assert mean_quarterly_change([quarter(0, "45"), quarter(1, "44"), quarter(2, "43.5")]) \
        == D("-0.75")
    # a gap: only (0, 1) and (3, 4) are consecutive
    assert mean_quarterly_change([quarter(0, "45"), quarter(1, "44"), quarter(3, "44"),
                                  quarter(4, "42")]) == D("-1.5")
    assert mean_quarterly_change([quarter(0, "45"), quarter(2, "44")]) is None
    assert mean_quarterly_change([]) is None
    both = pooled([[quarter(0, "45")], [QuarterMean(0, 1, D("42"))]])
    assert both == [QuarterMean(0, 3, D("132"))]


@pytest.mark.parametrize(("enrolled", "taken", "quarter"), [
    (date(2026, 8, 3), date(2026, 8, 3), 0),
    (date(2026, 8, 3), date(2026, 11, 2), 0),
    (date(2026, 8, 3), date(2026, 11, 3), 1),
    (date(2026, 1, 31), date(2026, 4, 30), 0),  # the 31st is not reached in April
    (date(2026, 1, 31), date(2026, 5, 1), 1),
    (date(2026, 2, 2), date(2028, 2, 2), 8),
])
def test_quarters_since_enrollment_in_python_match_the_database(enrolled: date, taken: date,
                                                                 quarter: int) -> None:
    assert quarter_since(enrolled, taken) == quarter


def test_the_forecast_projects_each_pending_prepatient_by_hand(built: Built) -> None:
    """A's change: (44.625 − 45.25 + 44.5 − 44.625) / 2 = −0.375. B has one quarter
    only and uses the programme's: pooled quarter 0 = 315 / 7 = 45, quarter 1 44.625,
    quarter 2 44.5 → (−0.375 − 0.125) / 2 = −0.25."""
    result = forecast_programme(built.programme, AS_OF)
    assert result.programme_change == D("-0.25")
    a, b = result.providers
    assert (a.name, a.quarterly_change, a.change_source) == ("Provider A", D("-0.375"),
                                                             "provider")
    assert (b.name, b.quarterly_change, b.change_source) == ("Provider B", D("-0.25"),
                                                             "programme")
    names = {person.pseudonym: name for name, person in built.people.items()}
    projections = {names[p.id]: p for p in result.projections}
    assert set(projections) == {"a3", "a4", "a5", "b1", "b3", "b4"}

    def figures(name: str) -> tuple[Any, ...]:
        p = projections[name]
        return (p.latest_value, p.quarter, p.quarters_remaining, p.projected, p.expected_success)

    assert figures("a3") == (D("43"), 2, 6, D("40.8"), True)  # 43 − 6 × 0.375 = 40.75
    assert figures("a4") == (D("46"), 2, 6, D("43.8"), False)  # not the 30 after AS_OF
    assert figures("a5") == (None, None, 0, None, False)  # no laboratory value
    assert figures("b1") == (D("44"), 0, 8, D("42.0"), False)  # 42.0 is not below 42
    assert figures("b3") == (D("43.5"), 0, 8, D("41.5"), True)
    assert figures("b4") == (D("46.5"), 0, 8, D("44.5"), False)


def test_expected_paid_counts_and_amounts_follow_the_settlement_rules(built: Built) -> None:
    """A: N 5, S 1 decided + 1 projected = 2 → min(2, floor(4)) − ceil(0.5) = 1 paid.
    B: N 3 is below the minimum of 4 → nothing paid for its 1 projected success."""
    result = forecast_programme(built.programme, AS_OF)
    a, b = result.providers
    assert (a.attributed, a.successes, a.failures, a.pending, a.projected_successes,
            a.without_value) == (5, 1, 1, 3, 1, 1)
    assert (a.expected_successes, a.expected_paid_count, a.expected_amount) == (
        2, 1, D("47000.00"))
    assert a.expected.eligible
    assert (b.attributed, b.successes, b.failures, b.pending, b.projected_successes) == (
        3, 0, 0, 3, 1)
    assert (b.expected.eligible, b.expected_paid_count, b.expected_amount) == (
        False, 0, D("0.00"))
    assert (result.attributed, result.expected_successes, result.expected_paid_count,
            result.expected_amount) == (8, 3, 1, D("47000.00"))


def test_expected_savings_are_set_against_the_expected_payments(built: Built) -> None:
    result = forecast_programme(built.programme, AS_OF)
    a, b = result.providers
    assert result.savings.per_success.total == D("119756")
    assert a.expected_savings == D("239512")  # 2 × 119,756
    assert b.expected_savings == D("119756")  # unpaid successes still save
    assert result.expected_savings == D("359268")
    assert isinstance(result.expected_amount, Decimal)
    assert a.savings_ratio == D("5.10")  # 239,512 / 47,000 = 5.096
    assert b.savings_ratio is None  # nothing paid
    assert result.savings_ratio == D("7.64")  # 359,268 / 47,000
    assert result.expected_savings_by_component.total == result.expected_savings


def test_the_forecast_takes_a_few_queries_whatever_the_size(built: Built) -> None:
    with CaptureQueriesContext(connection) as queries:
        forecast_programme(built.programme, AS_OF)
    reads = [q for q in queries.captured_queries
             if not q["sql"].startswith(("SAVEPOINT", "RELEASE SAVEPOINT", "SET "))]
    # the current version, rules and unit spellings (types, units: 5), providers and
    # authorization (2), the five streams of the input, the trend (outcome type,
    # aggregate): a constant number.
    assert len(reads) <= 14


def test_the_default_date_is_today(built: Built) -> None:
    with clock.travel_to(AS_OF):
        assert forecast_programme(built.programme).as_of == AS_OF


def test_a_switch_counts_for_the_provider_listed_on_the_forecast_date(
    make_candidate: Callable[..., Prepatient], programme: Programme,
) -> None:
    a, b = ProviderFactory(name="First"), ProviderFactory(name="Second")
    person = enroll(make_candidate, a, AUG)
    record(person, date(2026, 8, 10), "45")
    record(person, date(2026, 11, 10), "44")
    with clock.travel_to(date(2027, 1, 15)):
        listing_switch(prepatient=person, provider=b)
    record(person, date(2027, 2, 10), "43")
    before = quarterly_trend(programme, date(2026, 12, 1))
    assert set(before) == {a.pk}
    assert means(before[a.pk]) == {0: (1, D("45")), 1: (1, D("44"))}
    after = quarterly_trend(programme, date(2027, 3, 1))
    assert set(after) == {b.pk}  # every value, also those taken while with the first
    assert means(after[b.pk]) == {0: (1, D("45")), 1: (1, D("44")), 2: (1, D("43"))}
    result = forecast_programme(programme, date(2027, 3, 1))
    (second,) = result.providers
    assert (second.name, second.pending, second.quarterly_change) == ("Second", 1, D("-1"))
    (projection,) = result.projections
    assert projection.projected == D("37.0")  # 43 − 6 × 1


def test_an_empty_programme_forecasts_nothing(programme: Programme) -> None:
    result = forecast_programme(programme, AS_OF)
    assert result.providers == ()
    assert result.expected_amount == D("0.00")
    assert result.savings_ratio is None
    assert result.programme_change is None


# --- The admin page -------------------------------------------------------------------------


@pytest.fixture
def viewer(client: Any, settings: Any) -> Any:
    from django.contrib.auth.models import Permission

    settings.STAFF_MFA_REQUIRED = False
    user = UserFactory(username="forecast-viewer", is_staff=True)
    user.user_permissions.add(Permission.objects.get(
        content_type__app_label="settlements", codename="view_settlementrun"))
    client.force_login(user)
    return client


def forecast_url(programme: Programme) -> str:
    return f"/admin/settlements/settlementrun/forecast/{programme.pk}/"


def test_the_forecast_page_shows_charts_with_tables_and_the_assumptions(built: Built,
                                                                       viewer: Any) -> None:
    with clock.travel_to(AS_OF), CaptureQueriesContext(connection) as queries:
        response = viewer.get(forecast_url(built.programme))
    assert response.status_code == 200
    assert len(queries) < 30  # computed once, nothing per provider or prepatient
    html = response.content.decode()
    for chart in ("chart-trend", "chart-payout", "chart-model"):
        assert f'data-chart="{chart}"' in html  # the canvas
        assert f'id="{chart}" type="application/json"' in html  # its figures
    for table in ("table-summary", "table-trend", "table-providers", "table-model",
                  "table-parameters", "table-horizons"):
        assert f'id="{table}"' in html
    assert "vendor/chartjs/chart.umd.min.js" in html and "cdn" not in html.lower()
    # the admin speaks Swedish (the default language): "47 000,00" → "47000.00"
    plain = html.replace("\xa0", "").replace("\u202f", "").replace(",", ".")
    for figure in ("375000 SEK", "725000 SEK", "400000 SEK", "5 %", "20 %", "3 %",
                   "119756", "47000.00", "359268", "7.64", "5.10", "45.25", "44.63",
                   "-0.38", "-0.25", "Provider A", "Provider B"):
        assert figure in plain, figure
    # aggregates only: no programme ID and no single person's value on the page
    assert not any(person.pseudonym in html for person in built.people.values())
    assert "40.8" not in plain


def test_the_forecast_page_is_refused_without_the_view_permission(built: Built, client: Any,
                                                                  settings: Any) -> None:
    settings.STAFF_MFA_REQUIRED = False
    client.force_login(UserFactory(username="staff-without-perms", is_staff=True))
    assert client.get(forecast_url(built.programme)).status_code == 403
    client.force_login(UserFactory(username="not-staff"))
    response = client.get(forecast_url(built.programme))
    assert response.status_code == 302 and "/login/" in response["Location"]


def test_the_settlement_run_list_links_to_the_forecast(programme: Programme,
                                                        viewer: Any) -> None:
    response = viewer.get("/admin/settlements/settlementrun/")
    assert response.status_code == 200
    assert forecast_url(programme) in response.content.decode()
    assert viewer.get("/admin/settlements/settlementrun/forecast/999999/").status_code == 404


def test_the_forecast_page_is_kept_for_a_while_and_computed_again_on_request(
        caseworker_client, programme) -> None:
    from unittest import mock

    from apps.settlements import forecast

    url = f"/admin/settlements/settlementrun/forecast/{programme.pk}/"
    with mock.patch.object(forecast, "forecast_programme",
                           wraps=forecast.forecast_programme) as computed:
        assert caseworker_client.get(url).status_code == 200
        assert caseworker_client.get(url).status_code == 200
        assert computed.call_count == 1
        page = caseworker_client.get(url + "?refresh=1")
        assert computed.call_count == 2
    assert b"?refresh=1" in page.content


# --- The savings model's parameters are the version's ---------------------------------------


def test_the_savings_model_runs_on_the_current_versions_parameters(
        programme: Programme) -> None:
    from apps.settlements.savings import REPORT_PARAMETERS, report_references, whole_sek

    shipped = forecast_programme(programme, AS_OF)
    assert shipped.savings is not None and shipped.savings.parameters == REPORT_PARAMETERS
    assert report_references(shipped.savings.parameters)  # the report's figures beside it
    version_publish(programme, {"savings.direct_healthcare": "0",
                                "savings.lost_production": "0",
                                "savings.social_insurance": "100000",
                                "savings.horizon_years": "10"})
    result = forecast_programme(programme, AS_OF)
    assert result.savings is not None
    parameters = result.savings.parameters
    assert (parameters.direct_healthcare, parameters.social_insurance,
            parameters.horizon_years) == (D("0"), D("100000"), 10)
    per_success = result.savings.per_success
    assert (per_success.direct_healthcare, per_success.lost_production) == (D("0"), D("0"))
    assert per_success.social_insurance == whole_sek(D("100000")
                                                     * result.savings.avoided_cases) > 0
    assert report_references(parameters) == {}  # other numbers: no borrowed comparison


def test_a_version_without_savings_parameters_has_no_savings_estimate(
        built: Built, viewer: Any) -> None:
    version_publish(built.programme, {"savings": {}})
    result = forecast_programme(built.programme, AS_OF)
    assert result.savings is None
    assert result.expected_savings is None and result.savings_ratio is None
    assert result.expected_savings_by_component is None
    with clock.travel_to(AS_OF):
        html = viewer.get(forecast_url(built.programme)).content.decode()
    from django.utils import translation

    with translation.override("sv"):  # the admin speaks Swedish
        note = translation.gettext(
            "This programme version's definition has no savings model parameters, so no "
            "societal savings are estimated. A later version can add them.")
    assert note in html
    assert 'data-chart="chart-model"' not in html and 'id="table-parameters"' not in html
    assert 'id="table-summary"' in html  # the payments are still forecast
