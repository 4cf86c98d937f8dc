"""The societal savings of one successful prepatient (SPEC §5), a small cohort model.

The parameters are the programme's: its definition's ``savings`` (a programme whose
definition has none gets no savings estimate). The model follows the Swedish report's
Appendix 2 ("Hur beräkna besparingar till följd av återgång till normoglykemi?"): a
yearly Markov cohort that compares a person who stays at risk of the condition the
programme prevents with a person whose outcome was reached. The report's own numbers
(``REPORT_PARAMETERS``) are the prediabetes programme's, where "at risk" is
prediabetes, "the condition" type 2 diabetes and "reached" a return to normal glucose.

- **Reference cohort** (no prevention): everyone starts at risk; each year
  ``annual_onset_risk`` (report: 5 %) of those still at risk develop the condition.
- **Successful cohort**: everyone starts with the outcome reached and has no risk
  of the condition while it holds. Each year ``annual_relapse`` (report: one in
  five) of those it still holds for relapse to risk; a relapse is counted at the
  start of the year, so a relapsed person carries the same risk in that same year
  as anyone else at risk. (With a relapse of 100 % the two cohorts are then
  identical and the savings are zero; the model never credits a free year.)
- The condition is absorbing; nobody dies and no one else joins (the report models
  today's group at risk only).

For year ``t = 1 … horizon_years``::

    onsets_ref(t)     = risk × at_risk_ref(t − 1)
    relapsed(t)       = relapse × reached(t − 1)
    onsets_success(t) = risk × (at_risk_success(t − 1) + relapsed(t))
    avoided           = Σ_t (onsets_ref(t) − onsets_success(t)) / (1 + discount_rate)^t

``avoided`` is the discounted number of cases one success avoids; the
savings of a component (direct healthcare, lost production, social insurance)
are ``avoided × the present value of one case`` for that component. Every
figure is a ``Decimal``; each component is rounded half-up to whole SEK at the
end, and the total is the sum of the rounded components, so a table of them adds
up.

**Horizon** (``horizon_years``, report: 30): the present values per case are
lifetime costs counted from onset, so an onset that prevention only postpones
must still be counted when it happens. With the report's numbers the yearly
difference in onsets turns negative in year 10 (the successful cohort's relapsed
people catch up), so the savings grow up to a 9-year horizon and then fall
towards the infinite-horizon value
``risk × rate × (1 − relapse) / ((risk + rate) × (relapse + rate))`` of a case's
cost. A short horizon would count every onset postponed beyond it as prevented.
The model has no mortality; 30 years stands in for the remaining lifetime of a
typical participant (enrolled aged about 50; priority ages 20–60), after which
lost production and social insurance costs are small anyway.

The report's own figures for a 3- and a 5-year delay of onset (``REPORT_DELAY``)
come from the ECHO-T2DM model per person whose onset is delayed; they are shown
beside the model's output for comparison, and only for a programme that runs the
model with the report's parameters; they are not its output.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field, replace
from decimal import ROUND_HALF_UP, Decimal

WHOLE_SEK = Decimal("1")
ZERO = Decimal("0")
ONE = Decimal("1")


@dataclass(frozen=True)
class SavingsParameters:
    """The model's numbers; the defaults are the report's (SPEC §5, and the horizon
    chosen above)."""

    direct_healthcare: Decimal = Decimal("375000")  # present value per case, SEK
    lost_production: Decimal = Decimal("725000")
    social_insurance: Decimal = Decimal("400000")
    annual_onset_risk: Decimal = Decimal("0.05")  # at risk → the condition, per year
    annual_relapse: Decimal = Decimal("0.20")  # outcome reached → at risk again, per year
    discount_rate: Decimal = Decimal("0.03")
    horizon_years: int = 30
    currency: str = "SEK"

    def __post_init__(self) -> None:
        for name in ("annual_onset_risk", "annual_relapse"):
            value = getattr(self, name)
            if not ZERO <= value <= ONE:
                raise ValueError(f"{name} must be between 0 and 1")
        for name in ("direct_healthcare", "lost_production", "social_insurance"):
            if getattr(self, name) < ZERO:
                raise ValueError(f"{name} must not be negative")
        if self.discount_rate <= -ONE:
            raise ValueError("discount_rate must be above -1")
        if self.horizon_years < 0:
            raise ValueError("horizon_years must not be negative")

    @property
    def cost_per_case(self) -> Decimal:
        return self.direct_healthcare + self.lost_production + self.social_insurance


REPORT_PARAMETERS = SavingsParameters()


def parameters_of(values: Mapping[str, Decimal], currency: str) -> SavingsParameters | None:
    """The model's parameters from a programme definition's ``savings`` (checked by the
    definition's parser: all of them or none); None when it has none."""
    if not values:
        return None
    return SavingsParameters(
        direct_healthcare=values["direct_healthcare"],
        lost_production=values["lost_production"],
        social_insurance=values["social_insurance"],
        annual_onset_risk=values["annual_onset_risk"],
        annual_relapse=values["annual_relapse"],
        discount_rate=values["discount_rate"],
        horizon_years=int(values["horizon_years"]), currency=currency)


def report_references(parameters: SavingsParameters) -> dict[int, Savings]:
    """The report's figures for a delayed onset, for a model run on the report's own
    parameters (whatever the horizon); none for any other."""
    return REPORT_DELAY if replace(parameters, horizon_years=REPORT_PARAMETERS.horizon_years
                                   ) == REPORT_PARAMETERS else {}


@dataclass(frozen=True)
class Savings:
    """Savings per person by component, in whole SEK (or any money, for references)."""

    direct_healthcare: Decimal
    lost_production: Decimal
    social_insurance: Decimal

    @property
    def total(self) -> Decimal:
        return self.direct_healthcare + self.lost_production + self.social_insurance

    def times(self, count: int) -> Savings:
        """The savings of ``count`` people (whole SEK stay whole)."""
        return Savings(self.direct_healthcare * count, self.lost_production * count,
                       self.social_insurance * count)


# The report's quoted savings per person for a delayed onset (SPEC §5): a stated
# reference to compare with, not the model's output.
REPORT_DELAY: dict[int, Savings] = {
    3: Savings(Decimal("40000"), Decimal("125000"), Decimal("75000")),
    5: Savings(Decimal("60000"), Decimal("200000"), Decimal("100000")),
}


@dataclass(frozen=True)
class CohortYear:
    """One year of the two cohorts (shares of one person, unrounded)."""

    year: int
    onsets_reference: Decimal
    onsets_success: Decimal
    discount_factor: Decimal  # 1 / (1 + rate)^year

    @property
    def avoided(self) -> Decimal:
        """Discounted cases avoided this year (negative once the successful cohort's
        relapsed people catch up)."""
        return (self.onsets_reference - self.onsets_success) * self.discount_factor


@dataclass(frozen=True)
class SavingsEstimate:
    """The model's result per successful prepatient, with its parameters."""

    parameters: SavingsParameters
    avoided_cases: Decimal  # discounted diabetes cases avoided per success, unrounded
    per_success: Savings  # whole SEK
    years: tuple[CohortYear, ...] = field(repr=False)


def cohort_years(parameters: SavingsParameters = REPORT_PARAMETERS) -> Iterator[CohortYear]:
    """The two cohorts year by year (see the module's docstring)."""
    risk = parameters.annual_onset_risk
    relapse = parameters.annual_relapse
    growth = ONE + parameters.discount_rate
    at_risk_reference = ONE
    reached = ONE
    at_risk_success = ZERO
    discount = ONE
    for year in range(1, parameters.horizon_years + 1):
        discount /= growth
        relapsed = relapse * reached
        reached -= relapsed
        at_risk_success += relapsed
        onsets_reference = risk * at_risk_reference
        onsets_success = risk * at_risk_success
        at_risk_reference -= onsets_reference
        at_risk_success -= onsets_success
        yield CohortYear(year=year, onsets_reference=onsets_reference,
                         onsets_success=onsets_success, discount_factor=discount)


def whole_sek(amount: Decimal) -> Decimal:
    return amount.quantize(WHOLE_SEK, rounding=ROUND_HALF_UP)


def savings_per_success(parameters: SavingsParameters = REPORT_PARAMETERS) -> SavingsEstimate:
    """What one prepatient whose outcome was reached saves society, by component."""
    years = tuple(cohort_years(parameters))
    avoided = sum((year.avoided for year in years), ZERO)
    return SavingsEstimate(
        parameters=parameters,
        avoided_cases=avoided,
        per_success=Savings(
            direct_healthcare=whole_sek(avoided * parameters.direct_healthcare),
            lost_production=whole_sek(avoided * parameters.lost_production),
            social_insurance=whole_sek(avoided * parameters.social_insurance),
        ),
        years=years,
    )


def infinite_horizon_avoided(parameters: SavingsParameters = REPORT_PARAMETERS) -> Decimal:
    """The limit of ``avoided_cases`` as the horizon grows (closed form):
    ``risk × rate × (1 − relapse) / ((risk + rate) × (relapse + rate))``."""
    risk = parameters.annual_onset_risk
    relapse = parameters.annual_relapse
    rate = parameters.discount_rate
    if risk + rate == ZERO or relapse + rate == ZERO:
        return ZERO
    return risk * rate * (ONE - relapse) / ((risk + rate) * (relapse + rate))


def savings_by_horizon(horizons: tuple[int, ...] = (5, 10, 20, 30, 50),
                       parameters: SavingsParameters = REPORT_PARAMETERS,
                       ) -> list[tuple[int, Savings]]:
    """Savings per success for other horizons: how much the choice of horizon matters."""
    return [(years, savings_per_success(replace(parameters, horizon_years=years)).per_success)
            for years in horizons]
