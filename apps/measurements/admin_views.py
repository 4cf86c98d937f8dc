"""Charts for the back-office: figures from ``selectors`` shaped for chart.js and tables.

Each chart is a ``ChartSpec`` (``apps.core.charts``): the page renders it with
``json_script`` (read by ``static/admin/charts.js``) and the same figures as an
HTML table beside the canvas, so the chart is never the only way to read the numbers.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from apps.core import clock
from apps.core.charts import ChartSpec, dataset, number, percent
from apps.measurements import selectors
from apps.programs.models import Programme
from apps.programs.selectors import (
    care_threshold,
    programme_menu,
    programme_terms,
    programmes_in_order,
)
from apps.registry.models import Prepatient

CHARTS_PERMISSION = "measurements.view_measurement"
CHARTS_URL = "admin:measurements_measurement_charts"
CHARTS_INDEX_URL = "admin:measurements_measurement_charts_index"

# Colours with at least 3:1 contrast against white (WCAG 1.4.11, graphical objects).
SERIES = "#1f5f8b"
TARGET = "#1e7b34"
CARE = "#b03a2e"


def may_view_charts(request: HttpRequest) -> bool:
    user: Any = request.user
    return bool(user.is_active and user.is_staff and user.has_perm(CHARTS_PERMISSION))


def chart_links(request: HttpRequest) -> list[tuple[str, str]]:
    """(url, label) of each programme's charts page, for the changelists' tools."""
    if not may_view_charts(request):
        return []
    return [(reverse(CHARTS_URL, args=[programme.pk]),
             str(_("Charts: %(programme)s") % {"programme": programme.name}))
            for programme in programme_menu()]


def around(programme: Programme) -> dict[str, float]:
    """A value axis that shows the target and the care threshold with some room, so
    that small changes are not blown up to fill the chart (none without a threshold)."""
    care_at = care_threshold(programme_terms(programme), programme.outcome_measure)
    if care_at is None or programme.criteria[0].compare != "value":
        return {}
    target, care = float(programme.outcome_below), float(care_at)
    return {"suggestedMin": target - (care - target) / 2, "suggestedMax": care + 1}


# --- One prepatient -----------------------------------------------------------------------


def prepatient_outcome_chart(prepatient: Prepatient) -> dict[str, Any]:
    """The prepatient's values of the outcome measure with the outcome target and the
    care threshold (the safety check's, where the definition has one)."""
    programme = prepatient.programme
    measure = selectors.measurement_type_by_code(programme.outcome_measure)
    name = measure.name if measure is not None else programme.outcome_measure
    care_at = care_threshold(programme_terms(programme), programme.outcome_measure)
    points = selectors.outcome_series(prepatient)
    labels = [point.taken_on.isoformat() for point in points]
    datasets = [dataset(name, [number(point.value) for point in points], SERIES)]
    if programme.criteria[0].compare == "value":
        datasets.append(dataset(
            _("Outcome target: below %(value)s") % {"value": programme.outcome_below},
            [number(programme.outcome_below)] * len(points), TARGET, dashed=True))
    if care_at is not None:
        datasets.append(dataset(_("Seek care at %(value)s") % {"value": care_at},
                                [number(care_at)] * len(points), CARE, dashed=True))
    spec = ChartSpec(kind="line", labels=labels, datasets=datasets,
                     value_title=f"{name} ({programme.outcome_unit})", bounds=around(programme))
    return {"points": points, "spec": spec.as_json(), "target": programme.outcome_below,
            "seek_care": care_at, "measure": name, "unit": programme.outcome_unit,
            "decimals": measure.decimal_places if measure is not None else 1}


# --- One programme ------------------------------------------------------------------------


def quarter_label(figure: selectors.QuarterFigure) -> str:
    start, end = figure.months
    return str(_("Q%(quarter)d (months %(start)d–%(end)d)")
               % {"quarter": figure.quarter, "start": start, "end": end})


def programme_charts(programme: Programme) -> dict[str, Any]:
    today = clock.today()
    quarters = selectors.outcome_by_quarter(programme)
    compliance = selectors.compliance_by_provider(programme, today)
    measure = selectors.measurement_type_by_code(programme.outcome_measure)
    measure_name = measure.name if measure is not None else programme.outcome_measure
    labels = [quarter_label(figure) for figure in quarters]
    median = ChartSpec(
        kind="line", labels=labels,
        datasets=[
            dataset(_("Median"), [number(figure.median) for figure in quarters], SERIES),
            dataset(_("Outcome target: below %(value)s") % {"value": programme.outcome_below},
                    [number(programme.outcome_below)] * len(quarters), TARGET, dashed=True),
        ],
        value_title=f"{measure_name} ({programme.outcome_unit})",
        bounds=around(programme),
    )
    below = ChartSpec(
        kind="bar", labels=labels,
        datasets=[dataset(_("Share below the target (%)"),
                          [percent(figure.share_below) for figure in quarters], SERIES)],
        value_title=str(_("Share of prepatients (%)")), percent=True,
        bounds={"min": 0, "max": 100},
    )
    providers = ChartSpec(
        kind="bar", labels=[row.provider_name or str(_("(no provider)")) for row in compliance],
        datasets=[dataset(_("Complete follow-up sets (%)"),
                          [percent(row.share) for row in compliance], SERIES)],
        value_title=str(_("Due dates with a complete set (%)")), horizontal=True,
        percent=True, bounds={"min": 0, "max": 100},
    )
    return {
        "today": today,
        "measure_name": measure_name,
        "quarters": [{"figure": figure, "label": label, "share_percent":
                      percent(figure.share_below)} for figure, label in zip(
                          quarters, labels, strict=True)],
        "compliance": [{"row": row, "share_percent": percent(row.share)} for row in compliance],
        "median_spec": median.as_json(),
        "below_spec": below.as_json(),
        "compliance_spec": providers.as_json(),
    }


def charts_view(model_admin: Any, request: HttpRequest, programme_id: int) -> HttpResponse:
    if not may_view_charts(request):
        raise PermissionDenied
    programme = get_object_or_404(programmes_in_order(), pk=programme_id)
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Charts: %(programme)s") % {"programme": programme.name},
        "opts": model_admin.opts,
        "programme": programme,
        "programmes": programme_menu(),
        "media": model_admin.media,
        **programme_charts(programme),
    }
    return TemplateResponse(request, "admin/measurements/charts.html", context)


def charts_index_view(model_admin: Any, request: HttpRequest) -> HttpResponse:
    if not may_view_charts(request):
        raise PermissionDenied
    context = {
        **model_admin.admin_site.each_context(request),
        "title": _("Programme charts"),
        "opts": model_admin.opts,
        "programmes": programme_menu(),
    }
    return TemplateResponse(request, "admin/measurements/charts_index.html", context)
