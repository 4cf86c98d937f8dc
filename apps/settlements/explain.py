"""A settlement line in words: which rule decided, and on what.

``explain(line)`` turns a line's result, reason, deciding event and evidence
(the same evidence the auditor's result file carries) into one sentence in
the reader's language, e.g. "HbA1c 49 mmol/mol on 2027-02-01: developed
diabetes".
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Protocol

from django.utils.formats import date_format
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from apps.settlements.selectors import measure_names
from prevention_engine.model import SYMBOLS

# Words for the disqualifiers' reason codes the programmes use; any other code is
# shown with its underscores as spaces.
DISQUALIFIER_REASONS = {
    "developed_diabetes": gettext_lazy("developed diabetes"),
}
EXCLUSION_REASONS = {
    "missed_followup": gettext_lazy("missed follow-up"),
    "consent_withdrawn": gettext_lazy("consent withdrawn"),
    "diabetes": gettext_lazy("diabetes diagnosed"),
    "moved_abroad": gettext_lazy("moved abroad"),
    "other": gettext_lazy("other reason"),
}


class Line(Protocol):
    result: str
    reason: str
    end_date: date
    decided_on: date | None
    evidence: Any


def _day(value: str | date) -> str:
    day = date.fromisoformat(value) if isinstance(value, str) else value
    return date_format(day, "Y-m-d")


def _number(text: str | None) -> str:
    return "—" if text is None else text


def _words(code: str, known: Mapping[str, Any]) -> str:
    return str(known.get(code, code.replace("_", " ")))


def _criterion(entry: Mapping[str, Any], name: str) -> str:
    samples = entry.get("samples") or []
    unit = entry.get("unit", "")
    target = f"{SYMBOLS.get(entry.get('op', ''), entry.get('op', ''))} {entry.get('threshold')}"
    if not samples:
        return _("%(measure)s: no sample in the outcome window (target %(target)s %(unit)s)") % {
            "measure": name, "target": target, "unit": unit}
    if entry.get("aggregate") == "mean":
        what = _("%(measure)s, mean of %(count)d values from %(first)s to %(last)s") % {
            "measure": name, "count": len(samples), "first": _day(samples[0]["taken_on"]),
            "last": _day(samples[-1]["taken_on"])}
    else:
        what = _("%(measure)s on %(day)s") % {"measure": name,
                                              "day": _day(samples[0]["taken_on"])}
    compare = entry.get("compare", "value")
    if compare == "change":
        figure = _("changed by %(quantity)s %(unit)s from %(baseline)s") % {
            "quantity": _number(entry.get("quantity")), "unit": unit,
            "baseline": _number(entry.get("baseline"))}
        unit_after = unit
    elif compare == "percent_change":
        figure = _("changed by %(quantity)s %% from %(baseline)s %(unit)s") % {
            "quantity": _number(entry.get("quantity")), "unit": unit,
            "baseline": _number(entry.get("baseline"))}
        unit_after = "%"
    else:
        figure = f"{_number(entry.get('quantity'))} {unit}"
        unit_after = unit
    verdict = (_("target met (%(target)s %(unit)s)") if entry.get("met")
               else _("target not met (needs %(target)s %(unit)s)")) % {
        "target": target, "unit": unit_after}
    return f"{what}: {figure}: {verdict}"


def _disqualifier(entry: Mapping[str, Any], name: str) -> str:
    sample = (entry.get("samples") or [{}])[0]
    return _("%(measure)s %(quantity)s %(unit)s on %(day)s: %(reason)s") % {
        "measure": name, "quantity": _number(entry.get("quantity")),
        "unit": entry.get("unit", ""),
        "day": _day(sample["taken_on"]) if sample.get("taken_on") else "—",
        "reason": _words(entry.get("reason", ""), DISQUALIFIER_REASONS)}


def explain(line: Line, names: Mapping[str, str] | None = None, window_days: int = 0) -> str:
    """One sentence saying which rule decided the line; ``names``: the measures' names
    by code (``selectors.measure_names()`` when not given)."""
    names = names if names is not None else measure_names()
    reason, on = line.reason, line.decided_on
    evidence = list(line.evidence or [])
    if reason == "deceased":
        return _("Died on %(day)s: not evaluated") % {"day": _day(on) if on else "—"}
    if reason == "no_baseline":
        return _("No baseline values (T=0) were registered: not evaluated")
    if reason == "not_yet_due":
        return _("Not yet evaluated: the outcome window ends on %(day)s") % {
            "day": _day(line.end_date + timedelta(days=window_days))}
    if reason == "dropped_out":
        return _("Dropped out on %(day)s") % {"day": _day(on) if on else "—"}
    if reason == "consent_withdrawn":
        return _("Withdrew consent on %(day)s") % {"day": _day(on) if on else "—"}
    if reason.startswith("excluded:"):
        return _("Excluded from the programme on %(day)s (%(why)s)") % {
            "day": _day(on) if on else "—",
            "why": _words(reason.split(":", 1)[1], EXCLUSION_REASONS)}
    parts = []
    for entry in evidence:
        name = names.get(entry.get("measure", ""), entry.get("measure", ""))
        parts.append(_disqualifier(entry, name) if entry.get("rule") == "disqualifier"
                     else _criterion(entry, name))
    if parts:
        return "; ".join(parts)
    return reason  # a line of format version 1 without evidence: its reason code
