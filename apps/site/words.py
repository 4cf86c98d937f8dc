"""What a programme's rules ask of a person, in the reader's language."""

from __future__ import annotations

from django.utils.formats import number_format
from django.utils.translation import gettext_lazy

from prevention_engine.model import Criterion

# The comparison of a criterion in words, by ``compare`` then ``op``.
_VALUE_GOAL = {"lt": gettext_lazy("below %(threshold)s %(unit)s"),
               "le": gettext_lazy("at most %(threshold)s %(unit)s"),
               "gt": gettext_lazy("above %(threshold)s %(unit)s"),
               "ge": gettext_lazy("at least %(threshold)s %(unit)s")}
_CHANGE_GOAL = {
    "lt": gettext_lazy("a change of less than %(threshold)s %(unit)s from your first value"),
    "le": gettext_lazy("a change of at most %(threshold)s %(unit)s from your first value"),
    "gt": gettext_lazy("a change of more than %(threshold)s %(unit)s from your first value"),
    "ge": gettext_lazy("a change of at least %(threshold)s %(unit)s from your first value"),
}


def goal_words(criterion: Criterion) -> str:
    """What the criterion asks of the person's value, in the reader's language."""
    unit = "%" if criterion.compare == "percent_change" else criterion.unit
    unit = "" if unit == "score" else unit
    words = _VALUE_GOAL if criterion.compare == "value" else _CHANGE_GOAL
    return (str(words[criterion.op]) % {"threshold": number_format(criterion.threshold),
                                        "unit": unit}).strip()
