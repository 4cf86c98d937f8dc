from __future__ import annotations

from datetime import date

import pytest

from apps.core import clock
from apps.registry.services import prepatient_enroll
from tests.factories import ProviderFactory

ENROLLED = date(2026, 8, 3)


@pytest.fixture
def provider():
    return ProviderFactory(name="Provider A")


@pytest.fixture
def enrolled(make_candidate, provider):
    """An active prepatient listed with `provider`, enrolled on 2026-08-03."""
    with clock.travel_to(ENROLLED):
        return prepatient_enroll(prepatient=make_candidate(), provider=provider)
