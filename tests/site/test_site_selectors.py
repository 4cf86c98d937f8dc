"""The site's readers and writers: My page in a fixed number of queries, and the
questionnaire's answers as the service and the forms know them."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from apps.consent.models import ConsentKind
from apps.consent.services import consent_grant, consent_withdraw
from apps.core import clock
from apps.measurements.services import Reporter
from apps.registry.services import listing_switch
from apps.site import selectors, services
from apps.site.views_journey import QUESTION_PARTS
from tests.site import test_marketplace as market
from tests.site import test_mypage as mypage
from tests.site.test_marketplace import signed_in

providers = market.providers
candidate = market.candidate
enrolled = market.enrolled
history = mypage.history

pytestmark = pytest.mark.django_db

# The session, the account, the programme, the person's record (PrepatientMixin), then
# My page's own: the person again with programme, version, provider and starting sample;
# the listings with their providers; the values of each outcome measure (one here); their
# names; the listings as stretches (ratings); the ratings given; follow-up values; due
# dates; and the names of what is still missing.
MY_PAGE_QUERIES = 13
DAY = date(2026, 11, 10)


def _my_page_queries(client) -> int:
    with clock.travel_to(DAY), CaptureQueriesContext(connection) as queries:
        response = client.get("/en/me/")
    assert response.status_code == 200
    return len(queries.captured_queries)


def _more_of_everything(prepatient, providers, consent_texts) -> None:
    """Twenty more sets of values, a switch of provider and research consent events."""
    reporter = Reporter.for_provider(providers["remote"])
    for days in range(20):
        mypage.record(prepatient, date(2026, 8, 21) + timedelta(days=days),
                      [("hba1c", "43", "mmol/mol"), *mypage.FOLLOW_UP], reporter=reporter)
    with clock.travel_to(date(2026, 11, 5)):
        for _round in range(3):
            consent_grant(prepatient=prepatient, text=consent_texts[ConsentKind.RESEARCH])
            consent_withdraw(prepatient=prepatient, kind=ConsentKind.RESEARCH)
        listing_switch(prepatient=prepatient, provider=providers["both"])


def test_my_page_reads_in_a_fixed_number_of_queries(
        history, providers, consent_texts, django_assert_max_num_queries) -> None:
    client = signed_in(history)
    client.get("/en/me/")  # the first visit may warm caches (translations, templates)
    few = _my_page_queries(client)
    _more_of_everything(history, providers, consent_texts)
    with django_assert_max_num_queries(MY_PAGE_QUERIES), clock.travel_to(DAY):
        html = client.get("/en/me/").content.decode()
    assert "Charlie Hälsa" in html  # the switch shows
    assert _my_page_queries(client) == few <= MY_PAGE_QUERIES


def test_the_service_asks_for_every_question_of_the_forms() -> None:
    asked = {name for part in QUESTION_PARTS if part.form_class is not None
             for name in part.form_class.base_fields}
    assert asked == set(services.QUESTIONNAIRE_ANSWERS)


# --- The services return what the views render -------------------------------------------


def test_giving_consent_returns_the_record_as_saved(make_candidate, consent_texts) -> None:
    prepatient = make_candidate(consent=False)
    saved = services.consents_give(
        prepatient=prepatient, data_sharing_text=consent_texts[ConsentKind.DATA_SHARING].pk,
        research_text=consent_texts[ConsentKind.RESEARCH].pk, research=True)
    assert saved.pk == prepatient.pk
    assert saved.consent_valid and saved.research_consent
    assert not prepatient.consent_valid  # the caller's copy is left as it was


def test_choosing_returns_the_enrolled_record_and_switching_the_new_provider(
        candidate, providers) -> None:
    with clock.travel_to(market.TODAY):
        enrolled = services.provider_choose(prepatient=candidate, provider=providers["remote"],
                                            actor=None)
    assert enrolled.enrolled_on == market.TODAY
    assert enrolled.current_provider == providers["remote"]
    with clock.travel_to(market.TODAY + timedelta(days=1)):
        switched = services.provider_choose(prepatient=enrolled, provider=providers["both"],
                                            actor=None)
    assert switched.current_provider == providers["both"]


def test_the_choice_of_a_person_before_the_way_in_is_not_ready(providers) -> None:
    choice = selectors.provider_choice(prepatient=None, provider=providers["remote"])
    assert choice.kind == selectors.Choice.NOT_READY and not choice.can_submit


def test_an_included_person_may_choose_an_authorized_provider_only(candidate,
                                                                   providers) -> None:
    with clock.travel_to(market.TODAY):
        may = selectors.provider_choice(prepatient=candidate, provider=providers["remote"])
        pending = selectors.provider_choice(prepatient=candidate, provider=providers["pending"])
    assert may.kind == selectors.Choice.MAY_CHOOSE and may.can_submit and may.window_open
    assert pending.kind == selectors.Choice.NOT_AUTHORIZED
