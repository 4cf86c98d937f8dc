"""A provider's overdue prepatients: the API's filter (SQL) and each row's ``overdue``
(the engine's rule) agree with ``prevention_engine.followup.overdue`` on generated dates."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from apps.measurements.models import FollowUpDue
from apps.programs.models import Programme
from apps.providers.selectors import is_overdue, provider_prepatients
from apps.registry.models import Prepatient, PrepatientState
from prevention_engine import followup
from tests.factories import ProviderFactory

pytestmark = pytest.mark.django_db

VISIBLE = [PrepatientState.ACTIVE, PrepatientState.ACTIVE, PrepatientState.EXCLUDED,
           PrepatientState.COMPLETED]
DAYS = st.dates(min_value=date(2026, 8, 1), max_value=date(2027, 3, 1))
COMPLETED_AT = datetime(2026, 8, 1, 12, 0, tzinfo=UTC)


@settings(max_examples=40, deadline=None, database=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_the_overdue_filter_and_each_rows_overdue_follow_the_engine_rule(
    programme: Programme, data: Any
) -> None:
    provider = ProviderFactory()
    today = data.draw(DAYS)
    expected: dict[int, bool] = {}
    for _ in range(data.draw(st.integers(1, 4))):
        prepatient = Prepatient.objects.create(
            programme=programme, state=data.draw(st.sampled_from(VISIBLE)),
            enrolled_on=date(2026, 8, 3), end_date=date(2028, 8, 3), consent_valid=True,
            current_provider=provider)
        sets = [(day, data.draw(st.booleans())) for day in sorted(
            data.draw(st.lists(DAYS, max_size=4, unique=True)))]
        for index, (day, complete) in enumerate(sets):
            FollowUpDue.objects.create(prepatient=prepatient, index=index, due_on=day,
                                       window_start=day, window_end=day,
                                       completed_at=COMPLETED_AT if complete else None)
        expected[prepatient.pk] = prepatient.state == PrepatientState.ACTIVE and any(
            followup.overdue(due_on=day, complete=complete, today=today)
            for day, complete in sets)

    rows = list(provider_prepatients(provider, today=today))
    assert {row.pk: is_overdue(row, today=today) for row in rows} == expected
    assert set(provider_prepatients(provider, today=today, overdue=True)
               .values_list("pk", flat=True)) == {pk for pk, late in expected.items() if late}
    assert set(provider_prepatients(provider, today=today, overdue=False)
               .values_list("pk", flat=True)) == {pk for pk, late in expected.items()
                                                  if not late}
