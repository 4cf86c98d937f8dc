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
from apps.site import services
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
# My page's own: the person again with programme, provider and starting sample; the
# listings with their providers; HbA1c values; the listings as stretches (ratings); the
# ratings given; follow-up values; due dates; and the names of what is still missing.
MY_PAGE_QUERIES = 12
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
