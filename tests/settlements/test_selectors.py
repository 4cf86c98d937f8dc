"""The settlements' readers that are not covered with the runs, the API or the disputes."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import translation

from apps.measurements.models import MeasurementType
from apps.settlements import selectors
from apps.settlements.explain import explain

pytestmark = pytest.mark.django_db


def test_the_measures_are_named_in_the_active_language(programme: Any) -> None:
    with translation.override("sv"):
        swedish = selectors.measure_names()
    with translation.override("en"):
        english = selectors.measure_names()
    assert set(swedish) == set(english) == set(
        MeasurementType.objects.values_list("code", flat=True))
    assert (swedish["weight"], english["weight"]) == ("Vikt", "Weight")


class _Line:
    result = "failure"
    reason = "disqualified:developed_diabetes"
    end_date = None
    decided_on = None
    evidence = [{"rule": "disqualifier", "measure": "hdl", "quantity": "0.9",
                 "unit": "mmol/L", "samples": [{"taken_on": "2027-02-01"}],
                 "reason": "developed_diabetes"}]


def test_an_explanation_without_names_reads_them_from_the_selector(programme: Any) -> None:
    with translation.override("en"):
        assert explain(_Line()) == explain(_Line(), selectors.measure_names()) == (
            "HDL cholesterol 0.9 mmol/L on 2027-02-01: developed diabetes")
