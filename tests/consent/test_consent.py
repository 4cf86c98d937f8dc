from __future__ import annotations

from datetime import date

import pytest

from apps.consent.errors import ConsentConflict, ConsentMissing
from apps.consent.gate import (
    consented,
    prepatients_for_provider,
    require_consent,
    research_donors,
)
from apps.consent.models import ConsentEvent, ConsentKind
from apps.consent.selectors import (
    consent_events,
    consent_text_current,
    consent_text_shown,
    consent_withdrawn_on,
)
from apps.consent.services import consent_grant, consent_text_publish, consent_withdraw
from apps.core import clock
from apps.registry.errors import InvalidTransition
from apps.registry.models import LifecycleEvent, PrepatientState
from apps.registry.services import lifecycle_reinstate, prepatient_enroll
from tests.factories import ProviderFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def listed(make_candidate):
    provider = ProviderFactory()
    with clock.travel_to(date(2026, 8, 3)):
        prepatient = prepatient_enroll(prepatient=make_candidate(), provider=provider)
    return prepatient, provider


def test_a_withdrawal_removes_the_prepatient_from_every_provider_facing_selector_at_once(
    listed,
) -> None:
    prepatient, provider = listed
    assert list(prepatients_for_provider(provider)) == [prepatient]
    assert consented().filter(pk=prepatient.pk).exists()
    consent_withdraw(prepatient=prepatient, kind=ConsentKind.DATA_SHARING)
    assert not prepatients_for_provider(provider).exists()
    assert not consented().filter(pk=prepatient.pk).exists()
    assert not research_donors().filter(pk=prepatient.pk).exists()
    with pytest.raises(ConsentMissing):
        require_consent(prepatient)


def test_a_withdrawal_excludes_an_enrolled_prepatient_with_its_own_event(listed) -> None:
    prepatient, _provider = listed
    with clock.travel_to(date(2027, 1, 10)):
        consent_withdraw(prepatient=prepatient, kind=ConsentKind.DATA_SHARING)
    prepatient.refresh_from_db()
    assert prepatient.state == PrepatientState.EXCLUDED
    event = LifecycleEvent.objects.filter(prepatient=prepatient).last()
    assert (event.type, event.reason, event.on) == (
        "consent_withdrawn", "consent_withdrawn", date(2027, 1, 10))


def test_without_consent_a_caseworker_cannot_reinstate(listed) -> None:
    prepatient, _provider = listed
    consent_withdraw(prepatient=prepatient, kind=ConsentKind.DATA_SHARING)
    with pytest.raises(InvalidTransition):
        lifecycle_reinstate(prepatient=prepatient, note="asked to", actor=UserFactory())


def test_consent_events_are_append_only_history_with_text_version_and_channel(
    listed, consent_texts,
) -> None:
    prepatient, _provider = listed
    consent_grant(prepatient=prepatient, text=consent_texts[ConsentKind.RESEARCH])
    consent_withdraw(prepatient=prepatient, kind=ConsentKind.DATA_SHARING)
    history = list(ConsentEvent.objects.filter(prepatient=prepatient)
                   .values_list("kind", "action", "text__version", "channel"))
    assert history == [
        ("data_sharing", "grant", 1, "web"),
        ("research", "grant", 1, "web"),
        ("data_sharing", "withdraw", None, "web"),
        ("research", "withdraw", None, "web"),
    ]


def test_research_donation_is_optional_and_separate(listed, consent_texts) -> None:
    prepatient, provider = listed
    assert not research_donors().exists()
    consent_grant(prepatient=prepatient, text=consent_texts[ConsentKind.RESEARCH])
    assert list(research_donors()) == [prepatient]
    consent_withdraw(prepatient=prepatient, kind=ConsentKind.RESEARCH)
    assert not research_donors().exists()
    assert list(prepatients_for_provider(provider)) == [prepatient]


def test_only_the_current_text_version_can_be_agreed_to(make_candidate, programme,
                                                        consent_texts) -> None:
    prepatient = make_candidate(consent=False)
    newer = consent_text_publish(programme=programme, kind=ConsentKind.DATA_SHARING,
                                 title_sv="Samtycke 2", title_en="Consent 2",
                                 body_sv="Ny text", body_en="New text")
    assert newer.version == 2
    with pytest.raises(ConsentConflict) as refused:
        consent_grant(prepatient=prepatient, text=consent_texts[ConsentKind.DATA_SHARING])
    assert refused.value.code == "consent_text_outdated"
    consent_grant(prepatient=prepatient, text=newer)
    prepatient.refresh_from_db()
    assert prepatient.consent_valid


def test_a_provider_never_sees_prepatients_listed_elsewhere(listed) -> None:
    _prepatient, _provider = listed
    assert not prepatients_for_provider(ProviderFactory()).exists()


def test_withdrawing_twice_is_refused(listed) -> None:
    prepatient, _provider = listed
    consent_withdraw(prepatient=prepatient, kind=ConsentKind.DATA_SHARING)
    with pytest.raises(ConsentConflict):
        consent_withdraw(prepatient=prepatient, kind=ConsentKind.DATA_SHARING)


# --- The readers ----------------------------------------------------------------------------


def test_the_current_text_is_the_newest_version_and_a_shown_text_must_match_kind_and_programme(
        make_candidate, programme, consent_texts) -> None:
    prepatient = make_candidate(consent=False)
    data_sharing = consent_texts[ConsentKind.DATA_SHARING]
    assert consent_text_current(programme=programme, kind=ConsentKind.DATA_SHARING) \
        == data_sharing
    newer = consent_text_publish(programme=programme, kind=ConsentKind.DATA_SHARING,
                                 title_sv="Samtycke 2", title_en="Consent 2",
                                 body_sv="Ny text", body_en="New text")
    assert consent_text_current(programme=programme, kind=ConsentKind.DATA_SHARING) == newer
    assert consent_text_shown(prepatient=prepatient, kind=ConsentKind.DATA_SHARING,
                              pk=data_sharing.pk) == data_sharing
    assert consent_text_shown(prepatient=prepatient, kind=ConsentKind.RESEARCH,
                              pk=data_sharing.pk) is None
    assert consent_text_shown(prepatient=prepatient, kind=ConsentKind.DATA_SHARING,
                              pk=None) is None


def test_the_history_and_the_day_of_a_withdrawal(listed) -> None:
    prepatient, _provider = listed
    assert consent_withdrawn_on(prepatient=prepatient) is None
    with clock.travel_to(date(2026, 9, 1)):
        consent_withdraw(prepatient=prepatient, kind=ConsentKind.DATA_SHARING)
    prepatient.refresh_from_db()
    assert consent_withdrawn_on(prepatient=prepatient) == date(2026, 9, 1)
    assert [event.action for event in consent_events(prepatient=prepatient)] == [
        "grant", "withdraw"]
