"""Chart plumbing for the back-office pages: what ``static/admin/charts.js`` draws.

A page puts a ``ChartSpec``'s ``as_json()`` in the template with ``json_script``
(``templates/admin/measurements/_chart.html``) and shows the same figures as an
HTML table beside the canvas, so the chart is never the only way to read the
numbers. The apps build their specs from their own figures with ``dataset``;
every figure is a ``Decimal`` until ``number`` turns it into a chart.js point.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any


@dataclass
class ChartSpec:
    """What ``charts.js`` draws: chart.js type, labels, datasets and the value axis."""

    kind: str  # "line" or "bar"
    labels: list[str]
    datasets: list[dict[str, Any]]
    value_title: str
    horizontal: bool = False
    percent: bool = False
    bounds: dict[str, float] = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        return {
            "type": self.kind, "labels": self.labels, "datasets": self.datasets,
            "valueTitle": self.value_title, "horizontal": self.horizontal,
            "percent": self.percent, **self.bounds,
        }


def dataset(label: Any, data: list[float | None], colour: str, *, kind: str = "",
            dashed: bool = False) -> dict[str, Any]:
    """One chart.js dataset; ``kind`` overrides the chart's type for it (a line over bars),
    ``dashed`` draws a reference line (a target, a threshold) without points."""
    item: dict[str, Any] = {"label": str(label), "data": data, "borderColor": colour,
                            "backgroundColor": colour}
    if kind:
        item["type"] = kind
    if dashed:
        item.update(borderDash=[6, 4], pointRadius=0, borderWidth=2, fill=False)
    return item


def number(value: Decimal | float | None) -> float | None:
    """A chart.js data point (a float; a gap where there is no figure)."""
    return None if value is None else float(value)


def percent(share: float) -> float:
    """A share (0 … 1) as a percentage with one decimal."""
    return round(share * 100, 1)
