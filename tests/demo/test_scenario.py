"""The demo's set-up helpers (apps/demo/scenario.py) that ``load_demo`` runs."""

from __future__ import annotations

import pytest

from apps.consent.models import ConsentKind
from apps.consent.selectors import consent_text_current
from apps.demo.scenario import DATA_DIR, ensure_consent_texts, ensure_vulnerable_postcodes
from apps.programs.models import Programme
from apps.registry.imports import parse_postcode_csv
from apps.registry.models import VulnerableAreaPostcode

pytestmark = pytest.mark.django_db


@pytest.fixture
def programme() -> Programme:
    return Programme.objects.get(code="prediabetes-2026")


def test_the_vulnerable_postcodes_of_the_data_file_are_loaded_once(programme: Programme) -> None:
    expected = set(parse_postcode_csv((DATA_DIR / "vulnerable_postcodes.csv").read_text("utf-8")))
    ensure_vulnerable_postcodes(programme)
    ensure_vulnerable_postcodes(programme)  # again: nothing added twice
    rows = set(VulnerableAreaPostcode.objects.filter(programme=programme)
               .values_list("postcode", "area_name"))
    assert rows == expected and len(expected) > 0


def test_the_consent_texts_are_published_once(programme: Programme) -> None:
    ensure_consent_texts(programme)
    first = consent_text_current(programme=programme, kind=ConsentKind.DATA_SHARING)
    ensure_consent_texts(programme)
    assert first is not None
    assert consent_text_current(programme=programme, kind=ConsentKind.DATA_SHARING) == first
