"""A version's cap and the programme's enrolled count: the cap is changed by
publishing a version, never below the people already enrolled (refused naming
``cap``, at drafting and again at publishing, with the programme's row locked), and
the count carries over to the new cap."""

from __future__ import annotations

from datetime import date

import pytest

from apps.core import clock
from apps.programs.errors import DefinitionInvalid
from apps.programs.models import DefinitionStatus, Programme
from apps.programs.selectors import programme_version_current
from apps.programs.services import programme_version_draft, programme_version_publish
from apps.registry.errors import InclusionRefused
from apps.registry.services import prepatient_enroll
from tests.factories import ProviderFactory, UserFactory, changed, version_publish

pytestmark = pytest.mark.django_db

DAY = date(2026, 8, 3)


def enroll(make_candidate, count: int) -> None:
    provider = ProviderFactory()
    with clock.travel_to(DAY):
        for _ in range(count):
            prepatient_enroll(prepatient=make_candidate(), provider=provider)


def test_a_cap_below_the_people_enrolled_is_refused_when_drafted(make_candidate, programme
                                                                ) -> None:
    enroll(make_candidate, 3)
    current = programme_version_current(programme)
    assert current is not None
    with pytest.raises(DefinitionInvalid) as refused:
        programme_version_draft(programme=programme, author=UserFactory(),
                                definition=changed(current.definition, {"cap": 2}))
    assert list(refused.value.fields) == ["cap"]
    assert "3" in str(refused.value.fields["cap"])
    version_publish(programme, {"cap": 3})  # as many as are enrolled: recruitment closes
    programme.refresh_from_db()
    assert (programme.cap, programme.enrolled_count) == (3, 3)


def test_a_draft_whose_cap_the_enrollments_passed_is_refused_when_published(
    make_candidate, programme
) -> None:
    current = programme_version_current(programme)
    assert current is not None
    author, reviewer = UserFactory(is_staff=True), UserFactory(is_staff=True)
    draft = programme_version_draft(programme=programme, author=author,
                                    definition=changed(current.definition, {"cap": 2}))
    enroll(make_candidate, 3)
    with pytest.raises(DefinitionInvalid) as refused:
        programme_version_publish(version=draft, publisher=reviewer)
    assert list(refused.value.fields) == ["cap"]
    draft.refresh_from_db()
    programme.refresh_from_db()
    assert draft.status == DefinitionStatus.DRAFT
    assert (programme.cap, programme.enrolled_count) == (30_000, 3)


def test_a_higher_cap_opens_places_and_the_count_carries_over(make_candidate, programme
                                                             ) -> None:
    version_publish(programme, {"cap": 2})
    enroll(make_candidate, 2)
    with clock.travel_to(DAY):
        waiting = make_candidate()
        with pytest.raises(InclusionRefused) as refused:
            prepatient_enroll(prepatient=waiting, provider=ProviderFactory())
    assert refused.value.code == "cap_reached"
    version_publish(programme, {"cap": 3})
    with clock.travel_to(DAY):
        prepatient_enroll(prepatient=waiting, provider=ProviderFactory())
    programme = Programme.objects.get(pk=programme.pk)
    assert (programme.cap, programme.enrolled_count) == (3, 3)
