"""The forecast page of the back-office: charts and tables from a ``forecast.Forecast``.

``page_context`` shapes a computed forecast (``apps.settlements.forecast``) for
``templates/admin/settlements/forecast.html``: three charts (``ChartSpec``s of
``apps.core.charts``, drawn by ``static/admin/charts.js``) and the tables with
the same figures. It reads nothing from the database.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from django.utils.translation import gettext as _

from apps.core.charts import ChartSpec, dataset, number
from apps.measurements.selectors import MONTHS_PER_QUARTER
from apps.settlements.forecast import Forecast, QuarterMean, ratio
from apps.settlements.savings import SavingsEstimate, report_references, savings_by_horizon
from prevention_engine.arithmetic import TWO_PLACES
from prevention_engine.model import Rules

ZERO = Decimal("0")

# Colours with at least 3:1 contrast against white (WCAG 1.4.11), as in the measurement
# charts; the programme line is the darkest.
PROGRAMME_COLOUR = "#222222"
PROVIDER_COLOURS = ("#1f5f8b", "#b03a2e", "#6a3d9a", "#8a5a00", "#00726b", "#c2185b",
                    "#5d4037", "#3949ab")
PAYMENT_COLOUR = "#1f5f8b"
SAVINGS_COLOUR = "#1e7b34"
REFERENCE_COLOURS = ("#8a5a00", "#6a3d9a")
TARGET_COLOUR = "#1e7b34"
CHARTED_PROVIDERS = len(PROVIDER_COLOURS)
HORIZONS = (5, 10, 20, 30, 50)


@dataclass(frozen=True)
class TrendRow:
    """A row of the quarterly-means table: a provider (or all) and its means."""

    name: str
    cells: list[tuple[Decimal | None, int]]
    change: Decimal | None
    source: str


def quarter_heading(quarter: int) -> str:
    return _("Q%(quarter)d (months %(start)d–%(end)d)") % {
        "quarter": quarter, "start": quarter * MONTHS_PER_QUARTER,
        "end": (quarter + 1) * MONTHS_PER_QUARTER}


def page_context(result: Forecast, measure_name: str = "") -> dict[str, object]:
    """Everything the forecast page shows: three charts (chart.js specs, drawn by
    ``static/admin/charts.js``) and the tables with the same figures."""
    rules = result.rules
    quarters = list(range(result.target_quarter + 1))
    labels = [quarter_heading(q) for q in quarters]

    def series(trend: Iterable[QuarterMean]) -> list[Decimal | None]:
        means = {q.quarter: q.mean_rounded for q in trend}
        return [means.get(q) for q in quarters]

    trend_rows = [TrendRow(name=_("All providers"), cells=_cells(result.programme_quarters,
                                                                 quarters),
                           change=_two_places(result.programme_change), source="")]
    trend_rows += [TrendRow(name=provider.name, cells=_cells(provider.quarters, quarters),
                            change=_two_places(provider.quarterly_change),
                            source=provider.change_source)
                   for provider in result.providers]

    charted = sorted(result.providers, key=lambda p: (-p.attributed, p.name))[:CHARTED_PROVIDERS]
    target = result.target
    target_label = _("Outcome target: below %(value)s") % {"value": target.threshold}
    trend_spec = ChartSpec(
        kind="line", labels=labels,
        datasets=[
            dataset(_("All providers"), [number(v) for v in series(result.programme_quarters)],
                    PROGRAMME_COLOUR),
            *[dataset(provider.name, [number(v) for v in series(provider.quarters)], colour)
              for provider, colour in zip(charted, PROVIDER_COLOURS, strict=False)],
            dataset(target_label, [number(target.threshold)] * len(quarters), TARGET_COLOUR,
                    dashed=True),
        ],
        value_title=f"{measure_name or target.measure} ({target.unit})",
        bounds={"suggestedMin": float(target.threshold) - 3,
                "suggestedMax": float(target.threshold) + 6},
    )

    payout_datasets = [
        dataset(_("Expected payment (%(currency)s)") % {"currency": rules.payment.currency},
                [number(p.expected_amount) for p in result.providers], PAYMENT_COLOUR)]
    if result.savings is not None:
        payout_datasets.append(dataset(
            _("Expected societal savings (%(currency)s)") % {"currency": rules.payment.currency},
            [number(p.expected_savings or ZERO) for p in result.providers], SAVINGS_COLOUR))
    payout_spec = ChartSpec(
        kind="bar", labels=[provider.name for provider in result.providers],
        datasets=payout_datasets, value_title=rules.payment.currency, horizontal=True,
        bounds={"min": 0},
    )
    return {
        "forecast": result,
        "measure_name": measure_name or target.measure,
        "quarter_labels": labels,
        "trend_rows": trend_rows,
        "charted_providers": len(charted),
        "trend_spec": trend_spec.as_json(),
        "payout_spec": payout_spec.as_json(),
        # one bar pair per provider: grow the canvas with the number of providers
        "payout_height_rem": max(18, 5 + 3 * len(result.providers)),
        **(_savings_context(result.savings, rules) if result.savings is not None else {}),
    }


def _savings_context(savings: SavingsEstimate, rules: Rules) -> dict[str, Any]:
    """The savings model's section: its output by component beside the report's figures
    (where the model runs on the report's parameters), its parameters and horizons."""
    parameters = savings.parameters
    references = report_references(parameters)
    years_shown = sorted(references)
    per_success = savings.per_success
    components = [
        (_("Direct healthcare"), "direct_healthcare"),
        (_("Lost production"), "lost_production"),
        (_("Social insurance"), "social_insurance"),
    ]
    component_rows = [
        {"label": label, "model": getattr(per_success, name),
         "references": [getattr(references[years], name) for years in years_shown]}
        for label, name in components
    ]
    component_rows.append({"label": _("Total"), "model": per_success.total,
                           "references": [references[years].total for years in years_shown]})
    model_spec = ChartSpec(
        kind="bar", labels=[row["label"] for row in component_rows],
        datasets=[
            dataset(_("Model: per successful prepatient (%(years)d-year horizon)")
                    % {"years": parameters.horizon_years},
                    [number(row["model"]) for row in component_rows], PAYMENT_COLOUR),
            *[dataset(_("Report: onset delayed %(years)d years") % {"years": years},
                      [number(row["references"][index]) for row in component_rows], colour)
              for index, (years, colour) in enumerate(zip(years_shown,
                                                          REFERENCE_COLOURS, strict=False))],
            dataset(_("Payment per successful prepatient"),
                    [number(rules.payment.per_success)] * len(component_rows), "#b03a2e",
                    kind="line", dashed=True),
        ],
        value_title=parameters.currency, bounds={"min": 0},
    )
    return {
        "model_spec": model_spec.as_json(),
        "component_rows": component_rows,
        "reference_years": years_shown,
        "parameters": parameters,
        "percentages": {
            "risk": _percent(parameters.annual_onset_risk),
            "relapse": _percent(parameters.annual_relapse),
            "discount": _percent(parameters.discount_rate),
        },
        "avoided_cases": savings.avoided_cases.quantize(Decimal("0.0001"),
                                                        rounding=ROUND_HALF_UP),
        "by_horizon": savings_by_horizon(HORIZONS, parameters),
        "payment_ratio": ratio(per_success.total, rules.payment.per_success),
    }


def _cells(trend: Iterable[QuarterMean],
           quarters: list[int]) -> list[tuple[Decimal | None, int]]:
    """(mean rounded to 0.01, values) per quarter; (None, 0) where there are none."""
    found = {q.quarter: q for q in trend}
    return [(found[q].mean_rounded, found[q].values) if q in found else (None, 0)
            for q in quarters]


def _percent(share: Decimal) -> str:
    """0.05 → "5", 0.025 → "2.5" (no float on the way)."""
    text = format((share * 100).normalize(), "f")
    return text


def _two_places(value: Decimal | None) -> Decimal | None:
    return None if value is None else value.quantize(TWO_PLACES, rounding=ROUND_HALF_UP)
