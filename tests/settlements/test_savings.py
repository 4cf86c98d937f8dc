"""The societal savings model (SPEC §5): hand-computed values and its properties."""

from __future__ import annotations

from dataclasses import FrozenInstanceError, replace
from decimal import Decimal
from itertools import pairwise

import pytest

from apps.settlements.savings import (
    REPORT_DELAY,
    REPORT_PARAMETERS,
    Savings,
    SavingsParameters,
    cohort_years,
    infinite_horizon_avoided,
    savings_by_horizon,
    savings_per_success,
)

D = Decimal


def horizon(years: int, **changes: object) -> SavingsParameters:
    return replace(REPORT_PARAMETERS, horizon_years=years, **changes)


def test_the_parameters_are_those_of_the_spec() -> None:
    p = REPORT_PARAMETERS
    assert (p.direct_healthcare, p.lost_production, p.social_insurance) == (
        D("375000"), D("725000"), D("400000"))
    assert (p.annual_onset_risk, p.annual_relapse, p.discount_rate) == (
        D("0.05"), D("0.20"), D("0.03"))
    assert p.horizon_years == 30
    assert p.cost_per_case == D("1500000")
    with pytest.raises(FrozenInstanceError):
        p.horizon_years = 5


def test_one_year_by_hand() -> None:
    """Year 1: the reference cohort has 0.05 onsets; in the successful cohort 0.20
    relapse at the start of the year and 0.05 of them develop diabetes (0.01).
    Avoided = 0.04 / 1.03; direct 375,000 × 0.04 / 1.03 = 14,563.11 → 14,563."""
    estimate = savings_per_success(horizon(1))
    assert estimate.avoided_cases == D("0.04") / D("1.03")
    assert estimate.per_success == Savings(D("14563"), D("28155"), D("15534"))
    assert estimate.per_success.total == D("58252")
    (year,) = estimate.years
    assert (year.onsets_reference, year.onsets_success) == (D("0.05"), D("0.010"))


def test_two_years_by_hand() -> None:
    """Year 2: reference 0.95 × 0.05 = 0.0475; successful: 0.19 still prediabetic
    plus 0.8 × 0.2 = 0.16 relapsing = 0.35, × 0.05 = 0.0175. Avoided
    0.04/1.03 + 0.03/1.03² = 0.0671128…; direct 25,167.33 → 25,167."""
    estimate = savings_per_success(horizon(2))
    _first, second = estimate.years
    assert (second.onsets_reference, second.onsets_success) == (D("0.0475"), D("0.0175"))
    assert estimate.avoided_cases == D("0.04") / D("1.03") + D("0.03") / D("1.03") ** 2
    assert estimate.per_success == Savings(D("25167"), D("48657"), D("26845"))


def test_the_default_thirty_year_horizon() -> None:
    estimate = savings_per_success()
    assert estimate.per_success == Savings(D("29939"), D("57882"), D("31935"))
    assert estimate.per_success.total == D("119756")
    assert len(estimate.years) == 30
    assert estimate.per_success.total > D("47000")  # more than the payment per success


def test_every_figure_is_a_decimal_in_whole_kronor() -> None:
    estimate = savings_per_success()
    for value in (estimate.per_success.direct_healthcare, estimate.per_success.lost_production,
                  estimate.per_success.social_insurance, estimate.avoided_cases):
        assert isinstance(value, Decimal)
    total = estimate.per_success.total
    assert total == total.to_integral_value()
    assert estimate.per_success.times(3) == Savings(D("89817"), D("173646"), D("95805"))


def test_savings_grow_with_the_horizon_until_the_relapsed_catch_up() -> None:
    """The yearly difference in onsets is positive up to year 9 and negative from
    year 10, so the savings rise up to a 9-year horizon and fall afterwards."""
    totals = [savings_per_success(horizon(years)).avoided_cases for years in range(0, 31)]
    assert totals[0] == 0
    assert all(a < b for a, b in pairwise(totals[:10]))  # horizons 0 … 9
    assert all(a > b for a, b in pairwise(totals[9:]))  # horizons 9 … 30
    years = list(cohort_years(horizon(12)))
    assert [y.year for y in years if y.avoided > 0] == list(range(1, 10))


def test_a_long_horizon_converges_to_the_closed_form() -> None:
    """risk·rate·(1 − relapse) / ((risk + rate)(relapse + rate)) = 0.05·0.03·0.8 / (0.08·0.23)."""
    limit = infinite_horizon_avoided()
    assert limit == D("0.0012") / D("0.0184")
    assert abs(savings_per_success(horizon(600)).avoided_cases - limit) < D("1e-12")


def test_no_savings_when_every_success_relapses_at_once() -> None:
    estimate = savings_per_success(horizon(30, annual_relapse=D("1")))
    assert estimate.avoided_cases == 0
    assert estimate.per_success.total == 0
    assert infinite_horizon_avoided(horizon(30, annual_relapse=D("1"))) == 0


def test_no_savings_without_risk_and_full_savings_without_relapse() -> None:
    assert savings_per_success(horizon(30, annual_onset_risk=D("0"))).per_success.total == 0
    # Nobody relapses: every onset of the reference cohort is avoided.
    no_relapse = savings_per_success(horizon(3, annual_relapse=D("0"), discount_rate=D("0")))
    assert no_relapse.avoided_cases == 1 - D("0.95") ** 3
    assert no_relapse.per_success.direct_healthcare == D("53484")  # 375,000 × 0.142625


def test_savings_are_linear_in_the_cost_per_case() -> None:
    doubled = horizon(30, direct_healthcare=D("750000"))
    assert (savings_per_success(doubled).per_success.direct_healthcare
            == 2 * savings_per_success().per_success.direct_healthcare)


def test_a_higher_discount_rate_lowers_the_savings() -> None:
    assert (savings_per_success(horizon(5, discount_rate=D("0.05"))).per_success.total
            < savings_per_success(horizon(5)).per_success.total)


def test_the_report_figures_are_a_stated_reference_not_the_output() -> None:
    assert REPORT_DELAY[3] == Savings(D("40000"), D("125000"), D("75000"))
    assert REPORT_DELAY[5] == Savings(D("60000"), D("200000"), D("100000"))
    assert REPORT_DELAY[5].total == D("360000")
    assert savings_per_success().per_success not in REPORT_DELAY.values()


def test_savings_by_horizon() -> None:
    rows = dict(savings_by_horizon((1, 30)))
    assert rows[1].total == D("58252")
    assert rows[30].total == D("119756")


@pytest.mark.parametrize("changes", [
    {"annual_onset_risk": D("1.5")}, {"annual_relapse": D("-0.1")},
    {"discount_rate": D("-1")}, {"horizon_years": -1}, {"direct_healthcare": D("-1")},
])
def test_impossible_parameters_are_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        replace(REPORT_PARAMETERS, **changes)
